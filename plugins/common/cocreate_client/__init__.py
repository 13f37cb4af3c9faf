"""The cocreate client every host plugin vendors: pure Python, stdlib + grpclib + protobuf.

    from cocreate_client import CocreateClient, tasks, pixels

A plugin's bundle (`python -m core_server.packaging.bundle`) carries the dependencies in `_vendor/`
beside this file, their imports rewritten to be relative: they load as cocreate_client._vendor.*,
never on sys.path, so a host's own protobuf or h2 is neither replaced nor used. Outside a bundle
(the daemon, tests) the installed packages serve. Names are imported lazily so
`cocreate_client.endpoint`, which the daemon uses, loads no grpclib.
"""

from __future__ import annotations

import importlib
from typing import Any

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
            f"cocreate_client needs {error.name}: install it, or use the plugin's bundle "
            "(python -m core_server.packaging.bundle), which carries it"
        ) from error
