"""Blender's extension policy, in the root's real Blender 4.3.2: the installed cocreate extension adds no
top-level module and nothing to sys.path (its dependencies load privately inside it), and it still
works there: a 512x512 picture goes to a daemon outside the root and its candidates come back,
on the wire, since the root's /dev/shm is its own (as in a Flatpak or Snap Blender).

Needs the host root (tests/hosts/make-root) and root rights for tests/hosts/in-root; skips otherwise.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from core_server.packaging import blender as packaging
from tests.hosts.root import IN_ROOT, NEEDS_HOST_ROOT
from tests.support.daemon import running_daemon

HERE = Path(__file__).resolve().parent
WORK = HERE.parents[1] / "build" / "host-tests" / "blender-policy"  # bound at /project in the root

# The root runs one program at a time (a lock other host tests share): allow for the wait.
pytestmark = [*NEEDS_HOST_ROOT, pytest.mark.timeout(1200)]


def test_the_installed_extension_breaks_no_policy_and_round_trips_a_large_picture(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    monkeypatch.setattr(packaging, "find_blender", lambda: None)  # the zip as Python writes it, no Blender here
    artefact = packaging.build(WORK)
    shutil.copy(HERE / "blender" / "policy_check.py", WORK / "policy_check.py")
    script = (
        f"blender --command extension install-file -r user_default --enable /project/{artefact.name}"
        " && blender --command extension list"
        " && blender -b --python /project/policy_check.py -- unix:/project/daemon/cocreate.sock /project/verdict.json"
    )
    with running_daemon(WORK / "daemon") as daemon:
        assert daemon.endpoint == f"unix:{WORK / 'daemon' / 'cocreate.sock'}"
        run = subprocess.run(
            [str(IN_ROOT), "-d", str(WORK), "--", "env", "HOME=/project/home", "sh", "-c", script],
            capture_output=True,
            text=True,
            timeout=1100,
        )
    output = run.stdout + run.stderr
    assert 'Installed "cocreate"' in output, output
    assert "cocreate [installed]" in output, output
    assert "Policy violation" not in output, output
    verdict = json.loads((WORK / "verdict.json").read_text())
    assert "exception" not in verdict, verdict["exception"]
    assert verdict["policy_warnings"] == [], verdict
    assert verdict["shares_memory"] is False, verdict
    assert verdict["round_trip"] == {"ok": True, "error": "None", "sizes": [[512, 512]], "candidates": 2}, verdict
