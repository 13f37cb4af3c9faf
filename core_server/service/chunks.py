"""A file object a worker thread writes to while the event loop sends what it wrote, chunk by chunk.

The export zip is written as it is made (each candidate signed in turn) and goes out as it grows:
the first bytes leave at once and the daemon holds a few chunks, never the whole archive.
"""

from __future__ import annotations

import queue
import threading

_POLL_S = 0.1


class ChunkPipe:
    def __init__(self, chunk_size: int, depth: int = 4) -> None:
        self._chunk_size = chunk_size
        self._chunks: queue.Queue[bytes | None] = queue.Queue(depth)  # the writer waits when the reader lags
        self._pending = bytearray()
        self._closed = threading.Event()

    # ------------------------------------------------------------ writer thread

    def write(self, data: bytes) -> int:
        self._pending += data
        while len(self._pending) >= self._chunk_size:
            self._put(bytes(self._pending[: self._chunk_size]))
            del self._pending[: self._chunk_size]
        return len(data)

    def flush(self) -> None:
        """Chunks leave when full; zipfile's flush asks nothing more."""

    def finish(self) -> None:
        """No more bytes: send what is left, then the end."""
        try:
            if self._pending:
                self._put(bytes(self._pending))
            self._put(None)
        except BrokenPipeError:
            pass

    def _put(self, item: bytes | None) -> None:
        while True:
            if self._closed.is_set():
                raise BrokenPipeError("the caller stopped reading")
            try:
                self._chunks.put(item, timeout=_POLL_S)
                return
            except queue.Full:
                continue

    # ------------------------------------------------------------ reader

    def next_chunk(self) -> bytes | None:
        """The next chunk, or None at the end (or once closed)."""
        while not self._closed.is_set():
            try:
                return self._chunks.get(timeout=_POLL_S)
            except queue.Empty:
                continue
        return None

    def close(self) -> None:
        """The reader is gone: the writer's next write raises BrokenPipeError."""
        self._closed.set()
