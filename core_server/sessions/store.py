"""SessionStore: sessions, turns, candidates and feedback in a database, their files in a blob store.

The only module with the store's SQL, written once for both databases (sessions.database): an SQLite
file by default, a PostgreSQL server for a studio. Once a method returns, its write survives a crash.
The service calls it from worker threads (asyncio.to_thread). Blobs are stored before any row names them.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, BinaryIO

from core_server.sessions import context
from core_server.sessions.blobs import Blobs, FolderBlobs
from core_server.sessions.database import SCHEMA_VERSION as SCHEMA_VERSION  # the store's, shown here
from core_server.sessions.database import Database, Executor, open_database
from core_server.sessions.export import write_zip
from core_server.sessions.images import encode_pngs, shrink_to_fit
from core_server.sessions.model import (
    DECISIONS,
    FINISHED,
    Candidate,
    Decision,
    Feedback,
    Kind,
    ProvenanceRecord,
    Session,
    Turn,
)
from core_server.stages import Stages
from core_server.tasks import RGBAImage

_ID = re.compile(r"[0-9a-f]{32}")


_SESSION = """
    SELECT s.id, s.host, s.document_id, s.document_name, s.created_ms,
           (SELECT COUNT(*) FROM turns t WHERE t.session_id = s.id) AS turn_count,
           s.forked_from_turn_id, s.identity
    FROM sessions s"""
_TURN = """
    SELECT id, session_id, parent_id, task, params_json, seeds_json, model, model_sha256,
           status, created_ms, finished_ms, identity
    FROM turns"""
_CANDIDATE = "SELECT c.id, c.turn_id, c.idx, c.seed, c.kind, c.sha256, c.width, c.height, c.text FROM candidates c"
_FEEDBACK = """
    SELECT f.id, f.candidate_id, f.decision, f.created_ms, f.note, f.final_kind, f.final_sha256
    FROM feedback f"""


class NotFound(LookupError):
    def __init__(self, kind: str, id: str) -> None:
        super().__init__(f"no {kind} '{id}'")
        self.kind = kind
        self.id = id


class InvalidReference(ValueError):
    """An id that exists but cannot be used here: a turn of another session, a turn no longer running."""


def is_valid_id(s: object) -> bool:
    """True for the ids this store makes (uuid4 hex: 32 lowercase hex digits), false for anything else."""
    return isinstance(s, str) and _ID.fullmatch(s) is not None


class SessionStore:
    def __init__(
        self,
        root: Path,
        *,
        store_context: context.ContextPolicy = "full",
        url: str | None = None,
        blobs: Path | None = None,
    ) -> None:
        """`root`: the folder of the SQLite file and, by default, of the blobs. `url`: a postgresql://… server
        instead of SQLite. `blobs`: another folder for the files, such as a shared one every front reaches.
        `store_context`: what a turn keeps of the document text it was given (sessions.context)."""
        if store_context not in context.POLICIES:
            raise ValueError(f"store_context must be one of {', '.join(context.POLICIES)}, not {store_context!r}")
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.store_context = store_context
        self._blobs: Blobs = FolderBlobs(blobs if blobs is not None else root / "blobs")
        self._db: Database = open_database(url, root)

    def __enter__(self) -> SessionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    # ------------------------------------------------------------ sessions

    def create_session(self, host: str, document_id: str, document_name: str, identity: str = "") -> Session:
        session = Session(new_id(), host, document_id, document_name, _now_ms(), identity=identity)
        with self._tx(write=True) as db:
            db.execute(
                "INSERT INTO sessions (id, host, document_id, document_name, created_ms, identity)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (session.id, host, document_id, document_name, session.created_ms, identity),
            )
        return session

    def get_session(self, session_id: str) -> Session:
        with self._tx() as db:
            return _get_session(db, session_id)

    def list_sessions(self, host: str | None = None, document_id: str | None = None, limit: int = 100) -> list[Session]:
        """Newest first; a filter left as None matches every session."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        filters = {"s.host": host, "s.document_id": document_id}
        where = " AND ".join(f"{column} = ?" for column, value in filters.items() if value is not None)
        with self._tx() as db:
            rows = db.execute(
                _SESSION + (f" WHERE {where}" if where else "") + " ORDER BY s.created_ms DESC, s.rowid DESC LIMIT ?",
                [*(value for value in filters.values() if value is not None), limit],
            ).fetchall()
        return [Session(**row) for row in rows]

    def session_detail(self, session_id: str) -> tuple[Session, list[Turn]]:
        """The session and its turns, oldest first, each with its candidates and their feedback."""
        with self._tx() as db:
            return _get_session(db, session_id), _session_turns(db, session_id)

    def fork(self, session_id: str, turn_id: str) -> Session:
        """A new session for the same document holding copies of the turns from the root to `turn_id`.

        Copies get new ids and share the original blobs; their times are the originals'.
        """
        with self._tx(write=True) as db:
            source = _get_session(db, session_id)
            turns = {turn.id: turn for turn in _session_turns(db, session_id)}
            if turn_id not in turns:
                _check_turn_in_session(db, turn_id, session_id)  # raises: unknown, or another session's
            path = [turns[turn_id]]
            while path[-1].parent_id is not None:
                path.append(turns[path[-1].parent_id])
            path.reverse()
            running = [turn.id for turn in path if turn.status == "running"]
            if running:
                raise InvalidReference(f"turn '{running[0]}' is still running; fork once it has finished")

            fork = replace(source, id=new_id(), created_ms=_now_ms(), turn_count=len(path), forked_from_turn_id=turn_id)
            db.execute(
                "INSERT INTO sessions (id, host, document_id, document_name, created_ms, forked_from_turn_id, identity)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (fork.id, fork.host, fork.document_id, fork.document_name, fork.created_ms, turn_id, fork.identity),
            )
            for turn in _copy_path(path, fork.id):
                _insert_turn(db, turn)
                _insert_candidates(db, turn.candidates)
                for candidate in turn.candidates:
                    for feedback in candidate.feedback:
                        _insert_feedback(db, feedback)
        return fork

    def export_zip(self, session_id: str, out: BinaryIO, extra: Iterable[tuple[str, bytes]] = ()) -> None:
        """session.json (the session and every turn) plus images/<id>.png, texts/<id>.txt, finals/<id>.*,
        contexts/<sha256>.txt (the document text turns were given, where the store keeps it), and the
        `extra` (name, bytes) files."""
        session, turns = self.session_detail(session_id)
        write_zip(
            session, turns, self._blobs, out, itertools.chain(self._context_files(turns), extra)
        )  # lazily: streamed

    # ------------------------------------------------------------ turns

    def start_turn(
        self,
        session_id: str,
        parent_turn_id: str | None,
        task: str,
        params: dict[str, Any],
        seeds: Sequence[int],
        model: str,
        model_sha256: str,
        identity: str = "",
    ) -> Turn:
        """`params`' document text (sessions.context.CONTEXT_FIELDS) is kept as the store_context policy says:
        the turn holds a reference, `context_text` gives the text back."""
        if not all(0 <= seed < 1 << 64 for seed in seeds):
            raise ValueError(f"seeds must be unsigned 64-bit integers, got {list(seeds)}")
        params, chunks = self._referenced(params)
        params_json = json.dumps(params, sort_keys=True)
        turn = Turn(
            id=new_id(),
            session_id=session_id,
            parent_id=parent_turn_id,
            task=task,
            params=json.loads(params_json),  # what a later read returns: JSON types only
            seeds=tuple(seeds),
            model=model,
            model_sha256=model_sha256,
            status="running",
            created_ms=_now_ms(),
            identity=identity,
        )
        with self._tx(write=True) as db:
            _get_session(db, session_id)
            if parent_turn_id is not None:
                _check_turn_in_session(db, parent_turn_id, session_id)
            db.executemany(
                "INSERT INTO context_chunks (sha256, text) VALUES (?, ?) ON CONFLICT DO NOTHING", chunks.items()
            )
            _insert_turn(db, turn)
        return turn

    def context_text(self, kept: Any) -> str | None:
        """The document text a turn parameter refers to; None where the policy kept no text. A parameter
        that is not a reference (a turn stored before references) is its own text."""
        if not context.is_reference(kept):
            return kept if isinstance(kept, str) else None
        if "chunks" not in kept:
            return None
        names = sorted(set(kept["chunks"]))
        if not names:  # an empty text
            return ""
        with self._tx() as db:
            found = {
                row["sha256"]: row["text"]
                for row in db.execute(
                    f"SELECT sha256, text FROM context_chunks WHERE sha256 IN ({', '.join('?' * len(names))})", names
                )
            }
        return "".join(found[name] for name in kept["chunks"])

    def _context_files(self, turns: Sequence[Turn]) -> list[tuple[str, bytes]]:
        """Each distinct document text the turns refer to, once, named by its SHA-256."""
        files: dict[str, bytes] = {}
        for turn in turns:
            for field in context.CONTEXT_FIELDS:
                kept = turn.params.get(field)
                if context.is_reference(kept) and "chunks" in kept and kept["sha256"] not in files:
                    files[kept["sha256"]] = (self.context_text(kept) or "").encode("utf-8")
        return [(f"contexts/{sha256}.txt", data) for sha256, data in files.items()]

    def _referenced(self, params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        params, chunks = dict(params), {}
        for field in context.CONTEXT_FIELDS:
            if isinstance(params.get(field), str):
                params[field], pieces = context.reference(params[field], self.store_context)
                chunks.update(pieces)
        return params, chunks

    def finish_turn(
        self,
        turn_id: str,
        status: str,
        images: Sequence[RGBAImage] = (),
        texts: Sequence[str] = (),
        painted: tuple[int, int] | None = None,
        candidate_ids: Sequence[str] = (),
        stages: Stages | None = None,
    ) -> list[Candidate]:
        """Store the turn's candidates (images first, then texts; candidate i has seeds[i]) and end it.

        `painted`: the (width, height) an image job painted at, kept in the turn's params as "painted":
        {"width", "height"} like the image's own size (a bare pair of small numbers would turn into bytes in
        the C2PA manifest's CBOR).
        `candidate_ids`: the ids the candidates were sent under before they were stored (new ones when empty).
        `stages`: where the seconds of "png encode" and "store writes" (files and rows) are added.
        """
        if status not in FINISHED:
            raise ValueError(f"a turn finishes as one of {sorted(FINISHED)}, not {status!r}")
        with self._tx() as db:
            turn = _get_turn(db, turn_id)
        if turn.status != "running":
            raise InvalidReference(f"turn '{turn_id}' is already {turn.status}")
        if len(images) + len(texts) > len(turn.seeds):
            raise ValueError(f"turn '{turn_id}' has {len(turn.seeds)} seeds but {len(images) + len(texts)} candidates")
        ids = list(candidate_ids) or [new_id() for _ in range(len(images) + len(texts))]
        if len(ids) != len(images) + len(texts):
            raise ValueError(f"{len(ids)} candidate ids for {len(images) + len(texts)} candidates")

        stages = stages or Stages()
        with stages.timed("png encode"):
            pngs = encode_pngs(images)
        with stages.timed("store writes"):
            return self._finish(turn, status, images, pngs, texts, painted, ids)

    def _finish(
        self,
        turn: Turn,
        status: str,
        images: Sequence[RGBAImage],
        pngs: Sequence[bytes],
        texts: Sequence[str],
        painted: tuple[int, int] | None,
        ids: Sequence[str],
    ) -> list[Candidate]:
        turn_id = turn.id
        # Files first: a committed row must never name a file that is not on disk.
        shas = [self._blobs.put_bytes(png, "image") for png in pngs]
        made = [("image", sha, im.width, im.height, "") for im, sha in zip(images, shas, strict=True)]
        made += [("text", self._blobs.put_text(text), 0, 0, text) for text in texts]
        candidates = [
            Candidate(candidate_id, turn_id, i, turn.seeds[i], kind, sha256, width, height, text)
            for i, (candidate_id, (kind, sha256, width, height, text)) in enumerate(zip(ids, made, strict=True))
        ]
        with self._tx(write=True) as db:
            ended = db.execute(
                "UPDATE turns SET status = ?, finished_ms = ? WHERE id = ? AND status = 'running'",
                (status, _now_ms(), turn_id),
            ).rowcount
            if not ended:  # another thread finished it since we looked
                raise InvalidReference(f"turn '{turn_id}' is no longer running")
            if painted is not None:  # the row is ours now (the UPDATE above holds it): read, change, write back
                params = json.loads(
                    db.execute("SELECT params_json FROM turns WHERE id = ?", (turn_id,)).fetchone()["params_json"]
                )
                params["painted"] = {"width": painted[0], "height": painted[1]}
                db.execute(
                    "UPDATE turns SET params_json = ? WHERE id = ?", (json.dumps(params, sort_keys=True), turn_id)
                )
            _insert_candidates(db, candidates)
        return candidates

    def get_turn(self, turn_id: str) -> Turn:
        """The turn without its candidates."""
        with self._tx() as db:
            return _get_turn(db, turn_id)

    def mark_interrupted(self) -> int:
        """At start-up: turns still 'running' were cut off by a crash; say so. Returns how many."""
        with self._tx(write=True) as db:
            return db.execute("UPDATE turns SET status = 'interrupted' WHERE status = 'running'").rowcount

    # ------------------------------------------------------------ candidates

    def get_candidate(self, candidate_id: str) -> tuple[Candidate, RGBAImage | str]:
        with self._tx() as db:
            row = db.execute(_CANDIDATE + " WHERE c.id = ?", (candidate_id,)).fetchone()
            if row is None:
                raise NotFound("candidate", candidate_id)
            feedback = db.execute(
                _FEEDBACK + " WHERE f.candidate_id = ? ORDER BY f.created_ms, f.rowid", (candidate_id,)
            ).fetchall()
        candidate = _candidate(row, tuple(Feedback(**f) for f in feedback))
        if candidate.kind == "image":
            return candidate, self._blobs.read_image(candidate.sha256)
        return candidate, self._blobs.read_text(candidate.sha256)

    def thumbnail(self, candidate: Candidate, size: int) -> RGBAImage:
        """The candidate's image with its longest side at most `size` pixels."""
        if candidate.kind != "image":
            raise ValueError(f"candidate '{candidate.id}' is {candidate.kind}; only images have thumbnails")
        return shrink_to_fit(self._blobs.read_image(candidate.sha256), size)

    def add_feedback(
        self,
        candidate_id: str,
        decision: Decision,
        final_image: RGBAImage | None = None,
        final_text: str | None = None,
        note: str = "",
    ) -> Feedback:
        """Record what the person did with a candidate, and the artifact as they left it, if sent."""
        if decision not in DECISIONS:
            raise ValueError(f"decision must be one of {sorted(DECISIONS)}, not {decision!r}")
        if final_image is not None and final_text is not None:
            raise ValueError("send a final image or a final text, not both")
        with self._tx() as db:
            if db.execute("SELECT 1 FROM candidates WHERE id = ?", (candidate_id,)).fetchone() is None:
                raise NotFound("candidate", candidate_id)
        feedback = Feedback(new_id(), candidate_id, decision, _now_ms(), note)
        if final_image is not None:
            feedback = replace(feedback, final_kind="image", final_sha256=self._blobs.put_image(final_image))
        elif final_text is not None:
            feedback = replace(feedback, final_kind="text", final_sha256=self._blobs.put_text(final_text))
        with self._tx(write=True) as db:
            _insert_feedback(db, feedback)
        return feedback

    def read_blob(self, sha256: str, kind: Kind) -> bytes:
        """A stored file's bytes: a candidate's or a final artifact's PNG or UTF-8 text."""
        return self._blobs.read_bytes(sha256, kind)

    # ------------------------------------------------------------ provenance

    def add_provenance(self, feedback_id: str, media_type: str, data: bytes) -> ProvenanceRecord:
        """Keep the signed file made for a feedback decision (one per feedback)."""
        with self._tx() as db:
            row = db.execute("SELECT candidate_id FROM feedback WHERE id = ?", (feedback_id,)).fetchone()
        if row is None:
            raise NotFound("feedback", feedback_id)
        sha256 = self._blobs.put_bytes(data, _provenance_kind(media_type))
        record = ProvenanceRecord(feedback_id, row["candidate_id"], media_type, sha256, _now_ms())
        with self._tx(write=True) as db:
            db.execute(
                "INSERT INTO provenance (feedback_id, candidate_id, media_type, sha256, created_ms)"
                " VALUES (?, ?, ?, ?, ?)",
                (record.feedback_id, record.candidate_id, record.media_type, record.sha256, record.created_ms),
            )
        return record

    def get_provenance(self, feedback_id: str) -> tuple[ProvenanceRecord, bytes] | None:
        """The signed file kept for a feedback decision and its bytes, if one was made."""
        with self._tx() as db:
            row = db.execute(
                "SELECT feedback_id, candidate_id, media_type, sha256, created_ms FROM provenance"
                " WHERE feedback_id = ?",
                (feedback_id,),
            ).fetchone()
        if row is None:
            return None
        record = ProvenanceRecord(**row)
        return record, self._blobs.read_bytes(record.sha256, _provenance_kind(record.media_type))

    # ------------------------------------------------------------ health

    def integrity_check(self) -> str:
        """The database's verdict: 'ok', or the problems it found, one a line."""
        return self._db.integrity_check()

    def _tx(self, write: bool = False) -> contextlib.AbstractContextManager[Executor]:
        return self._db.transaction(write)


def _provenance_kind(media_type: str) -> Kind:
    """Signed PNGs sit with the images; a sidecar is UTF-8 JSON, so it sits with the texts."""
    return "image" if media_type == "image/png" else "text"


def new_id() -> str:
    return uuid.uuid4().hex


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


# SQL integers are signed 64-bit and seeds are uint64: store their two's complement.
def _to_i64(seed: int) -> int:
    return seed - (1 << 64) if seed >= 1 << 63 else seed


def _to_u64(value: int) -> int:
    return value + (1 << 64) if value < 0 else value


def _get_session(db: Executor, session_id: str) -> Session:
    row = db.execute(_SESSION + " WHERE s.id = ?", (session_id,)).fetchone()
    if row is None:
        raise NotFound("session", session_id)
    return Session(**row)


def _get_turn(db: Executor, turn_id: str) -> Turn:
    row = db.execute(_TURN + " WHERE id = ?", (turn_id,)).fetchone()
    if row is None:
        raise NotFound("turn", turn_id)
    return _turn(row, ())


def _check_turn_in_session(db: Executor, turn_id: str, session_id: str) -> None:
    owner = _get_turn(db, turn_id).session_id
    if owner != session_id:
        raise InvalidReference(f"turn '{turn_id}' belongs to session '{owner}', not '{session_id}'")


def _session_turns(db: Executor, session_id: str) -> list[Turn]:
    turn_rows = db.execute(_TURN + " WHERE session_id = ? ORDER BY created_ms, rowid", (session_id,)).fetchall()
    candidate_rows = db.execute(
        _CANDIDATE + " JOIN turns t ON t.id = c.turn_id WHERE t.session_id = ? ORDER BY c.idx", (session_id,)
    ).fetchall()
    feedback_rows = db.execute(
        _FEEDBACK + " JOIN candidates c ON c.id = f.candidate_id JOIN turns t ON t.id = c.turn_id"
        " WHERE t.session_id = ? ORDER BY f.created_ms, f.rowid",
        (session_id,),
    ).fetchall()

    feedback: dict[str, list[Feedback]] = {}
    for row in feedback_rows:
        feedback.setdefault(row["candidate_id"], []).append(Feedback(**row))
    candidates: dict[str, list[Candidate]] = {}
    for row in candidate_rows:
        candidates.setdefault(row["turn_id"], []).append(_candidate(row, tuple(feedback.get(row["id"], ()))))
    return [_turn(row, tuple(candidates.get(row["id"], ()))) for row in turn_rows]


def _copy_path(path: Sequence[Turn], session_id: str) -> list[Turn]:
    """Copies of `path` (root first) in `session_id`, with new ids throughout and parents remapped."""
    new_ids: dict[str, str] = {}
    copies = []
    for turn in path:
        new_ids[turn.id] = turn_id = new_id()
        candidates = []
        for candidate in turn.candidates:
            candidate_id = new_id()
            feedback = tuple(replace(f, id=new_id(), candidate_id=candidate_id) for f in candidate.feedback)
            candidates.append(replace(candidate, id=candidate_id, turn_id=turn_id, feedback=feedback))
        parent_id = None if turn.parent_id is None else new_ids[turn.parent_id]
        copies.append(
            replace(turn, id=turn_id, session_id=session_id, parent_id=parent_id, candidates=tuple(candidates))
        )
    return copies


def _insert_turn(db: Executor, turn: Turn) -> None:
    db.execute(
        "INSERT INTO turns (id, session_id, parent_id, task, params_json, seeds_json, model, model_sha256,"
        " status, created_ms, finished_ms, identity) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            turn.id,
            turn.session_id,
            turn.parent_id,
            turn.task,
            json.dumps(turn.params, sort_keys=True),
            json.dumps(turn.seeds),
            turn.model,
            turn.model_sha256,
            turn.status,
            turn.created_ms,
            turn.finished_ms,
            turn.identity,
        ),
    )


