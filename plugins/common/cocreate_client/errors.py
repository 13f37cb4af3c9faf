"""The two errors host glue needs to tell a person about, under one base class."""

from __future__ import annotations


class CocreateError(Exception):
    """Base of every error this client raises on purpose."""


class DaemonUnavailable(CocreateError):
    """No daemon answered at the endpoint (not started, crashed, or a wrong address)."""

    def __init__(self, endpoint: str, reason: str) -> None:
        self.endpoint = endpoint
        self.reason = reason
        super().__init__(
            f"the cocreate daemon is not reachable at {endpoint} ({reason}); "
            "start it with `cocreate serve`, or set COCREATE_ENDPOINT to where it listens"
        )


class RequestError(CocreateError):
    """The daemon answered with a gRPC status other than OK; `code` is its name, e.g. INVALID_ARGUMENT."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}" if message else code)
