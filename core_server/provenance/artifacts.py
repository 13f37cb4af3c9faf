"""Signed files for a store's candidates: kept when one is accepted or edited, made on request or export.

The file signed is what the person kept: the final artifact their feedback sent, else the
candidate. When they changed it, the candidate (signed as the model made it) becomes the parent
ingredient of the final's manifest, so a reader sees the chain AI output → human edit. Blocking
(SQLite, signing): call from a thread.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..sessions.model import Feedback
from ..sessions.store import SessionStore
from . import embed, sidecar
from .credentials import Credentials, load_credentials
from .manifest import Origin, ai_output, human_edit, parent_ingredient

SIDECAR = "application/json"
_SUFFIX = {embed.PNG: ".png", embed.JPEG: ".jpg"}


@dataclass(frozen=True)
class SignedArtifact:
    candidate_id: str
    feedback_id: str | None  # the decision the manifest records; None before any
    media_type: str  # image/png, image/jpeg, or application/json: a text's sidecar
    file_name: str
    data: bytes
    manifest: dict[str, Any]  # the active manifest, as read back from `data`
    human_edited: bool
    text: str | None  # texts: the text the sidecar covers


class Provenance:
    """Signs with the credentials of `directory` (see credentials.py), loaded or made on first use."""

    def __init__(self, store: SessionStore, directory: Path) -> None:
        self.store = store
        self.directory = directory
        self._lock = threading.Lock()
        self._credentials: Credentials | None = None

    def credentials(self) -> Credentials:
        with self._lock:
            if self._credentials is None:
                self._credentials = load_credentials(self.directory)
            return self._credentials

    def record(self, feedback: Feedback) -> SignedArtifact:
        """Sign what an ACCEPTED or EDITED decision kept, and keep the signed file with the session."""
        if feedback.decision == "rejected":
            raise ValueError("only what was accepted or edited gets a manifest of its own")
        candidate, _ = self.store.get_candidate(feedback.candidate_id)
        artifact = self._sign(Origin(self.store.get_turn(candidate.turn_id), candidate, feedback), embed.PNG)
        self.store.add_provenance(feedback.id, artifact.media_type, artifact.data)
        return artifact

    def artifact(self, candidate_id: str, image_type: str = embed.PNG) -> SignedArtifact:
        """The signed file recording the candidate's latest decision: the one kept then, if it was."""
        candidate, _ = self.store.get_candidate(candidate_id)
        feedback = candidate.feedback[-1] if candidate.feedback else None
        origin = Origin(self.store.get_turn(candidate.turn_id), candidate, feedback)
        kept = self.store.get_provenance(feedback.id) if feedback else None
        if kept is not None and kept[0].media_type in (image_type, SIDECAR):
            return self._describe(origin, kept[0].media_type, kept[1])
        return self._sign(origin, image_type)

    def export_files(self, session_id: str) -> Iterator[tuple[str, bytes]]:
        """provenance/<candidate id>.png, or .txt with its .txt.json, for every candidate, and
        provenance.json: each candidate's file, decision and manifest; one at a time, as each is signed."""
        _, turns = self.store.session_detail(session_id)
        index = []
        for turn in turns:
            for candidate in turn.candidates:
                artifact = self.artifact(candidate.id)
                name = f"provenance/{candidate.id}{_SUFFIX.get(artifact.media_type, '.txt')}"
                entry = {"candidate_id": candidate.id, "turn_id": turn.id, "file": name, "sidecar": None}
                if artifact.text is None:
                    yield name, artifact.data
                else:
                    entry["sidecar"] = name + sidecar.SUFFIX
                    yield name, artifact.text.encode("utf-8")
                    yield name + sidecar.SUFFIX, artifact.data
                entry |= {
                    "feedback_id": artifact.feedback_id,
                    "human_edited": artifact.human_edited,
                    "manifest": artifact.manifest,
                }
                index.append(entry)
        yield "provenance.json", json.dumps(index, indent=2, ensure_ascii=False).encode()

    # ------------------------------------------------------------ signing

    def _sign(self, origin: Origin, image_type: str) -> SignedArtifact:
        """Sign for `origin`: images as `image_type`, texts always as a sidecar."""
        candidate, feedback = origin.candidate, origin.feedback
        credentials = self.credentials()
        final = None  # the artifact the person changed the candidate into, when they sent it
        if feedback is not None and origin.human_edited and feedback.final_kind == candidate.kind:
            final = feedback.final_sha256
        made = Origin(origin.turn, candidate)  # the candidate as the model made it, before any decision
        if candidate.kind == "text":
            title = f"cocreate-{candidate.id}.txt"
            text = self.store.read_blob(candidate.sha256, "text")
            if final is None:
                data = sidecar.make(ai_output(origin, title), text, credentials)
            else:
                kept = self.store.read_blob(final, "text")
                parent = (parent_ingredient(title), ai_output(made, title), text)
                data = sidecar.make(human_edit(origin, _final(title)), kept, credentials, parent)
                text = kept
            return self._describe(origin, SIDECAR, data, text.decode("utf-8"))

        media_type = image_type
        title = f"cocreate-{candidate.id}{_SUFFIX[media_type]}"
        picture = self._image(candidate.sha256, media_type)
        if final is None:
            data = embed.sign(ai_output(origin, title), picture, media_type, credentials)
        else:
            parent = embed.sign(ai_output(made, title), picture, media_type, credentials)
            data = embed.sign(
                human_edit(origin, _final(title)),
                self._image(final, media_type),
                media_type,
                credentials,
                (parent_ingredient(title), parent),
            )
        return self._describe(origin, media_type, data)

    def _image(self, sha256: str, media_type: str) -> bytes:
        png = self.store.read_blob(sha256, "image")
        return embed.to_jpeg(png) if media_type == embed.JPEG else png

    def _describe(self, origin: Origin, media_type: str, data: bytes, text: str | None = None) -> SignedArtifact:
        candidate, feedback = origin.candidate, origin.feedback
        if media_type == SIDECAR:
            if text is None:  # a kept sidecar: the text it covers is the final, or the candidate
                final = feedback.final_sha256 if feedback and feedback.final_kind == "text" else None
                text = self.store.read_blob(final or candidate.sha256, "text").decode("utf-8")
            manifest = sidecar.check(data, text.encode("utf-8"), []).active_manifest
            name = _name(origin, ".txt") + sidecar.SUFFIX
        else:
            store = embed.read(data, media_type)
            if store is None:
                raise RuntimeError(f"the file signed for candidate {candidate.id} carries no manifest")
            manifest = store.active_manifest
            name = _name(origin, _SUFFIX[media_type])
        return SignedArtifact(
            candidate_id=candidate.id,
            feedback_id=feedback.id if feedback else None,
            media_type=media_type,
            file_name=name,
            data=data,
            manifest=manifest,
            human_edited=origin.human_edited,
            text=text,
        )


def _final(title: str) -> str:
    stem, dot, suffix = title.rpartition(".")
    return f"{stem}-final{dot}{suffix}"


def _name(origin: Origin, suffix: str) -> str:
    name = f"cocreate-{origin.candidate.id}{suffix}"
    return _final(name) if origin.human_edited else name
