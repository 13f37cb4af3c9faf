"""Pixels through shared memory for clients on this machine (see SharedMemory in the proto).

Requests: every Image and Mask a client left in a shared-memory file is copied into the request
before validation, so everything after sees plain bytes. Replies: when the client asked for it,
each candidate's pixels go into a new file the client removes once read; a file it never read is
removed by the daemon a while after the call.
"""

from __future__ import annotations

import asyncio

from cocreate_client import shm  # one rule for names, modes and sizes, on both sides
from google.protobuf.message import Message

from .. import config, tasks
from ..pb import cocreate_pb2 as pb
from ..sessions.model import Candidate
from . import convert
from .errors import InvalidArgument

UNREAD_GRACE_S = 60.0  # a client reads a candidate as it arrives; this is long past that
# The field holding the pixels on the wire, and its bytes per pixel.
_PIXELS = {pb.Image.DESCRIPTOR.full_name: ("rgba", 4), pb.Mask.DESCRIPTOR.full_name: ("alpha", 1)}


def take_pixels(message: Message, limits: config.Limits, path: str = "") -> None:
    """Copy the pixels of every Image and Mask in `message` that arrived as SharedMemory into it."""
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        name = f"{path}.{field.name}" if path else field.name
        repeated = not isinstance(value, Message)
        for i, child in enumerate(value if repeated else [value]):
            where = f"{name}[{i}]" if repeated else name
            pixels = _PIXELS.get(child.DESCRIPTOR.full_name)
            if pixels is None:
                take_pixels(child, limits, where)
            elif child.HasField("shared"):
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
        data = shm.read(image.shared.name, size)
    except shm.SharedMemoryError as error:
        raise InvalidArgument(f"{where}.shared", str(error)) from None
    image.ClearField("shared")
    setattr(image, field, data)


class Outbox:
    """Candidates of one Generate call, their large pixels in shared memory when the client asked."""

    def __init__(self, wanted: bool) -> None:
        self.enabled = wanted and shm.available()
        self._written: list[str] = []

    def candidate_to_pb(self, candidate: Candidate, content: tasks.RGBAImage | str) -> pb.GenerateEvent:
        if not self.enabled or isinstance(content, str) or len(content.data) < shm.MIN_BYTES:
            return convert.candidate_to_pb(candidate, content)
        event = convert.candidate_to_pb(candidate, tasks.RGBAImage(content.width, content.height, b""))
        name = shm.write(content.data)
        self._written.append(name)
        event.candidate.image.shared.CopyFrom(pb.SharedMemory(name=name, size=len(content.data)))
        return event

    def release_later(self) -> None:
        """Remove, after a grace period, every file the client has not taken (it left, say)."""
        if self._written:
            names, self._written = self._written, []
            asyncio.get_running_loop().call_later(UNREAD_GRACE_S, lambda: [shm.remove(n) for n in names])
