"""Who is on the other end of the Unix socket: the kernel's word (SO_PEERCRED), never the request's.

gRPC does not tell a servicer which process a call came from (every Unix peer is just "unix:").
So the public socket is ours: each connection is accepted here, the peer's pid and uid read from
the kernel, and its bytes relayed to gRPC's own socket in a private folder, from a client socket
bound to a name carrying that pid. gRPC reports that name as the call's peer; `peer_pid` reads it
back.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import re
import shutil
import socket
import struct
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)
_RELAYED_PEER = re.compile(r"unix:.*/p(\d+)-\d+")
_CREDENTIALS = struct.Struct("3i")  # struct ucred: pid, uid, gid
_CHUNK = 1 << 20


def peer_pid(peer: str) -> int | None:
    """The pid of a call's process, from gRPC's context.peer() on a connection this relay made."""
    match = _RELAYED_PEER.fullmatch(peer)
    return int(match.group(1)) if match else None


class UnixFront:
    """The public Unix socket; behind it, gRPC listens on `grpc_address` in a private folder."""

    def __init__(self, public: Path) -> None:
        self.public = public
        self._folder = Path(tempfile.mkdtemp(prefix="cocreate-"))  # 0700: only this user
        self.grpc_address = f"unix:{self._folder / 'grpc.sock'}"
        self._names = itertools.count()
        self._server: asyncio.Server | None = None
        self._relays: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        old_umask = os.umask(0o177)  # the socket file is created 0600: only this user may connect
        try:
            self._server = await asyncio.start_unix_server(self._accept, path=str(self.public))
        finally:
            os.umask(old_umask)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for relay in list(self._relays):
            relay.cancel()
        await asyncio.gather(*self._relays, return_exceptions=True)
        shutil.rmtree(self._folder, ignore_errors=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._relays.add(task)
        try:
            await self._relay(reader, writer)
        except (OSError, asyncio.IncompleteReadError) as error:
            log.debug("a local connection ended: %s", error)
        finally:
            self._relays.discard(task)
            writer.close()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer: socket.socket = writer.get_extra_info("socket")
        pid, uid, _ = _CREDENTIALS.unpack(peer.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CREDENTIALS.size))
        if uid != os.geteuid():  # the socket is 0600; only root gets past that, and is not served
            log.warning("refused a local connection from uid %d", uid)
            return
        inner = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        name = self._folder / f"p{pid}-{next(self._names)}"
        try:
            inner.bind(str(name))
            inner.setblocking(False)
            await asyncio.get_running_loop().sock_connect(inner, self.grpc_address.removeprefix("unix:"))
        except BaseException:
            inner.close()
            raise
        finally:
            name.unlink(missing_ok=True)  # the socket keeps its name; the file is not needed
        inner_reader, inner_writer = await asyncio.open_unix_connection(sock=inner)
        try:
            await asyncio.gather(_pipe(reader, inner_writer), _pipe(inner_reader, writer))
        finally:
            inner_writer.close()


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    while data := await source.read(_CHUNK):
        sink.write(data)
        await sink.drain()
    with contextlib.suppress(OSError):
        sink.write_eof()
