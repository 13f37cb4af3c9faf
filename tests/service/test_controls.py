"""Controls through the real daemon on the tiny profile's random-weight ControlNets: every kind steers the
candidates, strength and the start/end window are honoured, the turn records them, and what cannot be
served is refused with a status a person can act on."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import numpy as np
import pytest

from core_server.models import ModelCatalog, depth_estimators
from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc
from tests.support.daemon import Daemon

from .images import disc, gradient

SIDE = 64
IMAGE, MASK = gradient(SIDE, SIDE), disc(SIDE, SIDE)
KINDS = [kind for kind in pb.ControlKind.values() if kind != pb.CONTROL_UNSPECIFIED]


def stripes(width: int = SIDE, height: int = SIDE, *, transparent: bool = False) -> pb.Image:
    """Dark bands on light, as a scribble layer looks (transparent: the bands alone on a clear layer)."""
    rgba = np.full((height, width, 4), 255, np.uint8)
    band = (np.arange(width) // 8) % 2 == 0
    rgba[:, band, :3] = 0
    if transparent:
        rgba[..., 3] = np.where(band, 255, 0)[None, :]
    return pb.Image(width=width, height=height, rgba=rgba.tobytes())


def inpaint(session_id: str, *controls: pb.Control, model: str = "tiny-image", **fields: object) -> pb.GenerateRequest:
    task = pb.InpaintTask(image=IMAGE, mask=MASK, prompt="a house", steps=3)
    fields.setdefault("candidates", 1)
    return pb.GenerateRequest(session_id=session_id, model=model, seed=11, inpaint=task, controls=controls, **fields)


def control(kind: int = pb.CONTROL_SCRIBBLE, **fields: object) -> pb.Control:
    fields.setdefault("image", stripes())
    return pb.Control(kind=kind, **fields)  # type: ignore[arg-type]


def picture(stub: pb_grpc.CocreateStub, request: pb.GenerateRequest) -> np.ndarray:
    events = list(stub.Generate(request, timeout=300))
    assert events[-1].done.status == pb.JOB_COMPLETED
    image = next(e.candidate.image for e in events if e.HasField("candidate"))
    return np.frombuffer(image.rgba, np.uint8).reshape(image.height, image.width, 4).astype(np.int16)


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean())


@pytest.fixture(scope="module")
def plain(stub: pb_grpc.CocreateStub) -> np.ndarray:
    """The candidate with no control (its own session: the steering of a session's history stays out)."""
    session = stub.CreateSession(pb.CreateSessionRequest(host="test", document_id="plain")).id
    return picture(stub, inpaint(session, exploration=1.0))


def test_every_kind_changes_the_candidates(stub: pb_grpc.CocreateStub, session_id: str, plain: np.ndarray) -> None:
    for kind in KINDS:
        controlled = picture(stub, inpaint(session_id, control(kind)))
        assert distance(controlled, plain) > 0.5, f"{pb.ControlKind.Name(kind)} changes nothing"
    kept = np.frombuffer(MASK.alpha, np.uint8).reshape(SIDE, SIDE) == 0
    assert (controlled[kept] == np.frombuffer(IMAGE.rgba, np.uint8).reshape(SIDE, SIDE, 4)[kept]).all()


def test_maps_derived_from_a_picture_steer_too(stub: pb_grpc.CocreateStub, session_id: str, plain: np.ndarray) -> None:
    for kind in (pb.CONTROL_CANNY, pb.CONTROL_SCRIBBLE, pb.CONTROL_LINE_ART, pb.CONTROL_SOFT_EDGE):
        derived = picture(stub, inpaint(session_id, control(kind, image=stripes(), derive=True)))
        assert distance(derived, plain) > 0.5
    # A transparent scribble layer reads as the same strokes as dark bands on white.
    clear = picture(stub, inpaint(session_id, control(image=stripes(transparent=True))))
    assert distance(clear, picture(stub, inpaint(session_id, control()))) < 1.0


def test_strength_and_window_are_honoured(stub: pb_grpc.CocreateStub, session_id: str, plain: np.ndarray) -> None:
    full = picture(stub, inpaint(session_id, control()))
    faint = picture(stub, inpaint(session_id, control(strength=0.01)))
    assert distance(faint, plain) < distance(full, plain) / 2, "a faint control stays near no control"
    late = picture(stub, inpaint(session_id, control(start=0.6)))
    early = picture(stub, inpaint(session_id, control(end=0.4)))
    assert distance(late, full) > 0.1 and distance(early, full) > 0.1 and distance(late, early) > 0.1
    twice = picture(stub, inpaint(session_id, control(), control(pb.CONTROL_DEPTH, strength=0.5)))
    assert distance(twice, full) > 0.1, "a second control adds its own steer"
    assert (picture(stub, inpaint(session_id, control())) == full).all(), "the same seed makes the same candidate"


def test_the_turn_records_controls_and_a_replay_reproduces(stub: pb_grpc.CocreateStub, session_id: str) -> None:
    request = inpaint(session_id, control(pb.CONTROL_CANNY, strength=1.5, start=0.1, end=0.9))
    events = list(stub.Generate(request, timeout=300))
    turn_id = events[0].accepted.turn_id
    detail = stub.GetSession(pb.GetSessionRequest(session_id=session_id))
    params = json.loads(next(t for t in detail.turns if t.id == turn_id).params_json)
    (recorded,) = params["controls"]
    assert recorded["kind"] == "canny" and recorded["model"]["name"] == "tiny-control-sd15"
    assert (recorded["strength"], recorded["start"], recorded["end"]) == pytest.approx((1.5, 0.1, 0.9))
    assert recorded["image"]["width"] == SIDE and len(recorded["image"]["sha256"]) == 64
    request.replay_turn_id = turn_id
    replayed = list(stub.Generate(request, timeout=300))
    first = next(e.candidate.image.rgba for e in events if e.HasField("candidate"))
    assert next(e.candidate.image.rgba for e in replayed if e.HasField("candidate")) == first


def test_every_image_task_and_sdxl_union(stub: pb_grpc.CocreateStub, session_id: str) -> None:
    grown = stripes(SIDE + 16, SIDE)
    for task, image in (
        ({"expand": pb.ExpandTask(image=IMAGE, right=16, prompt="a field", steps=2)}, grown),
        ({"texture": pb.TextureTask(width=SIDE, height=SIDE, prompt="bricks", steps=2)}, stripes()),
        ({"variants": pb.VariantsTask(image=IMAGE, strength=0.7, steps=3)}, stripes()),
    ):
        request = pb.GenerateRequest(session_id=session_id, candidates=2, seed=3, previews=True, **task)
        request.controls.append(control(pb.CONTROL_DEPTH, image=image))
        events = list(stub.Generate(request, timeout=300))
        assert events[-1].done.status == pb.JOB_COMPLETED
        assert any(len(e.progress.previews) == 2 for e in events if e.HasField("progress"))
    union = picture(stub, inpaint(session_id, control(), control(pb.CONTROL_CANNY), model="tiny-sdxl"))
    assert distance(union, picture(stub, inpaint(session_id, model="tiny-sdxl"))) > 0.5


def test_flux_takes_a_control(stub: pb_grpc.CocreateStub, session_id: str) -> None:
    request = inpaint(session_id, control(pb.CONTROL_DEPTH), model="tiny-flux", candidates=2, previews=True)
    events = list(stub.Generate(request, timeout=300))
    assert events[-1].done.status == pb.JOB_COMPLETED
    made = [e.candidate.image.rgba for e in events if e.HasField("candidate")]
    assert len(made) == 2 and made[0] != made[1]
    plain = [
        e.candidate.image.rgba
        for e in stub.Generate(inpaint(session_id, model="tiny-flux", candidates=2))
        if e.HasField("candidate")
    ]
    assert plain[0] != made[0]
    # Several at once: tests/service/test_flux_controls.py.


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"kind": pb.CONTROL_UNSPECIFIED}, "controls[0].kind"),
        ({"image": stripes(32, 32)}, "controls[0].image"),
        ({"strength": 2.5}, "controls[0].strength"),
        ({"start": 0.5, "end": 0.5}, "controls[0].end"),
        ({"start": 1.0}, "controls[0].start"),
        ({"model": "../etc"}, "controls[0].model"),
    ],
)
def test_bad_fields_are_invalid_arguments(
    stub: pb_grpc.CocreateStub, session_id: str, fields: dict, field: str
) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        list(stub.Generate(inpaint(session_id, control(**fields)), timeout=60))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.details().startswith(field)