def _insert_candidates(db: Executor, candidates: Sequence[Candidate]) -> None:
    db.executemany(
        "INSERT INTO candidates (id, turn_id, idx, seed, kind, sha256, width, height, text)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(c.id, c.turn_id, c.index, _to_i64(c.seed), c.kind, c.sha256, c.width, c.height, c.text) for c in candidates],
    )


def _insert_feedback(db: Executor, f: Feedback) -> None:
    db.execute(
        "INSERT INTO feedback (id, candidate_id, decision, created_ms, note, final_kind, final_sha256)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (f.id, f.candidate_id, f.decision, f.created_ms, f.note, f.final_kind, f.final_sha256),
    )


def _turn(row: Any, candidates: tuple[Candidate, ...]) -> Turn:
    return Turn(
        id=row["id"],
        session_id=row["session_id"],
        parent_id=row["parent_id"],
        task=row["task"],
        params=json.loads(row["params_json"]),
        seeds=tuple(json.loads(row["seeds_json"])),
        model=row["model"],
        model_sha256=row["model_sha256"],
        status=row["status"],
        created_ms=row["created_ms"],
        finished_ms=row["finished_ms"],
        candidates=candidates,
        identity=row["identity"],
    )


def _candidate(row: Any, feedback: tuple[Feedback, ...]) -> Candidate:
    return Candidate(
        id=row["id"],
        turn_id=row["turn_id"],
        index=row["idx"],
        seed=_to_u64(row["seed"]),
        kind=row["kind"],
        sha256=row["sha256"],
        width=row["width"],
        height=row["height"],
        text=row["text"],
        feedback=feedback,
    )
