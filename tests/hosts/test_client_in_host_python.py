"""The bundled client in a real host Python (Debian 13's python3, 3.13) against a daemon on this machine.

Needs the host root (tests/hosts/make-root) and root rights for tests/hosts/in-root; skips otherwise.
Inside the root /dev/shm is private, as in a Flatpak, Snap or container host, and stays so here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.hosts.client_check import problems
from tests.hosts.root import NEEDS_HOST_ROOT
from tests.support.daemon import running_daemon

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
TOKEN = "host-check-token"
SIDE = 512  # RGBA 1 MiB: well over the 256 KiB from which pixels would go through shared memory

# The root runs one program at a time (a lock other engineers' host tests share): allow for the wait.
pytestmark = [*NEEDS_HOST_ROOT, pytest.mark.timeout(1200)]


@pytest.fixture
def bundle_dir() -> Path:
    """A fresh bundle under the repo's ignored build/ (in-root binds it at /project)."""
    folder = REPO / "build" / "host-tests" / "client"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "core_server.packaging.bundle", str(folder)], check=True, cwd=REPO)
    shutil.copy(HERE / "client_check.py", folder / "client_check.py")
    return folder


def check_in_root(bundle_dir: Path, *args: str) -> dict[str, Any]:
    """client_check.py in the root's python3 with `args`; its verdict."""
    command = [str(HERE / "in-root"), "-d", str(bundle_dir), "--", "python3", "/project/client_check.py", *args]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600)
    verdict_file = bundle_dir / "verdict.json"
    assert verdict_file.exists(), f"no verdict (exit {run.returncode}):\n{run.stdout}\n{run.stderr}"
    verdict: dict[str, Any] = json.loads(verdict_file.read_text())
    assert verdict["python"].startswith("3.13"), verdict["python"]
    return verdict


def test_bundle_in_host_python(bundle_dir: Path, tmp_path: Path) -> None:
    with running_daemon(tmp_path / "home", listen="127.0.0.1:0", token=TOKEN) as daemon:
        verdict = check_in_root(bundle_dir, daemon.endpoint, TOKEN)
    assert problems(verdict) == []


def test_large_images_from_a_host_with_its_own_dev_shm_go_on_the_wire(bundle_dir: Path) -> None:
    """A 512² picture (1 MiB, and its candidates) between the root's python3 and a daemon outside on
    a Unix socket: the probe finds that the two /dev/shm differ, so every pixel travels on the wire
    and the job's candidates arrive, where they used to fail after the whole job had run."""
    home = bundle_dir / "home"  # under /project inside the root: the socket is reachable there
    with running_daemon(home) as daemon:
        assert daemon.endpoint == f"unix:{home / 'cocreate.sock'}"
        verdict = check_in_root(bundle_dir, "unix:/project/home/cocreate.sock", "", str(SIDE))
    assert verdict.get("shares_memory") is False, verdict
    assert problems(verdict, side=SIDE) == []
