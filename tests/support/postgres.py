"""A throwaway PostgreSQL server (the Debian `postgresql` package's binaries) for the tests that use the
PostgreSQL session store: initdb into a temporary folder, a Unix socket there and no TCP, stopped at the end.

PostgreSQL refuses to run as root; as root the server runs as the package's `postgres` user, in a folder
handed to that user. `make test` installs the package where it is missing.
"""

from __future__ import annotations

import contextlib
import glob
import importlib.util
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SUPERUSER = "cocreate"
SERVER_USER = "postgres"  # who runs the server when the tests run as root


def binaries() -> Path | None:
    """The folder holding initdb and pg_ctl: on PATH, else the newest /usr/lib/postgresql/N/bin."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    folders = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(folders[-1]).parent if folders else None


def missing_reason() -> str | None:
    """Why no server can be started here, or None when one can."""
    if importlib.util.find_spec("psycopg") is None:
        return "psycopg is not installed: pip install -e '.[studio]' (make install does)"
    if binaries() is None:
        return "no PostgreSQL server binaries (initdb): install the Debian postgresql package (make test does)"
    if os.geteuid() == 0 and _user_id(SERVER_USER) is None:
        return f"running as root and there is no {SERVER_USER!r} user to run PostgreSQL as"
    return None


def require_postgres() -> None:
    """Skip the calling test where no server can be started; fail it on CI (`CI` set), which must run them."""
    reason = missing_reason()
    if reason and os.environ.get("CI"):
        pytest.fail(f"CI runs the PostgreSQL store tests, but {reason}")
    if reason:
        pytest.skip(reason)


@dataclass
class PostgresServer:
    folder: Path
    bin_dir: Path
    as_server: list[str]  # the command prefix that runs the server's programs as its user
    _names: Iterator[int] = field(default_factory=itertools.count)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@/{database}?host={self.folder}"

    def new_database(self) -> str:
        """The URL of a new empty database: one per store, so tests never see each other's rows."""
        import psycopg  # the studio extra; missing_reason says so where it is absent

        name = f"test_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def start(self) -> None:
        # No TCP (listen_addresses ''): the socket in the folder only. fsync off: this server holds test data
        # no test needs once the server stops, and no test crashes the machine under it.
        options = f"-k {self.folder} -c listen_addresses='' -c fsync=off"
        self._pg_ctl("-o", options, "-l", str(self.folder / "server.log"), "start")

    def stop(self) -> None:
        self._pg_ctl("-m", "immediate", "stop")

    def _pg_ctl(self, *args: str) -> None:
        _run([*self.as_server, self.bin_dir / "pg_ctl", "-D", self.folder / "data", "-w", *args], self.folder)


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """Start a server in a new temporary folder; stop it and remove the folder afterwards."""
    reason = missing_reason()
    if reason:
        raise RuntimeError(reason)
    bin_dir = binaries()
    assert bin_dir is not None
    # Under /tmp itself: the server's user must reach the folder, and a socket path must stay short.
    folder = Path(tempfile.mkdtemp(prefix="cocreate-pg-"))
    try:
        server = PostgresServer(folder, bin_dir, _as_server_user(folder))
        initdb = [bin_dir / "initdb", "-D", folder / "data", "-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--no-sync"]
        _run([*server.as_server, *initdb], folder)
        server.start()
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run(command: list[str | Path], folder: Path) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        log = folder / "server.log"
        server_log = log.read_text(errors="replace") if log.exists() else ""
        raise RuntimeError(f"{' '.join(map(str, command))} failed:\n{done.stderr}{server_log}")


def _as_server_user(folder: Path) -> list[str]:
    """The command prefix that runs the server's programs: nothing, or runuser to `postgres` as root."""
    if os.geteuid() != 0:
        return []
    uid = _user_id(SERVER_USER)
    assert uid is not None
    os.chown(folder, uid, -1)
    return ["runuser", "-u", SERVER_USER, "--"]


def _user_id(name: str) -> int | None:
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        return None