def test_controls_on_a_text_task_are_invalid(stub: pb_grpc.CocreateStub, session_id: str) -> None:
    request = pb.GenerateRequest(
        session_id=session_id, candidates=1, continue_text=pb.ContinueTextTask(before="Once"), controls=[control()]
    )
    with pytest.raises(grpc.RpcError) as refused:
        list(stub.Generate(request, timeout=60))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "image tasks" in refused.value.details()


@pytest.mark.parametrize(
    ("request_fields", "control_fields", "says"),
    [
        ({}, {"kind": pb.CONTROL_DEPTH, "derive": True}, "none is installed; run `cocreate models pull depth-anything"),
        ({}, {"kind": pb.CONTROL_POSE, "derive": True}, "deriving a pose map from a picture needs a pose estimator"),
        ({"model": "tiny-chroma"}, {}, "Chroma models take no controls"),
        ({"model": "tiny-qwen-image-edit"}, {}, "Qwen-Image-Edit models take no controls"),
        ({"model": "tiny-flux"}, {"kind": pb.CONTROL_NORMAL}, "no normal control for flux is installed; cocreate"),
        ({}, {"model": "tiny-control-sdxl"}, "tiny-control-sdxl is a sdxl control model"),
        ({}, {"model": "no-such-control"}, "No control model called 'no-such-control'"),
    ],
)
def test_what_cannot_be_served_is_a_failed_precondition(
    stub: pb_grpc.CocreateStub, session_id: str, request_fields: dict, control_fields: dict, says: str
) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        list(stub.Generate(inpaint(session_id, control(**control_fields), **request_fields), timeout=60))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert says in refused.value.details()


