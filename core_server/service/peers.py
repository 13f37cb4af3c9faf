"""Who is on the other end of the Unix socket: the kernel's word (SO_PEERCRED), never the request's.

gRPC does not tell a servicer which process a call came from (every Unix peer is just "unix:").
So the public socket is ours: each connection is accepted here, the peer's pid and uid read from
the kernel, and its bytes relayed to gRPC's own socket in a private folder, from a client socket
bound to a name carrying that pid. gRPC reports that name as the call's peer; `peer_pid` reads it
back.

The bytes move in two threads per connection, by splice(2) through a pipe: the kernel copies them,
Python never holds them, and the event loop that runs the service never sees them.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import re
import shutil
import socket
import struct
import tempfile
import threading
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
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    async def start(self) -> None:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)  # the socket file is created 0600: only this user may connect
        try:
            listener.bind(str(self.public))
        finally:
            os.umask(old_umask)
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, name="cocreate-front", daemon=True).start()

    async def close(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):  # wakes the thread blocked in accept()
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
        with self._lock:
            for connection in self._open:
                _hang_up(connection)  # wakes the threads blocked in splice()
        shutil.rmtree(self._folder, ignore_errors=True)

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                outer, _ = self._listener.accept()
            except OSError:  # closed
                return
            threading.Thread(target=self._serve, args=(outer,), name="cocreate-relay", daemon=True).start()

    def _serve(self, outer: socket.socket) -> None:
        try:
            inner = self._connect_inner(outer)
        except OSError as error:
            log.debug("a local connection ended before it was relayed: %s", error)
            outer.close()
            return
        if inner is None:
            outer.close()
            return
        with self._lock:
            self._open.update((outer, inner))
        try:
            back = threading.Thread(target=_pump, args=(inner, outer), name="cocreate-relay", daemon=True)
            back.start()
            _pump(outer, inner)
            back.join()
        finally:
            with self._lock:
                self._open.difference_update((outer, inner))
            outer.close()
            inner.close()

    def _connect_inner(self, outer: socket.socket) -> socket.socket | None:
        """A connection to gRPC's socket from a name carrying the peer's pid; None for another user."""
        pid, uid, _ = _CREDENTIALS.unpack(outer.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CREDENTIALS.size))
        if uid != os.geteuid():  # the socket is 0600; only root gets past that, and is not served
            log.warning("refused a local connection from uid %d", uid)
            return None
        inner = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        name = self._folder / f"p{pid}-{next(self._names)}"
        try:
            inner.bind(str(name))
            inner.connect(self.grpc_address.removeprefix("unix:"))
        except BaseException:
            inner.close()
            raise
        finally:
            name.unlink(missing_ok=True)  # the socket keeps its name; the file is not needed
        return inner


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """Move bytes from source to sink until either side ends; then end both, so the other pump ends too."""
    read_end, write_end = os.pipe()
    try:
        while moved := os.splice(source.fileno(), write_end, _CHUNK):
            while moved:
                moved -= os.splice(read_end, sink.fileno(), moved)
    except OSError as error:
        log.debug("a local connection ended: %s", error)
    finally:
        os.close(read_end)
        os.close(write_end)
        _hang_up(source)
        _hang_up(sink)


def _hang_up(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)
