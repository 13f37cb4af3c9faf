"""The request builders: host glue gets a complete GenerateRequest without touching protobuf."""

from __future__ import annotations

import pytest
from cocreate_client import Image, Mask, tasks
from cocreate_client.pb import cocreate_pb2 as pb

IMAGE = Image(2, 2, bytes(range(16)))
MASK = Mask(2, 2, b"\x00\xff\xff\x00")


def test_inpaint() -> None:
    request = tasks.inpaint(
        IMAGE,
        mask=MASK,
        session_id="s",
        prompt="apple",
        strength=0.5,
        candidates=3,
        seed=7,
        previews=True,
        parent_turn_id="t",
        model="m",
        exploration=0.2,
    )
    assert request.WhichOneof("task") == "inpaint"
    assert (request.session_id, request.parent_turn_id, request.model) == ("s", "t", "m")
    assert (request.candidates, request.seed, request.previews) == (3, 7, True)
    assert request.exploration == pytest.approx(0.2)
    assert request.inpaint.image == pb.Image(width=2, height=2, rgba=IMAGE.rgba)
    assert request.inpaint.mask == pb.Mask(width=2, height=2, alpha=MASK.alpha)
    assert (request.inpaint.prompt, request.inpaint.strength) == ("apple", 0.5)


def test_unset_options_stay_unset() -> None:
    request = tasks.inpaint(IMAGE, session_id="s")
    assert not request.HasField("seed") and not request.HasField("exploration")
    assert not request.inpaint.HasField("mask")
    assert request.candidates == 1 and not request.previews


def test_expand() -> None:
    request = tasks.expand(IMAGE, session_id="s", left=1, top=2, right=3, bottom=4, feather=5, prompt="field")
    task = request.expand
    assert (task.left, task.top, task.right, task.bottom, task.feather, task.prompt) == (1, 2, 3, 4, 5, "field")


def test_texture() -> None:
    request = tasks.texture("bricks", session_id="s", width=64, height=32, seamless="both")
    assert request.texture.seamless == pb.SEAMLESS_BOTH and (request.texture.width, request.texture.height) == (64, 32)
    assert not request.texture.HasField("image")
    repair = tasks.texture("bricks", session_id="s", image=IMAGE, mask=MASK, seamless="x")
    assert repair.texture.image.width == 2 and repair.texture.mask.alpha == MASK.alpha
    with pytest.raises(ValueError, match="seamless must be one of none, x, y, both"):
        tasks.texture("bricks", session_id="s", seamless="diagonal")  # type: ignore[arg-type]


def test_variants() -> None:
    request = tasks.variants(IMAGE, session_id="s", style_prompt="ink", strength=0.4, candidates=4)
    assert request.variants.style_prompt == "ink" and request.candidates == 4


def test_text_tasks() -> None:
    request = tasks.continue_text(
        "Once", session_id="s", after="end.", max_new_tokens=9, stop=["\n"], stop_at="sentence"
    )
    task = request.continue_text
    assert (task.before, task.after, task.max_new_tokens, list(task.stop)) == ("Once", "end.", 9, ["\n"])
    assert task.stop_at == pb.STOP_AT_SENTENCE
    rewrite = tasks.rewrite_text("The cat sat.", "more formal", session_id="s", temperature=0.5)
    assert (rewrite.rewrite_text.selection, rewrite.rewrite_text.instruction) == ("The cat sat.", "more formal")
    with pytest.raises(ValueError, match="stop_at"):
        tasks.continue_text("x", session_id="s", stop_at="chapter")  # type: ignore[arg-type]


def test_image_builders_carry_controls_and_references() -> None:
    scribble = tasks.control("scribble", IMAGE, strength=0.8, start=0.1, end=0.9)
    style = tasks.reference(IMAGE, strength=0.5)
    for build in (
        lambda **k: tasks.inpaint(IMAGE, session_id="s", **k),
        lambda **k: tasks.expand(IMAGE, session_id="s", right=8, **k),
        lambda **k: tasks.texture("bricks", session_id="s", **k),
        lambda **k: tasks.variants(IMAGE, session_id="s", **k),
        lambda **k: tasks.edit(IMAGE, "make it night", session_id="s", **k),
    ):
        request = build(controls=[scribble], references=[style])
        assert list(request.controls) == [scribble] and list(request.references) == [style]
        assert not build().controls and not build().references  # optional: today's requests stay as they were
    assert scribble.kind == pb.CONTROL_SCRIBBLE and scribble.image == pb.Image(width=2, height=2, rgba=IMAGE.rgba)
    assert (scribble.strength, scribble.start, scribble.end) == pytest.approx((0.8, 0.1, 0.9))
    assert not scribble.derive and style.kind == pb.REFERENCE_STYLE


def test_every_control_and_reference_kind_has_its_enum() -> None:
    assert {tasks.control(k, IMAGE).kind for k in tasks.CONTROL_KINDS} == set(tasks.CONTROL_KINDS.values())
    assert tasks.control("depth", IMAGE, derive=True, model="cn-depth").derive
    assert tasks.reference(IMAGE, kind="face").kind == pb.REFERENCE_FACE
    with pytest.raises(ValueError, match="control kind must be one of scribble"):
        tasks.control("sketchy", IMAGE)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="reference kind must be one of style"):
        tasks.reference(IMAGE, kind="mood")  # type: ignore[arg-type]


def test_edit() -> None:
    request = tasks.edit(IMAGE, "make it night", session_id="s", mask=MASK, steps=4, guidance=2.5, candidates=2)
    assert request.WhichOneof("task") == "edit"
    assert (request.edit.instruction, request.edit.steps, request.edit.guidance) == ("make it night", 4, 2.5)
    assert request.edit.mask.alpha == MASK.alpha and request.candidates == 2


def test_an_option_a_builder_does_not_take_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="previews"):
        tasks.continue_text("Once", session_id="s", previews=True)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="controls"):
        tasks.rewrite_text("a", "b", session_id="s", controls=())  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="candidate"):
        tasks.inpaint(IMAGE, session_id="s", candidate=2)  # type: ignore[call-arg]
