"""Document text given to turns: kept as content-addressed chunks shared between turns, or only hashed, or not."""

from __future__ import annotations

import json
import sqlite3
import zipfile
from pathlib import Path

import pytest

from core_server.sessions import context
from core_server.sessions.store import SessionStore
from tests.support.manuscript import manuscript, stored_bytes

SHA = "0" * 64


def test_chunks_join_back_and_an_edit_changes_only_the_chunks_around_it() -> None:
    text = manuscript(30)
    pieces = list(context.chunks(text))
    assert "".join(pieces) == text
    assert all(len(piece) <= context.MAX_CHUNK for piece in pieces)
    middle = len(text) // 2
    edited = text[:middle] + " and a new sentence the writer typed." + text[middle:]
    changed = set(context.chunks(edited)) - set(pieces)
    assert len(changed) <= 2, [len(piece) for piece in changed]
    assert "".join(context.chunks("x" * (3 * context.MAX_CHUNK + 5))) == "x" * (3 * context.MAX_CHUNK + 5)


def test_full_keeps_the_text_readable_and_stores_each_chunk_once(tmp_path: Path) -> None:
    text = manuscript(250)  # about 690,000 characters, as a 200-page novel
    with SessionStore(tmp_path) as store:
        session = store.create_session("libreoffice", "doc", "Novel")
        first = store.start_turn(session.id, None, "continue_text", {"before": text, "after": ""}, [1], "m", SHA)
        size = stored_bytes(tmp_path)
        later = text + "\nThe next morning she went back."
        second = store.start_turn(session.id, first.id, "continue_text", {"before": later, "after": ""}, [2], "m", SHA)
        grown = stored_bytes(tmp_path) - size
        assert grown < len(text) // 20, f"a turn added {grown} bytes for {len(text)} characters of context"
        kept = store.get_turn(second.id).params["before"]
        assert kept["stored"] == "full" and kept["chars"] == len(later) and kept["sha256"] == context.sha256(later)
        assert store.context_text(kept) == later
        assert store.context_text(store.get_turn(first.id).params["after"]) == ""
        (reread,) = [turn for turn in store.session_detail(session.id)[1] if turn.id == first.id]
        assert store.context_text(reread.params["before"]) == text
        assert len(json.dumps(reread.params)) < len(text) // 20


@pytest.mark.parametrize("policy", ["hash", "none"])
def test_hash_and_none_keep_no_text(tmp_path: Path, policy: context.ContextPolicy) -> None:
    text = "A private letter.\nWith two paragraphs."
    with SessionStore(tmp_path, store_context=policy) as store:
        session = store.create_session("libreoffice", "doc", "Letter")
        params = {"selection": text, "instruction": "x"}
        turn = store.start_turn(session.id, None, "rewrite_text", params, [1], "m", SHA)
        kept = store.get_turn(turn.id).params["selection"]
        assert kept["chars"] == len(text) and "chunks" not in kept
        assert ("sha256" in kept) == (policy == "hash")
        assert store.context_text(kept) is None
        assert store.get_turn(turn.id).params["instruction"] == "x"
    with sqlite3.connect(tmp_path / "sessions.db") as db:
        assert db.execute("SELECT COUNT(*) FROM context_chunks").fetchone()[0] == 0
        dump = "\n".join(db.iterdump())
    assert "private letter" not in dump


def test_an_unknown_policy_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="store_context must be one of none, hash, full"):
        SessionStore(tmp_path, store_context="some")  # type: ignore[arg-type]


def test_a_turn_stored_before_references_still_reads_as_its_text(tmp_path: Path) -> None:
    with SessionStore(tmp_path) as store:
        assert store.context_text("plain old text") == "plain old text"
        assert store.context_text(None) is None


def test_an_export_carries_each_document_text_once(tmp_path: Path, store_url: str | None) -> None:
    with SessionStore(tmp_path, url=store_url) as store:
        session = store.create_session("libreoffice", "doc", "Story")
        params = {"before": "Once upon a time.", "after": ""}
        first = store.start_turn(session.id, None, "continue_text", params, [1], "m", SHA)
        store.start_turn(session.id, first.id, "continue_text", params, [2], "m", SHA)
        archive = tmp_path / "story.zip"
        with archive.open("wb") as out:
            store.export_zip(session.id, out)
    with zipfile.ZipFile(archive) as exported:
        contexts = sorted(name for name in exported.namelist() if name.startswith("contexts/"))
        assert contexts == sorted({f"contexts/{context.sha256(text)}.txt" for text in ("Once upon a time.", "")})
        assert exported.read(f"contexts/{context.sha256('Once upon a time.')}.txt") == b"Once upon a time."
