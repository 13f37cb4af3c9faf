"""The SQL database under the session store: an SQLite file (the default) or a PostgreSQL server.

store.py writes its SQL once, in what both accept: `?` parameters, `ON CONFLICT`, ties ordered by
`rowid` (SQLite's implicit insertion order; an explicit identity column of that name in PostgreSQL).
A backend gives transactions and owns its migrations: version N of the schema means the same tables
and columns in both, so each list of migrations grows by one script for the other's every one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

SCHEMA_VERSION = 4
POSTGRES_SCHEMES = ("postgresql", "postgres")

Params = Sequence[Any] | Mapping[str, Any]


class StoreUnavailable(ConnectionError):
    """The database server cannot be reached or dropped the connection; the message says which server."""


class Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Executor(Protocol):
    """A connection inside one transaction; rows read by column name (row["id"]) or as a mapping."""

    def execute(self, sql: str, params: Params = ...) -> Cursor: ...

    def executemany(self, sql: str, params: Iterable[Params]) -> object: ...


class Database(Protocol):
    def transaction(self, write: bool = False) -> AbstractContextManager[Executor]:
        """One transaction, committed when the block ends (and durable once it has), rolled back on error."""
        ...

    def integrity_check(self) -> str:
        """'ok', or the problems the database found, one a line."""
        ...

    def close(self) -> None: ...


def open_database(url: str | None, root: Path) -> Database:
    """`url` None: SQLite in root/sessions.db; postgresql://…: that server (needs the `studio` extra)."""
    if url is None:
        from .sqlite_db import SqliteDatabase

        return SqliteDatabase(root / "sessions.db")
    if urlsplit(url).scheme in POSTGRES_SCHEMES:
        from .postgres_db import PostgresDatabase

        return PostgresDatabase(url)
    raise ValueError(f"the session store must be a postgresql://… URL (or none, for SQLite), not {redact(url)!r}")


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()
