"""The Writer extension inside the real LibreOffice 25.2 (Debian 13 root), against a real daemon on the tiny profile.

One run of tests/hosts/libreoffice/writer_check.py in the root installs the .oxt that
`cocreate plugins build libreoffice` makes with `unopkg add --shared`, drives Writer through UNO
dispatch only, and records what it saw; the tests below judge that record and the session the daemon
kept. Needs the host root (tests/hosts/make-root) and root rights for tests/hosts/in-root; skips otherwise.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cocreate_client import CocreateClient
from cocreate_client.pb import cocreate_pb2 as pb
from rapidfuzz.distance import Levenshtein

from core_server.packaging import libreoffice
from tests.hosts.root import NEEDS_HOST_ROOT
from tests.support.daemon import running_daemon

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
TOKEN = "writer-check-token"

pytestmark = NEEDS_HOST_ROOT


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The check's verdict, plus the daemon's sessions for libreoffice read while it still ran."""
    folder = REPO / "build" / "host-tests" / "libreoffice"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    oxt = libreoffice.build(folder)
    shutil.copy(HERE / "libreoffice" / "writer_check.py", folder / "writer_check.py")
    with running_daemon(tmp_path_factory.mktemp("home"), listen="127.0.0.1:0", token=TOKEN) as daemon:
        check = ["python3", "/project/writer_check.py", daemon.endpoint, TOKEN, oxt.name]
        run = subprocess.run(
            [str(HERE / "in-root"), "-d", str(folder), "--", *check],
            capture_output=True,
            text=True,
            timeout=900,
        )
        verdict_file = folder / "verdict.json"
        assert verdict_file.exists(), f"no verdict (exit {run.returncode}):\n{run.stdout}\n{run.stderr}"
        verdict = json.loads(verdict_file.read_text())
        with CocreateClient(daemon.endpoint, token=TOKEN) as client:
            sessions = client.list_sessions(host="libreoffice")
            details = [client.get_session(session.id) for session in sessions]
            analytics = client.get_analytics(details[0].session.id) if len(details) == 1 else None
    assert "exception" not in verdict, verdict["exception"] + f"\nsteps done: {verdict['steps']}\n{run.stderr[-3000:]}"
    yield {"verdict": verdict, "sessions": details, "analytics": analytics}


def test_the_oxt_installs_with_unopkg_and_brings_menu_toolbar_and_shortcuts(record: dict[str, Any]) -> None:
    verdict = record["verdict"]
    assert verdict["install"]["rc"] == 0, verdict["install"]["output"]
    assert verdict["listed"]
    installed = verdict["installed"]
    assert "vnd.cocreate.writer:continue" in installed["menu"]
    assert "vnd.cocreate.writer:variants" in installed["menu"]
    assert installed["toolbar"] == ["vnd.cocreate.writer:continue", "vnd.cocreate.writer:variants"]
    j, one, ctrl_alt, shift = 512 + 9, 256 + 1, 2 | 4, 1  # com.sun.star.awt.Key / KeyModifier values
    assert installed["shortcuts"]["continue"] == [[j, ctrl_alt]]
    assert installed["shortcuts"]["variants"] == [[j, ctrl_alt | shift]]
    assert installed["shortcuts"]["pick?1"] == [[one, ctrl_alt]]
    assert verdict["uninstall"]["rc"] == 0, verdict["uninstall"]["output"]


def test_continue_streams_candidates_and_a_pick_is_one_undo_step(record: dict[str, Any]) -> None:
    result = record["verdict"]["continue"]
    first, pick = result["first"], result["first_pick"]
    assert first["phase"] == "ready", first["message"]
    assert len(first["texts"]) == 3 and all(first["ready"])
    assert len(set(first["texts"])) == 3  # three different candidates
    assert first["deltas"] >= 3  # they streamed in, chunk by chunk...
    assert first["partial_views"] >= 1  # ...and the panel showed them half-written
    assert first["panel_visible"] and first["panel_texts"] == first["texts"]
    assert first["panel_pick_enabled"] == [bool(text) for text in first["texts"]] or all(first["panel_pick_enabled"])
    assert first["document_unchanged"]  # nothing is written until a pick
    assert first["dispatch_seconds"] < 5  # the dispatch only posts the command: Writer never waits

    assert pick["phase"] == "picked"
    assert pick["inserted_as_expected"], pick["document_after"]  # at the cursor, the rest unchanged
    assert pick["undo_steps_added"] == 1
    assert pick["undo_title"].startswith("cocreate")
    assert pick["undo_restores"]


