"""ProbeSharedMemory: the client's probe file read back, as shared pixels are, so a client whose
/dev/shm is not the daemon's (a Flatpak, Snap or container host) learns it before it sends any."""

from __future__ import annotations

from cocreate_client import shm

from ..pb import cocreate_pb2 as pb
from .errors import InvalidArgument
from .shm import read_private


def probe(request: pb.SharedMemoryProbe, local: bool) -> pb.SharedMemoryProbeReply:
    """The probe file's bytes; none when this daemon cannot read it (or it is not a private regular file:
    read_private never blocks on a FIFO). `local`: a Unix-socket call."""
    if not local:
        raise InvalidArgument("file", "shared memory is for clients on this machine; over TCP send the pixels")
    size = request.file.size
    if not 0 < size <= shm.PROBE_MAX_BYTES:
        raise InvalidArgument("file.size", f"is {size}; a probe holds 1 to {shm.PROBE_MAX_BYTES} bytes")
    try:
        return pb.SharedMemoryProbeReply(seen=read_private(request.file.name, size))
    except shm.SharedMemoryError:  # another /dev/shm, or not a private file of this user
        return pb.SharedMemoryProbeReply()
