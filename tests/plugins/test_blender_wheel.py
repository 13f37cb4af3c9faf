"""The Blender extension's apply functions in the current Blender line: the bpy 5.0.1 wheel from PyPI.

The wheel needs Python 3.11 and pins numpy<2, so it gets its own virtualenv, build/bpy-venv, made
by `make bpy-venv` at install time (the test skips, saying so, when it is missing). The checks themselves
(tests/hosts/blender/checks.py) also run in the real Blender 4.3.2 (tests/hosts/test_blender_host.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from core_server.packaging import blender as packaging
from tests.hosts.blender import checks

REPO = Path(__file__).resolve().parents[2]
VENV = REPO / "build" / "bpy-venv"
BPY = "bpy==5.0.1"
WORK = REPO / "build" / "blender-wheel-tests"


@pytest.fixture(scope="module")
def bpy_python() -> Path:
    """The virtualenv's python with bpy installed: `make bpy-venv` makes it (tests never download)."""
    python = VENV / "bin" / "python"
    if not (VENV / ".bpy-5.0.1").exists():
        pytest.skip(f"{VENV} with {BPY} is missing: run `make bpy-venv` (make test does)")
    return python


@pytest.fixture(scope="module")
def verdict(bpy_python: Path) -> dict[str, str]:
    """Every wheel check in one bpy process, on the extension as it would be zipped."""
    shutil.rmtree(WORK, ignore_errors=True)
    packaging.stage(WORK)
    verdict_file = WORK / "verdict.json"
    run = subprocess.run(
        [
            str(bpy_python),
            str(Path(checks.__file__)),
            "--stage",
            str(WORK),
            "--verdict",
            str(verdict_file),
            *checks.WHEEL,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert verdict_file.exists(), f"no verdict (exit {run.returncode}):\n{run.stdout}\n{run.stderr}"
    result = json.loads(verdict_file.read_text())
    assert "setup" not in result, result["setup"]
    assert result["blender"].startswith("5.0.1"), result["blender"]
    return result


@pytest.mark.parametrize("name", checks.WHEEL)
def test_with_the_bpy_wheel(verdict: dict[str, str], name: str) -> None:
    assert verdict[name] == "ok", verdict[name]
