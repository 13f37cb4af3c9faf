"""cocreate for Krita: fill a selection with AI candidates from the local cocreate daemon.

Krita imports this package at start-up and it registers the docker. The cocreate client and its
pure-Python dependencies ship inside it, in vendor/ (`cocreate plugins build|install krita` put
them there). Unit tests import the plain modules (region, placements, history, calls, controller)
outside Krita, where nothing is registered.
"""

from __future__ import annotations

import importlib.util
import os
import sys

_VENDOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vendor")
if os.path.isdir(_VENDOR) and _VENDOR not in sys.path:
    sys.path.insert(0, _VENDOR)

if importlib.util.find_spec("cocreate_client") is None:
    raise ImportError(
        f"the cocreate plugin has no client in {_VENDOR}: install it with `cocreate plugins install krita`, "
        "or import the zip from `cocreate plugins build krita`"
    )

if importlib.util.find_spec("krita") is not None:  # inside Krita
    from krita import DockWidgetFactory, DockWidgetFactoryBase, Krita

    from .docker import CocreateDocker

    Krita.instance().addDockWidgetFactory(
        DockWidgetFactory("cocreate", DockWidgetFactoryBase.DockRight, CocreateDocker)
    )
