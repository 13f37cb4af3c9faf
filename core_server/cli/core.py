"""What every verb shares: errors a person can fix, the consoles, the daemon connection, ids by prefix.

Verb modules import this one and nothing of each other.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:
    from cocreate_client import CocreateClient

out = Console()  # what a verb answers
console = Console(stderr=True)  # errors
ID_LENGTH = 32  # the daemon's ids: 32 lowercase hex characters
SHORT_ID = 8  # shown in tables; any unique prefix is accepted back
SESSIONS_SEARCHED = 10_000  # prefixes are looked for among this many newest sessions


class CliError(Exception):
    """A failure the user can fix; printed without a traceback."""


def add_daemon_options(parser: argparse.ArgumentParser) -> None:
    """--endpoint and --token-file, for the verbs that talk to a daemon."""
    parser.add_argument(
        "--endpoint", help="the daemon: unix:/path or HOST:PORT (default: $COCREATE_ENDPOINT or the user socket)"
    )
    parser.add_argument("--token-file", type=Path, help="file holding the token of a TCP daemon")


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def read_token(token_file: Path | None) -> str | None:
    """--token-file, else $COCREATE_TOKEN, else the file named by $COCREATE_TOKEN_FILE."""
    if token_file is None and os.environ.get("COCREATE_TOKEN"):
        return os.environ["COCREATE_TOKEN"]
    token_file = token_file or (
        Path(os.environ["COCREATE_TOKEN_FILE"]) if os.environ.get("COCREATE_TOKEN_FILE") else None
    )
    if token_file is None:
        return None
    try:
        token = token_file.read_text().strip()
    except OSError as error:
        raise CliError(f"cannot read the token file {token_file}: {error.strerror}") from None
    if not token:
        raise CliError(f"the token file {token_file} is empty")
    return token


@contextmanager
def connect(args: argparse.Namespace) -> Iterator[CocreateClient]:
    """The daemon of --endpoint/--token-file, through the client the plugins vendor; its errors become CliErrors."""
    from cocreate_client import CocreateClient, CocreateError

    try:
        with CocreateClient(args.endpoint, token=read_token(args.token_file), client_name="cli") as client:
            yield client
    except CocreateError as error:
        raise CliError(str(error)) from None


def when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M") if ms else ""


# ---------------------------------------------------------------- ids by unique prefix, as git takes hashes


def unique(kind: str, prefix: str, ids: Iterable[str]) -> str:
    """The one id among `ids` that starts with `prefix`; a CliError naming the matches otherwise."""
    prefix = prefix.strip().lower()
    if not prefix:
        raise CliError(f"give a {kind} id (or a unique start of one)")
    matches = sorted({i for i in ids if i.startswith(prefix)})
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise CliError(f"no {kind} id starts with {prefix!r}")
    listed = "\n  ".join(matches[:10]) + ("\n  …" if len(matches) > 10 else "")
    raise CliError(f"{prefix!r} is the start of {len(matches)} {kind} ids; give more of it:\n  {listed}")


def _complete(text: str) -> bool:
    return len(text) == ID_LENGTH


def session_id(client: CocreateClient, text: str) -> str:
    """A session id from the id or a unique start of it."""
    if _complete(text):
        return text
    return unique("session", text, (s.id for s in client.list_sessions(limit=SESSIONS_SEARCHED)))


def turn_id(client: CocreateClient, session: str, text: str) -> str:
    """A turn id of `session` from the id or a unique start of it."""
    if _complete(text):
        return text
    return unique("turn", text, (t.id for t in client.get_session(session).turns))


def candidate_id(client: CocreateClient, text: str) -> str:
    """A candidate id from the id or a unique start of it, looked for in every session."""
    if _complete(text):
        return text
    ids = (
        c.id
        for s in client.list_sessions(limit=SESSIONS_SEARCHED)
        for t in client.get_session(s.id).turns
        for c in t.candidates
    )
    return unique("candidate", text, ids)


def short(ids: Iterable[str], length: int = SHORT_ID) -> dict[str, str]:
    """Each id's shortest start of at least `length` characters that no other of `ids` shares."""
    every = sorted(set(ids))
    shortened = {}
    for index, full in enumerate(every):
        neighbours = every[max(0, index - 1) : index] + every[index + 1 : index + 2]  # sorted: the closest
        shared = max((_common(full, other) for other in neighbours), default=0)
        shortened[full] = full[: max(length, shared + 1)]
    return shortened


def _common(a: str, b: str) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
