"""`cocreate plugins build|install blender` on a machine without Blender (the usual CI case).

With a Blender, the same commands are run against the real one in tests/hosts/test_blender_host.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def cocreate(*args: str) -> subprocess.CompletedProcess[str]:
    # No COCREATE_BLENDER and a PATH without blender: the Python fallback builds the zip.
    env = {k: v for k, v in os.environ.items() if k != "COCREATE_BLENDER"}
    env["PATH"], env["COLUMNS"] = os.path.dirname(sys.executable), "1000"
    return subprocess.run(
        [sys.executable, "-m", "core_server", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )


def test_build_writes_the_extension_zip_as_blender_lays_it_out(tmp_path: Path) -> None:
    run = cocreate("plugins", "build", "blender", "--out", str(tmp_path))
    assert run.returncode == 0, run.stdout + run.stderr
    artefact = tmp_path / "cocreate-0.1.0.zip"
    assert str(artefact) in run.stdout.replace("\n", "")
    assert [p.name for p in tmp_path.iterdir()] == [artefact.name], "the staging folder is cleaned up"
    with zipfile.ZipFile(artefact) as archive:
        names = set(archive.namelist())
        manifest = archive.read("blender_manifest.toml").decode()
    assert {"blender_manifest.toml", "__init__.py", "document.py", "uv_mask.py"} <= names  # at the zip's root
    assert {"cocreate_client/pb/cocreate_pb2.py", "cocreate_client/_vendor/grpclib/client.py"} <= names
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".so")) or "/." in f"/{n}"]
    assert 'id = "cocreate"' in manifest and 'blender_version_min = "4.2.0"' in manifest


def test_install_without_blender_says_how_to_point_at_one() -> None:
    run = cocreate("plugins", "install", "blender")
    assert run.returncode == 1
    assert "COCREATE_BLENDER" in run.stderr.replace("\n", " ")
