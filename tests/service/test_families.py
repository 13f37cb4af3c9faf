"""Every image family on its tiny model through the real daemon: each task, previews before candidates,
kept pixels bit-identical, same seed same candidates, replay and interpolation, the painted size."""

from __future__ import annotations

import json

import grpc
import pytest

from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc

from .images import disc, gradient

FAMILY_MODELS = {"sd15": "tiny-image", "sdxl": "tiny-sdxl", "sd3": "tiny-sd3"}
IMAGE, MASK = gradient(), disc()
TASKS = {
    "inpaint": {"inpaint": pb.InpaintTask(image=IMAGE, mask=MASK, prompt="a red apple", steps=3)},
    "expand": {"expand": pb.ExpandTask(image=IMAGE, left=16, bottom=8, prompt="a field", steps=3)},
    "texture": {"texture": pb.TextureTask(prompt="bricks", width=64, height=64, steps=3)},
    "seamless texture": {
        "texture": pb.TextureTask(prompt="bricks", width=64, height=64, seamless=pb.SEAMLESS_BOTH, steps=3)
    },
    "variants": {"variants": pb.VariantsTask(image=IMAGE, style_prompt="watercolour", strength=0.7, steps=3)},
}
REFUSED = {("sd3", "seamless texture")}


def generate(stub: pb_grpc.CocreateStub, session_id: str, **fields: object) -> list[pb.GenerateEvent]:
    return list(stub.Generate(pb.GenerateRequest(session_id=session_id, **fields), timeout=120))  # type: ignore[arg-type]


def candidates(events: list[pb.GenerateEvent]) -> list[pb.Candidate]:
    return [e.candidate for e in events if e.HasField("candidate")]


def turn_params(stub: pb_grpc.CocreateStub, session_id: str, turn_id: str) -> dict:
    detail = stub.GetSession(pb.GetSessionRequest(session_id=session_id))
    return json.loads(next(t for t in detail.turns if t.id == turn_id).params_json)


def test_models_list_names_each_family(stub: pb_grpc.CocreateStub) -> None:
    families = {m.name: m.family for m in stub.ListModels(pb.ListModelsRequest()).models}
    assert {families[model] for model in FAMILY_MODELS.values()} == set(FAMILY_MODELS)
    assert families["tiny-text"] == ""


@pytest.mark.parametrize("task", sorted(TASKS))
@pytest.mark.parametrize("family", sorted(FAMILY_MODELS))
def test_every_task_on_every_family(stub: pb_grpc.CocreateStub, session_id: str, family: str, task: str) -> None:
    request = {"model": FAMILY_MODELS[family], "candidates": 2, "seed": 5, "previews": True, **TASKS[task]}
    if (family, task) in REFUSED:
        with pytest.raises(grpc.RpcError) as refused:
            generate(stub, session_id, **request)
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "Stable Diffusion 3.5 models cannot do seamless texture" in refused.value.details()
        return
    events = generate(stub, session_id, **request)
    kinds = [e.WhichOneof("event") for e in events]
    assert kinds[-1] == "done" and events[-1].done.status == pb.JOB_COMPLETED
    assert "progress" in kinds[: kinds.index("candidate")], "previews come before the candidates"
    progress = [e.progress for e in events if e.HasField("progress")]
    assert all(len(p.previews) == 2 and p.painted_width > 0 for p in progress)
    made = candidates(events)
    assert len(made) == 2 and made[0].image.rgba != made[1].image.rgba
    if task == "inpaint":
        for candidate in made:  # every pixel the mask keeps comes back bit-identical
            kept = [i for i, alpha in enumerate(MASK.alpha) if alpha == 0]
            assert all(candidate.image.rgba[4 * i : 4 * i + 4] == IMAGE.rgba[4 * i : 4 * i + 4] for i in kept)
    again = candidates(generate(stub, session_id, **request))
    assert [c.image.rgba for c in again] == [c.image.rgba for c in made], "the same seed makes the same candidates"


@pytest.mark.parametrize("family", sorted(FAMILY_MODELS))
def test_replay_and_interpolation_on_every_family(stub: pb_grpc.CocreateStub, session_id: str, family: str) -> None:
    request = {"model": FAMILY_MODELS[family], **TASKS["inpaint"]}
    first = generate(stub, session_id, candidates=2, seed=40, **request)
    sources = candidates(first)
    replayed = candidates(generate(stub, session_id, candidates=2, replay_turn_id=first[0].accepted.turn_id, **request))
    assert [c.image.rgba for c in replayed] == [c.image.rgba for c in sources]
    path = candidates(
        generate(stub, session_id, candidates=4, seed=90, interpolate=[c.candidate_id for c in sources], **request)
    )
    assert path[0].image.rgba == sources[0].image.rgba and path[-1].image.rgba == sources[1].image.rgba
    assert len({c.image.rgba for c in path}) == 4


def test_the_painted_size_follows_the_request_and_is_recorded(stub: pb_grpc.CocreateStub, session_id: str) -> None:
    # A 48² region: on the CPU painted at its own size; asked for native, at the tiny model's 64².
    task = {"inpaint": pb.InpaintTask(image=gradient(48, 48), mask=disc(48, 48), steps=2)}
    for asked, size in ((pb.PAINT_SIZE_AUTO, [48, 48]), (pb.PAINT_SIZE_NATIVE, [64, 64])):
        events = generate(stub, session_id, candidates=1, paint_size=asked, **task)
        progress = [e.progress for e in events if e.HasField("progress")]
        assert {(p.painted_width, p.painted_height) for p in progress} == {tuple(size)}
        params = turn_params(stub, session_id, events[0].accepted.turn_id)
        assert params["painted"] == {"width": size[0], "height": size[1]}
        assert candidates(events)[0].image.width == 48  # the result keeps the picture's size either way
    capped = generate(stub, session_id, candidates=1, paint_size=pb.PAINT_SIZE_NATIVE, max_paint_side=32, **task)
    assert turn_params(stub, session_id, capped[0].accepted.turn_id)["painted"] == {"width": 32, "height": 32}
