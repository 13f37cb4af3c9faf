"""The Krita plugin's plain mechanics, outside Krita: regions, result-layer pixels, placements, history, calls."""

from __future__ import annotations

import json
import random
import sys
import threading
import time
from pathlib import Path

import pytest
from cocreate_client.pb import cocreate_pb2 as pb
from cocreate_client.pixels import Image, Mask

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "krita"))

from cocreate_krita import placements
from cocreate_krita.calls import Calls
from cocreate_krita.history import TurnSummary, as_tree, turns_from_session
from cocreate_krita.placements import Placement
from cocreate_krita.region import MIN_PADDING, Box, clip, context_box, is_empty, layer_pixels, mask_bounds


def noise(width: int, height: int, seed: int = 0) -> Image:
    return Image(width, height, random.Random(seed).randbytes(width * height * 4))


def blob(width: int, height: int, cx: float, cy: float, radius: float) -> Mask:
    """A soft disc: 255 inside, a ramp over 4 px, 0 outside; cut off where it leaves the canvas."""
    values = bytearray()
    for y in range(height):
        for x in range(width):
            distance = ((x - cx) ** 2 + (y - cy) ** 2) ** 0.5
            values.append(max(0, min(255, round((radius - distance) * 64))))
    return Mask(width, height, bytes(values))


# ---------------------------------------------------------------- regions


def test_clip_keeps_the_part_on_the_canvas() -> None:
    assert clip(Box(-10, -5, 30, 20), 100, 50) == Box(0, 0, 20, 15)
    assert clip(Box(90, 40, 30, 20), 100, 50) == Box(90, 40, 10, 10)
    assert clip(Box(100, 0, 5, 5), 100, 50) is None
    assert clip(Box(-5, -5, 5, 5), 100, 50) is None


def test_context_grows_by_the_longest_side() -> None:
    assert context_box(Box(400, 400, 200, 100), 1024, 1024) == Box(200, 200, 600, 500)


def test_context_is_at_least_the_minimum_padding() -> None:
    assert context_box(Box(500, 500, 1, 1), 1024, 1024) == Box(500 - MIN_PADDING, 500 - MIN_PADDING, 129, 129)


@pytest.mark.parametrize(
    ("bounds", "expected"),
    [
        (Box(0, 0, 10, 10), Box(0, 0, 74, 74)),  # touching the top-left corner
        (Box(990, 500, 34, 20), Box(926, 436, 98, 148)),  # touching the right edge
        (Box(0, 1000, 1024, 24), Box(0, 0, 1024, 1024)),  # a full-width band at the bottom
        (Box(0, 0, 1024, 1024), Box(0, 0, 1024, 1024)),  # everything
    ],
)
def test_context_stays_on_the_canvas(bounds: Box, expected: Box) -> None:
    assert context_box(bounds, 1024, 1024) == expected


def test_empty_masks() -> None:
    assert is_empty(Mask(3, 2, bytes(6)))
    assert not is_empty(Mask(3, 2, bytes([0, 0, 0, 0, 1, 0])))


# ---------------------------------------------------------------- result layers


@pytest.mark.parametrize(
    "mask",
    [
        blob(64, 48, 20, 30, 14),  # soft, irregular
        blob(64, 48, 0, 0, 30),  # touching two edges
        Mask(64, 48, bytes(64 * 48)),  # nothing selected
        Mask(64, 48, bytes([255]) * (64 * 48)),  # everything
    ],
)
def test_a_result_layer_is_transparent_exactly_where_nothing_is_selected(mask: Mask) -> None:
    picture = noise(64, 48)
    layer = layer_pixels(picture, mask)
    for i, m in enumerate(mask.alpha):
        expected = b"\0\0\0\0" if m == 0 else picture.rgba[i * 4 : i * 4 + 4]
        assert layer.rgba[i * 4 : i * 4 + 4] == expected, i


def test_without_a_selection_the_layer_is_the_picture() -> None:
    picture = noise(8, 8)
    assert layer_pixels(picture, None) is picture


def test_layer_pixels_refuse_a_mask_of_another_size() -> None:
    with pytest.raises(ValueError, match="differ"):
        layer_pixels(noise(8, 8), Mask(8, 7, bytes(56)))


# ---------------------------------------------------------------- placements


def test_placements_round_trip() -> None:
    saved = {
        "a" * 32: Placement(Box(3, 4, 64, 48), blob(64, 48, 20, 30, 14)),
        "b" * 32: Placement(Box(0, 0, 10, 10), None),
    }
    assert placements.decode(placements.encode(saved)) == saved


