"""Build and install the host plugins: `cocreate plugins build|install HOST`.

Each host has a module here (`krita.py`, `gimp.py`, ...) with

    build(out: Path) -> Path    # the installable artefact (zip, .oxt, folder), made in `out`
    install() -> Path           # put the plugin where the host looks for it; returns that place

Both ship plugins/common (bundle.py) inside the plugin. They read the plugin sources from a
checkout (plugins/ beside core_server/).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

HOSTS = ("krita", "gimp", "blender", "libreoffice")
PLUGINS = Path(__file__).resolve().parents[2] / "plugins"


class PackagingError(Exception):
    """The plugin cannot be built or installed as asked; the message says why and what to do."""


def host_module(host: str) -> ModuleType:
    if host not in HOSTS:
        raise PackagingError(f"unknown host {host!r}; cocreate has plugins for {', '.join(HOSTS)}")
    if not (PLUGINS / host).is_dir():
        raise PackagingError(f"no plugin sources at {PLUGINS / host}: build and install from a cocreate checkout")
    try:
        return importlib.import_module(f"{__name__}.{host}")
    except ModuleNotFoundError as error:
        if error.name == f"{__name__}.{host}":
            raise PackagingError(f"the {host} plugin cannot be built or installed yet") from None
        raise
