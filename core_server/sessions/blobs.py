"""Content-addressed files (candidates, finals, signed files) behind one interface, Blobs.

A name is the sha256 of the file's bytes, computed here; nothing a client sends
ever becomes a path. A file appears under its final name only once its bytes are
durable, so a row that names it never points at half a file.

FolderBlobs keeps them in a folder: the daemon's own (the default) or a shared filesystem
path that every front of a studio reaches (`cocreate serve --blobs PATH`).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Protocol

from core_server.files import fsync_dir, write_atomic
from core_server.sessions.images import decode_png, encode_png
from core_server.sessions.model import Kind
from core_server.tasks import RGBAImage

_SHA256 = re.compile(r"[0-9a-f]{64}")
_SUFFIX = {"image": ".png", "text": ".txt"}


class LostFile(Exception):
    """A file a stored row names is gone from disk (removed by hand, a failed disk): the rest is intact."""

    def __init__(self, sha256: str, kind: Kind) -> None:
        super().__init__(f"the store has lost the {kind} file {sha256[:16]}…; the rest of the session is intact")


class Blobs(Protocol):
    def put_image(self, image: RGBAImage) -> str: ...

    def put_text(self, text: str) -> str: ...

    def put_bytes(self, data: bytes, kind: Kind) -> str:
        """An already encoded file (a signed PNG, a JSON sidecar), stored with those of its kind."""
        ...

    def read_bytes(self, sha256: str, kind: Kind) -> bytes:
        """Raises LostFile when the file a row names is gone."""
        ...

    def read_image(self, sha256: str) -> RGBAImage: ...

    def read_text(self, sha256: str) -> str: ...


class FolderBlobs:
    """root/<sha[:2]>/<sha>.<png|txt>, each written atomically (fsync, rename, fsync of the folder)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str, kind: Kind) -> Path:
        if not _SHA256.fullmatch(sha256):
            raise ValueError(f"not a sha256: {sha256!r}")
        return self.root / sha256[:2] / (sha256 + _SUFFIX[kind])

    def put_image(self, image: RGBAImage) -> str:
        return self._put(encode_png(image), "image")

    def put_text(self, text: str) -> str:
        return self._put(text.encode("utf-8"), "text")

    def put_bytes(self, data: bytes, kind: Kind) -> str:
        return self._put(data, kind)

    def read_bytes(self, sha256: str, kind: Kind) -> bytes:
        try:
            return self.path(sha256, kind).read_bytes()
        except FileNotFoundError:
            raise LostFile(sha256, kind) from None

    def read_image(self, sha256: str) -> RGBAImage:
        return decode_png(self.read_bytes(sha256, "image"))

    def read_text(self, sha256: str) -> str:
        return self.read_bytes(sha256, "text").decode("utf-8")

    def _put(self, data: bytes, kind: Kind) -> str:
        sha256 = hashlib.sha256(data).hexdigest()
        path = self.path(sha256, kind)
        if not path.exists():  # identical content is stored once
            _make_dir(path.parent)
            write_atomic(path, data)
        return sha256


def _make_dir(path: Path) -> None:
    try:
        path.mkdir()
    except FileExistsError:
        return
    fsync_dir(path.parent)  # the new directory's entry must survive a crash too
