"""Selected faces → the UV islands they lie on → a repair mask. Plain Python: no bpy, no client.

A mask here is what cocreate_client.pixels.Mask holds: one byte per texture pixel, rows top-down,
255 = regenerate, 0 = keep. UVs have v pointing up and wrap beyond [0, 1], as a tiling texture does.
A pixel belongs to a face when its centre lies inside the face's UV polygon (even-odd rule, so
concave n-gons fill correctly); neighbouring faces then share no pixel and leave no gap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

UV = tuple[float, float]
# UVs that differ by less than this are the same corner: a face pair joined there is one island.
UV_TOLERANCE_DIGITS = 5


@dataclass(frozen=True)
class UVFaces:
    """A mesh's faces as the UV editor sees them; the three lists run over the same faces."""

    vertices: Sequence[Sequence[int]]  # each face's vertex indices, in loop order
    uvs: Sequence[Sequence[UV]]  # the UV of each of those loops
    selected: Sequence[bool]


def island_ids(faces: UVFaces) -> list[int]:
    """Per face, the id of its UV island: faces sharing an edge with the same UVs at both ends."""
    parent = list(range(len(faces.vertices)))

    def root(face: int) -> int:
        while parent[face] != face:
            parent[face] = parent[parent[face]]
            face = parent[face]
        return face

    first_face_of_edge: dict[tuple[tuple[int, UV], tuple[int, UV]], int] = {}
    for face, (vertices, uvs) in enumerate(zip(faces.vertices, faces.uvs, strict=True)):
        corners = [
            (v, (round(u, UV_TOLERANCE_DIGITS), round(w, UV_TOLERANCE_DIGITS)))
            for v, (u, w) in zip(vertices, uvs, strict=True)
        ]
        for a, b in zip(corners, corners[1:] + corners[:1], strict=True):
            edge = (a, b) if a <= b else (b, a)
            other = first_face_of_edge.setdefault(edge, face)
            parent[root(face)] = root(other)
    return [root(face) for face in range(len(parent))]


def faces_to_mask(faces: UVFaces, width: int, height: int, *, whole_islands: bool = True, margin: int = 0) -> bytes:
    """The mask of the selected faces (or of every face on their UV islands), grown by `margin` pixels."""
    chosen = [face for face, selected in enumerate(faces.selected) if selected]
    if whole_islands:
        ids = island_ids(faces)
        wanted = {ids[face] for face in chosen}
        chosen = [face for face, island in enumerate(ids) if island in wanted]
    mask = bytearray(width * height)
    for face in chosen:
        fill_polygon(mask, width, height, faces.uvs[face])
    return dilate(bytes(mask), width, height, margin)


def fill_polygon(mask: bytearray, width: int, height: int, uvs: Sequence[UV]) -> None:
    """Set to 255 every pixel whose centre is inside the UV polygon, wrapping it into [0, 1]²."""
    us, vs = [u for u, _ in uvs], [v for _, v in uvs]
    for tile_u in range(math.floor(min(us)), math.ceil(max(us))):
        for tile_v in range(math.floor(min(vs)), math.ceil(max(vs))):
            points = [((u - tile_u) * width, (v - tile_v) * height) for u, v in uvs]
            _scan(mask, width, height, points)


def _scan(mask: bytearray, width: int, height: int, points: list[tuple[float, float]]) -> None:
    """Scanline fill of one polygon in pixel units (y up), clipped to the texture."""
    ys = [y for _, y in points]
    edges = list(zip(points, points[1:] + points[:1], strict=True))
    # Rows counted from the bottom whose centre (row + 0.5) lies within the polygon's height.
    for row in range(max(0, math.ceil(min(ys) - 0.5)), min(height, math.floor(max(ys) - 0.5) + 1)):
        centre = row + 0.5
        crossings = sorted(
            x0 + (centre - y0) * (x1 - x0) / (y1 - y0)
            for (x0, y0), (x1, y1) in edges
            if (y0 <= centre) != (y1 <= centre)
        )
        start = (height - 1 - row) * width  # the mask's rows run top-down
        for left, right in zip(crossings[0::2], crossings[1::2], strict=True):
            # Columns whose centre (col + 0.5) lies in [left, right).
            first, end = max(0, math.ceil(left - 0.5)), min(width, math.ceil(right - 0.5))
            if first < end:
                mask[start + first : start + end] = b"\xff" * (end - first)


def dilate(mask: bytes, width: int, height: int, margin: int) -> bytes:
    """A 0/255 mask grown by `margin` pixels in every direction (a square reach), clipped at the edges."""
    if margin <= 0:
        return mask
    # Each row as one big integer: shifts move whole bytes (pixels) and | runs over all of them in C.
    full = (1 << (8 * width)) - 1
    wide = []
    for r in range(height):
        row = int.from_bytes(mask[r * width : (r + 1) * width], "big")
        grown = row
        for shift in range(8, 8 * margin + 1, 8):
            grown |= (row << shift) & full | row >> shift
        wide.append(grown)
    out = bytearray()
    for r in range(height):
        grown = 0
        for near in wide[max(0, r - margin) : r + margin + 1]:
            grown |= near
        out += grown.to_bytes(width, "big")
    return bytes(out)
