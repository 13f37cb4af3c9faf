"""Pixels through shared memory for clients on this machine (see SharedMemory in the proto).

Requests: every Image and Mask a client left in a shared-memory file is copied into the request
before validation, so everything after sees plain bytes. Replies: when the client asked for it,
each candidate's pixels go into a new file the client removes once read; a file it never read is
removed by the daemon a while after the call, or when it stops; a start sweeps what a crash left.

Shared memory is for clients on this machine only: over TCP a request naming a file is refused,
so a remote caller can neither make the daemon read one nor learn whether one exists.
"""

from __future__ import annotations

import asyncio
import os
import stat
import time

from cocreate_client import shm  # one rule for names, modes and sizes, on both sides
from google.protobuf.message import Message

from .. import config, tasks
from ..pb import cocreate_pb2 as pb
from . import convert
from .errors import InvalidArgument

UNREAD_GRACE_S = 60.0  # a client reads a candidate as it arrives; this is long past that
READ_TIMEOUT_S = 10.0  # reading a file in RAM takes well under a second even at the largest size
# O_NONBLOCK: opening a FIFO (or a device) planted under a valid name returns at once instead of
# blocking a worker thread forever; fstat then refuses anything but a regular file.
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_unread: set[str] = set()  # files this daemon wrote that no client has taken yet
# The field holding the pixels on the wire, and its bytes per pixel.
_PIXELS = {pb.Image.DESCRIPTOR.full_name: ("rgba", 4), pb.Mask.DESCRIPTOR.full_name: ("alpha", 1)}


def take_pixels(message: Message, limits: config.Limits, local: bool, path: str = "") -> None:
    """Copy the pixels of every Image and Mask in `message` that arrived as SharedMemory into it.
    Not `local` (a TCP call): any SharedMemory field is refused, unread."""
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        name = f"{path}.{field.name}" if path else field.name
        repeated = not isinstance(value, Message)
        for i, child in enumerate(value if repeated else [value]):
            where = f"{name}[{i}]" if repeated else name
            pixels = _PIXELS.get(child.DESCRIPTOR.full_name)
            if pixels is None:
                take_pixels(child, limits, local, where)
            elif child.HasField("shared"):
                if not local:
                    raise InvalidArgument(
                        f"{where}.shared", "shared memory is for clients on this machine; over TCP send the pixels"
                    )
                _take(child, *pixels, limits, where)


def _take(image: pb.Image | pb.Mask, field: str, bpp: int, limits: config.Limits, where: str) -> None:
    if not (0 < image.width <= limits.max_side and 0 < image.height <= limits.max_side):
        raise InvalidArgument(where, f"is {image.width}x{image.height}; each side must be 1 to {limits.max_side}")
    size = image.width * image.height * bpp
    if getattr(image, field):
        raise InvalidArgument(where, "carries pixels both in shared memory and on the wire; send one")
    if image.shared.size != size:
        raise InvalidArgument(
            f"{where}.shared.size", f"is {image.shared.size}; {image.width}x{image.height} needs {size}"
        )
    try:
        data = read_private(image.shared.name, size)
    except shm.SharedMemoryError as error:
        raise InvalidArgument(f"{where}.shared", str(error)) from None
    image.ClearField("shared")
    setattr(image, field, data)


def read_private(name: str, size: int) -> bytes:
    """The `size` bytes of a client's shared-memory file: a regular file of this user, private,
    of exactly that size, read without ever blocking on it and within READ_TIMEOUT_S."""
    if not shm.NAME.fullmatch(name):
        raise shm.SharedMemoryError(f"{name[:64]!r} is not a cocreate shared-memory name")
    try:
        fd = os.open(shm.FOLDER / name, _OPEN_FLAGS)
    except OSError as error:
        raise shm.SharedMemoryError(f"cannot open shared memory {name}: {error.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
            raise shm.SharedMemoryError(f"shared memory {name} is not a private regular file of this user")
        if info.st_size != size:
            raise shm.SharedMemoryError(f"shared memory {name} holds {info.st_size} bytes, not {size}")
        data = bytearray(size)
        view, done, deadline = memoryview(data), 0, time.monotonic() + READ_TIMEOUT_S
        while done < size:
            got = os.readv(fd, [view[done:]])
            if not got:
                raise shm.SharedMemoryError(f"shared memory {name} shrank while it was read")
            if time.monotonic() > deadline:
                raise shm.SharedMemoryError(f"reading shared memory {name} took over {READ_TIMEOUT_S:.0f} s")
            done += got
        return bytes(data)
    finally:
        os.close(fd)


def sweep(older_than_s: float) -> int:
    """Remove this user's cocreate files older than `older_than_s`, and every file this daemon wrote
    that no client took. Returns how many were removed."""
    removed = 0
    if not shm.available():
        return removed
    cutoff = time.time() - older_than_s
    for path in shm.FOLDER.glob(shm.PREFIX + "*"):
        try:
            info = path.lstat()
        except OSError:
            continue
        mine = info.st_uid == os.geteuid() and shm.NAME.fullmatch(path.name)
        if mine and (path.name in _unread or info.st_mtime < cutoff):
            path.unlink(missing_ok=True)
            removed += 1
    _unread.clear()
    return removed


class Outbox:
    """Candidates of one Generate call, their large pixels in shared memory when the client asked."""

    def __init__(self, wanted: bool) -> None:
        self.enabled = wanted and shm.available()
        self._written: list[str] = []

    def candidate_to_pb(
        self, index: int, candidate_id: str, seed: int, content: tasks.RGBAImage | str
    ) -> pb.GenerateEvent:
        if not self.enabled or isinstance(content, str) or len(content.data) < shm.MIN_BYTES:
            return convert.candidate_to_pb(index, candidate_id, seed, content)
        event = convert.candidate_to_pb(index, candidate_id, seed, tasks.RGBAImage(content.width, content.height, b""))
        name = shm.write(content.data)
        self._written.append(name)
        _unread.add(name)
        event.candidate.image.shared.CopyFrom(pb.SharedMemory(name=name, size=len(content.data)))
        return event

    def release_later(self) -> None:
        """Remove, after a grace period, every file the client has not taken (it left, say)."""
        if self._written:
            names, self._written = self._written, []
            asyncio.get_running_loop().call_later(UNREAD_GRACE_S, _remove, names)


def _remove(names: list[str]) -> None:
    for name in names:
        shm.remove(name)
        _unread.discard(name)
