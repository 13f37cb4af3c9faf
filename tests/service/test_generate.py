"""Every task end to end through a real daemon: the stream's order, candidates, the stored turn."""

from __future__ import annotations

import pytest
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc
from tests.support.daemon import Daemon

from .conftest import channel_for
from .images import disc, gradient

IMAGE = gradient()
MASK = disc()

TASKS = {
    "inpaint": pb.InpaintTask(image=IMAGE, mask=MASK, prompt="a red apple", steps=4),
    "expand": pb.ExpandTask(image=IMAGE, left=16, right=16, top=0, bottom=8, prompt="a field", steps=4),
    "texture": pb.TextureTask(prompt="bricks", width=64, height=64, seamless=pb.SEAMLESS_BOTH, steps=4),
    "variants": pb.VariantsTask(image=IMAGE, style_prompt="watercolour", strength=0.5, steps=4),
    "continue_text": pb.ContinueTextTask(before="Once upon a time", max_new_tokens=12),
    "rewrite_text": pb.RewriteTextTask(
        selection="The cat sat on the mat.", instruction="more formal", max_new_tokens=12
    ),
}
EXPECTED_SIZE = {"inpaint": (64, 64), "expand": (96, 72), "texture": (64, 64), "variants": (64, 64)}


def generate(stub: pb_grpc.CocreateStub, session_id: str, task: str, **fields: object) -> list[pb.GenerateEvent]:
    request = pb.GenerateRequest(session_id=session_id, **fields)
    getattr(request, task).CopyFrom(TASKS[task])
    return list(stub.Generate(request, timeout=120))


@pytest.mark.both_stores
@pytest.mark.parametrize("task", sorted(TASKS))
def test_task_end_to_end(stub: pb_grpc.CocreateStub, session_id: str, task: str) -> None:
    events = generate(stub, session_id, task, candidates=3, seed=7, previews=True)
    kinds = [e.WhichOneof("event") for e in events]
    assert kinds[0] == "accepted" and kinds[-1] == "done"
    accepted, done = events[0].accepted, events[-1].done
    assert list(accepted.seeds) == [7, 8, 9]
    assert done.status == pb.JOB_COMPLETED and done.turn_id == accepted.turn_id
    candidates = [e.candidate for e in events if e.HasField("candidate")]
    assert [c.index for c in candidates] == [0, 1, 2]
    assert [c.seed for c in candidates] == [7, 8, 9]
    first_candidate = kinds.index("candidate")
    assert "progress" in kinds[:first_candidate], "progress must come before the candidates"
    if task in EXPECTED_SIZE:
        previews = [e.progress for e in events if e.HasField("progress")]
        assert all(len(p.previews) == 3 for p in previews), "one preview per candidate at every step"
        for c in candidates:
            assert (c.image.width, c.image.height) == EXPECTED_SIZE[task]
            assert len(c.image.rgba) == c.image.width * c.image.height * 4
    else:
        deltas = [e.text_delta for e in events if e.HasField("text_delta")]
        assert deltas, "text streams token by token"
        for c in candidates:
            streamed = "".join(d.text for d in deltas if d.index == c.index)
            assert streamed == c.text

    detail = stub.GetSession(pb.GetSessionRequest(session_id=session_id, thumbnail_size=32))
    turn = next(t for t in detail.turns if t.id == accepted.turn_id)
    assert turn.task == task and turn.status == "completed" and turn.model == accepted.model
    assert len(turn.model_sha256) == 64
    assert [c.id for c in turn.candidates] == [c.candidate_id for c in candidates]
    if task in EXPECTED_SIZE:
        assert all(max(c.thumbnail.width, c.thumbnail.height) <= 32 for c in turn.candidates)


def test_same_seed_same_candidates(stub: pb_grpc.CocreateStub, session_id: str) -> None:
    def pixels(seed: int) -> list[bytes]:
        events = generate(stub, session_id, "inpaint", candidates=2, seed=seed)
        return [e.candidate.image.rgba for e in events if e.HasField("candidate")]

    assert pixels(11) == pixels(11)
    assert pixels(11) != pixels(12)


def test_unmasked_pixels_are_untouched(stub: pb_grpc.CocreateStub, session_id: str) -> None:
    events = generate(stub, session_id, "inpaint", candidates=1, seed=3)
    out = next(e.candidate.image for e in events if e.HasField("candidate"))
    for i, keep in enumerate(MASK.alpha):
        if keep == 0:
            assert out.rgba[i * 4 : i * 4 + 4] == IMAGE.rgba[i * 4 : i * 4 + 4]


@pytest.mark.both_stores
def test_branching_feedback_fork_export(stub: pb_grpc.CocreateStub, session_id: str) -> None:
    first = generate(stub, session_id, "inpaint", candidates=2, seed=1)
    root_turn = first[0].accepted.turn_id
    chosen = next(e.candidate for e in first if e.HasField("candidate"))
    stub.Feedback(pb.FeedbackRequest(candidate_id=chosen.candidate_id, decision=pb.ACCEPTED))
    child = generate(stub, session_id, "variants", candidates=1, parent_turn_id=root_turn)
    child_turn = child[0].accepted.turn_id
    text = generate(stub, session_id, "continue_text", candidates=1)
    edited = next(e.candidate for e in text if e.HasField("candidate"))
    stub.Feedback(
        pb.FeedbackRequest(candidate_id=edited.candidate_id, decision=pb.EDITED, final_text=edited.text + " (edited)")
    )

    detail = stub.GetSession(pb.GetSessionRequest(session_id=session_id))
    turns = {t.id: t for t in detail.turns}
    assert turns[child_turn].parent_id == root_turn
    decisions = [f.decision for c in turns[root_turn].candidates for f in c.feedback]
    assert decisions == [pb.ACCEPTED]

    fork = stub.ForkSession(pb.ForkSessionRequest(session_id=session_id, turn_id=child_turn))
    forked = stub.GetSession(pb.GetSessionRequest(session_id=fork.id))
    assert [t.task for t in forked.turns] == ["inpaint", "variants"]
    assert fork.forked_from_turn_id == child_turn

    content = stub.GetCandidate(pb.GetCandidateRequest(candidate_id=chosen.candidate_id))
    assert content.image.rgba == chosen.image.rgba

    archive = b"".join(chunk.data for chunk in stub.ExportSession(pb.ExportSessionRequest(session_id=session_id)))
    assert archive[:2] == b"PK"
    sessions = stub.ListSessions(pb.ListSessionsRequest(host="test")).sessions
    assert session_id in [s.id for s in sessions]


def test_models_and_status(stub: pb_grpc.CocreateStub) -> None:
    models = {m.name: m for m in stub.ListModels(pb.ListModelsRequest()).models}
    assert models["tiny-image"].kind == "image" and models["tiny-image"].is_default
    assert models["tiny-text"].kind == "text" and models["tiny-text"].is_default
    status = stub.ModelStatus(pb.ModelStatusRequest())
    assert status.device and status.version


def test_health_and_reflection(daemon: Daemon) -> None:
    with channel_for(daemon) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "cocreate.v1.Cocreate"):
            reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        database = ProtoReflectionDescriptorDatabase(channel)
        assert "cocreate.v1.Cocreate" in database.get_services()
        pool = DescriptorPool(database)
        generate = pool.FindServiceByName("cocreate.v1.Cocreate").FindMethodByName("Generate")
        assert generate.server_streaming
