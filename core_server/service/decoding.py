"""Requests that are not valid protobuf get INVALID_ARGUMENT, not gRPC's UNKNOWN and a logged traceback.

gRPC decodes a request before the servicer runs and reports a decode error as UNKNOWN. This
interceptor swaps in a decoder that hands the servicer an `Undecodable` instead of raising; the
error decorators (errors.py) answer it with INVALID_ARGUMENT.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import DecodeError


@dataclass(frozen=True)
class Undecodable:
    problem: str


class DecodeGuard(grpc.aio.ServerInterceptor):
    def __init__(self, service: str) -> None:
        self._prefix = f"/{service}/"

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or not details.method.startswith(self._prefix) or handler.request_deserializer is None:
            return handler
        return handler._replace(request_deserializer=_guarded(handler.request_deserializer))


def _guarded(decode: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    def decode_or_report(data: bytes) -> Any:
        try:
            return decode(data)
        except DecodeError as error:
            return Undecodable(str(error))

    return decode_or_report
