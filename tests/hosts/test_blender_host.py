"""The Blender extension in the real Blender 4.3.2 of the host root (Debian 13), against a real daemon.

tests/hosts/blender/blender-in-root stands in for an installed `blender` (COCREATE_BLENDER), so the
extension is built, validated and installed by `cocreate plugins build|install blender` exactly as
a person runs them; the checks then run in that Blender with the installed extension enabled.
Needs the host root (tests/hosts/make-root) and root rights for tests/hosts/in-root; skips otherwise.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.hosts.blender import checks
from tests.hosts.root import IN_ROOT, NEEDS_HOST_ROOT
from tests.hosts.screenshots import SCREEN, keep_screenshot
from tests.support.daemon import running_daemon

REPO = Path(__file__).resolve().parents[2]
BLENDER = REPO / "tests" / "hosts" / "blender" / "blender-in-root"
WORK = REPO / "build" / "host-tests" / "blender"  # the wrapper binds the checkout, so work inside it
EXTENSION = "bl_ext.user_default.cocreate"
TOKEN = "blender-check-token"

pytestmark = NEEDS_HOST_ROOT


def cocreate(*args: str, blender: Path | None = BLENDER) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "COCREATE_BLENDER"}
    if blender is not None:
        env["COCREATE_BLENDER"] = str(blender)
    else:
        env["PATH"] = os.path.dirname(sys.executable)  # and no blender there: the zip is made in Python
    # A wide terminal, so rich does not wrap the printed path.
    env["COLUMNS"] = "1000"
    return subprocess.run(
        [sys.executable, "-m", "core_server", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )


def blender(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BLENDER), *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def installed() -> Path:
    """`cocreate plugins install blender` into a fresh Blender home; the folder it reports."""
    shutil.rmtree(WORK, ignore_errors=True)
    run = cocreate("plugins", "install", "blender")
    assert run.returncode == 0, run.stdout + run.stderr
    match = re.search(r"installed the blender plugin into\s+(\S+)", run.stdout + run.stderr)
    assert match, run.stdout + run.stderr
    return Path(match.group(1))


def test_install_puts_the_extension_where_blender_loads_it(installed: Path) -> None:
    assert installed == WORK / "home" / ".config" / "blender" / "4.3" / "extensions" / "user_default" / "cocreate"
    assert (installed / "blender_manifest.toml").exists()
    assert (installed / "cocreate_client" / "_vendor" / "grpclib").is_dir()


def test_blender_builds_and_validates_the_zip_and_the_python_built_one_matches(installed: Path) -> None:
    built = cocreate("plugins", "build", "blender", "--out", str(WORK / "dist-blender"))
    assert built.returncode == 0, built.stdout + built.stderr
    by_python = cocreate("plugins", "build", "blender", "--out", str(WORK / "dist-python"), blender=None)
    assert by_python.returncode == 0, by_python.stdout + by_python.stderr

    blender_zip, python_zip = WORK / "dist-blender" / "cocreate-0.1.0.zip", WORK / "dist-python" / "cocreate-0.1.0.zip"
    with zipfile.ZipFile(blender_zip) as a, zipfile.ZipFile(python_zip) as b:
        assert sorted(a.namelist()) == sorted(b.namelist())
    validated = blender("--command", "extension", "validate", str(python_zip))
    assert validated.returncode == 0 and "Success" in validated.stdout, validated.stdout


@pytest.fixture(scope="module")
def verdict(installed: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Every check, in one start of the real Blender, against a daemon on the tiny profile."""
    token_file = WORK / "token"
    token_file.write_text(TOKEN)
    verdict_file = WORK / "verdict.json"
    verdict_file.unlink(missing_ok=True)
    home = tmp_path_factory.mktemp("daemon")
    with running_daemon(home, listen="127.0.0.1:0", token=TOKEN) as daemon:
        run = blender(
            "-b",
            "--python",
            str(REPO / "tests" / "hosts" / "blender" / "checks.py"),
            "--",
            "--extension",
            EXTENSION,
            "--verdict",
            str(verdict_file),
            "--endpoint",
            daemon.endpoint,
            "--token-file",
            str(token_file),
            *checks.WHEEL,
            *checks.DAEMON,
        )
    assert verdict_file.exists(), f"no verdict (exit {run.returncode}):\n{run.stdout}\n{run.stderr}"
    result = json.loads(verdict_file.read_text())
    assert "setup" not in result, result["setup"]
    assert result["blender"].startswith("4.3.2") and result["python"].startswith("3.13"), result
    assert result["plugin_file"].endswith("/extensions/user_default/cocreate/__init__.py"), result["plugin_file"]
    return result


@pytest.mark.timeout(900)  # the first one waits for every check, run in one start of Blender (several jobs each)
@pytest.mark.parametrize("name", checks.DAEMON + checks.WHEEL)
def test_in_blender_4_3(verdict: dict[str, str], name: str) -> None:
    assert verdict[name] == "ok", verdict[name]


@pytest.mark.screenshot
def test_screenshot_of_the_sidebar_with_candidates(installed: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """docs/screenshots/blender.png: Blender with a window under Xvfb; `make screenshots` regenerates it."""
    token_file, shot = WORK / "token", WORK / "screenshot-blender.png"
    token_file.write_text(TOKEN)
    shot.unlink(missing_ok=True)
    inside = {path: "/project" + str(path)[len(str(REPO)) :] for path in (token_file, shot)}
    script = "/project/tests/hosts/blender/screenshot.py"
    with running_daemon(tmp_path_factory.mktemp("daemon"), listen="127.0.0.1:0", token=TOKEN) as daemon:
        command = ["env", f"HOME=/project/{WORK.relative_to(REPO)}/home", "xvfb-run", "-a", "-s", SCREEN]
        command += ["blender", "--python", script, "--", daemon.endpoint, inside[token_file], inside[shot]]
        run = subprocess.run(
            [str(IN_ROOT), "-d", str(REPO), "--", *command], capture_output=True, text=True, timeout=900
        )
    assert shot.exists(), f"no screenshot (exit {run.returncode}):\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}"
    assert "cocreate job: texture: 4 candidates" in run.stdout, run.stdout[-4000:]
    keep_screenshot(shot, "blender")
