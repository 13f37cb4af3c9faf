"""Requests that are not valid protobuf get INVALID_ARGUMENT, not gRPC's UNKNOWN and a logged traceback.

gRPC decodes a request before the servicer runs and reports a decode error as UNKNOWN. This
interceptor, on every service (ours, health, reflection), swaps in a decoder that yields an
`Undecodable` instead of raising, and answers it with INVALID_ARGUMENT before the handler sees it.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import DecodeError


@dataclass(frozen=True)
class Undecodable:
    problem: str


class DecodeGuard(grpc.aio.ServerInterceptor):
    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or handler.request_deserializer is None:
            return handler
        guarded = handler._replace(request_deserializer=_guarded(handler.request_deserializer))
        if handler.unary_unary:
            return guarded._replace(unary_unary=_check_one(handler.unary_unary))
        if handler.unary_stream:
            return guarded._replace(unary_stream=_check_one(handler.unary_stream))
        if handler.stream_unary:
            return guarded._replace(stream_unary=_check_each(handler.stream_unary))
        return guarded._replace(stream_stream=_check_each(handler.stream_stream))


def _guarded(decode: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    def decode_or_report(data: bytes) -> Any:
        try:
            return decode(data)
        except DecodeError as error:
            return Undecodable(str(error))

    return decode_or_report


async def _refuse(request: Any, context: grpc.aio.ServicerContext) -> None:
    if isinstance(request, Undecodable):
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"the request is not valid protobuf: {request.problem}")


def _check_one(behavior: Callable[..., Any]) -> Callable[..., Any]:
    """A handler taking one request: refuse it undecodable, else run the real one."""
    if inspect.isasyncgenfunction(behavior):

        async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            await _refuse(request, context)
            async for reply in behavior(request, context):
                yield reply

        return stream

    async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await _refuse(request, context)
        return await behavior(request, context)

    return unary


def _check_each(behavior: Callable[..., Any]) -> Callable[..., Any]:
    """A handler taking a stream of requests: each is checked as the handler reads it."""

    def checked(requests: AsyncIterator[Any], context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        async def each() -> AsyncIterator[Any]:
            async for request in requests:
                await _refuse(request, context)
                yield request

        return each()

    if inspect.isasyncgenfunction(behavior):

        async def stream(requests: AsyncIterator[Any], context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            async for reply in behavior(checked(requests, context), context):
                yield reply

        return stream

    async def unary(requests: AsyncIterator[Any], context: grpc.aio.ServicerContext) -> Any:
        return await behavior(checked(requests, context), context)

    return unary
