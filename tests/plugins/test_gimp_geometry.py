"""The GIMP plug-in's expand geometry (sides, target sizes, aspect ratios, anchors, limits) and its seam mask."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "gimp" / "cocreate"))
from cocreate_client.pixels import Image
from cocreate_gimp import geometry, masks
from cocreate_gimp.geometry import GeometryError, Rect, Sides

# ---------------------------------------------------------------- target size and anchors


@pytest.mark.parametrize(
    ("anchor", "expected"),
    [
        ("top-left", Sides(0, 0, 60, 40)),
        ("top", Sides(30, 0, 30, 40)),
        ("top-right", Sides(60, 0, 0, 40)),
        ("left", Sides(0, 20, 60, 20)),
        ("center", Sides(30, 20, 30, 20)),
        ("right", Sides(60, 20, 0, 20)),
        ("bottom-left", Sides(0, 40, 60, 0)),
        ("bottom", Sides(30, 40, 30, 0)),
        ("bottom-right", Sides(60, 40, 0, 0)),
    ],
)
def test_target_size_places_the_picture_by_its_anchor(anchor: str, expected: Sides) -> None:
    assert geometry.to_size(100, 50, 160, 90, anchor) == expected


def test_odd_free_space_puts_the_extra_pixel_after_the_picture() -> None:
    assert geometry.to_size(101, 50, 160, 51, "center") == Sides(29, 0, 30, 1)


def test_target_smaller_than_the_picture_is_refused() -> None:
    with pytest.raises(GeometryError, match="smaller than the image"):
        geometry.to_size(100, 50, 90, 60, "center")


def test_unknown_anchor_is_refused() -> None:
    with pytest.raises(GeometryError, match="anchor must be one of"):
        geometry.to_size(100, 50, 120, 60, "middle")


# ---------------------------------------------------------------- aspect ratios


def test_aspect_widens_a_picture_that_is_too_tall() -> None:
    # 1024×768 is 4:3; 16:9 needs 1365.3 px of width, rounded up so the ratio is met or passed.
    assert geometry.to_aspect(1024, 768, 16, 9, "center") == Sides(171, 0, 171, 0)


def test_aspect_adds_rows_to_a_picture_that_is_too_wide() -> None:
    assert geometry.to_aspect(1024, 768, 1, 1, "bottom") == Sides(0, 256, 0, 0)


def test_aspect_already_met_adds_nothing() -> None:
    sides = geometry.to_aspect(1600, 900, 16, 9, "center")
    assert not sides.any
    with pytest.raises(GeometryError, match="Nothing to expand"):
        geometry.expand_region(1600, 900, sides, 16)


def test_aspect_needs_two_positive_numbers() -> None:
    with pytest.raises(GeometryError, match="two positive numbers"):
        geometry.to_aspect(100, 100, 0, 9, "center")


# ---------------------------------------------------------------- limits


def test_sides_cannot_shrink() -> None:
    with pytest.raises(GeometryError, match="only adds pixels"):
        Sides(right=-1)


def test_a_canvas_larger_than_gimp_allows_is_refused() -> None:
    with pytest.raises(GeometryError, match="at most 524288"):
        geometry.check_growth(100, 100, Sides(right=geometry.GIMP_MAX_SIDE))


def test_only_the_band_next_to_the_grown_side_is_sent() -> None:
    # A 1024×768 picture grown 256 px on the right: the painted area is the new strip and a 16 px seam
    # (272×768); half its longest side (384 px) of context to its left makes the source band.
    region = geometry.expand_region(1024, 768, Sides(right=256), 16)
    assert region.source == Rect(624, 0, 400, 768)
    assert region.placed == (624, 0)


def test_pictures_wider_than_the_daemon_takes_still_grow_on_one_side() -> None:
    region = geometry.expand_region(20000, 1000, Sides(right=512), 16)
    assert region.source.right == 20000 and region.source.width < geometry.MAX_SIDE


def test_an_area_larger_than_the_daemon_takes_is_refused() -> None:
    with pytest.raises(GeometryError, match="at most 8192 px"):
        geometry.expand_region(1000, 9000, Sides(right=100), 16)


def test_growing_all_sides_sends_the_whole_picture() -> None:
    region = geometry.expand_region(300, 200, Sides(10, 20, 30, 40), 8)
    assert region.source == Rect(0, 0, 300, 200) and region.placed == (0, 0)


@settings(max_examples=200, deadline=None)
@given(
    width=st.integers(1, 3000),
    height=st.integers(1, 3000),
    sides=st.tuples(*[st.integers(0, 700)] * 4).filter(any),
    feather=st.integers(1, 64),
)
def test_the_answer_lines_up_with_the_grown_canvas(
    width: int, height: int, sides: tuple[int, int, int, int], feather: int
) -> None:
    grow = Sides(*sides)
    region = geometry.expand_region(width, height, grow, feather)
    source = region.source
    answer = Rect(*region.placed, *grow.around(source.width, source.height))
    canvas = Rect(0, 0, *grow.around(width, height))
    assert answer.intersection(canvas) == answer  # inside the canvas
    # The answer grows the source on every side the canvas grows, so the source must reach those edges for
    # the answer's new strips to land on the canvas's new strips.
    assert source.x == 0 or not grow.left
    assert source.y == 0 or not grow.top
    assert source.right == width or not grow.right
    assert source.bottom == height or not grow.bottom
    # Every new pixel is in the answer.
    for strip, grew in (
        (Rect(0, 0, grow.left, canvas.height), grow.left),
        (Rect(0, 0, canvas.width, grow.top), grow.top),
        (Rect(canvas.width - grow.right, 0, grow.right, canvas.height), grow.right),
        (Rect(0, canvas.height - grow.bottom, canvas.width, grow.bottom), grow.bottom),
    ):
        if grew:
            assert strip.intersection(answer) == strip


# ---------------------------------------------------------------- the seam mask


def rows(mask: masks.Mask) -> list[str]:
    return [
        "".join("#" if v else "." for v in mask.alpha[y * mask.width : (y + 1) * mask.width])
        for y in range(mask.height)
    ]


def test_seam_mask_covers_new_area_and_the_feather_band_on_grown_sides_only() -> None:
    # A 5×4 picture grown 2 on the left and 1 at the bottom, feather 2.
    mask = masks.seam_mask(7, 5, Rect(2, 0, 5, 4), Sides(left=2, bottom=1), 2)
    assert rows(mask) == [
        "####...",
        "####...",
        "#######",
        "#######",
        "#######",
    ]


def test_a_feather_wider_than_the_picture_covers_all_of_it() -> None:
    mask = masks.seam_mask(5, 2, Rect(0, 0, 3, 2), Sides(right=2), 10)
    assert rows(mask) == ["#####", "#####"]


@pytest.mark.parametrize(
    ("size", "sides", "feather"),
    [((96, 64), Sides(right=32, top=16), 8), ((64, 48), Sides(7, 3, 0, 5), 16), ((1024, 768), Sides(right=256), 16)],
)
def test_seam_mask_is_exactly_what_the_daemon_may_change(size: tuple[int, int], sides: Sides, feather: int) -> None:
    """The daemon's own expand mask on the band the plug-in sends: nonzero exactly where the plug-in's is."""
    from core_server.engines import expand
    from core_server.tasks import ExpandTask, RGBAImage

    region = geometry.expand_region(*size, sides, feather)
    source = region.source
    task = ExpandTask(
        RGBAImage(source.width, source.height, bytes(source.width * source.height * 4)),
        sides.left,
        sides.top,
        sides.right,
        sides.bottom,
        feather=feather,
    )
    daemon = expand.paint_job(task).mask
    answer_width, answer_height = sides.around(source.width, source.height)
    ours = masks.seam_mask(
        answer_width, answer_height, Rect(sides.left, sides.top, source.width, source.height), sides, feather
    )
    ours_array = np.frombuffer(ours.alpha, np.uint8).reshape(answer_height, answer_width)
    assert ((daemon > 0) == (ours_array > 0)).all()


# ---------------------------------------------------------------- what a layer keeps


def test_keep_painted_clears_alpha_outside_the_mask_and_keeps_colour() -> None:
    image = Image(2, 1, bytes([10, 20, 30, 200, 40, 50, 60, 255]))
    kept = masks.keep_painted(image, masks.Mask(2, 1, bytes([0, 7])))
    assert kept.rgba == bytes([10, 20, 30, 0, 40, 50, 60, 255])


def test_with_alpha_replaces_the_alpha_channel() -> None:
    image = Image(2, 1, bytes([1, 2, 3, 255, 4, 5, 6, 255]))
    assert masks.with_alpha(image, bytes([0, 128])).rgba == bytes([1, 2, 3, 0, 4, 5, 6, 128])


def test_bounding_box_of_a_mask() -> None:
    grid = [[0, 0, 0, 0, 0], [0, 9, 0, 3, 0], [0, 0, 1, 0, 0], [0, 0, 0, 0, 0]]
    mask = masks.Mask(5, 4, bytes(v for row in grid for v in row))
    assert masks.bounding_box(mask) == Rect(1, 1, 3, 2)
    assert masks.bounding_box(masks.Mask(3, 2, bytes(6))) is None
