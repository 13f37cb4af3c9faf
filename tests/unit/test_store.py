"""SessionStore: every method round trips, blobs, errors, fork, export, threads; on SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib
import io
import json
import random
import sqlite3
import subprocess
import sys
import threading
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from core_server.sessions.images import decode_png
from core_server.sessions.model import Session, Turn
from core_server.sessions.store import SCHEMA_VERSION, InvalidReference, NotFound, SessionStore, is_valid_id
from core_server.tasks import RGBAImage

MISSING = "0" * 32


@pytest.fixture
def store(tmp_path: Path, store_url: str | None) -> Iterator[SessionStore]:
    with SessionStore(tmp_path, url=store_url) as s:
        yield s


@pytest.fixture
def session(store: SessionStore) -> Session:
    return store.create_session("krita", "doc-1", "cat.kra")


def image(width: int = 8, height: int = 6, seed: int = 0) -> RGBAImage:
    return RGBAImage(width, height, random.Random(seed).randbytes(width * height * 4))


def start(store: SessionStore, session: Session, parent: Turn | None = None, seeds: tuple[int, ...] = (1, 2)) -> Turn:
    return store.start_turn(
        session.id, parent.id if parent else None, "inpaint", {"prompt": "a cat", "steps": 4}, seeds, "tiny", "ab" * 32
    )


def blob_files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "blobs").rglob("*") if p.is_file())


class Pipe(io.RawIOBase):
    """A write-only stream that cannot seek or tell, like a gRPC response stream."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: bytes) -> int:  # type: ignore[override]
        self.data += b
        return len(b)


def test_is_valid_id() -> None:
    assert is_valid_id(uuid.uuid4().hex)
    for bad in ["", "A" * 32, "a" * 31, "a" * 33, "g" * 32, "../" + "a" * 29, "a" * 32 + "\n", None, 42]:
        assert not is_valid_id(bad), bad


def test_sessions_round_trip(store: SessionStore) -> None:
    first = store.create_session("krita", "doc-1", "cat.kra")
    second = store.create_session("gimp", "doc-2", "dog.xcf")
    third = store.create_session("krita", "doc-1", "cat.kra")
    assert is_valid_id(first.id)
    assert first.turn_count == 0 and first.forked_from_turn_id is None
    assert store.get_session(first.id) == first

    assert [s.id for s in store.list_sessions()] == [third.id, second.id, first.id]
    assert [s.id for s in store.list_sessions(host="krita")] == [third.id, first.id]
    assert [s.id for s in store.list_sessions(document_id="doc-2")] == [second.id]
    assert [s.id for s in store.list_sessions(host="gimp", document_id="doc-1")] == []
    assert [s.id for s in store.list_sessions(limit=1)] == [third.id]
    with pytest.raises(ValueError):
        store.list_sessions(limit=0)

    start(store, first)
    start(store, first)
    assert store.get_session(first.id).turn_count == 2
    assert {s.id: s.turn_count for s in store.list_sessions()} == {first.id: 2, second.id: 0, third.id: 0}


def test_image_turn_round_trip(store: SessionStore, session: Session) -> None:
    big_seed = 2**64 - 1  # uint64 seeds survive SQLite's signed integers
    turn = start(store, session, seeds=(7, big_seed, 9))
    assert turn.status == "running" and turn.finished_ms is None and turn.parent_id is None
    assert turn.params == {"prompt": "a cat", "steps": 4}
    assert turn.seeds == (7, big_seed, 9)

    pictures = [image(8, 6, seed=1), image(3, 5, seed=2)]
    candidates = store.finish_turn(turn.id, "completed", images=pictures)
    assert [(c.index, c.seed, c.kind, c.width, c.height) for c in candidates] == [
        (0, 7, "image", 8, 6),
        (1, big_seed, "image", 3, 5),
    ]

    session_now, turns = store.session_detail(session.id)
    assert session_now.turn_count == 1
    (stored,) = turns
    assert stored.status == "completed" and stored.finished_ms is not None
    assert stored.finished_ms >= stored.created_ms
    assert stored.candidates == tuple(candidates)
    assert (stored.task, stored.params, stored.seeds, stored.model) == ("inpaint", turn.params, turn.seeds, "tiny")

    for candidate, picture in zip(candidates, pictures, strict=True):
        got, content = store.get_candidate(candidate.id)
        assert got == candidate
        assert content == picture


def test_text_turn_and_parent(store: SessionStore, session: Session) -> None:
    first = start(store, session)
    store.finish_turn(first.id, "completed", images=[image()])
    child = store.start_turn(session.id, first.id, "continue_text", {"max_new_tokens": 8}, [5], "tiny-text", "cd" * 32)
    assert child.parent_id == first.id
    (candidate,) = store.finish_turn(child.id, "cancelled", texts=["Once upon a time — ünïcode"])
    assert (candidate.kind, candidate.seed, candidate.text) == ("text", 5, "Once upon a time — ünïcode")
    assert store.get_candidate(candidate.id)[1] == "Once upon a time — ünïcode"

    _, turns = store.session_detail(session.id)
    assert [(t.id, t.parent_id, t.status) for t in turns] == [
        (first.id, None, "completed"),
        (child.id, first.id, "cancelled"),
    ]


