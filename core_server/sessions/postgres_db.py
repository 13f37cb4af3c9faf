"""The studio's session database: a PostgreSQL server shared by every front, through a psycopg 3 connection pool.

Needs the `studio` extra (psycopg, psycopg-pool). A transaction commits with synchronous_commit on, whatever
the server's default: a write the store has returned from is on the server's disk.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Iterable, Iterator

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from .database import SCHEMA_VERSION, Params, StoreUnavailable, redact

log = logging.getLogger(__name__)

POOL_SIZE = 8  # connections; the service's worker threads wait for one past that
CONNECT_TIMEOUT_S = 10
WAIT_S = 10.0  # for a free connection, or for the server to come back, before a call fails UNAVAILABLE
_MIGRATION_LOCK = 0x636F6372  # pg_advisory_xact_lock key: fronts starting at once migrate one at a time

# sqlite_db.MIGRATIONS step by step in PostgreSQL's words. Append to both; never edit. `rowid` is the
# insertion order SQLite keeps on its own, which store.py orders ties by.
MIGRATIONS = (
    """
    CREATE TABLE sessions (
        rowid BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
        id TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        document_id TEXT NOT NULL,
        document_name TEXT NOT NULL,
        created_ms BIGINT NOT NULL,
        forked_from_turn_id TEXT
    );
    CREATE INDEX sessions_by_time ON sessions (created_ms);
    CREATE INDEX sessions_by_document ON sessions (host, document_id, created_ms);
    CREATE TABLE turns (
        rowid BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions (id),
        parent_id TEXT REFERENCES turns (id),
        task TEXT NOT NULL,
        params_json TEXT NOT NULL,
        seeds_json TEXT NOT NULL,
        model TEXT NOT NULL,
        model_sha256 TEXT NOT NULL,
        status TEXT NOT NULL,
        created_ms BIGINT NOT NULL,
        finished_ms BIGINT
    );
    ALTER TABLE sessions ADD FOREIGN KEY (forked_from_turn_id) REFERENCES turns (id);
    CREATE INDEX turns_by_session ON turns (session_id, created_ms);
    CREATE TABLE candidates (
        id TEXT PRIMARY KEY,
        turn_id TEXT NOT NULL REFERENCES turns (id),
        idx INTEGER NOT NULL,
        seed BIGINT NOT NULL,
        kind TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        text TEXT NOT NULL,
        UNIQUE (turn_id, idx)
    );
    CREATE TABLE feedback (
        rowid BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
        id TEXT PRIMARY KEY,
        candidate_id TEXT NOT NULL REFERENCES candidates (id),
        decision TEXT NOT NULL,
        created_ms BIGINT NOT NULL,
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
        created_ms BIGINT NOT NULL
    );
    """,
    """
    CREATE TABLE context_chunks (
        sha256 TEXT PRIMARY KEY,
        text TEXT NOT NULL
    );
    """,
    """
    ALTER TABLE sessions ADD COLUMN identity TEXT NOT NULL DEFAULT '';
    ALTER TABLE turns ADD COLUMN identity TEXT NOT NULL DEFAULT '';
    """,
)
assert len(MIGRATIONS) == SCHEMA_VERSION


class PostgresDatabase:
    def __init__(self, url: str) -> None:
        self.where = redact(url)
        try:
            with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S) as connection:
                _migrate(connection, self.where)
        except psycopg.OperationalError as error:
            raise StoreUnavailable(f"cannot reach the PostgreSQL session store at {self.where}: {error}") from None
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=POOL_SIZE,
            kwargs={"row_factory": dict_row, "connect_timeout": CONNECT_TIMEOUT_S},
            configure=_configure,
            check=ConnectionPool.check_connection,  # a connection the server dropped is replaced, not used
            timeout=WAIT_S,
            open=False,
        )
        self._pool.open(wait=True, timeout=WAIT_S)

    @contextlib.contextmanager
    def transaction(self, write: bool = False) -> Iterator[_Executor]:
        """A read sees one snapshot (a session and its turns agree), as in SQLite. Writes run READ COMMITTED:
        they are single-row checks (UPDATE … WHERE status = 'running') and inserts that foreign keys guard."""
        try:
            with self._pool.connection() as connection, connection.transaction():
                cursor = connection.cursor()
                if not write:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                yield _Executor(cursor)
        except (psycopg.OperationalError, PoolTimeout) as error:
            log.warning("the PostgreSQL session store at %s: %s", self.where, error)
            # Callers see no server address: that is the operator's business, and in the log.
            raise StoreUnavailable("the session store is unavailable; try again in a moment") from error
        except psycopg.DataError as error:  # text with NUL characters, which PostgreSQL's text cannot hold
            raise ValueError(f"the session store cannot keep this value: {error}") from error

    def integrity_check(self) -> str:
        """The server keeps its own integrity; 'ok' says it answers and holds this schema version."""
        with self.transaction() as db:
            version = db.execute("SELECT version FROM cocreate_schema").fetchone()["version"]
        return "ok" if version == SCHEMA_VERSION else f"schema version {version}, expected {SCHEMA_VERSION}"

    def close(self) -> None:
        self._pool.close()


class _Executor:
    """A cursor that takes store.py's `?` parameters."""

    def __init__(self, cursor: psycopg.Cursor[dict]) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: Params = ()) -> psycopg.Cursor[dict]:
        return self._cursor.execute(_postgres_sql(sql), params)

    def executemany(self, sql: str, params: Iterable[Params]) -> None:
        params = list(params)
        if params:  # psycopg refuses an empty batch of a statement with parameters
            self._cursor.executemany(_postgres_sql(sql), params)


@functools.lru_cache(maxsize=256)
def _postgres_sql(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


def _configure(connection: psycopg.Connection) -> None:
    connection.execute("SET synchronous_commit = on")
    connection.commit()


def _migrate(connection: psycopg.Connection, where: str) -> None:
    while True:  # one transaction per step: a crash leaves the database at the old version or the new one
        with connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            connection.execute("CREATE TABLE IF NOT EXISTS cocreate_schema (version INTEGER NOT NULL)")
            row = connection.execute("SELECT version FROM cocreate_schema").fetchone()
            version = 0 if row is None else row[0]
            if version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"{where} has schema version {version}, but this cocreate knows only up to {SCHEMA_VERSION};"
                    " update cocreate"
                )
            if version == SCHEMA_VERSION:
                return
            connection.execute(MIGRATIONS[version])
            if row is None:
                connection.execute("INSERT INTO cocreate_schema (version) VALUES (1)")
            else:
                connection.execute("UPDATE cocreate_schema SET version = %s", (version + 1,))
            log.info("migrated the session store at %s to schema version %d", where, version + 1)
