"""Bad input gets a clear status and a message naming the problem; the daemon keeps serving."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from core_server import config
from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc

from .conftest import channel_for
from .images import disc, gradient

IMAGE = gradient(16, 16)
MASK = disc(16, 16)
UNKNOWN = "0" * 32
INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND


def inpaint(**fields: object) -> pb.InpaintTask:
    task = pb.InpaintTask(image=IMAGE, mask=MASK, steps=2)
    for name, value in fields.items():
        if isinstance(value, pb.Image | pb.Mask):
            getattr(task, name).CopyFrom(value)
        else:
            setattr(task, name, value)
    return task


def gen(session: str, **fields: object) -> pb.GenerateRequest:
    fields.setdefault("candidates", 1)
    if not any(
        k in fields for k in ("inpaint", "expand", "texture", "variants", "continue_text", "rewrite_text", "no_task")
    ):
        fields["inpaint"] = inpaint()
    fields.pop("no_task", None)
    return pb.GenerateRequest(session_id=session, **fields)


# (name, request builder taking the session id, expected code, a word the message must contain)
GENERATE_CASES: list[tuple[str, Callable[[str], pb.GenerateRequest], grpc.StatusCode, str]] = [
    (
        "bytes≠w×h×4",
        lambda s: gen(s, inpaint=inpaint(image=pb.Image(width=16, height=16, rgba=b"\0" * 1023))),
        INVALID,
        "1024",
    ),
    ("zero width", lambda s: gen(s, inpaint=inpaint(image=pb.Image(width=0, height=16))), INVALID, "inpaint.image"),
    (
        "oversized side",
        lambda s: gen(s, inpaint=inpaint(image=pb.Image(width=8193, height=1, rgba=b"\0" * 8193 * 4))),
        INVALID,
        "8192",
    ),
    ("mask size", lambda s: gen(s, inpaint=inpaint(mask=disc(8, 8))), INVALID, "mask"),
    (
        "mask bytes",
        lambda s: gen(s, inpaint=inpaint(mask=pb.Mask(width=16, height=16, alpha=b"\0" * 10))),
        INVALID,
        "alpha",
    ),
    ("NaN strength", lambda s: gen(s, inpaint=inpaint(strength=float("nan"))), INVALID, "strength"),
    ("strength > 1", lambda s: gen(s, inpaint=inpaint(strength=2.0)), INVALID, "strength"),
    ("negative guidance", lambda s: gen(s, inpaint=inpaint(guidance=-1.0)), INVALID, "guidance"),
    ("infinite guidance", lambda s: gen(s, inpaint=inpaint(guidance=float("inf"))), INVALID, "guidance"),
    ("absurd steps", lambda s: gen(s, inpaint=inpaint(steps=100_000)), INVALID, "steps"),
    ("n = 0", lambda s: gen(s, candidates=0), INVALID, "candidates"),
    ("n too large", lambda s: gen(s, candidates=config.DEFAULT_LIMITS.max_candidates + 1), INVALID, "candidates"),
    ("seed overflow", lambda s: gen(s, candidates=2, seed=2**64 - 1), INVALID, "seed"),
    ("NaN exploration", lambda s: gen(s, exploration=float("nan")), INVALID, "exploration"),
    ("no task", lambda s: gen(s, no_task=True), INVALID, "task"),
    ("unknown session", lambda s: gen(UNKNOWN), NOT_FOUND, UNKNOWN),
    ("session id with path", lambda s: gen("../../etc/passwd"), INVALID, "session_id"),
    ("unknown parent", lambda s: gen(s, parent_turn_id=UNKNOWN), NOT_FOUND, UNKNOWN),
    ("parent with path", lambda s: gen(s, parent_turn_id="a/b"), INVALID, "parent_turn_id"),
    ("unknown model", lambda s: gen(s, model="no-such-model"), NOT_FOUND, "no-such-model"),
    ("model as path", lambda s: gen(s, model="../../models/x"), INVALID, "model"),
    ("text model for image", lambda s: gen(s, model="tiny-text"), grpc.StatusCode.FAILED_PRECONDITION, "tiny-text"),
    ("expand nothing", lambda s: gen(s, expand=pb.ExpandTask(image=IMAGE)), INVALID, "expand"),
    ("expand past limit", lambda s: gen(s, expand=pb.ExpandTask(image=IMAGE, left=8190)), INVALID, "8192"),
    ("texture mask alone", lambda s: gen(s, texture=pb.TextureTask(mask=MASK)), INVALID, "texture.mask"),
    ("unknown seamless", lambda s: gen(s, texture=pb.TextureTask(seamless=99)), INVALID, "seamless"),
    (
        "oversized text",
        lambda s: gen(s, continue_text=pb.ContinueTextTask(before="a" * (config.DEFAULT_LIMITS.max_text_chars + 1))),
        INVALID,
        "before",
    ),
    ("empty text", lambda s: gen(s, continue_text=pb.ContinueTextTask()), INVALID, "before"),
    (
        "inf temperature",
        lambda s: gen(s, continue_text=pb.ContinueTextTask(before="a", temperature=float("inf"))),
        INVALID,
        "temperature",
    ),
    ("top_p > 1", lambda s: gen(s, continue_text=pb.ContinueTextTask(before="a", top_p=1.5)), INVALID, "top_p"),
    (
        "absurd tokens",
        lambda s: gen(s, continue_text=pb.ContinueTextTask(before="a", max_new_tokens=10**6)),
        INVALID,
        "max_new_tokens",
    ),
    ("empty selection", lambda s: gen(s, rewrite_text=pb.RewriteTextTask(selection=" ")), INVALID, "selection"),
    (
        "huge prompt",
        lambda s: gen(s, inpaint=inpaint(prompt="x" * (config.DEFAULT_LIMITS.max_prompt_chars + 1))),
        INVALID,
        "prompt",
    ),
]


def assert_status(call: Callable[[], object], code: grpc.StatusCode, word: str) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        result = call()
        if hasattr(result, "__iter__") and not isinstance(result, bytes):
            list(result)  # type: ignore[call-overload]
    error = raised.value
    assert error.code() == code, f"{error.code()}: {error.details()}"
    assert word in error.details(), error.details()
    assert "Traceback" not in error.details()


@pytest.mark.parametrize("name, build, code, word", GENERATE_CASES, ids=[c[0] for c in GENERATE_CASES])
def test_generate_rejects(
    stub: pb_grpc.CocreateStub,
    session_id: str,
    name: str,
    build: Callable[[str], pb.GenerateRequest],
    code: grpc.StatusCode,
    word: str,
) -> None:
    assert_status(lambda: stub.Generate(build(session_id), timeout=30), code, word)


def test_other_rpcs_reject(stub: pb_grpc.CocreateStub, session_id: str) -> None:
    assert_status(lambda: stub.GetSession(pb.GetSessionRequest(session_id=UNKNOWN)), NOT_FOUND, UNKNOWN)
    assert_status(lambda: stub.GetSession(pb.GetSessionRequest(session_id="x" * 5000)), INVALID, "session_id")
    assert_status(
        lambda: stub.GetSession(pb.GetSessionRequest(session_id=session_id, thumbnail_size=5000)), INVALID, "thumbnail"
    )
    assert_status(
        lambda: stub.GetCandidate(pb.GetCandidateRequest(candidate_id="../../secret")), INVALID, "candidate_id"
    )
    assert_status(lambda: stub.GetCandidate(pb.GetCandidateRequest(candidate_id=UNKNOWN)), NOT_FOUND, UNKNOWN)
    assert_status(
        lambda: stub.Feedback(pb.FeedbackRequest(candidate_id=UNKNOWN, decision=pb.ACCEPTED)), NOT_FOUND, UNKNOWN
    )
    assert_status(lambda: stub.Feedback(pb.FeedbackRequest(candidate_id=UNKNOWN)), INVALID, "decision")
    assert_status(
        lambda: stub.Feedback(pb.FeedbackRequest(candidate_id=UNKNOWN, decision=pb.EDITED)), INVALID, "EDITED"
    )
    assert_status(
        lambda: stub.ForkSession(pb.ForkSessionRequest(session_id=session_id, turn_id=UNKNOWN)), NOT_FOUND, UNKNOWN
    )
    assert_status(lambda: stub.ExportSession(pb.ExportSessionRequest(session_id=UNKNOWN)), NOT_FOUND, UNKNOWN)
    assert_status(lambda: stub.Cancel(pb.CancelRequest(job_id="; rm -rf /")), INVALID, "job_id")
    assert_status(lambda: stub.CreateSession(pb.CreateSessionRequest()), INVALID, "host")
    assert_status(lambda: stub.ListSessions(pb.ListSessionsRequest(limit=10**6)), INVALID, "limit")


def test_a_turn_from_another_session_is_refused(stub: pb_grpc.CocreateStub, session_id: str) -> None:
    other = stub.CreateSession(pb.CreateSessionRequest(host="test", document_id="other")).id
    request = gen(other, continue_text=pb.ContinueTextTask(before="hi", max_new_tokens=2))
    turn = next(iter(stub.Generate(request, timeout=60))).accepted.turn_id
    assert_status(lambda: stub.Generate(gen(session_id, parent_turn_id=turn), timeout=30), INVALID, turn)


def test_a_message_past_the_limit_is_refused(daemon: object) -> None:
    too_big = config.DEFAULT_LIMITS.max_message_bytes + 1
    with channel_for(daemon) as channel:  # type: ignore[arg-type]
        stub = pb_grpc.CocreateStub(channel)
        request = pb.GenerateRequest(
            candidates=1, inpaint=pb.InpaintTask(prompt="x", image=pb.Image(rgba=b"\0" * too_big))
        )
        assert_status(lambda: stub.Generate(request, timeout=60), grpc.StatusCode.RESOURCE_EXHAUSTED, "")


def test_bodies_that_are_not_protobuf_are_invalid_arguments(daemon: object) -> None:
    with channel_for(daemon) as channel:  # type: ignore[arg-type]
        raw = {"serializer": lambda b: b, "deserializer": lambda b: b}
        generate = channel.unary_stream(
            "/cocreate.v1.Cocreate/Generate",
            request_serializer=raw["serializer"],
            response_deserializer=raw["deserializer"],
        )
        get_session = channel.unary_unary(
            "/cocreate.v1.Cocreate/GetSession",
            request_serializer=raw["serializer"],
            response_deserializer=raw["deserializer"],
        )
        for body in (b"\xff\xff\xff\xff\x0f garbage", b"\x0a\x02\xff\xfe"):  # corrupt wire format; bad UTF-8
            assert_status(lambda body=body: generate(body, timeout=10), INVALID, "not valid protobuf")
            assert_status(lambda body=body: get_session(body, timeout=10), INVALID, "not valid protobuf")


def test_still_serving_after_all_that(daemon: object) -> None:
    with channel_for(daemon) as channel:  # type: ignore[arg-type]
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service="cocreate.v1.Cocreate"))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