def test_finish_turn_refuses_bad_calls(store: SessionStore, session: Session) -> None:
    turn = start(store, session, seeds=(1,))
    with pytest.raises(ValueError, match="interrupted"):
        store.finish_turn(turn.id, "interrupted")
    with pytest.raises(ValueError, match="1 seeds but 2 candidates"):
        store.finish_turn(turn.id, "completed", images=[image(), image(seed=1)])
    with pytest.raises(ValueError):
        store.finish_turn(turn.id, "completed", images=[RGBAImage(4, 4, b"short")])
    assert store.session_detail(session.id)[1][0].status == "running"  # nothing above touched it

    assert store.finish_turn(turn.id, "failed") == []
    with pytest.raises(InvalidReference, match="already failed"):
        store.finish_turn(turn.id, "completed")
    with pytest.raises(ValueError, match="unsigned 64-bit"):
        start(store, session, seeds=(-1,))


def test_unknown_ids_raise_not_found(store: SessionStore, session: Session) -> None:
    turn = start(store, session)
    calls = {
        "session": [
            lambda: store.get_session(MISSING),
            lambda: store.session_detail(MISSING),
            lambda: store.start_turn(MISSING, None, "inpaint", {}, [1], "tiny", ""),
            lambda: store.fork(MISSING, turn.id),
            lambda: store.export_zip(MISSING, io.BytesIO()),
        ],
        "turn": [
            lambda: store.start_turn(session.id, MISSING, "inpaint", {}, [1], "tiny", ""),
            lambda: store.finish_turn(MISSING, "completed"),
            lambda: store.fork(session.id, MISSING),
        ],
        "candidate": [
            lambda: store.get_candidate(MISSING),
            lambda: store.add_feedback(MISSING, "accepted"),
        ],
    }
    for kind, fns in calls.items():
        for fn in fns:
            with pytest.raises(NotFound, match=f"^no {kind} '{MISSING}'$") as err:
                fn()
            assert (err.value.kind, err.value.id) == (kind, MISSING)
    assert blob_files(store.root) == []


def test_references_across_sessions_are_refused(store: SessionStore, session: Session) -> None:
    other = store.create_session("krita", "doc-1", "cat.kra")
    theirs = start(store, other)
    with pytest.raises(InvalidReference, match=f"turn '{theirs.id}' belongs to session '{other.id}'"):
        start(store, session, parent=theirs)
    with pytest.raises(InvalidReference):
        store.fork(session.id, theirs.id)
    assert store.get_session(session.id).turn_count == 0


def test_blobs_are_content_addressed_and_stored_once(store: SessionStore, session: Session) -> None:
    same = image(16, 16, seed=3)
    a = store.finish_turn(start(store, session).id, "completed", images=[same, image(seed=4)])
    b = store.finish_turn(start(store, session).id, "completed", images=[same], texts=["hello"])
    c = store.finish_turn(start(store, session).id, "completed", texts=["hello"])
    assert a[0].sha256 == b[0].sha256 and a[0].id != b[0].id
    assert b[1].sha256 == c[0].sha256 == hashlib.sha256(b"hello").hexdigest()

    files = blob_files(store.root)
    assert len(files) == 3  # same image, other image, "hello"
    for path in files:
        sha256, suffix = path.name.split(".")
        assert path.parent.name == sha256[:2]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sha256
        assert suffix in ("png", "txt")
    png = store.root / "blobs" / a[0].sha256[:2] / f"{a[0].sha256}.png"
    assert decode_png(png.read_bytes()) == same


def test_feedback_round_trip(store: SessionStore, session: Session) -> None:
    turn = start(store, session)
    pic, text = store.finish_turn(turn.id, "completed", images=[image(seed=1)], texts=["draft"])
    edited = image(seed=9)

    rejected = store.add_feedback(pic.id, "rejected", note="too dark")
    accepted = store.add_feedback(pic.id, "edited", final_image=edited)
    rewritten = store.add_feedback(text.id, "edited", final_text="final draft")
    assert (rejected.decision, rejected.note, rejected.final_sha256) == ("rejected", "too dark", None)
    assert accepted.final_kind == "image"
    assert rewritten.final_sha256 == hashlib.sha256(b"final draft").hexdigest()

    final_png = store.root / "blobs" / accepted.final_sha256[:2] / f"{accepted.final_sha256}.png"
    assert decode_png(final_png.read_bytes()) == edited

    (stored,) = store.session_detail(session.id)[1]
    assert stored.candidates[0].feedback == (rejected, accepted)
    assert stored.candidates[1].feedback == (rewritten,)
    assert store.get_candidate(pic.id)[0].feedback == (rejected, accepted)

    with pytest.raises(ValueError, match="decision"):
        store.add_feedback(pic.id, "loved")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not both"):
        store.add_feedback(pic.id, "edited", final_image=edited, final_text="x")


