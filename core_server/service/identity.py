"""Who made a call: a token's name on TCP, the calling process (from the kernel) on the Unix socket.

Jobs belong to the identity that started them; sessions and turns record it; the queue gives each
identity its own lanes, which a request's `client` name only splits further.

Tokens are kept hashed at rest: a tokens file holds `name sha256:<hex>` lines, the SHA-256 of each
token, never the token itself. Tokens are long random strings (`cocreate token`), so a fast hash
is enough; no guessing dictionary applies to them.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Iterable
from pathlib import Path

import grpc

from .peers import peer_pid

TOKEN_NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")
_HASHED = re.compile(r"sha256:([0-9a-f]{64})")
SINGLE_TOKEN_NAME = "token"  # the identity of everyone holding the one --token-file token


class TokenFileError(ValueError):
    """The tokens file cannot be used; the message says which line and why."""


def token_hash(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


class TokenBook:
    """Named tokens, held as hashes. `identify` finds the name a presented token belongs to."""

    def __init__(self, hashes: dict[str, bytes]) -> None:
        self._hashes = hashes  # name -> sha256 digest

    @classmethod
    def single(cls, token: str) -> TokenBook:
        return cls({SINGLE_TOKEN_NAME: hashlib.sha256(token.encode()).digest()})

    @classmethod
    def from_file(cls, path: Path) -> TokenBook:
        try:
            lines = path.read_text().splitlines()
        except OSError as error:
            raise TokenFileError(f"cannot read the tokens file {path}: {error.strerror}") from None
        if os.stat(path).st_mode & 0o077:
            raise TokenFileError(f"the tokens file {path} is readable by others; chmod 600 it")
        hashes: dict[str, bytes] = {}
        for number, line in enumerate(lines, 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            parts = line.split()
            where = f"{path}, line {number}"
            if len(parts) != 2 or not TOKEN_NAME.fullmatch(parts[0]):
                raise TokenFileError(f"{where}: expected 'NAME sha256:HEX' (NAME: letters, digits, . _ @ -)")
            name, stored = parts
            hashed = _HASHED.fullmatch(stored)
            if hashed is None:
                raise TokenFileError(
                    f"{where}: tokens are kept hashed; replace the token with its hash "
                    f"(cocreate token {name} --tokens {path} makes a new one and writes the line)"
                )
            if name in hashes:
                raise TokenFileError(f"{where}: the name {name!r} appears twice")
            hashes[name] = bytes.fromhex(hashed.group(1))
        if not hashes:
            raise TokenFileError(f"the tokens file {path} names no token")
        return cls(hashes)

    def names(self) -> set[str]:
        return set(self._hashes)

    def identify(self, metadata: Iterable[tuple[str, str | bytes]] | None) -> str | None:
        """The name whose token the call presents (`authorization: Bearer <token>`), else None.

        Every stored hash is compared, in constant time, whatever matches."""
        presented = dict(metadata or ()).get("authorization", "")
        if not isinstance(presented, str) or not presented.startswith("Bearer "):
            return None
        digest = hashlib.sha256(presented.removeprefix("Bearer ").encode()).digest()
        found = None
        for name, stored in self._hashes.items():
            if hmac.compare_digest(digest, stored):
                found = name
        return found


def caller(context: grpc.aio.ServicerContext, tokens: TokenBook | None) -> str:
    """The identity of the call: 'token:NAME' on TCP, 'local:pid:N' on the Unix socket."""
    if tokens is not None:
        name = tokens.identify(context.invocation_metadata())
        assert name is not None, "the token interceptor let an unknown token through"
        return f"token:{name}"
    pid = peer_pid(context.peer())
    return f"local:pid:{pid}" if pid is not None else "local"


def lane(identity: str, client: str) -> str:
    """The queue lane of a job: its identity's own, split by the client name the request gives."""
    return f"{identity}\n{client}" if client else identity


def append_token(path: Path, name: str) -> str:
    """Make a token for `name`, add its hash to the tokens file (created 0600), return the token."""
    if not TOKEN_NAME.fullmatch(name):
        raise TokenFileError("a token's name is letters, digits, '.', '_', '@' and '-' (at most 64)")
    if path.exists() and name in TokenBook.from_file(path).names():
        raise TokenFileError(f"{path} already has a token named {name!r}; remove its line first")
    token = new_token()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a") as out:
        out.write(f"{name} {token_hash(token)}\n")
    return token
