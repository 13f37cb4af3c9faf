"""The closed table from domain errors to gRPC status codes, applied around every RPC."""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import grpc

from ..scheduler.scheduler import QueueFull
from ..sessions.blobs import LostFile
from ..sessions.database import StoreUnavailable
from ..tasks import EngineError, EngineUnavailable
from .keeping import CandidatesLost

log = logging.getLogger(__name__)


class InvalidArgument(ValueError):
    """A request field is wrong; the message names the field and what would be right."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")


class FailedPrecondition(Exception):
    """The request is well formed but cannot be served in the daemon's current state."""


class PermissionDenied(Exception):
    """The thing exists but belongs to another identity (a job another client started)."""


# Order matters: the first matching class wins. Anything else is INTERNAL and logged.
STATUS_OF: tuple[tuple[type[BaseException], grpc.StatusCode], ...] = (
    (InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (LookupError, grpc.StatusCode.NOT_FOUND),  # store.NotFound, catalog.UnknownModel
    (QueueFull, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (StoreUnavailable, grpc.StatusCode.UNAVAILABLE),  # the PostgreSQL server is down: try again later
    (EngineError, grpc.StatusCode.FAILED_PRECONDITION),
    (EngineUnavailable, grpc.StatusCode.UNAVAILABLE),
    (FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
    (PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (LostFile, grpc.StatusCode.DATA_LOSS),
    (CandidatesLost, grpc.StatusCode.DATA_LOSS),  # sent, then the store failed: the turn is marked failed
    (ValueError, grpc.StatusCode.INVALID_ARGUMENT),  # store.InvalidReference and the like
)


def status_for(error: BaseException) -> tuple[grpc.StatusCode, str]:
    for kind, code in STATUS_OF:
        if isinstance(error, kind):
            message = error.args[0] if isinstance(error, LookupError) and error.args else str(error)
            return code, str(message)
    log.exception("internal error", exc_info=error)
    return grpc.StatusCode.INTERNAL, f"internal error ({type(error).__name__}); the daemon log has the details"


F = TypeVar("F", bound=Callable[..., Any])


def unary(method: F) -> F:
    @functools.wraps(method)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            return await method(self, request, context)
        except Exception as error:
            code, message = status_for(error)
            await context.abort(code, message)

    return wrapper  # type: ignore[return-value]


def streaming(method: F) -> F:
    @functools.wraps(method)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        try:
            async for item in method(self, request, context):
                yield item
        except Exception as error:
            code, message = status_for(error)
            await context.abort(code, message)

    return wrapper  # type: ignore[return-value]