def test_thumbnail(store: SessionStore, session: Session) -> None:
    wide, tiny = store.finish_turn(
        start(store, session).id, "completed", images=[image(100, 40, seed=1), image(10, 4, seed=2)]
    )
    thumb = store.thumbnail(wide, 32)
    assert thumb.width == 32 and 12 <= thumb.height <= 13
    assert len(thumb.data) == thumb.width * thumb.height * 4
    assert store.thumbnail(tiny, 32) == image(10, 4, seed=2)  # never enlarged
    (text,) = store.finish_turn(start(store, session).id, "completed", texts=["x"])
    with pytest.raises(ValueError, match="only images"):
        store.thumbnail(text, 32)


def test_mark_interrupted(tmp_path: Path, store_url: str | None) -> None:
    with SessionStore(tmp_path, url=store_url) as store:
        session = store.create_session("gimp", "d", "d.xcf")
        done = start(store, session)
        store.finish_turn(done.id, "completed")
        running = [start(store, session).id, start(store, session).id]
    with SessionStore(tmp_path, url=store_url) as store:  # the daemon starting again after a crash
        assert store.mark_interrupted() == 2
        assert store.mark_interrupted() == 0
        statuses = {t.id: (t.status, t.finished_ms) for t in store.session_detail(session.id)[1]}
        assert statuses[running[0]] == statuses[running[1]] == ("interrupted", None)
        assert statuses[done.id][0] == "completed"
        with pytest.raises(InvalidReference, match="already interrupted"):
            store.finish_turn(running[0], "completed")


def test_fork_copies_exactly_the_path(store: SessionStore, session: Session) -> None:
    # a -> b -> c, and a -> d beside them
    a = start(store, session)
    store.finish_turn(a.id, "completed", images=[image(seed=1)])
    b = start(store, session, parent=a)
    (b_pic,) = store.finish_turn(b.id, "completed", images=[image(seed=2)])
    store.add_feedback(b_pic.id, "edited", final_image=image(seed=5), note="fixed the ear")
    c = start(store, session, parent=b, seeds=(3,))
    store.finish_turn(c.id, "cancelled", texts=["partial"])
    d = start(store, session, parent=a)
    store.finish_turn(d.id, "failed")
    _, before = store.session_detail(session.id)
    files_before = blob_files(store.root)

    fork = store.fork(session.id, c.id)
    assert (fork.host, fork.document_id, fork.document_name) == ("krita", "doc-1", "cat.kra")
    assert fork.forked_from_turn_id == c.id and fork.turn_count == 3 and fork.id != session.id
    assert store.get_session(fork.id) == fork

    got, copies = store.session_detail(fork.id)
    assert got == fork
    originals = [t for t in before if t.id in (a.id, b.id, c.id)]
    assert len(copies) == 3
    ids = {orig.id: copy.id for orig, copy in zip(originals, copies, strict=True)}
    assert not set(ids) & set(ids.values())
    for orig, copy in zip(originals, copies, strict=True):
        assert copy.session_id == fork.id
        assert copy.parent_id == (ids[orig.parent_id] if orig.parent_id else None)
        keep = ("task", "params", "seeds", "model", "model_sha256", "status", "created_ms", "finished_ms")
        assert all(getattr(copy, k) == getattr(orig, k) for k in keep)
        assert len(copy.candidates) == len(orig.candidates)
        for oc, cc in zip(orig.candidates, copy.candidates, strict=True):
            assert cc.id != oc.id and cc.turn_id == copy.id
            assert (cc.index, cc.seed, cc.kind, cc.sha256, cc.text) == (oc.index, oc.seed, oc.kind, oc.sha256, oc.text)
            assert [(f.decision, f.note, f.final_sha256, f.created_ms) for f in cc.feedback] == [
                (f.decision, f.note, f.final_sha256, f.created_ms) for f in oc.feedback
            ]
            assert all(f.candidate_id == cc.id for f in cc.feedback)
    assert copies[1].candidates[0].feedback[0].note == "fixed the ear"

    assert store.session_detail(session.id)[1] == before  # the source is untouched
    assert blob_files(store.root) == files_before  # same blobs, no copies

    assert store.fork(session.id, d.id).turn_count == 2
    assert store.fork(session.id, a.id).turn_count == 1
    running = start(store, session, parent=c)
    with pytest.raises(InvalidReference, match="still running"):
        store.fork(session.id, running.id)


