"""The co-creation loop through a real daemon: feedback steers, turns replay, candidates interpolate,
versions fork and restore, and unknown references get NOT_FOUND."""

from __future__ import annotations

import json

import grpc
import pytest

from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc

from .images import disc, gradient

INPAINT = pb.InpaintTask(image=gradient(), mask=disc(), prompt="a red apple", steps=4)
UNKNOWN = "0" * 32


def generate(stub: pb_grpc.CocreateStub, session_id: str, **fields: object) -> tuple[str, list[pb.Candidate]]:
    request = pb.GenerateRequest(session_id=session_id, **fields)
    if not request.WhichOneof("task"):
        request.inpaint.CopyFrom(INPAINT)
    events = list(stub.Generate(request, timeout=120))
    assert events[-1].done.status == pb.JOB_COMPLETED
    return events[0].accepted.turn_id, [e.candidate for e in events if e.HasField("candidate")]


def decide(stub: pb_grpc.CocreateStub, liked: pb.Candidate, rejected: list[pb.Candidate]) -> None:
    stub.Feedback(pb.FeedbackRequest(candidate_id=liked.candidate_id, decision=pb.ACCEPTED))
    for candidate in rejected:
        stub.Feedback(pb.FeedbackRequest(candidate_id=candidate.candidate_id, decision=pb.REJECTED))


def turn_params(stub: pb_grpc.CocreateStub, session_id: str, turn_id: str) -> dict:
    detail = stub.GetSession(pb.GetSessionRequest(session_id=session_id))
    return json.loads(next(t for t in detail.turns if t.id == turn_id).params_json)


@pytest.mark.both_stores
def test_feedback_steers_the_next_turn_and_is_recorded(stub: pb_grpc.CocreateStub, session_id: str) -> None:
    first, candidates = generate(stub, session_id, candidates=3, seed=1)
    decide(stub, candidates[0], candidates[1:])
    second, steered = generate(stub, session_id, parent_turn_id=first, candidates=3, seed=50, exploration=0.2)
    params = turn_params(stub, session_id, second)
    used = {
        "exploration": 0.20000000298023224,  # the proto's float
        "liked": [candidates[0].candidate_id],
        "disliked": [c.candidate_id for c in candidates[1:]],
    }
    assert params["feedback"] == used
    assert len(params["steering"]["noise"]) == 3
    _, ignored = generate(stub, session_id, parent_turn_id=first, candidates=3, seed=50, exploration=1.0)
    _, fresh = generate(stub, session_id, candidates=3, seed=50, exploration=1.0)
    assert [c.image.rgba for c in ignored] == [c.image.rgba for c in fresh], "exploration 1 ignores the history"
    assert [c.image.rgba for c in steered] != [c.image.rgba for c in fresh]


def test_replaying_a_session_reproduces_its_candidates(stub: pb_grpc.CocreateStub, session_id: str) -> None:
    """Three steered turns, then each replayed from its record: the same candidates, byte for byte."""
    turns, parent = [], ""
    for seed in (3, 30, 300):
        turn_id, candidates = generate(stub, session_id, parent_turn_id=parent, candidates=3, seed=seed)
        decide(stub, candidates[1], [candidates[0], candidates[2]])
        turns.append((turn_id, [c.image.rgba for c in candidates]))
        parent = turn_id
    for turn_id, pixels in turns:
        replay_id, replayed = generate(stub, session_id, candidates=3, replay_turn_id=turn_id)
        assert [c.image.rgba for c in replayed] == pixels
        assert turn_params(stub, session_id, replay_id)["replay_of"] == turn_id


def test_text_feedback_is_recorded_and_replays(stub: pb_grpc.CocreateStub, session_id: str) -> None:
    task = pb.ContinueTextTask(before="Once upon a time", max_new_tokens=12)
    first, candidates = generate(stub, session_id, continue_text=task, candidates=3, seed=4)
    stub.Feedback(
        pb.FeedbackRequest(candidate_id=candidates[0].candidate_id, decision=pb.EDITED, final_text="the sea at dawn")
    )
    stub.Feedback(pb.FeedbackRequest(candidate_id=candidates[1].candidate_id, decision=pb.REJECTED))
    second, steered = generate(stub, session_id, continue_text=task, parent_turn_id=first, candidates=3, seed=9)
    record = turn_params(stub, session_id, second)["steering"]
    assert record["examples"] == ["the sea at dawn"] and record["avoid"] == [candidates[1].text]
    _, again = generate(stub, session_id, continue_text=task, candidates=3, replay_turn_id=second)
    assert [c.text for c in again] == [c.text for c in steered]


