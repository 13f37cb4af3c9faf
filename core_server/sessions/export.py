"""A session as a zip: session.json plus the candidate and final files it names."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from typing import Any, BinaryIO

from core_server.sessions.blobs import Blobs
from core_server.sessions.model import Kind, Session, Turn

FORMAT = "cocreate.session"
VERSION = 1

_FOLDER = {"image": "images", "text": "texts"}
_SUFFIX = {"image": ".png", "text": ".txt"}


def write_zip(
    session: Session, turns: Sequence[Turn], blobs: Blobs, out: BinaryIO, extra: Iterable[tuple[str, bytes]] = ()
) -> None:
    """Write the zip to `out`, which need not be seekable (the service streams it), with the `extra`
    (name, bytes) files after the session's own."""
    files: list[tuple[str, str, Kind]] = []  # (name in zip, sha256, kind)
    doc_turns: list[dict[str, Any]] = []
    for turn in turns:
        doc_turn = asdict(turn)
        for cand, doc_cand in zip(turn.candidates, doc_turn["candidates"], strict=True):
            doc_cand["file"] = f"{_FOLDER[cand.kind]}/{cand.id}{_SUFFIX[cand.kind]}"
            files.append((doc_cand["file"], cand.sha256, cand.kind))
            for fb, doc_fb in zip(cand.feedback, doc_cand["feedback"], strict=True):
                if fb.final_kind is not None and fb.final_sha256 is not None:
                    doc_fb["final_file"] = f"finals/{fb.id}{_SUFFIX[fb.final_kind]}"
                    files.append((doc_fb["final_file"], fb.final_sha256, fb.final_kind))
        doc_turns.append(doc_turn)
    doc = {"format": FORMAT, "version": VERSION, "session": asdict(session), "turns": doc_turns}

    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("session.json", json.dumps(doc, indent=2, ensure_ascii=False))
        for name, sha256, kind in files:
            # PNG is compressed already; deflating it again only costs time.
            method = zipfile.ZIP_STORED if kind == "image" else zipfile.ZIP_DEFLATED
            zf.writestr(name, blobs.read_bytes(sha256, kind), compress_type=method)
        for name, data in extra:
            zf.writestr(name, data)
