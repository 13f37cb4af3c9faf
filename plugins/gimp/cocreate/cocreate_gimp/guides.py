"""Layers a person chose to guide the candidates: a control image (its structure followed) and a style reference.

They are read when a plan knows the canvas the answer covers: the control is that canvas's part of the layer
(transparent where the layer does not reach), as the contract asks; the reference is the whole layer, any size.
The layers themselves are only read, never changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from cocreate_client import tasks
from cocreate_client.pb import cocreate_pb2 as pb
from cocreate_client.pixels import Image

from .geometry import Rect

# The dialog's choice of control kinds: (nick, label); the nick is the client's kind name with "-" for "_".
CONTROL_KINDS = (
    ("scribble", "Scribble"),
    ("line-art", "Line art"),
    ("soft-edge", "Soft edge"),
    ("canny", "Canny edges"),
    ("depth", "Depth"),
    ("normal", "Normal map"),
    ("pose", "Pose"),
    ("segmentation", "Segmentation"),
    ("tile", "Tile"),
)


class LayerReader(Protocol):
    def layer_area(self, layer: object, rect: Rect) -> Image:
        """`layer`'s pixels inside `rect` (canvas coordinates, may reach beyond it), transparent where it has none."""
        ...

    def layer_pixels(self, layer: object) -> tuple[Image, tuple[int, int]]:
        """`layer`'s own pixels and its offsets on the canvas."""
        ...


@dataclass(frozen=True)
class Guides:
    control_layer: object = None  # None: no control
    control_kind: str = "scribble"  # a nick of CONTROL_KINDS
    control_strength: float = 0.0  # 0 = the daemon's default
    control_derive: bool = False  # the layer is an ordinary picture: the daemon makes the map from it
    reference_layer: object = None  # None: no reference
    reference_strength: float = 0.0

    def request_fields(self, reader: LayerReader, canvas: Rect) -> dict[str, list[pb.Control] | list[pb.Reference]]:
        """`controls` and `references` for a builder whose answer covers `canvas` (canvas coordinates)."""
        controls, references = [], []
        if self.control_layer is not None:
            kind = self.control_kind.replace("-", "_")
            area = reader.layer_area(self.control_layer, canvas)
            control = tasks.control(kind, area, strength=self.control_strength, derive=self.control_derive)  # type: ignore[arg-type]
            controls.append(control)
        if self.reference_layer is not None:
            pixels, _ = reader.layer_pixels(self.reference_layer)
            references.append(tasks.reference(pixels, strength=self.reference_strength))
        return {"controls": controls, "references": references}
