"""The default session database: one SQLite file, WAL with synchronous=FULL (a committed write survives a crash).

The service calls the store from worker threads (asyncio.to_thread), so one connection is shared under a lock.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from .database import SCHEMA_VERSION

# Each script takes the schema from version i to i + 1 (PRAGMA user_version). Append; never edit.
# postgres_db.MIGRATIONS holds the same steps in PostgreSQL's words.
MIGRATIONS = (
    """
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        document_id TEXT NOT NULL,
        document_name TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        forked_from_turn_id TEXT REFERENCES turns (id)
    );
    CREATE INDEX sessions_by_time ON sessions (created_ms);
    CREATE INDEX sessions_by_document ON sessions (host, document_id, created_ms);
    CREATE TABLE turns (
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions (id),
        parent_id TEXT REFERENCES turns (id),
        task TEXT NOT NULL,
        params_json TEXT NOT NULL,
        seeds_json TEXT NOT NULL,
        model TEXT NOT NULL,
        model_sha256 TEXT NOT NULL,
        status TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        finished_ms INTEGER
    );
    CREATE INDEX turns_by_session ON turns (session_id, created_ms);
    CREATE TABLE candidates (
        id TEXT PRIMARY KEY,
        turn_id TEXT NOT NULL REFERENCES turns (id),
        idx INTEGER NOT NULL,
        seed INTEGER NOT NULL,
        kind TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        text TEXT NOT NULL,
        UNIQUE (turn_id, idx)
    );
    CREATE TABLE feedback (
        id TEXT PRIMARY KEY,
        candidate_id TEXT NOT NULL REFERENCES candidates (id),
        decision TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        note TEXT NOT NULL,
        final_kind TEXT,
        final_sha256 TEXT
    );
    CREATE INDEX feedback_by_candidate ON feedback (candidate_id, created_ms);
    """,
    """
    CREATE TABLE provenance (
        feedback_id TEXT PRIMARY KEY REFERENCES feedback (id),
        candidate_id TEXT NOT NULL REFERENCES candidates (id),
        media_type TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        created_ms INTEGER NOT NULL
    );
    """,
    # Document text given to turns, in content-addressed chunks shared between turns (sessions.context).
    """
    CREATE TABLE context_chunks (
        sha256 TEXT PRIMARY KEY,
        text TEXT NOT NULL
    ) WITHOUT ROWID;
    """,
    # Who asked (service.identity): rows from before it was recorded say ''.
    """
    ALTER TABLE sessions ADD COLUMN identity TEXT NOT NULL DEFAULT '';
    ALTER TABLE turns ADD COLUMN identity TEXT NOT NULL DEFAULT '';
    """,
)
assert len(MIGRATIONS) == SCHEMA_VERSION


class SqliteDatabase:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = _connect(path)

    @contextlib.contextmanager
    def transaction(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """Writers take SQLite's write lock up front (IMMEDIATE), so they wait for it rather than fail half way."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield self._db
                self._db.commit()
            except BaseException:
                self._db.rollback()
                raise

    def integrity_check(self) -> str:
        with self.transaction() as db:
            return "\n".join(row[0] for row in db.execute("PRAGMA integrity_check"))

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves instead of sqlite3's implicit ones.
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    try:
        db.row_factory = sqlite3.Row
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal":
            raise RuntimeError(f"SQLite cannot use WAL for {path} (got {mode!r}); keep it on a local disk")
        db.execute("PRAGMA synchronous = FULL")
        db.execute("PRAGMA foreign_keys = ON")
        _migrate(db, path)
    except BaseException:
        db.close()
        raise
    return db


def _migrate(db: sqlite3.Connection, path: Path) -> None:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise RuntimeError(
            f"{path} has schema version {version}, but this cocreate knows only up to {SCHEMA_VERSION}; update cocreate"
        )
    for target in range(version + 1, SCHEMA_VERSION + 1):
        # One transaction per step: a crash leaves the database at the old version or the new one.
        db.executescript(f"BEGIN IMMEDIATE; {MIGRATIONS[target - 1]}; PRAGMA user_version = {target}; COMMIT;")
