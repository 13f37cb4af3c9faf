"""Where each turn's candidates belong on this document, kept inside the document itself.

The daemon's session stores parameters but no pixels of the request, so re-applying a candidate from
history needs the region and selection it was made for. They are saved as one document annotation
(it travels with the .kra file): JSON, with each mask zlib-compressed.
"""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import dataclass

from cocreate_client.pixels import Mask

from .region import Box


@dataclass(frozen=True)
class Placement:
    box: Box
    mask: Mask | None  # box-sized; None = the whole box


def encode(placements: dict[str, Placement]) -> bytes:
    document = {turn_id: _placement_json(p) for turn_id, p in placements.items()}
    return json.dumps(document, separators=(",", ":")).encode()


def decode(data: bytes) -> dict[str, Placement]:
    """What `encode` wrote; an empty or unreadable annotation is an empty history, not an error."""
    try:
        document = json.loads(data.decode()) if data else {}
        return {turn_id: _placement(entry) for turn_id, entry in document.items()}
    except (ValueError, KeyError, TypeError, zlib.error):
        return {}


def _placement_json(placement: Placement) -> dict[str, object]:
    mask = placement.mask
    return {
        "box": list(placement.box.as_tuple()),
        "mask": base64.b64encode(zlib.compress(mask.alpha)).decode() if mask else None,
    }


def _placement(entry: dict[str, object]) -> Placement:
    box = Box(*(int(v) for v in entry["box"]))  # type: ignore[attr-defined]
    mask = None
    if entry["mask"] is not None:
        mask = Mask(box.width, box.height, zlib.decompress(base64.b64decode(str(entry["mask"]))))
    return Placement(box, mask)