def test_variants_reject_regenerate_and_replace_the_selection_in_one_undo_step(record: dict[str, Any]) -> None:
    result = record["verdict"]["variants"]
    rejected, asked, regenerated, pick = result["rejected"], result["asked"], result["regenerated"], result["pick"]
    assert rejected["phase"] == "ready" and len(rejected["texts"]) == 3
    assert rejected["after_reject"] == {"panel_visible": False, "document_unchanged": True}
    assert asked["phase"] == regenerated["phase"] == "ready"
    assert regenerated["turn_id"] != asked["turn_id"]
    assert regenerated["texts"] != asked["texts"]
    assert pick["inserted_as_expected"], pick["document_after"]  # the selection replaced, the rest unchanged
    assert pick["undo_steps_added"] == 1
    assert pick["undo_restores"]


def test_without_a_daemon_the_panel_says_so_and_the_document_is_untouched(record: dict[str, Any]) -> None:
    result = record["verdict"]["no_daemon"]
    assert result["document_unchanged"]
    for command in ("continue", "variants"):
        seen = result[command]
        assert seen["phase"] == "failed"
        assert "cocreate serve" in seen["message"], seen["message"]
        assert seen["panel_visible"] and seen["panel_status"] == seen["message"]  # shown in the panel
        assert seen["document_unchanged"]


def test_picks_rejections_and_later_edits_reach_the_session(record: dict[str, Any]) -> None:
    (detail,) = record["sessions"]  # one session for the one document
    verdict = record["verdict"]
    tasks = [turn.task for turn in detail.turns]
    assert tasks == ["continue_text", "continue_text", "rewrite_text", "rewrite_text", "rewrite_text"]
    regenerated = detail.turns[4]
    assert regenerated.parent_id == detail.turns[3].id

    def decisions(turn_index: int) -> list[list[tuple[int, str, str]]]:
        return [
            [(feedback.decision, feedback.note, feedback.final_sha256) for feedback in candidate.feedback]
            for candidate in detail.turns[turn_index].candidates
        ]

    first = decisions(0)[verdict["continue"]["first_pick"]["picked"]]
    assert [(d, note) for d, note, _ in first] == [(pb.ACCEPTED, ""), (pb.REJECTED, "removed after it was inserted")]
    second = decisions(1)[verdict["continue"]["second_pick"]["picked"]]
    assert [d for d, _, _ in second] == [pb.ACCEPTED, pb.EDITED]
    edited = verdict["continue"]["edited_passage"].encode()
    assert second[1][2] == hashlib.sha256(edited).hexdigest()  # the passage as the writer left it
    assert all([d for d, _, _ in c] == [pb.REJECTED] for c in decisions(2))
    assert all([(d, note) for d, note, _ in c] == [(pb.REJECTED, "regenerated")] for c in decisions(3))
    # The check undid this pick at the end: closing the document reported the passage gone.
    kept = decisions(4)[verdict["variants"]["pick"]["picked"]]
    assert [(d, note) for d, note, _ in kept] == [(pb.ACCEPTED, ""), (pb.REJECTED, "removed after it was inserted")]


def test_the_writers_edit_feeds_the_edit_distance(record: dict[str, Any]) -> None:
    """Analytics measure how far the writer moved the inserted candidate: real plugin feedback."""
    (detail,) = record["sessions"]
    picked = detail.turns[1].candidates[record["verdict"]["continue"]["second_pick"]["picked"]]
    edited = record["verdict"]["continue"]["edited_passage"]
    (edit,) = [e for e in record["analytics"].sessions[0].edits if e.candidate_id == picked.id]
    assert edit.kind == "text"
    assert edit.char_distance == Levenshtein.distance(picked.text, edited) > 0
    assert edit.word_distance >= 1
