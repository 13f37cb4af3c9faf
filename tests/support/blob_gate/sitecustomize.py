"""A test hook for a real daemon: started with this folder on PYTHONPATH and COCREATE_TEST_BLOB_GATE naming a
FIFO, each PNG the blob store writes waits for a word from it: "go" writes the file, "fail" fails like a
full disk. The test holds the store while it watches what the stream sends."""

from __future__ import annotations

import errno
import os

_GATE = os.environ.get("COCREATE_TEST_BLOB_GATE")

if _GATE:
    from core_server.sessions import blobs
    from core_server.sessions.model import Kind

    _put_bytes = blobs.FolderBlobs.put_bytes

    def _gated(self: blobs.FolderBlobs, data: bytes, kind: Kind) -> str:
        if kind == "image":
            with open(_GATE) as gate:  # blocks until the test opens it to write its word
                word = gate.read().strip()
            if word == "fail":
                raise OSError(errno.ENOSPC, "No space left on device (the test's blob gate)")
        return _put_bytes(self, data, kind)

    blobs.FolderBlobs.put_bytes = _gated  # type: ignore[method-assign]
