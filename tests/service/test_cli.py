"""The `cocreate` command as a person uses it: demo, health, models, sessions, ids by prefix, and its errors."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc
from tests.support.daemon import Daemon

from .test_cocreation import generate

TERMINAL = "80"  # columns: what the CLI's own lines must fit


def cocreate(*args: str, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "COCREATE_HOME": str(home), "COLUMNS": "200", **env}
    return subprocess.run(
        [sys.executable, "-m", "core_server", *args], env=environment, capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("family", ["sd15", "sd3"])
def test_demo_writes_candidates_and_continuations(tmp_path: Path, family: str) -> None:
    result = cocreate("demo", "--out", str(tmp_path / "out"), "--family", family, home=tmp_path / "home")
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
    assert "tiny-sdxl" in models.stdout and "sdxl" in models.stdout.split("tiny-sdxl", 1)[1].splitlines()[0]

    sessions = cocreate("sessions", "list", *endpoint, home=home)
    assert session_id[:8] in sessions.stdout
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


def listed_ids(table: str) -> list[str]:
    """The first column of a rich table's rows, where it holds a hex id."""
    return [m.group(1) for m in re.finditer(r"^\W*([0-9a-f]{8,32})\s", table, re.MULTILINE)]


def test_ids_that_list_and_show_print_are_taken_back_everywhere(
    daemon: Daemon, stub: pb_grpc.CocreateStub, session_id: str, tmp_path: Path
) -> None:
    home = daemon.home
    assert home is not None
    endpoint = ("--endpoint", daemon.endpoint)
    turn_id, candidates = generate(stub, session_id, candidates=2, seed=90)

    listing = cocreate("sessions", "list", "--limit", "1000", *endpoint, home=home, COLUMNS=TERMINAL)
    shown = listed_ids(listing.stdout)
    assert shown and all(8 <= len(i) < 32 for i in shown), listing.stdout
    mine = next(i for i in shown if session_id.startswith(i))
    for printed in shown[:3]:  # every printed id is one `sessions show` takes
        taken = cocreate("sessions", "show", printed, *endpoint, home=home)
        assert taken.returncode == 0 and printed in taken.stdout, taken.stderr

    tree = cocreate("sessions", "show", mine, *endpoint, home=home, COLUMNS=TERMINAL)
    assert tree.returncode == 0 and session_id in tree.stdout, tree.stderr
    turn, candidate = turn_id[:8], candidates[0].candidate_id[:8]
    assert turn in tree.stdout and candidate in tree.stdout

    fork = cocreate("fork", mine, turn, *endpoint, home=home)
    assert fork.returncode == 0 and "forked into session" in fork.stdout, fork.stderr
    restored = cocreate("restore", candidate, str(tmp_path / "kept.png"), *endpoint, home=home)
    assert restored.returncode == 0 and candidates[0].candidate_id in restored.stdout, restored.stderr
    signed = cocreate("provenance", "get", candidate, str(tmp_path / "signed.png"), *endpoint, home=home)
    assert signed.returncode == 0 and (tmp_path / "signed.png").stat().st_size > 0, signed.stderr
    report = cocreate("analytics", mine, "--plot", str(tmp_path / "a.png"), *endpoint, home=home)
    assert report.returncode == 0 and session_id in report.stdout, report.stderr
    export = cocreate("sessions", "export", mine, str(tmp_path / "s.zip"), *endpoint, home=home)
    assert export.returncode == 0, export.stderr


def test_an_ambiguous_or_unknown_prefix_says_which_ids_match(
    daemon: Daemon, stub: pb_grpc.CocreateStub, tmp_path: Path
) -> None:
    home = daemon.home
    assert home is not None
    for n in range(17):  # seventeen ids: two of them start alike
        stub.CreateSession(pb.CreateSessionRequest(host="test", document_id=f"prefix-{n}"))
    ids = [s.id for s in stub.ListSessions(pb.ListSessionsRequest(limit=10_000)).sessions]
    first, count = Counter(i[0] for i in ids).most_common(1)[0]
    ambiguous = cocreate("sessions", "show", first, "--endpoint", daemon.endpoint, home=home)
    assert ambiguous.returncode == 1 and f"is the start of {count} session ids" in ambiguous.stderr
    assert sum(i in ambiguous.stderr for i in ids if i.startswith(first)) == min(count, 10)
    unknown = cocreate("fork", "zz", "zz", "--endpoint", daemon.endpoint, home=home)
    assert unknown.returncode == 1 and "no session id starts with 'zz'" in unknown.stderr
    assert "Traceback" not in ambiguous.stderr + unknown.stderr


def test_health_and_install_fit_80_columns(daemon: Daemon, tmp_path: Path) -> None:
    assert daemon.home is not None
    health = cocreate("health", "--endpoint", daemon.endpoint, home=daemon.home, COLUMNS=TERMINAL)
    assert health.returncode == 0, health.stderr
    assert all(len(line) <= 80 for line in health.stdout.splitlines()), health.stdout
    profile = tmp_path / "gimp"
    install = cocreate("plugins", "install", "gimp", home=tmp_path, COLUMNS=TERMINAL, GIMP3_DIRECTORY=str(profile))
    assert install.returncode == 0, install.stderr
    lines = install.stdout.splitlines()
    assert lines[0] == "installed the gimp plugin into" and lines[1] == f"  {profile / 'plug-ins' / 'cocreate'}"
    assert all(len(line) <= 80 for line in lines[2:])