def test_interpolation_ends_reproduce_the_sources(stub: pb_grpc.CocreateStub, session_id: str) -> None:
    _, sources = generate(stub, session_id, candidates=2, seed=21)
    ids = [c.candidate_id for c in sources]
    turn_id, path = generate(stub, session_id, candidates=5, seed=500, interpolate=ids)
    assert path[0].image.rgba == sources[0].image.rgba and path[-1].image.rgba == sources[1].image.rgba
    assert len({c.image.rgba for c in path}) == 5
    assert turn_params(stub, session_id, turn_id)["interpolate"] == ids


def test_more_like_steers_without_feedback(stub: pb_grpc.CocreateStub, session_id: str) -> None:
    _, sources = generate(stub, session_id, candidates=2, seed=40)
    turn_id, _ = generate(
        stub,
        session_id,
        candidates=2,
        seed=41,
        more_like=[sources[0].candidate_id],
        less_like=[sources[1].candidate_id],
    )
    feedback = turn_params(stub, session_id, turn_id)["feedback"]
    assert (feedback["liked"], feedback["disliked"]) == ([sources[0].candidate_id], [sources[1].candidate_id])


@pytest.mark.both_stores
def test_fork_and_restore_through_grpc(stub: pb_grpc.CocreateStub, session_id: str) -> None:
    root, first = generate(stub, session_id, candidates=2, seed=60)
    middle, _ = generate(stub, session_id, parent_turn_id=root, candidates=2, seed=61)
    generate(stub, session_id, parent_turn_id=middle, candidates=2, seed=62)

    fork = stub.ForkSession(pb.ForkSessionRequest(session_id=session_id, turn_id=middle))
    assert fork.forked_from_turn_id == middle and fork.turn_count == 2
    copied = stub.GetSession(pb.GetSessionRequest(session_id=fork.id)).turns
    assert [t.parent_id for t in copied] == ["", copied[0].id]

    # Back to the first version: it comes back as it was, is recorded as chosen, and a new branch grows there.
    restored = stub.RestoreCandidate(pb.RestoreCandidateRequest(candidate_id=first[0].candidate_id))
    assert restored.candidate.image.rgba == first[0].image.rgba
    assert (restored.session_id, restored.turn_id) == (session_id, root)
    assert [f.decision for f in restored.candidate.info.feedback] == [pb.ACCEPTED]
    branch, _ = generate(stub, session_id, parent_turn_id=restored.turn_id, candidates=2, seed=63)
    tree = stub.GetSession(pb.GetSessionRequest(session_id=session_id)).turns
    children = [t.id for t in tree if t.parent_id == root]
    assert children == [middle, branch]
    assert turn_params(stub, session_id, branch)["feedback"]["liked"] == [first[0].candidate_id]


@pytest.mark.parametrize(
    "fields",
    [
        {"lora": "no-such-lora"},
        {"replay_turn_id": UNKNOWN},
        {"parent_turn_id": UNKNOWN},
        {"interpolate": [UNKNOWN, UNKNOWN]},
        {"more_like": [UNKNOWN]},
    ],
    ids=["lora", "replay turn", "parent turn", "interpolate", "more_like"],
)
def test_unknown_references_are_not_found(stub: pb_grpc.CocreateStub, session_id: str, fields: dict) -> None:
    request = pb.GenerateRequest(session_id=session_id, candidates=2, inpaint=INPAINT, **fields)
    with pytest.raises(grpc.RpcError) as error:
        list(stub.Generate(request, timeout=60))
    assert error.value.code() == grpc.StatusCode.NOT_FOUND, error.value.details()


def test_restore_of_an_unknown_candidate_is_not_found(stub: pb_grpc.CocreateStub) -> None:
    with pytest.raises(grpc.RpcError) as error:
        stub.RestoreCandidate(pb.RestoreCandidateRequest(candidate_id=UNKNOWN))
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
