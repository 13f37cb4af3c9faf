"""The `cocreate` command as a person uses it: demo, health, models, sessions, and its errors."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.support.daemon import Daemon


def cocreate(*args: str, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = dict(os.environ, COCREATE_HOME=str(home), COLUMNS="200", **env)
    return subprocess.run(
        [sys.executable, "-m", "core_server", *args], env=environment, capture_output=True, text=True, timeout=300
    )


def test_demo_writes_candidates_and_continuations(tmp_path: Path) -> None:
    result = cocreate("demo", "--out", str(tmp_path / "out"), home=tmp_path / "home")
    assert result.returncode == 0, result.stdout + result.stderr
    out = tmp_path / "out"
    for name in ("input.png", "mask.png", "session.zip", *(f"inpaint-candidate-{i}.png" for i in range(3))):
        assert (out / name).stat().st_size > 0, name
    assert len(list(out.glob("inpaint-preview-*.png"))) == 3
    assert all((out / f"continuation-{i}.txt").read_text().startswith("The painter") for i in range(3))
    assert "outputs written to" in result.stdout


def test_health_models_sessions_against_a_daemon(daemon: Daemon, session_id: str, tmp_path: Path) -> None:
    home = daemon.home
    assert home is not None
    endpoint = ("--endpoint", daemon.endpoint)
    health = cocreate("health", *endpoint, home=home)
    assert health.returncode == 0 and "serving" in health.stdout, health.stderr

    models = cocreate("models", "list", *endpoint, home=home)
    assert "tiny-image" in models.stdout and "tiny-text" in models.stdout

    sessions = cocreate("sessions", "list", *endpoint, home=home)
    assert session_id in sessions.stdout
    show = cocreate("sessions", "show", session_id, *endpoint, home=home)
    assert show.returncode == 0 and session_id in show.stdout

    archive = tmp_path / "session.zip"
    export = cocreate("sessions", "export", session_id, str(archive), *endpoint, home=home)
    assert export.returncode == 0, export.stderr
    assert "session.json" in zipfile.ZipFile(archive).namelist()


def test_no_daemon_says_how_to_start_one(tmp_path: Path) -> None:
    result = cocreate("health", "--endpoint", f"unix:{tmp_path / 'none.sock'}", home=tmp_path)
    assert result.returncode == 1
    assert "cocreate serve" in result.stderr and "Traceback" not in result.stderr


def test_models_add_refuses_what_it_cannot_load(tmp_path: Path) -> None:
    missing = cocreate("models", "add", "mine", str(tmp_path / "nowhere"), home=tmp_path)
    assert missing.returncode == 1 and "nowhere" in missing.stderr and "Traceback" not in missing.stderr
    pickle = tmp_path / "model.ckpt"
    pickle.write_bytes(b"\x80\x04")
    refused = cocreate("models", "add", "mine", str(pickle), home=tmp_path)
    assert refused.returncode == 1 and "safetensors" in refused.stderr
    bad_name = cocreate("models", "add", "../evil", str(tmp_path), home=tmp_path)
    assert bad_name.returncode == 1 and "Traceback" not in bad_name.stderr


def test_pull_offline_fails_fast_and_clearly(tmp_path: Path) -> None:
    result = cocreate("models", "pull", "someone/some-model", home=tmp_path, HF_ENDPOINT="http://127.0.0.1:9")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "someone/some-model" in result.stderr


def test_default_model_can_be_chosen(tmp_path: Path) -> None:
    assert cocreate("models", "default", "image", "tiny-image", home=tmp_path).returncode == 0
    wrong = cocreate("models", "default", "image", "tiny-text", home=tmp_path)
    assert wrong.returncode == 1 and "Traceback" not in wrong.stderr
    unknown = cocreate("models", "default", "text", "nope", home=tmp_path)
    assert unknown.returncode == 1 and "nope" in unknown.stderr