@pytest.mark.parametrize(
    "data", [b"", b"not json", b'{"x": {"box": [1, 2]}}', b'{"x": {"box": [0,0,2,2], "mask": "!!"}}']
)
def test_unreadable_placements_are_an_empty_history(data: bytes) -> None:
    assert placements.decode(data) == {}


# ---------------------------------------------------------------- history


def test_turns_from_a_session() -> None:
    thumbnail = pb.Image(width=2, height=1, rgba=bytes(8))
    detail = pb.SessionDetail(
        turns=[
            pb.Turn(
                id="t1",
                task="inpaint",
                status="completed",
                params_json=json.dumps({"prompt": "a red fox", "strength": 1.0}),
                candidates=[
                    pb.CandidateInfo(
                        id="c1",
                        index=0,
                        seed=7,
                        thumbnail=thumbnail,
                        feedback=[
                            pb.FeedbackInfo(decision=pb.REJECTED, created_ms=1),
                            pb.FeedbackInfo(decision=pb.ACCEPTED, created_ms=2),
                        ],
                    ),
                    pb.CandidateInfo(id="c2", index=1, seed=8),
                ],
            ),
            pb.Turn(
                id="t2",
                parent_id="t1",
                task="variants",
                status="completed",
                params_json=json.dumps({"style_prompt": "ink"}),
                candidates=[pb.CandidateInfo(id="c3", feedback=[pb.FeedbackInfo(decision=pb.REJECTED)])],
            ),
            pb.Turn(id="t3", parent_id="t1", task="inpaint", status="cancelled", params_json="{broken"),
        ]
    )
    first, second, third = turns_from_session(detail)
    assert (first.prompt, first.decision, second.prompt, second.decision) == (
        "a red fox",
        "accepted",
        "ink",
        "rejected",
    )
    assert (third.parent_id, third.prompt, third.decision) == ("t1", "", "cancelled")
    assert first.candidates[0].thumbnail == Image(2, 1, bytes(8))
    assert first.candidates[1].thumbnail is None and first.candidates[1].decision == ""


def test_history_is_a_tree_of_branches() -> None:
    def turn(turn_id: str, parent: str = "") -> TurnSummary:
        return TurnSummary(turn_id, parent, "inpaint", "completed")

    # t1 → t2 → t4, t1 → t3 (a branch from t1), t5 a new root (Start fresh)
    roots = as_tree([turn("t1"), turn("t2", "t1"), turn("t3", "t1"), turn("t4", "t2"), turn("t5")])

    def shape(branches: list) -> list:
        return [(b.number, b.turn.turn_id, shape(b.children)) for b in branches]

    assert shape(roots) == [
        (1, "t1", [(2, "t2", [(4, "t4", [])]), (3, "t3", [])]),
        (5, "t5", []),
    ]
    assert shape(as_tree([turn("t9", "gone")])) == [(1, "t9", [])]  # a parent not listed: a root


def test_mask_bounds() -> None:
    assert mask_bounds(Mask(4, 3, bytes(12))) is None
    alpha = bytearray(12)
    alpha[1 * 4 + 1] = 9
    alpha[2 * 4 + 2] = 255
    assert mask_bounds(Mask(4, 3, bytes(alpha))) == Box(1, 1, 2, 2)
    assert mask_bounds(blob(40, 30, 20, 15, 5)) == Box(16, 11, 9, 9)


# ---------------------------------------------------------------- calls


def test_a_failing_callback_does_not_drop_the_calls_after_it() -> None:
    calls, seen = Calls(), []

    def broken(_: object) -> None:
        raise RuntimeError("a bug in a callback")

    calls.submit(lambda: 1, broken, seen.append)
    calls.submit(lambda: 2, seen.append, seen.append)
    deadline = time.monotonic() + 10
    while calls.busy and time.monotonic() < deadline:
        calls.pump()
        time.sleep(0.01)
    assert seen == [2] and not calls.busy


def test_calls_report_back_only_when_pumped_and_in_order() -> None:
    calls, seen = Calls(), []
    release = threading.Event()
    calls.submit(lambda: release.wait(5) and "first", seen.append, seen.append)
    calls.submit(lambda: 1 / 0, seen.append, lambda error: seen.append(type(error).__name__))
    calls.pump()
    assert seen == [] and calls.busy  # the worker is still waiting: pump() did not
    release.set()
    deadline = time.monotonic() + 5
    while calls.busy and time.monotonic() < deadline:
        calls.pump()
        time.sleep(0.01)
    assert seen == ["first", "ZeroDivisionError"]
