"""plugins/blender/uv_mask.py: UV islands and their rasterised masks, in plain Python (no Blender)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SOURCE = Path(__file__).resolve().parents[2] / "plugins" / "blender" / "uv_mask.py"


def _load() -> ModuleType:
    # By path: the extension's package imports bpy, this one module does not.
    spec = importlib.util.spec_from_file_location("cocreate_blender_uv_mask", SOURCE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


uv_mask = _load()


def quad(u0: float, v0: float, u1: float, v1: float) -> list[tuple[float, float]]:
    return [(u0, v0), (u1, v0), (u1, v1), (u0, v1)]


def filled(mask: bytes, width: int) -> set[tuple[int, int]]:
    """(column, row from the top) of every set pixel."""
    assert set(mask) <= {0, 255}
    return {(i % width, i // width) for i, value in enumerate(mask) if value}


def test_pixels_whose_centres_are_inside_are_filled_rows_top_down() -> None:
    mask = bytearray(8 * 4)
    uv_mask.fill_polygon(mask, 8, 4, quad(0.0, 0.0, 0.5, 0.5))  # the bottom-left quarter
    assert filled(bytes(mask), 8) == {(c, r) for c in range(4) for r in (2, 3)}


def test_neighbouring_faces_share_no_pixel_and_leave_no_gap() -> None:
    width = height = 37
    halves = [[(0.13, 0.11), (0.87, 0.23), (0.61, 0.93)], [(0.13, 0.11), (0.61, 0.93), (0.05, 0.7)]]
    masks = []
    for triangle in halves:
        mask = bytearray(width * height)
        uv_mask.fill_polygon(mask, width, height, triangle)
        masks.append(filled(bytes(mask), width))
    whole = bytearray(width * height)
    uv_mask.fill_polygon(whole, width, height, [(0.13, 0.11), (0.87, 0.23), (0.61, 0.93), (0.05, 0.7)])
    assert not masks[0] & masks[1]
    assert masks[0] | masks[1] == filled(bytes(whole), width)


def test_concave_faces_fill_only_their_inside() -> None:
    # An L: the top-right quarter of the square is not part of it.
    ell = [(0.0, 0.0), (1.0, 0.0), (1.0, 0.5), (0.5, 0.5), (0.5, 1.0), (0.0, 1.0)]
    mask = bytearray(4 * 4)
    uv_mask.fill_polygon(mask, 4, 4, ell)
    assert filled(bytes(mask), 4) == {(c, r) for c in range(4) for r in range(4)} - {(2, 0), (3, 0), (2, 1), (3, 1)}


def test_uvs_beyond_the_unit_square_wrap_like_a_tiling_texture() -> None:
    mask = bytearray(8 * 8)
    uv_mask.fill_polygon(mask, 8, 8, quad(0.75, 1.75, 1.25, 2.25))  # straddles a corner of the tile
    corners = {(c, r) for c in (0, 1, 6, 7) for r in (0, 1, 6, 7)}
    assert filled(bytes(mask), 8) == corners


TWO_ISLANDS = uv_mask.UVFaces(
    # A 2×2 grid of quads (vertex = y * 3 + x); the middle vertical edge is a UV seam.
    vertices=[(0, 1, 4, 3), (3, 4, 7, 6), (1, 2, 5, 4), (4, 5, 8, 7)],
    uvs=[
        quad(0.1, 0.1, 0.4, 0.5),
        quad(0.1, 0.5, 0.4, 0.9),
        quad(0.6, 0.1, 0.9, 0.5),
        quad(0.6, 0.5, 0.9, 0.9),
    ],
    selected=[True, False, False, False],
)


def test_faces_joined_by_an_edge_with_the_same_uvs_are_one_island() -> None:
    ids = uv_mask.island_ids(TWO_ISLANDS)
    assert ids[0] == ids[1] and ids[2] == ids[3] and ids[0] != ids[2]


def test_the_mask_covers_the_selected_faces_islands_or_just_the_faces() -> None:
    whole = filled(uv_mask.faces_to_mask(TWO_ISLANDS, 10, 10, whole_islands=True), 10)
    assert whole == {(c, r) for c in (1, 2, 3) for r in range(1, 9)}  # u 0.1–0.4, v 0.1–0.9
    faces = filled(uv_mask.faces_to_mask(TWO_ISLANDS, 10, 10, whole_islands=False), 10)
    assert faces == {(c, r) for c in (1, 2, 3) for r in range(5, 9)}  # v 0.1–0.5: the lower rows


def test_a_margin_grows_the_mask_on_every_side_within_the_texture() -> None:
    mask = bytearray(6 * 5)
    mask[2 * 6 + 0] = 255  # (0, 2), on the left edge
    grown = filled(uv_mask.dilate(bytes(mask), 6, 5, 1), 6)
    assert grown == {(c, r) for c in (0, 1) for r in (1, 2, 3)}
    assert uv_mask.dilate(bytes(mask), 6, 5, 0) == bytes(mask)


def test_a_dense_mesh_rasterises_whole() -> None:
    n, size = 64, 1024  # 4096 faces in one island, a 1024² texture
    grid = uv_mask.UVFaces(
        vertices=[
            (y * (n + 1) + x, y * (n + 1) + x + 1, (y + 1) * (n + 1) + x + 1, (y + 1) * (n + 1) + x)
            for y in range(n)
            for x in range(n)
        ],
        uvs=[quad(x / n, y / n, (x + 1) / n, (y + 1) / n) for y in range(n) for x in range(n)],
        selected=[i == 0 for i in range(n * n)],
    )
    mask = uv_mask.faces_to_mask(grid, size, size, margin=2)
    assert mask == b"\xff" * (size * size)
