"""This process's peak resident memory over a stretch of work (a model load), read from Linux's /proc.

Linux keeps the peak (VmHWM) and lets a process reset it (clear_refs 5), so the figure is exact, not
sampled. Elsewhere it is 0: unknown.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")


@dataclass
class Peak:
    bytes: int = 0  # set when the block ends; 0 where the system does not say


@contextlib.contextmanager
def peak_resident() -> Iterator[Peak]:
    """The peak resident memory of this process between entering and leaving the block."""
    peak = Peak()
    try:
        CLEAR_REFS.write_text("5")  # resets VmHWM to the current resident size
    except OSError:
        yield peak
        return
    yield peak
    peak.bytes = _status_kib("VmHWM") * 1024


def resident_bytes() -> int:
    """This process's resident memory now (0 where /proc says nothing)."""
    return _status_kib("VmRSS") * 1024


def _status_kib(field: str) -> int:
    try:
        for line in STATUS.read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0
