"""Control layers and reference images of one document: marked by the painter, sent with every generation.

A control layer (scribble, line art, depth, pose …) is a layer whose structure the candidates follow; a
reference is a layer or an image file whose style (or composition, or face) they take after. The marks are
kept in the document as one annotation (JSON), so they travel with the .kra file. Sending only reads the
layers: the control over the region sent (the contract's "whole result canvas"), a reference whole.

Plain data; the document is reached through GuideCanvas (document.KritaDocument inside Krita).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Protocol

from cocreate_client import tasks
from cocreate_client.pb import cocreate_pb2 as pb
from cocreate_client.pixels import Image

from .region import Box, DocumentError

# (kind as the client names it, what the painter reads)
CONTROL_KINDS = (
    ("scribble", "Scribble"),
    ("line_art", "Line art"),
    ("soft_edge", "Soft edge"),
    ("canny", "Canny edges"),
    ("depth", "Depth"),
    ("normal", "Normal map"),
    ("pose", "Pose"),
    ("segmentation", "Segmentation"),
    ("tile", "Tile (detail)"),
)
REFERENCE_KINDS = (("style", "Style"), ("composition", "Composition"), ("face", "Face"))
LABELS = dict(CONTROL_KINDS + REFERENCE_KINDS)


class GuideCanvas(Protocol):
    def layer_name(self, layer_id: str) -> str | None:
        """The layer's name now; None when it is gone."""
        ...

    def layer_area(self, layer_id: str, box: Box) -> Image:
        """The layer's own pixels inside `box` (its visibility and opacity aside), as RGBA."""
        ...

    def layer_image(self, layer_id: str) -> Image | None:
        """The layer's own pixels within its bounds; None when it paints nothing."""
        ...

    def file_image(self, path: str) -> Image:
        """An image file as RGBA; raises DocumentError when it cannot be read."""
        ...

    def load_guides(self) -> bytes: ...

    def save_guides(self, data: bytes) -> None: ...


@dataclass(frozen=True)
class ControlMark:
    layer_id: str
    name: str
    kind: str = "scribble"
    strength: float = 1.0  # 0 = the daemon's default; else (0, 2]
    start: float = 0.0  # the fraction of the steps it starts at
    end: float = 1.0  # and ends at
    derive: bool = False  # the layer is an ordinary picture: the daemon makes the map (edges, depth …) from it

    @property
    def label(self) -> str:
        span = "" if (self.start, self.end) == (0.0, 1.0) else f" · steps {self.start:.0%}–{self.end:.0%}"
        derived = " · from the picture" if self.derive else ""
        return f"{self.name} · {LABELS.get(self.kind, self.kind)} · {self.strength:.0%}{span}{derived}"


@dataclass(frozen=True)
class ReferenceMark:
    name: str
    layer_id: str = ""  # a layer of this document, or
    path: str = ""  # an image file on this machine (read here, sent as pixels)
    kind: str = "style"
    strength: float = 0.6

    @property
    def label(self) -> str:
        return f"{self.name} · {LABELS.get(self.kind, self.kind)} · {self.strength:.0%}"


@dataclass
class Guides:
    controls: list[ControlMark] = field(default_factory=list)
    references: list[ReferenceMark] = field(default_factory=list)


def encode(guides: Guides) -> bytes:
    return json.dumps(asdict(guides), separators=(",", ":")).encode()


def decode(data: bytes) -> Guides:
    """What `encode` wrote; an empty or unreadable annotation is no guides, not an error."""
    try:
        document = json.loads(data.decode()) if data else {}
        return Guides(
            [ControlMark(**entry) for entry in document.get("controls", [])],
            [ReferenceMark(**entry) for entry in document.get("references", [])],
        )
    except (ValueError, TypeError, AttributeError):
        return Guides()


class DocumentGuides:
    """The marks of one document, saved in it at every change."""

    def __init__(self, canvas: GuideCanvas) -> None:
        self.canvas = canvas
        self.marks = decode(canvas.load_guides())

    def mark_control(
        self, layer_id: str, kind: str, strength: float, start: float = 0.0, end: float = 1.0, derive: bool = False
    ) -> None:
        """Mark a layer as a control of `kind` (marking it again changes its settings)."""
        name = self._name(layer_id)
        mark = ControlMark(layer_id, name, kind, strength, start, end, derive)
        self.marks.controls = [m for m in self.marks.controls if m.layer_id != layer_id] + [mark]
        self._save()

    def add_reference_layer(self, layer_id: str, kind: str, strength: float) -> None:
        mark = ReferenceMark(self._name(layer_id), layer_id=layer_id, kind=kind, strength=strength)
        self.marks.references = [m for m in self.marks.references if m.layer_id != layer_id] + [mark]
        self._save()

    def add_reference_file(self, path: str, kind: str, strength: float) -> None:
        self.canvas.file_image(path)  # said now, not at the next Generate, when it cannot be read
        mark = ReferenceMark(path.replace("\\", "/").rsplit("/", 1)[-1], path=path, kind=kind, strength=strength)
        self.marks.references = [m for m in self.marks.references if m.path != path] + [mark]
        self._save()

    def remove_control(self, index: int) -> None:
        if 0 <= index < len(self.marks.controls):
            del self.marks.controls[index]
            self._save()

    def remove_reference(self, index: int) -> None:
        if 0 <= index < len(self.marks.references):
            del self.marks.references[index]
            self._save()

    def request_fields(self, box: Box) -> dict[str, list[pb.Control] | list[pb.Reference]]:
        """`controls` and `references` for a request whose image is the document's `box`; read on the main
        thread. Marks of layers the painter deleted are dropped; renamed ones take the new name."""
        self._follow_layers()
        controls = [
            tasks.control(
                mark.kind,  # type: ignore[arg-type]
                self.canvas.layer_area(mark.layer_id, box),
                strength=mark.strength,
                start=mark.start,
                end=0.0 if mark.end >= 1.0 else mark.end,
                derive=mark.derive,
            )
            for mark in self.marks.controls
        ]
        references = []
        for mark in self.marks.references:
            image = self.canvas.file_image(mark.path) if mark.path else self.canvas.layer_image(mark.layer_id)
            if image is not None:
                references.append(tasks.reference(image, kind=mark.kind, strength=mark.strength))  # type: ignore[arg-type]
        return {"controls": controls, "references": references}

    def _follow_layers(self) -> None:
        def now(mark: ControlMark | ReferenceMark) -> ControlMark | ReferenceMark | None:
            if not mark.layer_id:
                return mark
            name = self.canvas.layer_name(mark.layer_id)
            return None if name is None else replace(mark, name=name)

        controls = [m for m in map(now, self.marks.controls) if m is not None]
        references = [m for m in map(now, self.marks.references) if m is not None]
        if (controls, references) != (self.marks.controls, self.marks.references):
            self.marks = Guides(controls, references)  # type: ignore[arg-type]
            self._save()

    def _name(self, layer_id: str) -> str:
        name = self.canvas.layer_name(layer_id) if layer_id else None
        if name is None:
            raise DocumentError("Choose a layer first: click it in the Layers panel.")
        return name

    def _save(self) -> None:
        self.canvas.save_guides(encode(self.marks))