def test_a_depth_estimator_derives_depth_and_normal_maps(
    daemon: Daemon, stub: pb_grpc.CocreateStub, session_id: str, plain: np.ndarray, tmp_path: Path
) -> None:
    """The tiny random-weight Depth Anything, added as a pulled one would be, turns the picture into the map."""
    depth_estimators.build_tiny(tmp_path / "estimator")
    catalog = ModelCatalog(daemon.home / "models")
    catalog.add("tiny-depth-anything", tmp_path / "estimator")
    try:
        for kind in (pb.CONTROL_DEPTH, pb.CONTROL_NORMAL):
            derived = picture(stub, inpaint(session_id, control(kind, image=IMAGE, derive=True)))
            assert distance(derived, plain) > 0.5, f"a derived {pb.ControlKind.Name(kind)} map changes nothing"
            # The estimate, not the picture read as a map, steered it (the same map would give the same pixels).
            assert distance(derived, picture(stub, inpaint(session_id, control(kind, image=IMAGE)))) > 0
    finally:
        catalog.remove("tiny-depth-anything")


def test_an_edit_with_controls_is_refused(stub: pb_grpc.CocreateStub, session_id: str) -> None:
    request = pb.GenerateRequest(
        session_id=session_id, candidates=1, edit=pb.EditTask(image=IMAGE, instruction="night"), controls=[control()]
    )
    with pytest.raises(grpc.RpcError) as refused:
        list(stub.Generate(request, timeout=60))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "an edit takes no controls" in refused.value.details()


def test_cancel_within_a_step_with_a_control(stub: pb_grpc.CocreateStub, session_id: str) -> None:
    request = inpaint(session_id, control(pb.CONTROL_DEPTH))
    request.inpaint.steps = 40
    stream = stub.Generate(request, timeout=300)
    accepted = next(stream).accepted
    step_at_cancel = next(e.progress.step for e in stream if e.HasField("progress") and e.progress.step >= 2)
    assert stub.Cancel(pb.CancelRequest(job_id=accepted.job_id)).was_running
    rest = list(stream)
    last = max([e.progress.step for e in rest if e.HasField("progress")], default=step_at_cancel)
    assert rest[-1].done.status == pb.JOB_CANCELLED and last - step_at_cancel <= 3
    assert not any(e.HasField("candidate") for e in rest)


def test_control_models_are_listed(stub: pb_grpc.CocreateStub) -> None:
    models = {m.name: m for m in stub.ListModels(pb.ListModelsRequest()).models}
    assert (models["tiny-control-sd15"].kind, models["tiny-control-sd15"].family) == ("control", "sd15")
    assert (models["tiny-control-sdxl"].kind, models["tiny-control-sdxl"].family) == ("control", "sdxl")
