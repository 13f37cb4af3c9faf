"""Large pixels through shared memory when client and daemon share a machine, with the stdlib only.

A sender writes the pixels to a new file in /dev/shm (a RAM file system), mode 0600, named
"cocreate-" and 32 random hex characters, and sends only that name and the size; the receiver
checks the name, that the file is a regular one of its own user readable by nobody else and of
exactly the size expected, and copies it out. Where there is no /dev/shm, or the client's is not the
daemon's (a sandboxed host has its own; a probe file read back tells), pixels go on the wire.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

from google.protobuf.message import Message

FOLDER = Path("/dev/shm")
PREFIX = "cocreate-"
NAME = re.compile(r"cocreate-[0-9a-f]{32}")
# Below this a file costs about what it saves; such pixels stay on the wire.
MIN_BYTES = 256 * 1024
PROBE_MAX_BYTES = 64  # the random bytes a client writes to learn whether the daemon sees them
_PIXEL_FIELDS = {"cocreate.v1.Image": "rgba", "cocreate.v1.Mask": "alpha"}
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
# Opening a FIFO planted under a valid name returns at once instead of blocking; fstat refuses it.
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | _NOFOLLOW


class SharedMemoryError(ValueError):
    """A name or file that is not a cocreate shared-memory file of the size expected."""


def available() -> bool:
    return FOLDER.is_dir() and os.access(FOLDER, os.W_OK | os.X_OK)


def write(data: bytes | bytearray | memoryview) -> str:
    """Put `data` in a new shared-memory file only this user can read; returns its name."""
    name = PREFIX + secrets.token_hex(16)
    path = FOLDER / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
    try:
        view = memoryview(data).cast("B")
        while view:
            view = view[os.write(fd, view) :]
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)
    return name


def read(name: str, size: int) -> bytes:
    """The `size` bytes of the shared-memory file `name`; SharedMemoryError if it is not one of ours."""
    if not NAME.fullmatch(name):
        raise SharedMemoryError(f"{name[:64]!r} is not a cocreate shared-memory name")
    try:
        fd = os.open(FOLDER / name, _READ_FLAGS)
    except OSError as error:
        raise SharedMemoryError(f"cannot open shared memory {name}: {error.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
            raise SharedMemoryError(f"shared memory {name} is not a private file of this user")
        if info.st_size != size:
            raise SharedMemoryError(f"shared memory {name} holds {info.st_size} bytes, not {size}")
        chunks = []
        while size:
            chunk = os.read(fd, size)
            if not chunk:
                raise SharedMemoryError(f"shared memory {name} shrank while it was read")
            chunks.append(chunk)
            size -= len(chunk)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    finally:
        os.close(fd)


def remove(name: str) -> None:
    if NAME.fullmatch(name):
        (FOLDER / name).unlink(missing_ok=True)


@contextlib.contextmanager
def outgoing(message: Message) -> Iterator[None]:
    """For one call: the pixels of every large Image and Mask in `message` move into shared memory;
    afterwards they are put back and the files removed."""
    moved: list[tuple[Message, str, bytes, str]] = []
    try:
        _move_pixels(message, moved)
        yield
    finally:
        for image, field, data, name in moved:
            remove(name)
            image.ClearField("shared")
            setattr(image, field, data)


def take(name: str, size: int) -> bytes:
    """Read a file the daemon shared with this client, and remove it."""
    try:
        return read(name, size)
    finally:
        remove(name)


def _move_pixels(message: Message, moved: list[tuple[Message, str, bytes, str]]) -> None:
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        for child in [value] if isinstance(value, Message) else value:
            pixels = _PIXEL_FIELDS.get(child.DESCRIPTOR.full_name)
            if pixels is None:
                _move_pixels(child, moved)
                continue
            data = getattr(child, pixels)
            if len(data) >= MIN_BYTES:
                name = write(data)
                moved.append((child, pixels, data, name))
                child.ClearField(pixels)
                child.shared.name, child.shared.size = name, len(data)
