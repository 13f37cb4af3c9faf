"""The cocreate client every host plugin vendors: pure Python, stdlib + grpclib + protobuf.

    from cocreate_client import CocreateClient, tasks, pixels

A bundle made by scripts/bundle_client.py carries its dependencies in `_vendor/` beside this file;
they go first on sys.path so a host's own (possibly older or compiled) copies do not win.
Names are imported lazily so `cocreate_client.endpoint`, which the daemon uses, loads no grpclib.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

_VENDOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_vendor")
if os.path.isdir(_VENDOR) and _VENDOR not in sys.path:
    sys.path.insert(0, _VENDOR)
    if "google.protobuf" not in sys.modules:
        # The vendored protobuf is pure Python; `google` is a namespace package, so a compiled
        # google._upb of another protobuf version elsewhere on sys.path would otherwise be picked up.
        os.environ.setdefault("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "python")

_EXPORTS = {
    "CocreateClient": "facade",
    "Client": "client",
    "Job": "jobs",
    "JobResult": "jobs",
    "CocreateError": "errors",
    "DaemonUnavailable": "errors",
    "RequestError": "errors",
    "Accepted": "events",
    "Queued": "events",
    "Progress": "events",
    "TextDelta": "events",
    "CandidateReady": "events",
    "Trained": "events",
    "Done": "events",
    "Failed": "events",
    "Event": "events",
    "Image": "pixels",
    "Mask": "pixels",
    "default_endpoint": "endpoint",
}
_DEPENDENCIES = {"grpclib", "h2", "hpack", "hyperframe", "multidict", "google"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        return getattr(importlib.import_module(f".{module}", __name__), name)
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] not in _DEPENDENCIES:
            raise
        raise ImportError(
            f"cocreate_client needs {error.name}, which the plugin should carry in {_VENDOR}; "
            "build that folder with scripts/bundle_client.py"
        ) from error
