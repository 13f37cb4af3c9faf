"""How a turn keeps the document text it was given (the text before and after the cursor, a selection).

A writer's Continue sends the whole text before the cursor, turn after turn: a 200-page manuscript is
about 700,000 characters each time, nearly all of it the same as last time. So a turn keeps a reference
instead of the text, and the text itself is cut into chunks stored once, by their SHA-256, and shared by
every turn (and session) that holds them.

Chunks end at paragraph ends chosen by the paragraph's own content (its hash), not by position, so an
edit anywhere changes only the chunk around it: the chunks after it are cut where they were before and
are found already stored. A turn then adds one or two new chunks and a list of chunk names.

What is kept is the daemon owner's choice (`cocreate serve --store-context`):
    full  the text, deduplicated as above: sessions can be exported, replayed and inspected in full.
    hash  its length and SHA-256 only: a turn proves which text it was given without keeping any of it
          (anyone holding a candidate text can test a guess against the hash; nothing can be read back).
    none  its length only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any, Literal

ContextPolicy = Literal["none", "hash", "full"]
POLICIES: tuple[ContextPolicy, ...] = ("none", "hash", "full")
# The task parameters that hold document text.
CONTEXT_FIELDS = ("before", "after", "selection")
# A paragraph end closes a chunk when its paragraph's hash says so (1 in 8), once the chunk holds
# MIN_CHUNK characters; a chunk with no such end is cut at MAX_CHUNK.
BOUNDARY_ONE_IN = 8
MIN_CHUNK = 1 << 10
MAX_CHUNK = 1 << 15


def chunks(text: str) -> Iterator[str]:
    """`text` cut into chunks at content-chosen paragraph ends; they join back into `text`."""
    start = line_start = 0
    while line_start < len(text):
        newline = text.find("\n", line_start)
        line_end = len(text) if newline == -1 else newline + 1
        if line_end - start > MAX_CHUNK:  # one very long paragraph (or none): cut by length
            line_end = start + MAX_CHUNK
            yield text[start:line_end]
            start = line_start = line_end
            continue
        if line_end - start >= MIN_CHUNK and _closes_chunk(text[line_start:line_end]):
            yield text[start:line_end]
            start = line_end
        line_start = line_end
    if start < len(text):
        yield text[start:]


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def reference(text: str, policy: ContextPolicy) -> tuple[dict[str, Any], dict[str, str]]:
    """What a turn keeps for `text` under `policy`, and the chunks to store ({sha256: text})."""
    kept: dict[str, Any] = {"stored": policy, "chars": len(text)}
    if policy == "none":
        return kept, {}
    kept["sha256"] = sha256(text)
    if policy == "hash":
        return kept, {}
    names = [(sha256(piece), piece) for piece in chunks(text)]
    kept["chunks"] = [name for name, _ in names]
    return kept, dict(names)


def is_reference(value: object) -> bool:
    return isinstance(value, dict) and value.get("stored") in POLICIES and "chars" in value


def _closes_chunk(line: str) -> bool:
    return hashlib.blake2b(line.encode("utf-8"), digest_size=2).digest()[0] % BOUNDARY_ONE_IN == 0
