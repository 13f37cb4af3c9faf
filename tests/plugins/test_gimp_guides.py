"""GIMP plans with a control layer, a style reference, a model, and the Edit procedure's plan (no GIMP needed)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "gimp" / "cocreate"))
from cocreate_client.pb import cocreate_pb2 as pb
from cocreate_client.pixels import Image
from cocreate_gimp import plans
from cocreate_gimp.geometry import Rect, Sides
from cocreate_gimp.guides import CONTROL_KINDS, Guides
from cocreate_gimp.plans import Options, PlanError

from tests.plugins.test_gimp_apply import FakePicture, gradient, rect_selection

STYLE = Image(3, 2, bytes(range(24)))
GUIDED = Options(
    model="tiny-sdxl",
    guides=Guides(
        control_layer="lines",
        control_kind="line-art",
        control_strength=0.7,
        reference_layer="style",
        reference_strength=0.4,
    ),
)


def picture(width: int, height: int, selected: Rect | None = None) -> FakePicture:
    mask = rect_selection(width, height, selected) if selected else None
    return FakePicture(gradient(width, height), mask, layers={"style": (STYLE, (1, 1)), "source": (STYLE, (4, 5))})


def check_guides(request: pb.GenerateRequest, answer: tuple[int, int]) -> None:
    (control,) = request.controls
    assert control.kind == pb.CONTROL_LINE_ART and control.strength == pytest.approx(0.7)
    assert (control.image.width, control.image.height) == answer, "the control covers the answer's canvas"
    (reference,) = request.references
    assert reference.image.rgba == STYLE.rgba and reference.strength == pytest.approx(0.4)
    assert request.model == "tiny-sdxl"


def test_fill_sends_the_control_layer_over_the_region_sent() -> None:
    shown = picture(200, 200, Rect(90, 90, 20, 20))
    plan = plans.fill(shown, GUIDED)
    task = plan.request.inpaint
    check_guides(plan.request, (task.image.width, task.image.height))
    assert ("lines", Rect(25, 25, 150, 150)) in shown.read  # the region's place on the canvas


def test_expand_sends_the_control_layer_over_the_grown_canvas() -> None:
    shown = picture(60, 40)
    plan = plans.expand(shown, Sides(left=16, bottom=8), 4, GUIDED)
    task = plan.request.expand
    answer = (task.image.width + 16, task.image.height + 8)
    check_guides(plan.request, answer)
    # The grown canvas starts 16 px left of the old one: the layer is read there too (transparent beyond it).
    assert ("lines", Rect(-16, 0, *answer)) in shown.read


def test_variants_of_a_selection_and_of_a_layer_carry_the_guides() -> None:
    shown = picture(100, 80, Rect(10, 10, 30, 20))
    selected = plans.variants_of_selection(shown, GUIDED)
    check_guides(selected.request, (selected.request.variants.image.width, selected.request.variants.image.height))
    of_layer = plans.variants_of_layer(shown, "source", GUIDED)
    check_guides(of_layer.request, (3, 2))
    assert ("lines", Rect(4, 5, 3, 2)) in shown.read


def test_without_guides_nothing_is_read_or_sent() -> None:
    shown = picture(100, 80, Rect(10, 10, 30, 20))
    request = plans.fill(shown, Options()).request
    assert not request.controls and not request.references and request.model == ""
    assert shown.read == []


def test_every_control_kind_of_the_dialog_is_one_the_client_knows() -> None:
    shown = picture(64, 64, Rect(8, 8, 16, 16))
    for nick, _label in CONTROL_KINDS:
        request = plans.fill(shown, Options(guides=Guides(control_layer="lines", control_kind=nick))).request
        assert request.controls[0].kind == pb.ControlKind.Value("CONTROL_" + nick.replace("-", "_").upper())


def test_a_picture_layer_can_ask_the_daemon_to_derive_the_map() -> None:
    guides = Guides(control_layer="lines", control_kind="depth", control_derive=True)
    request = plans.fill(picture(64, 64, Rect(8, 8, 16, 16)), Options(guides=guides)).request
    assert request.controls[0].derive and request.controls[0].kind == pb.CONTROL_DEPTH


def test_edit_changes_the_selection_or_the_whole_image() -> None:
    shown = picture(200, 200, Rect(90, 90, 20, 20))
    plan = plans.edit(shown, "make it night", Options(candidates=2, seed=3, steps=4))
    task = plan.request.edit
    assert plan.request.WhichOneof("task") == "edit" and task.instruction == "make it night"
    assert (task.image.width, task.mask.width, plan.placed, plan.task) == (150, 150, (25, 25), "edit")
    assert (plan.request.candidates, plan.request.seed, task.steps) == (2, 3, 4)
    whole = plans.edit(picture(40, 30), "make it night", GUIDED)
    assert not whole.request.edit.HasField("mask") and whole.painted is None and whole.placed == (0, 0)
    check_guides(whole.request, (40, 30))
    with pytest.raises(PlanError, match="Say what to change"):
        plans.edit(shown, "  ", Options())
