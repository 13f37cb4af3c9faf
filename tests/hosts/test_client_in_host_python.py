"""The bundled client in a real host Python (Debian 13's python3, 3.13) against a daemon on this machine.

Needs the host root (tests/hosts/make-root) and root rights for tests/hosts/in-root; skips otherwise.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hosts.client_check import problems
from tests.hosts.root import NEEDS_HOST_ROOT
from tests.support.daemon import running_daemon

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
TOKEN = "host-check-token"

pytestmark = NEEDS_HOST_ROOT


@pytest.fixture
def bundle_dir() -> Path:
    """A fresh bundle under the repo's ignored build/ (in-root binds it at /project)."""
    folder = REPO / "build" / "host-tests" / "client"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "core_server.packaging.bundle", str(folder)], check=True, cwd=REPO)
    shutil.copy(HERE / "client_check.py", folder / "client_check.py")
    return folder


def test_bundle_in_host_python(bundle_dir: Path, tmp_path: Path) -> None:
    with running_daemon(tmp_path / "home", listen="127.0.0.1:0", token=TOKEN) as daemon:
        run = subprocess.run(
            [
                str(HERE / "in-root"),
                "-d",
                str(bundle_dir),
                "--",
                "python3",
                "/project/client_check.py",
                daemon.endpoint,
                TOKEN,
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
    verdict_file = bundle_dir / "verdict.json"
    assert verdict_file.exists(), f"no verdict (exit {run.returncode}):\n{run.stdout}\n{run.stderr}"
    verdict = json.loads(verdict_file.read_text())
    assert verdict["python"].startswith("3.13"), verdict["python"]
    assert problems(verdict) == []
