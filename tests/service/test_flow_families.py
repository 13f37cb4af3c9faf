"""The flow-matching transformer families (Flux.1, Flux.1 Fill, Flux.1 Kontext, Flux.2 Klein and [dev], Z-Image,
Qwen-Image, Qwen-Image-Edit, Chroma) through the real daemon, each on its tiny model: every image task, previews
before candidates, cancel within a step, pixels outside the mask bit-identical, same seed same candidates, steering,
replay, interpolation and a LoRA; what a family cannot do is refused with FAILED_PRECONDITION naming it."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import pytest
import torch
from peft import LoraConfig, get_peft_model_state_dict
from safetensors.torch import save_file

from core_server.engines.families import FAMILIES
from core_server.models import tiny_flow
from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc
from tests.support.daemon import Daemon

from .images import disc, gradient
from .test_cli import cocreate
from .test_cocreation import decide, turn_params

MODELS = {
    "flux": tiny_flow.TINY_FLUX,
    "flux-fill": tiny_flow.TINY_FLUX_FILL,
    "flux-kontext": "tiny-flux-kontext",
    "flux2-klein": tiny_flow.TINY_FLUX2_KLEIN,
    "flux2-dev": "tiny-flux2-dev",
    "z-image": tiny_flow.TINY_Z_IMAGE,
    "qwen-image": tiny_flow.TINY_QWEN_IMAGE,
    "qwen-image-edit": "tiny-qwen-image-edit",
    "chroma": tiny_flow.TINY_CHROMA,
}
IMAGE, MASK = gradient(), disc()
STEPS = 2
TASKS = {
    "inpaint": pb.InpaintTask(image=IMAGE, mask=MASK, prompt="a red apple", steps=STEPS),
    "expand": pb.ExpandTask(image=IMAGE, left=16, right=0, top=0, bottom=8, prompt="a field", steps=STEPS),
    "texture": pb.TextureTask(prompt="bricks", width=64, height=64, steps=STEPS),
    "variants": pb.VariantsTask(image=IMAGE, style_prompt="watercolour", strength=0.6, steps=STEPS),
}
EXPECTED_SIZE = {"inpaint": (64, 64), "expand": (80, 72), "texture": (64, 64), "variants": (64, 64)}

pytestmark = pytest.mark.parametrize("family", list(MODELS))


def request(session_id: str, family: str, task: str = "inpaint", **fields: object) -> pb.GenerateRequest:
    message = pb.GenerateRequest(session_id=session_id, model=MODELS[family], **fields)
    if not message.WhichOneof("task"):
        getattr(message, task).CopyFrom(TASKS[task])
    return message


def run(stub: pb_grpc.CocreateStub, message: pb.GenerateRequest) -> tuple[str, list[pb.Candidate]]:
    events = list(stub.Generate(message, timeout=180))
    assert events[-1].done.status == pb.JOB_COMPLETED, events[-1].done.message
    return events[0].accepted.turn_id, [e.candidate for e in events if e.HasField("candidate")]


def test_the_family_is_in_the_table(family: str) -> None:
    assert FAMILIES[family].build_tiny is not None


@pytest.mark.parametrize("task", list(TASKS))
def test_every_task_with_previews_first(stub: pb_grpc.CocreateStub, session_id: str, family: str, task: str) -> None:
    events = list(stub.Generate(request(session_id, family, task, candidates=2, seed=7, previews=True), timeout=180))
    kinds = [e.WhichOneof("event") for e in events]
    assert events[-1].done.status == pb.JOB_COMPLETED, events[-1].done.message
    first_candidate = kinds.index("candidate")
    previews = [e.progress for e in events[:first_candidate] if e.HasField("progress")]
    assert previews and all(len(p.previews) == 2 for p in previews), "a preview per candidate before the candidates"
    candidates = [e.candidate for e in events if e.HasField("candidate")]
    assert [c.seed for c in candidates] == [7, 8]
    assert all((c.image.width, c.image.height) == EXPECTED_SIZE[task] for c in candidates)


def test_seamless_texture_is_refused_naming_family_and_task(
    stub: pb_grpc.CocreateStub, session_id: str, family: str
) -> None:
    texture = pb.TextureTask(prompt="bricks", width=64, height=64, seamless=pb.SEAMLESS_BOTH, steps=STEPS)
    with pytest.raises(grpc.RpcError) as error:
        list(stub.Generate(request(session_id, family, candidates=1, texture=texture), timeout=60))
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert FAMILIES[family].title in error.value.details() and "seamless texture" in error.value.details()


def test_same_seed_same_candidates_and_unmasked_pixels_kept(
    stub: pb_grpc.CocreateStub, session_id: str, family: str
) -> None:
    _, first = run(stub, request(session_id, family, candidates=2, seed=11, exploration=1.0))
    _, again = run(stub, request(session_id, family, candidates=2, seed=11, exploration=1.0))
    _, other = run(stub, request(session_id, family, candidates=2, seed=12, exploration=1.0))
    assert [c.image.rgba for c in first] == [c.image.rgba for c in again]
    assert [c.image.rgba for c in first] != [c.image.rgba for c in other]
    painted = first[0].image.rgba
    for i, keep in enumerate(MASK.alpha):
        if keep == 0:
            assert painted[i * 4 : i * 4 + 4] == IMAGE.rgba[i * 4 : i * 4 + 4]


def test_cancel_within_a_step(stub: pb_grpc.CocreateStub, session_id: str, family: str) -> None:
    long = pb.InpaintTask(image=IMAGE, mask=MASK, prompt="slow", steps=200)
    stream = stub.Generate(request(session_id, family, candidates=1, inpaint=long), timeout=180)
    accepted = next(stream).accepted
    step_at_cancel = 0
    for event in stream:
        if event.HasField("progress") and event.progress.step >= 2:
            step_at_cancel = event.progress.step
            break
    assert stub.Cancel(pb.CancelRequest(job_id=accepted.job_id)).was_running
    rest = list(stream)
    last_step = max([e.progress.step for e in rest if e.HasField("progress")], default=step_at_cancel)
    assert rest[-1].done.status == pb.JOB_CANCELLED
    assert last_step - step_at_cancel <= 3, "steps already in flight, at most"
    assert not any(e.HasField("candidate") for e in rest)


def test_steering_replay_and_interpolation(stub: pb_grpc.CocreateStub, session_id: str, family: str) -> None:
    first, sources = run(stub, request(session_id, family, candidates=2, seed=21))
    decide(stub, sources[0], sources[1:])
    steered_turn, steered = run(
        stub, request(session_id, family, parent_turn_id=first, candidates=2, seed=50, exploration=0.2)
    )
    assert len(turn_params(stub, session_id, steered_turn)["steering"]["noise"]) == 2
    _, replayed = run(stub, request(session_id, family, candidates=2, replay_turn_id=steered_turn))
    assert [c.image.rgba for c in replayed] == [c.image.rgba for c in steered]
    ids = [c.candidate_id for c in sources]
    _, path = run(stub, request(session_id, family, candidates=3, seed=500, interpolate=ids))
    assert path[0].image.rgba == sources[0].image.rgba and path[-1].image.rgba == sources[1].image.rgba


def test_a_lora_changes_what_it_paints(
    daemon: Daemon, stub: pb_grpc.CocreateStub, session_id: str, family: str, tmp_path: Path
) -> None:
    assert daemon.home is not None
    name = f"lora-{family}"
    weights = tmp_path / f"{name}.safetensors"
    save_file(transformer_lora(daemon.home, MODELS[family]), weights)
    added = cocreate("models", "add", name, str(weights), home=daemon.home)
    assert added.returncode == 0, added.stdout + added.stderr
    _, plain = run(stub, request(session_id, family, candidates=1, seed=71, exploration=1.0))
    _, adapted = run(stub, request(session_id, family, candidates=1, seed=71, exploration=1.0, lora=name))
    assert adapted[0].image.rgba != plain[0].image.rgba, "the LoRA changes what the model paints"


def transformer_lora(home: Path, model: str) -> dict[str, torch.Tensor]:
    """A rank-4 LoRA on the attention projections of a tiny model's transformer, random (not zero) so it shows."""
    import diffusers

    folder = next((home / "models" / "tiny").glob(f"v*/{model}"))
    config = json.loads((folder / "transformer" / "config.json").read_text())
    transformer = getattr(diffusers, config["_class_name"]).from_pretrained(folder / "transformer")
    transformer.add_adapter(
        LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v"], init_lora_weights=False)
    )
    state = get_peft_model_state_dict(transformer)
    return {f"transformer.{key}": tensor.contiguous() for key, tensor in state.items()}
