"""Reference images and the edit task through the real daemon, on the tiny models (and tiny IP-Adapters built
locally): a reference changes what is painted at the same seed and its strength and kind are honoured; edit
runs on each family that serves it with pixels outside the mask bit-identical, seeds reproducible, previews
and cancel; what cannot be served is refused with FAILED_PRECONDITION saying what to pull."""

from __future__ import annotations

import grpc
import pytest

from core_server.engines.families import FAMILIES
from core_server.models import tiny_flow
from core_server.models.tiny import TINY_IMAGE
from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc

from .images import disc, gradient
from .test_cocreation import turn_params

IMAGE, MASK = gradient(), disc()
STEPS = 2
EDITING = {
    "flux-kontext": "tiny-flux-kontext",
    "flux2-klein": tiny_flow.TINY_FLUX2_KLEIN,
    "qwen-image-edit": "tiny-qwen-image-edit",
}
REFERENCING = [family for family in EDITING if FAMILIES[family].references]
IP_ADAPTER_MODELS = {"sd15": TINY_IMAGE, "sdxl": "tiny-sdxl"}


def checkered(side: int = 48) -> pb.Image:
    """A reference unlike the picture: black and white squares."""
    data = bytearray()
    for y in range(side):
        for x in range(side):
            value = 255 if (x // 8 + y // 8) % 2 else 0
            data += bytes((value, value, 255 - value, 255))
    return pb.Image(width=side, height=side, rgba=bytes(data))


def edit(
    session_id: str, model: str, mask: bool = True, instruction: str = "make it night", **fields: object
) -> pb.GenerateRequest:
    task = pb.EditTask(image=IMAGE, mask=MASK if mask else None, instruction=instruction, steps=STEPS)
    return pb.GenerateRequest(session_id=session_id, model=model, edit=task, **{"candidates": 1, **fields})


def inpaint(session_id: str, model: str, *references: pb.Reference, **fields: object) -> pb.GenerateRequest:
    task = pb.InpaintTask(image=IMAGE, mask=MASK, prompt="a red apple", steps=STEPS)
    return pb.GenerateRequest(
        session_id=session_id,
        model=model,
        inpaint=task,
        references=references,
        exploration=1.0,
        **{"candidates": 1, **fields},
    )


def run(stub: pb_grpc.CocreateStub, message: pb.GenerateRequest) -> tuple[str, list[pb.Candidate]]:
    events = list(stub.Generate(message, timeout=180))
    assert events[-1].done.status == pb.JOB_COMPLETED, events[-1].done
    return events[0].accepted.turn_id, [e.candidate for e in events if e.HasField("candidate")]


def refusal(stub: pb_grpc.CocreateStub, message: pb.GenerateRequest) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        list(stub.Generate(message, timeout=60))
    return raised.value


def kept_pixels_are_identical(candidate: pb.Candidate) -> None:
    painted = candidate.image.rgba
    for i, keep in enumerate(MASK.alpha):
        if keep == 0:
            assert painted[i * 4 : i * 4 + 4] == IMAGE.rgba[i * 4 : i * 4 + 4]


# ---------------------------------------------------------------- edit


@pytest.mark.parametrize("family", list(EDITING))
def test_edit_under_a_mask_keeps_the_rest_and_repeats_with_its_seeds(
    stub: pb_grpc.CocreateStub, session_id: str, family: str
) -> None:
    events = list(stub.Generate(edit(session_id, EDITING[family], candidates=2, seed=3, previews=True), timeout=180))
    assert events[-1].done.status == pb.JOB_COMPLETED, events[-1].done
    kinds = [e.WhichOneof("event") for e in events]
    previews = [e.progress for e in events[: kinds.index("candidate")] if e.HasField("progress")]
    assert previews and all(len(p.previews) == 2 for p in previews), "a preview per candidate before the candidates"
    candidates = [e.candidate for e in events if e.HasField("candidate")]
    assert [c.seed for c in candidates] == [3, 4]
    assert candidates[0].image.rgba != candidates[1].image.rgba
    for candidate in candidates:
        assert (candidate.image.width, candidate.image.height) == (64, 64)
        assert candidate.image.rgba != IMAGE.rgba
        kept_pixels_are_identical(candidate)
    turn = events[0].accepted.turn_id
    assert turn_params(stub, session_id, turn)["instruction"] == "make it night"
    _, again = run(stub, edit(session_id, EDITING[family], candidates=2, seed=3))
    assert [c.image.rgba for c in again] == [c.image.rgba for c in candidates]
    _, replayed = run(stub, edit(session_id, EDITING[family], candidates=2, replay_turn_id=turn))
    assert [c.image.rgba for c in replayed] == [c.image.rgba for c in candidates]


@pytest.mark.parametrize("family", list(EDITING))
def test_another_instruction_at_the_same_seed_edits_otherwise(
    stub: pb_grpc.CocreateStub, session_id: str, family: str
) -> None:
    _, night = run(stub, edit(session_id, EDITING[family], seed=7))
    _, snow = run(stub, edit(session_id, EDITING[family], instruction="cover it in snow", seed=7))
    assert night[0].image.rgba != snow[0].image.rgba
    kept_pixels_are_identical(snow[0])


@pytest.mark.parametrize("family", list(EDITING))
def test_edit_without_a_mask_changes_the_whole_picture(
    stub: pb_grpc.CocreateStub, session_id: str, family: str
) -> None:
    _, candidates = run(stub, edit(session_id, EDITING[family], mask=False, candidates=1, seed=5))
    painted = candidates[0].image.rgba
    assert painted[:4] != IMAGE.rgba[:4] or painted[-4:] != IMAGE.rgba[-4:]


@pytest.mark.parametrize("family", list(EDITING))
def test_edit_is_cancelled_within_a_step(stub: pb_grpc.CocreateStub, session_id: str, family: str) -> None:
    long = pb.EditTask(image=IMAGE, mask=MASK, instruction="slowly", steps=200)
    message = pb.GenerateRequest(session_id=session_id, model=EDITING[family], candidates=1, edit=long)
    stream = stub.Generate(message, timeout=180)
    accepted = next(stream).accepted
    for event in stream:
        if event.HasField("progress") and event.progress.step >= 2:
            break
    assert stub.Cancel(pb.CancelRequest(job_id=accepted.job_id)).was_running
    rest = list(stream)
    assert rest[-1].done.status == pb.JOB_CANCELLED
    assert not any(e.HasField("candidate") for e in rest)


def test_edit_on_a_family_that_cannot_is_refused_naming_those_that_can(
    stub: pb_grpc.CocreateStub, session_id: str
) -> None:
    error = refusal(stub, edit(session_id, TINY_IMAGE))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    message = error.details() or ""
    assert "Stable Diffusion 1.x/2.x models cannot edit" in message
    assert "Flux.1 Kontext" in message and "Flux.2 Klein" in message and "cocreate models pull" in message
    assert "Qwen-Image-Edit" in message and "qwen-image-edit" in message


@pytest.mark.parametrize(
    ("task", "field"),
    [
        (pb.EditTask(image=IMAGE, instruction=" "), "edit.instruction"),
        (pb.EditTask(instruction="night"), "edit.image"),
        (pb.EditTask(image=IMAGE, mask=disc(32, 32), instruction="night"), "edit.mask"),
    ],
)
@pytest.mark.parametrize("family", list(EDITING))
def test_bad_edits_are_invalid(
    stub: pb_grpc.CocreateStub, session_id: str, task: pb.EditTask, field: str, family: str
) -> None:
    message = pb.GenerateRequest(session_id=session_id, model=EDITING[family], candidates=1, edit=task)
    error = refusal(stub, message)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in (error.details() or "")


# ---------------------------------------------------------------- references


@pytest.mark.parametrize("family", list(IP_ADAPTER_MODELS))
def test_an_ip_adapter_reference_changes_the_picture_with_its_strength(
    stub: pb_grpc.CocreateStub, session_id: str, family: str
) -> None:
    model = IP_ADAPTER_MODELS[family]
    _, plain = run(stub, inpaint(session_id, model, seed=11))
    weak_turn, weak = run(stub, inpaint(session_id, model, pb.Reference(image=checkered(), strength=0.2), seed=11))
    _, strong = run(stub, inpaint(session_id, model, pb.Reference(image=checkered(), strength=1.0), seed=11))
    _, plain_again = run(stub, inpaint(session_id, model, seed=11))
    assert len({plain[0].image.rgba, weak[0].image.rgba, strong[0].image.rgba}) == 3
    assert plain_again[0].image.rgba == plain[0].image.rgba, "without references the adapter is gone again"
    kept_pixels_are_identical(strong[0])
    recorded = turn_params(stub, session_id, weak_turn)["references"]
    assert recorded[0]["kind"] == "style" and recorded[0]["image"]["width"] == 48
    assert recorded[0]["adapter"]["name"] == f"tiny-ip-adapter-{family}"
    _, weak_again = run(stub, inpaint(session_id, model, pb.Reference(image=checkered(), strength=0.2), seed=11))
    assert weak_again[0].image.rgba == weak[0].image.rgba


def test_sdxl_style_and_composition_feed_different_layers(stub: pb_grpc.CocreateStub, session_id: str) -> None:
    model = IP_ADAPTER_MODELS["sdxl"]
    style = pb.Reference(image=checkered(), kind=pb.REFERENCE_STYLE, strength=1.0)
    composition = pb.Reference(image=checkered(), kind=pb.REFERENCE_COMPOSITION, strength=1.0)
    _, styled = run(stub, inpaint(session_id, model, style, seed=13))
    _, composed = run(stub, inpaint(session_id, model, composition, seed=13))
    _, both = run(stub, inpaint(session_id, model, style, composition, seed=13))
    assert len({styled[0].image.rgba, composed[0].image.rgba, both[0].image.rgba}) == 3


@pytest.mark.parametrize("family", REFERENCING)
def test_the_editing_families_take_a_reference_picture(
    stub: pb_grpc.CocreateStub, session_id: str, family: str
) -> None:
    model = EDITING[family]
    _, plain = run(stub, inpaint(session_id, model, seed=17))
    _, referenced = run(stub, inpaint(session_id, model, pb.Reference(image=checkered()), seed=17))
    assert referenced[0].image.rgba != plain[0].image.rgba
    kept_pixels_are_identical(referenced[0])


@pytest.mark.parametrize(
    ("model", "references", "says"),
    [
        ("tiny-sd3", [pb.Reference(image=checkered())], "Stable Diffusion 3.5 models take no reference images"),
        (TINY_IMAGE, [pb.Reference(image=checkered(), kind=pb.REFERENCE_FACE)], "insightface"),
        (EDITING["flux2-klein"], [pb.Reference(image=checkered())] * 2, "1 reference picture"),
        (EDITING["qwen-image-edit"], [pb.Reference(image=checkered())] * 2, "1 reference picture"),
        (TINY_IMAGE, [pb.Reference(image=checkered(), model="tiny-ip-adapter-sdxl")], "made for Stable Diffusion XL"),
    ],
)
def test_references_a_model_cannot_serve_are_refused(
    stub: pb_grpc.CocreateStub, session_id: str, model: str, references: list, says: str
) -> None:
    error = refusal(stub, inpaint(session_id, model, *references))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert says in (error.details() or "")


@pytest.mark.parametrize(
    ("reference", "field"),
    [
        (pb.Reference(), "references[0].image"),
        (pb.Reference(image=checkered(), strength=1.5), "references[0].strength"),
        (pb.Reference(image=checkered(), kind=9), "references[0].kind"),
        (pb.Reference(image=checkered(), model="../x"), "references[0].model"),
        (pb.Reference(image=pb.Image(width=2, height=2, rgba=b"x")), "references[0].image.rgba"),
    ],
)
def test_bad_references_are_invalid(
    stub: pb_grpc.CocreateStub, session_id: str, reference: pb.Reference, field: str
) -> None:
    error = refusal(stub, inpaint(session_id, TINY_IMAGE, reference))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in (error.details() or "")


def test_references_on_a_text_task_are_invalid(stub: pb_grpc.CocreateStub, session_id: str) -> None:
    message = pb.GenerateRequest(
        session_id=session_id,
        candidates=1,
        continue_text=pb.ContinueTextTask(before="Once"),
        references=[pb.Reference()],
    )
    error = refusal(stub, message)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "references" in (error.details() or "")


@pytest.mark.parametrize("family", REFERENCING)
def test_an_edit_takes_a_reference_picture_too(stub: pb_grpc.CocreateStub, session_id: str, family: str) -> None:
    model = EDITING[family]
    _, plain = run(stub, edit(session_id, model, seed=19))
    referenced_turn, referenced = run(
        stub, edit(session_id, model, seed=19, references=[pb.Reference(image=checkered())])
    )
    assert referenced[0].image.rgba != plain[0].image.rgba
    kept_pixels_are_identical(referenced[0])
    assert turn_params(stub, session_id, referenced_turn)["references"][0]["adapter"] is None
