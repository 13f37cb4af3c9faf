"""More Like This, Less Like This and In Between These Two as requests, outside GIMP: the turn's settings
come back, the chosen candidates steer, an interpolation's ends make no layer."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from cocreate_client.pb import cocreate_pb2 as pb
from cocreate_client.pixels import Image, Mask

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "gimp" / "cocreate"))
from cocreate_gimp import steering
from cocreate_gimp.geometry import Rect
from cocreate_gimp.plans import PlanError

CONTEXT = Rect(10, 20, 8, 4)
PICTURE = Image(8, 4, bytes(8 * 4 * 4))
PAINTED = Mask(8, 4, b"\xff" * 32)


def turn(task: str, **params: object) -> pb.Turn:
    return pb.Turn(id="t" * 32, task=task, params_json=json.dumps(params))


def test_more_like_repaints_the_area_as_the_fill_did() -> None:
    made = turn("inpaint", prompt="a stone", negative_prompt="moss", steps=2, strength=0.7, lora={"name": "mine"})
    plan = steering.plan("more", ["c" * 32], made, CONTEXT, PICTURE, PAINTED, 3, above="layer")
    request = plan.request
    assert request.WhichOneof("task") == "inpaint" and request.inpaint.prompt == "a stone"
    assert (request.inpaint.negative_prompt, request.inpaint.steps) == ("moss", 2)
    assert request.inpaint.strength == pytest.approx(0.7) and request.lora == "mine"
    assert list(request.more_like) == ["c" * 32] and not request.less_like and request.candidates == 3
    assert (plan.task, plan.placed, plan.above, plan.skipped) == ("more like", (10, 20), "layer", frozenset())


def test_an_expand_candidate_is_painted_again_at_full_strength_and_variants_stay_variants() -> None:
    expanded = steering.plan("less", ["c" * 32], turn("expand", prompt="sea"), CONTEXT, PICTURE, PAINTED, 1, None)
    assert expanded.request.inpaint.strength == 0.0 and list(expanded.request.less_like) == ["c" * 32]
    varied = turn("variants", style_prompt="ink", strength=0.4)
    request = steering.plan("more", ["c" * 32], varied, CONTEXT, PICTURE, PAINTED, 2, None).request
    assert request.WhichOneof("task") == "variants" and request.variants.style_prompt == "ink"


def test_in_between_asks_for_both_ends_too_and_places_only_the_new_ones() -> None:
    ids = ["a" * 32, "b" * 32]
    plan = steering.plan("between", ids, turn("inpaint", prompt="p"), CONTEXT, PICTURE, PAINTED, 3, None)
    assert list(plan.request.interpolate) == ids and plan.request.candidates == 5
    assert plan.skipped == frozenset({0, 4})
    with pytest.raises(PlanError, match="exactly two"):
        steering.plan("between", ids[:1], turn("inpaint"), CONTEXT, PICTURE, PAINTED, 3, None)
