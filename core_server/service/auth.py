"""Token check for TCP listeners: every call must carry `authorization: Bearer <token>`.

The check runs before gRPC decodes the request body: a call without a valid token gets
UNAUTHENTICATED whatever its body holds, on every service (health and reflection included).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from .identity import TokenBook


class TokenAuth(grpc.aio.ServerInterceptor):
    def __init__(self, tokens: TokenBook) -> None:
        self._tokens = tokens

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        if self._tokens.identify(details.invocation_metadata) is not None:
            return await continuation(details)
        presented = dict(details.invocation_metadata or ()).get("authorization")
        reason = "a token is required on TCP" if not presented else "the token is wrong"
        return _deny(await continuation(details), f"{reason}: send 'authorization: Bearer <token>'")


def _deny(handler: grpc.RpcMethodHandler | None, message: str) -> grpc.RpcMethodHandler:
    """A handler of the same shape as the real one that only says UNAUTHENTICATED. It takes the
    body as raw bytes (no deserializer): nothing an unauthenticated caller sends is decoded."""

    async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    async def stream(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)
        yield  # pragma: no cover - makes this an async generator

    if handler is None:  # unknown method: let gRPC say UNIMPLEMENTED only to those who may ask
        return grpc.unary_unary_rpc_method_handler(unary)
    serialize = handler.response_serializer
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(stream, None, serialize)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(unary, None, serialize)
    if handler.stream_stream:
        return grpc.stream_stream_rpc_method_handler(stream, None, serialize)
    return grpc.unary_unary_rpc_method_handler(unary, None, serialize)
