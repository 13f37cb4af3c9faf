"""The Blender extension's apply functions in the current Blender line: the bpy 5.0.1 wheel from PyPI.

The wheel needs Python 3.11 and pins numpy<2, so it gets its own virtualenv, build/bpy-venv, made
here on first use (the test skips, saying why, when pip cannot get the wheel). The checks themselves
(tests/hosts/blender/checks.py) also run in the real Blender 4.3.2 (tests/hosts/test_blender_host.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core_server.packaging import blender as packaging
from tests.hosts.blender import checks

REPO = Path(__file__).resolve().parents[2]
VENV = REPO / "build" / "bpy-venv"
BPY = "bpy==5.0.1"
WORK = REPO / "build" / "blender-wheel-tests"


def _python_3_11() -> str | None:
    if sys.version_info[:2] == (3, 11):
        return sys.executable
    return shutil.which("python3.11")


@pytest.fixture(scope="module")
def bpy_python() -> Path:
    """The virtualenv's python with bpy installed, made once and reused."""
    python = VENV / "bin" / "python"
    ready = VENV / f".{BPY}"
    if ready.exists():
        return python
    base = _python_3_11()
    if base is None:
        pytest.skip(f"{BPY} needs Python 3.11, and there is none on PATH")
    shutil.rmtree(VENV, ignore_errors=True)
    subprocess.run([base, "-m", "venv", str(VENV)], check=True, timeout=300)
    pip = subprocess.run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--quiet", BPY],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if pip.returncode != 0:
        pytest.skip(f"pip could not install {BPY} into {VENV}:\n{pip.stderr[-2000:]}")
    ready.touch()
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
