"""The Writer extension inside the real LibreOffice 25.2 (Debian 13 root), against a real daemon on the tiny profile.

One run of tests/hosts/libreoffice/writer_check.py in the root installs the .oxt that
`cocreate plugins build libreoffice` makes with `unopkg add --shared`, drives Writer through UNO
dispatch only, and records what it saw; the tests below judge that record and the session the daemon
kept. Needs the host root (tests/hosts/make-root) and root rights for tests/hosts/in-root; skips otherwise.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import re
import shutil
import subprocess
import sys
import time
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
from tests.support.manuscript import manuscript, stored_bytes

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
TOKEN = "writer-check-token"
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")
PAGES = 250  # about 690,000 characters: a 200-page novel

sys.path.insert(0, str(REPO / "plugins" / "libreoffice" / "pythonpath"))
from cocreate_writer.shape import Run, as_inserted, styled_runs  # noqa: E402  (the plugin's plain module)

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
        assert daemon.home is not None
        run, stored = run_measured(folder, [str(HERE / "in-root"), "-d", str(folder), "--", *check], daemon.home)
        verdict_file = folder / "verdict.json"
        assert verdict_file.exists(), f"no verdict (exit {run.returncode}):\n{run.stdout}\n{run.stderr}"
        verdict = json.loads(verdict_file.read_text())
        with CocreateClient(daemon.endpoint, token=TOKEN) as client:
            sessions = client.list_sessions(host="libreoffice")
            details = [client.get_session(session.id) for session in sessions]
            # The manuscript is a document of its own: its session is judged apart from the short one's.
            long_turns = {pick.get("turn_id") for pick in verdict.get("long_manuscript", {}).get("picks", [])}
            manuscript = [d for d in details if any(turn.id in long_turns for turn in d.turns)]
            details = [d for d in details if d not in manuscript]
            analytics = client.get_analytics(details[0].session.id) if len(details) == 1 else None
    assert "exception" not in verdict, verdict["exception"] + f"\nsteps done: {verdict['steps']}\n{run.stderr[-3000:]}"
    yield {"verdict": verdict, "sessions": details, "analytics": analytics, "stored": stored, "manuscript": manuscript}


def run_measured(folder: Path, command: list[str], home: Path) -> tuple[subprocess.CompletedProcess[str], list[int]]:
    """Run the check; each time it asks (a measure-N file) note the daemon's database size and answer."""
    (folder / "manuscript.txt").write_text(manuscript(PAGES), encoding="utf-8")
    stored: list[int] = []
    out, err = folder / "check.out", folder / "check.err"
    with out.open("w") as o, err.open("w") as e, subprocess.Popen(command, stdout=o, stderr=e) as run:
        deadline = time.monotonic() + 900
        while run.poll() is None and time.monotonic() < deadline:
            if (folder / f"measure-{len(stored)}").exists():
                stored.append(stored_bytes(home / "sessions"))
                (folder / f"measured-{len(stored) - 1}").touch()
            with contextlib.suppress(subprocess.TimeoutExpired):
                run.wait(timeout=0.1)
        run.kill()
    return subprocess.CompletedProcess(command, run.returncode, out.read_text(), err.read_text()), stored


def test_a_200_page_manuscript_adds_far_less_than_its_size_each_turn(record: dict[str, Any]) -> None:
    """Continue near the end of a 200-page manuscript in Writer: after the first turn (which keeps the text
    once, in shared chunks) each turn adds less than a tenth of it to the daemon's database."""
    result, stored = record["verdict"]["long_manuscript"], record["stored"]
    assert [p["phase"] for p in result["picks"]] == ["ready"] * 4, result["picks"]
    assert all(p["inserted"] for p in result["picks"])
    text = len(manuscript(PAGES))
    grown = [after - before for before, after in itertools.pairwise(stored)]
    assert len(grown) == 3 and max(grown) < text // 10, f"turns added {grown} bytes each for {text} characters"
    (session,) = record["manuscript"]
    assert len(session.turns) == 4 and all(len(turn.params_json) < text // 20 for turn in session.turns)
    print(f"\n{text} characters in Writer; bytes added per turn: {grown}")


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
    # The panel shows each candidate as a pick inserts it: no raw control characters.
    assert first["panel_visible"] and first["panel_texts"] == first["shown"] == [as_inserted(t) for t in first["texts"]]
    assert not any(CONTROL.search(text) for text in first["panel_texts"])
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
    assert tasks == ["continue_text", "continue_text", *["rewrite_text"] * 4]
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
    # The writer typed over the passage's first word: the feedback holds the passage as the document does.
    edited = verdict["continue"]["edited_passage"]
    assert edited.startswith("Then")
    assert second[1][2] == hashlib.sha256(edited.encode()).hexdigest()
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


def _runs(paragraph: list[list[Any]]) -> list[Run]:
    """A paragraph's portions as the shaping module's runs, a format being (bold, italic)."""
    return [Run(text, 2 * bold + italic) for text, bold, italic in paragraph]


def _merged(runs: list[Run]) -> list[tuple[str, int | None]]:
    merged: list[tuple[str, int | None]] = []
    for run in runs:
        if merged and merged[-1][1] == run.style:
            merged[-1] = (merged[-1][0] + run.text, run.style)
        else:
            merged.append((run.text, run.style))
    return merged


def test_variants_over_two_formatted_paragraphs_keep_both_and_each_ones_formats(record: dict[str, Any]) -> None:
    """A pick from the panel over the last two paragraphs: two stay two, and every word carries the format
    it had where it survived, else its paragraph's own (italic for the second, never the first character's
    bold for all); one undo step restores text and formats."""
    result = record["verdict"]["formatted_variants"]
    before, pick = result["formats_before"], result["pick"]
    shown = result["asked"]["shown"][pick["picked"]]
    assert pick["inserted_as_expected"], (shown, pick["document_after"])
    assert pick["document_after"].count("\n") == result["original"].count("\n")
    after = pick["formats"]
    assert len(after) == len(before) and after[:-2] == before[:-2]
    for paragraph, text in zip((-2, -1), shown.split("\n"), strict=True):
        assert "".join(run[0] for run in after[paragraph]) == text
        assert _merged(_runs(after[paragraph])) == _merged(styled_runs(text, _runs(before[paragraph])))
    assert all(italic for _, _, italic in after[-1])
    assert pick["undo_steps_added"] == 1 and pick["undo_restores"]


def test_a_rewrite_keeps_the_formats_of_the_words_that_survive(record: dict[str, Any]) -> None:
    """The extension's document module on a known rewrite: "quiet" stays bold, "pier" bold in italics (with
    the full stop the rewrite put after it: a word's extra characters take its last one's format)."""
    result = record["verdict"]["document_edits"]
    assert result["content"].split("\n")[:2] == ["The harbour was very quiet this morning.", "She walked to the pier."]
    first, second = result["formats"][0], result["formats"][1]
    assert [text for text, bold, _ in first if bold] == ["quiet"]
    assert not any(italic for _, _, italic in first)
    assert [text for text, bold, _ in second if bold] == ["pier."]
    assert all(italic for _, _, italic in second)
    assert result["undo_steps_added"] == 1
    assert result["passage_text"] == "\n".join(result["content"].split("\n")[:2])


@pytest.mark.parametrize("edit", ["first_word", "typed_before", "middle", "last_word", "whole"])
def test_an_edited_passage_is_reported_as_the_document_holds_it(record: dict[str, Any], edit: str) -> None:
    seen = record["verdict"]["document_edits"][edit]
    assert seen["reported"] == seen["in_document"]