def test_export_zip(store: SessionStore, session: Session) -> None:
    first = start(store, session, seeds=(11, 12))
    pics = [image(9, 7, seed=1), image(2, 2, seed=2)]
    pic, _ = store.finish_turn(first.id, "completed", images=pics)
    edited = image(9, 7, seed=3)
    feedback = store.add_feedback(pic.id, "edited", final_image=edited, note="brighter")
    second = store.start_turn(session.id, first.id, "rewrite_text", {"temperature": 0.7}, [13], "tiny-text", "ef" * 32)
    (txt,) = store.finish_turn(second.id, "completed", texts=["ça va ✓"])

    out = Pipe()  # the service streams the zip, so it must not need to seek
    store.export_zip(session.id, out)
    with zipfile.ZipFile(io.BytesIO(out.data)) as zf:
        assert zf.testzip() is None
        doc = json.loads(zf.read("session.json"))
        assert doc["session"]["id"] == session.id and doc["session"]["turn_count"] == 2
        t1, t2 = doc["turns"]
        assert (t1["id"], t1["seeds"], t1["params"]) == (first.id, [11, 12], first.params)
        assert (t1["model"], t1["model_sha256"], t1["status"]) == ("tiny", "ab" * 32, "completed")
        assert (t2["parent_id"], t2["task"], t2["params"]) == (first.id, "rewrite_text", {"temperature": 0.7})
        for cand, expected in zip(t1["candidates"], pics, strict=True):
            assert cand["file"] == f"images/{cand['id']}.png"
            assert decode_png(zf.read(cand["file"])) == expected
            assert hashlib.sha256(zf.read(cand["file"])).hexdigest() == cand["sha256"]
        (fb,) = t1["candidates"][0]["feedback"]
        assert (fb["id"], fb["decision"], fb["note"]) == (feedback.id, "edited", "brighter")
        assert decode_png(zf.read(fb["final_file"])) == edited
        (tc,) = t2["candidates"]
        assert tc["file"] == f"texts/{txt.id}.txt"
        assert zf.read(tc["file"]).decode("utf-8") == "ça va ✓"
        expected_names = {"session.json", fb["final_file"], tc["file"], *(c["file"] for c in t1["candidates"])}
        assert set(zf.namelist()) == expected_names


def test_reopen_keeps_everything_and_checks_the_schema(tmp_path: Path, store_url: str | None) -> None:
    with SessionStore(tmp_path, url=store_url) as store:
        session = store.create_session("blender", "b", "scene.blend")
        store.finish_turn(start(store, session).id, "completed", images=[image()], painted=(8, 6))
        detail = store.session_detail(session.id)
    with SessionStore(tmp_path, url=store_url) as store:
        assert store.session_detail(session.id) == detail
        assert store.get_turn(detail[1][0].id).params["painted"] == {"width": 8, "height": 6}
        assert store.integrity_check() == "ok"
    if store_url is not None:
        import psycopg  # the studio extra: only where the PostgreSQL case runs

        with psycopg.connect(store_url, autocommit=True) as server:
            assert server.execute("SELECT version FROM cocreate_schema").fetchone() == (SCHEMA_VERSION,)
            server.execute("UPDATE cocreate_schema SET version = %s", (SCHEMA_VERSION + 1,))
        with pytest.raises(RuntimeError, match="update cocreate"):
            SessionStore(tmp_path, url=store_url)
        return

    db = sqlite3.connect(tmp_path / "sessions.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(RuntimeError, match="update cocreate"):
        SessionStore(tmp_path)


def test_threads_write_at_once(store: SessionStore, session: Session) -> None:
    threads_n, turns_n = 8, 10
    errors: list[BaseException] = []
    shared = image(32, 32, seed=99)  # every thread also writes this one: a race on the same blob

    def work(worker: int) -> None:
        try:
            parent = None
            for i in range(turns_n):
                turn = start(store, session, parent=parent)
                store.finish_turn(turn.id, "completed", images=[shared, image(16, 16, seed=worker * 1000 + i)])
                store.session_detail(session.id)
                parent = turn
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert store.integrity_check() == "ok"
    _, turns = store.session_detail(session.id)
    assert len(turns) == threads_n * turns_n
    assert all(t.status == "completed" and len(t.candidates) == 2 for t in turns)
    assert len(blob_files(store.root)) == 1 + threads_n * turns_n
    assert not list((store.root / "blobs").rglob("*.tmp"))


def test_store_imports_neither_grpc_nor_torch() -> None:
    # test_layers reads each file's own imports; this also catches what they pull in.
    code = (
        "import sys, core_server.sessions.store\n"
        "banned = ('grpc', 'torch', 'google', 'core_server.pb')\n"
        "bad = [m for m in sys.modules if m.startswith(banned)]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])
