"""Controls on SD 3.5, Qwen-Image and Z-Image through the real daemon, on the tiny profile's random-weight
ControlNets (models.tiny_family_control) steering each family's own inpaint pipeline (engines.control_steering):
every kind served changes the candidates, strength and the start/end window are honoured, kept pixels stay
bit-identical, several controls add up, every image task takes them, and what is not served is refused."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from core_server.models.control_models import QWEN_UNION_KINDS, Z_IMAGE_UNION_KINDS
from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc

from .test_controls import IMAGE, MASK, SIDE, control, distance, inpaint, picture, stripes

ALL_KINDS = [pb.ControlKind.Name(kind).removeprefix("CONTROL_").lower() for kind in pb.ControlKind.values()][1:]
# model → the kinds its tiny ControlNet serves
SERVED = {"tiny-sd3": ALL_KINDS, "tiny-qwen-image": QWEN_UNION_KINDS, "tiny-z-image": Z_IMAGE_UNION_KINDS}


def kind(name: str) -> int:
    return pb.ControlKind.Value(f"CONTROL_{name.upper()}")


@pytest.fixture(scope="module")
def plain(stub: pb_grpc.CocreateStub) -> dict[str, np.ndarray]:
    """Each model's candidate with no control (its own session: the steering of a session's history stays out)."""
    session = stub.CreateSession(pb.CreateSessionRequest(host="test", document_id="plain-families")).id
    return {model: picture(stub, inpaint(session, model=model, exploration=1.0)) for model in SERVED}


@pytest.mark.parametrize("model", list(SERVED))
def test_every_kind_served_changes_the_candidates_and_keeps_the_rest(
    stub: pb_grpc.CocreateStub, session_id: str, plain: dict[str, np.ndarray], model: str
) -> None:
    kept = np.frombuffer(MASK.alpha, np.uint8).reshape(SIDE, SIDE) == 0
    original = np.frombuffer(IMAGE.rgba, np.uint8).reshape(SIDE, SIDE, 4)
    for name in SERVED[model]:
        controlled = picture(stub, inpaint(session_id, control(kind(name)), model=model))
        assert distance(controlled, plain[model]) > 0.5, f"{name} changes nothing on {model}"
        assert (controlled[kept] == original[kept]).all(), f"{name} on {model} touched a kept pixel"


@pytest.mark.parametrize("model", list(SERVED))
def test_strength_window_and_several_controls(
    stub: pb_grpc.CocreateStub, session_id: str, plain: dict[str, np.ndarray], model: str
) -> None:
    canny = pb.CONTROL_CANNY
    full = picture(stub, inpaint(session_id, control(canny), model=model))
    faint = picture(stub, inpaint(session_id, control(canny, strength=0.01), model=model))
    assert distance(faint, plain[model]) < distance(full, plain[model]) / 2, "a faint control stays near none"
    late = picture(stub, inpaint(session_id, control(canny, start=0.6), model=model))
    early = picture(stub, inpaint(session_id, control(canny, end=0.4), model=model))
    assert distance(late, full) > 0.1 and distance(early, full) > 0.1 and distance(late, early) > 0.1
    twice = picture(stub, inpaint(session_id, control(canny), control(pb.CONTROL_DEPTH, strength=0.5), model=model))
    assert distance(twice, full) > 0.1, "a second control adds its own steer"
    assert (picture(stub, inpaint(session_id, control(canny), model=model)) == full).all(), "same seed, same candidate"


@pytest.mark.parametrize("model", list(SERVED))
def test_every_image_task_takes_a_control(stub: pb_grpc.CocreateStub, session_id: str, model: str) -> None:
    for task, image in (
        ({"expand": pb.ExpandTask(image=IMAGE, right=16, prompt="a field", steps=2)}, stripes(SIDE + 16, SIDE)),
        ({"texture": pb.TextureTask(width=SIDE, height=SIDE, prompt="bricks", steps=2)}, stripes()),
        ({"variants": pb.VariantsTask(image=IMAGE, strength=0.7, steps=3)}, stripes()),
    ):
        request = pb.GenerateRequest(session_id=session_id, model=model, candidates=2, seed=3, previews=True, **task)
        request.controls.append(control(pb.CONTROL_DEPTH, image=image))
        events = list(stub.Generate(request, timeout=300))
        assert events[-1].done.status == pb.JOB_COMPLETED
        made = [e.candidate.image.rgba for e in events if e.HasField("candidate")]
        assert len(made) == 2 and made[0] != made[1]
        plain = [e.candidate.image.rgba for e in stub.Generate(_without_controls(request)) if e.HasField("candidate")]
        assert plain[0] != made[0], f"the control changes nothing in {next(iter(task))} on {model}"


def _without_controls(request: pb.GenerateRequest) -> pb.GenerateRequest:
    plain = pb.GenerateRequest()
    plain.CopyFrom(request)
    del plain.controls[:]
    return plain


@pytest.mark.parametrize(
    ("model", "control_fields", "says"),
    [
        (
            "tiny-qwen-image",
            {"kind": pb.CONTROL_NORMAL},
            "no normal control for qwen-image is installed; cocreate knows",
        ),
        ("tiny-z-image", {"kind": pb.CONTROL_SEGMENTATION}, "no segmentation control for z-image is installed"),
        (
            "tiny-qwen-image",
            {"model": "tiny-control-sd3"},
            "tiny-control-sd3 is a sd3 control model; tiny-qwen-image is qwen-image. run `cocreate models pull "
            "qwen-image-union` (InstantX/Qwen-Image-ControlNet-Union; licence apache-2.0)",
        ),
        ("tiny-sd3", {"model": "tiny-control-z-image"}, "run `cocreate models pull sd35-canny`"),
        ("tiny-flux2-klein", {}, "Flux.2 Klein models take no controls"),
    ],
)
def test_what_a_family_cannot_serve_is_refused_naming_the_pull(
    stub: pb_grpc.CocreateStub, session_id: str, model: str, control_fields: dict, says: str
) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        request = inpaint(session_id, control(**{"kind": pb.CONTROL_CANNY, **control_fields}), model=model)
        list(stub.Generate(request, timeout=60))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert says in refused.value.details()


def test_listed_control_models_say_their_family_and_kinds(stub: pb_grpc.CocreateStub) -> None:
    """What a picker needs to tell which kinds the chosen image model's family has a ControlNet for."""
    models = {m.name: m for m in stub.ListModels(pb.ListModelsRequest()).models}
    served = {
        models[name].family: list(models[name].controls)
        for name in ("tiny-control-sd3", "tiny-control-qwen-image", "tiny-control-z-image")
    }
    assert served == {"sd3": ALL_KINDS, "qwen-image": list(QWEN_UNION_KINDS), "z-image": list(Z_IMAGE_UNION_KINDS)}
    assert "canny" in models["tiny-control-flux"].controls and "normal" not in models["tiny-control-flux"].controls
    assert not models["tiny-sd3"].controls, "image models list no kinds of their own"
