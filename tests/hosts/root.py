"""Where the Debian 13 root with the real host programs is, and the skip for machines without it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

HOST_ROOT = Path(os.environ.get("COCREATE_HOST_ROOT", "/var/cache/cocreate/hostroot"))
IN_ROOT = Path(__file__).resolve().parent / "in-root"

# Every real-host test module sets `pytestmark = NEEDS_HOST_ROOT`; `make test` builds the root.
NEEDS_HOST_ROOT = [
    pytest.mark.skipif(
        not (HOST_ROOT / ".complete").exists(),
        reason=f"no host root at {HOST_ROOT} (set COCREATE_HOST_ROOT, or build it with tests/hosts/make-root)",
    ),
    pytest.mark.skipif(os.geteuid() != 0, reason="tests/hosts/in-root needs root (chroot and bind mounts)"),
]
