"""Generated requests for every RPC, and the closed set of answers the daemon may give them.

Used by the fuzz slice in the test suite and by bench/fuzz.py (10,000 cases).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import grpc
from hypothesis import strategies as st

from core_server.pb import cocreate_pb2 as pb

# Every status a request may end with; anything else (UNKNOWN, INTERNAL, a hang) is a failure.
ALLOWED = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}
U32_EDGES = [0, 1, 2, 3, 7, 8, 63, 64, 65, 255, 256, 8191, 8192, 8193, 65535, 65536, 2**31 - 1, 2**31, 2**32 - 1]
FLOAT_EDGES = [0.0, -0.0, 1e-9, 0.5, 1.0, 1.0000001, 2.0, -1.0, 50.0, 1e30, -1e30, math.inf, -math.inf, math.nan]
ODD_IDS = [
    "",
    "0" * 32,
    "f" * 32,
    "../../etc/passwd",
    "..",
    "a/b",
    "a\\b",
    "/abs",
    "\x00" * 32,
    "%2e%2e%2f",
    "A" * 32,
    "0" * 31,
    "0" * 33,
    "💥" * 8,
]

small = st.integers(0, 70)
u32 = st.one_of(st.sampled_from(U32_EDGES), st.integers(0, 2**32 - 1))
u64 = st.one_of(st.sampled_from([0, 1, 2**53, 2**63 - 1, 2**63, 2**64 - 1]), st.integers(0, 2**64 - 1))
floats = st.one_of(st.sampled_from(FLOAT_EDGES), st.floats(width=32, allow_nan=True, allow_infinity=True))
texts = st.one_of(
    st.sampled_from(["", " ", "a red apple", "\x00", "é" * 10, "🙂" * 50]),
    st.text(max_size=300),
    st.builds(lambda n: "x" * n, st.sampled_from([10_000, 10_001, 1_000_001])),
)
ids = st.one_of(st.sampled_from(ODD_IDS), st.text(max_size=40), st.builds(lambda: __import__("uuid").uuid4().hex))


@st.composite
def images(draw: st.DrawFn) -> pb.Image:
    """Small images, their byte counts sometimes off by one; sometimes sizes whose product overflows."""
    if draw(st.integers(0, 9)) == 0:
        width, height = draw(u32), draw(u32)
        return pb.Image(width=width, height=height, rgba=b"\x80" * draw(st.integers(0, 64)))
    width, height = draw(small), draw(small)
    size = width * height * 4 + draw(st.sampled_from([0, 0, 0, -1, 1, -4]))
    return pb.Image(width=width, height=height, rgba=b"\x80" * max(0, size))


@st.composite
def masks(draw: st.DrawFn, image: pb.Image) -> pb.Mask:
    width = draw(st.sampled_from([image.width, image.width + 1, 0]))
    height = draw(st.sampled_from([image.height, image.height, 1]))
    size = width * height + draw(st.sampled_from([0, 0, 1, -1]))
    return pb.Mask(width=width, height=height, alpha=b"\xff" * max(0, min(size, 70 * 70 + 1)))


def steps() -> st.SearchStrategy[int]:
    return st.one_of(st.integers(0, 3), st.sampled_from([201, 10**6, 2**32 - 1]))


@st.composite
def tasks(draw: st.DrawFn) -> dict[str, object]:
    which = draw(st.sampled_from(["inpaint", "expand", "texture", "variants", "continue_text", "rewrite_text", ""]))
    if which == "inpaint":
        image = draw(images())
        mask = draw(st.one_of(st.none(), masks(image)))
        task = pb.InpaintTask(
            image=image,
            prompt=draw(texts),
            strength=draw(floats),
            steps=draw(steps()),
            guidance=draw(floats),
            negative_prompt=draw(texts),
        )
        if mask is not None:
            task.mask.CopyFrom(mask)
    elif which == "expand":
        sides = [draw(st.one_of(st.integers(0, 8), st.sampled_from(U32_EDGES))) for _ in range(4)]
        task = pb.ExpandTask(
            image=draw(images()),
            left=sides[0],
            top=sides[1],
            right=sides[2],
            bottom=sides[3],
            steps=draw(steps()),
            feather=draw(u32),
            prompt=draw(texts),
        )
    elif which == "texture":
        task = pb.TextureTask(
            prompt=draw(texts),
            width=draw(st.one_of(small, u32)),
            height=draw(st.one_of(small, u32)),
            seamless=draw(st.sampled_from([0, 1, 2, 3, 4, 99, -1])),
            steps=draw(steps()),
            strength=draw(floats),
        )
        if draw(st.booleans()):
            task.image.CopyFrom(draw(images()))
    elif which == "variants":
        task = pb.VariantsTask(
            image=draw(images()), strength=draw(floats), style_prompt=draw(texts), steps=draw(steps())
        )
    elif which == "continue_text":
        task = pb.ContinueTextTask(
            before=draw(texts),
            after=draw(texts),
            max_new_tokens=draw(st.one_of(st.integers(0, 8), st.sampled_from([2049, 2**32 - 1]))),
            temperature=draw(floats),
            top_p=draw(floats),
            stop=draw(st.lists(texts, max_size=3)),
            stop_at=draw(st.sampled_from([0, 1, 2, 3, -5])),
        )
    elif which == "rewrite_text":
        task = pb.RewriteTextTask(
            selection=draw(texts),
            instruction=draw(texts),
            max_new_tokens=draw(st.one_of(st.integers(0, 8), st.sampled_from([4096]))),
            temperature=draw(floats),
            top_p=draw(floats),
        )
    else:
        return {}
    return {which: task}


@st.composite
def generate_requests(draw: st.DrawFn, session_id: str) -> pb.GenerateRequest:
    fields: dict[str, object] = {
        "session_id": draw(st.one_of(st.just(session_id), ids)),
        "parent_turn_id": draw(st.one_of(st.just(""), ids)),
        "model": draw(st.sampled_from(["", "tiny-image", "tiny-text", "nope", "../x", "a" * 100])),
        "candidates": draw(st.one_of(st.integers(0, 3), st.sampled_from([16, 17, 2**32 - 1]))),
        "previews": draw(st.booleans()),
        "client": draw(texts),
    }
    if draw(st.booleans()):
        fields["seed"] = draw(u64)
    if draw(st.booleans()):
        fields["exploration"] = draw(floats)
    return pb.GenerateRequest(**fields, **draw(tasks()))


@dataclass(frozen=True)
class Case:
    rpc: str
    request: object


def unary_cases(session_id: str) -> st.SearchStrategy[Case]:
    """Requests for every RPC but Generate, with edge-value fields."""
    return st.one_of(
        st.builds(lambda i: Case("Cancel", pb.CancelRequest(job_id=i)), ids),
        st.builds(
            lambda h, d, n: Case("CreateSession", pb.CreateSessionRequest(host=h, document_id=d, document_name=n)),
            texts,
            texts,
            texts,
        ),
        st.builds(
            lambda i, t: Case("GetSession", pb.GetSessionRequest(session_id=i, thumbnail_size=t)),
            st.one_of(st.just(session_id), ids),
            st.one_of(small, u32),
        ),
        st.builds(
            lambda h, d, n: Case("ListSessions", pb.ListSessionsRequest(host=h, document_id=d, limit=n)),
            texts,
            texts,
            u32,
        ),
        st.builds(
            lambda s, t: Case("ForkSession", pb.ForkSessionRequest(session_id=s, turn_id=t)),
            st.one_of(st.just(session_id), ids),
            ids,
        ),
        st.builds(lambda s: Case("ExportSession", pb.ExportSessionRequest(session_id=s)), ids),
        st.builds(lambda c: Case("GetCandidate", pb.GetCandidateRequest(candidate_id=c)), ids),
        st.builds(
            lambda c, d, n: Case("Feedback", pb.FeedbackRequest(candidate_id=c, decision=d, note=n)),
            ids,
            st.sampled_from([0, 1, 2, 3, 4, -1, 2**31 - 1]),
            texts,
        ),
        st.builds(
            lambda c, f: Case("GetProvenance", pb.GetProvenanceRequest(candidate_id=c, format=f)),
            ids,
            st.sampled_from([0, 1, 2, 3, 99, -1]),
        ),
        st.builds(lambda s: Case("GetAnalytics", pb.GetAnalyticsRequest(session_id=s)), st.one_of(st.just(""), ids)),
        st.builds(lambda c: Case("RestoreCandidate", pb.RestoreCandidateRequest(candidate_id=c)), ids),
        st.builds(  # the session keeps no picture: nothing here trains for long
            lambda s, n, m, k, r, lr: Case(
                "Personalize",
                pb.PersonalizeRequest(session_id=s, name=n, model=m, steps=k, rank=r, learning_rate=lr),
            ),
            st.one_of(st.just(session_id), ids),
            st.one_of(texts, st.sampled_from(["style", "../style", "a/b", "tiny-image"])),
            st.sampled_from(["", "tiny-image", "tiny-text", "nope", "../x"]),
            u32,
            u32,
            floats,
        ),
        st.just(Case("ListModels", pb.ListModelsRequest())),
        st.just(Case("ModelStatus", pb.ModelStatusRequest())),
        st.builds(
            lambda n, s: Case("ProbeSharedMemory", pb.SharedMemoryProbe(file=pb.SharedMemory(name=n, size=s))),
            st.one_of(texts, st.just("cocreate-" + "0" * 32)),
            st.one_of(small, u64),
        ),
    )


STREAMING = {"Generate", "ExportSession", "Personalize"}
RPCS = [
    "Generate",
    "Cancel",
    "CreateSession",
    "GetSession",
    "ListSessions",
    "ForkSession",
    "ExportSession",
    "GetCandidate",
    "Feedback",
    "ListModels",
    "ModelStatus",
    "GetProvenance",
    "GetAnalytics",
    "RestoreCandidate",
    "Personalize",
    "ProbeSharedMemory",
]


def call(channel: grpc.Channel, rpc: str, body: bytes, timeout: float) -> tuple[grpc.StatusCode, str]:
    """Send raw bytes as the body of `rpc`; the final status and its message."""
    identity: Callable[[bytes], bytes] = lambda b: b  # noqa: E731
    path = f"/cocreate.v1.Cocreate/{rpc}"
    try:
        if rpc in STREAMING:
            for _ in channel.unary_stream(path, identity, identity)(body, timeout=timeout):
                pass
        else:
            channel.unary_unary(path, identity, identity)(body, timeout=timeout)
    except grpc.RpcError as error:
        return error.code(), error.details() or ""
    return grpc.StatusCode.OK, ""


@st.composite
def near_valid_generate_requests(draw: st.DrawFn, session_id: str) -> pb.GenerateRequest:
    """A valid request of a random task with, half the time, one field pushed to an edge value."""
    side = draw(st.integers(8, 48))
    image = pb.Image(width=side, height=side, rgba=bytes(draw(st.integers(0, 255)) for _ in range(4)) * side * side)
    mask = pb.Mask(width=side, height=side, alpha=bytes([0, 255]) * (side * side // 2) + b"\xff" * (side * side % 2))
    step_count = draw(st.integers(1, 3))
    valid = {
        "inpaint": pb.InpaintTask(image=image, mask=mask, prompt="p", steps=step_count),
        "expand": pb.ExpandTask(image=image, right=draw(st.integers(1, 16)), steps=step_count),
        "texture": pb.TextureTask(
            prompt="p", width=side, height=side, seamless=draw(st.integers(0, 3)), steps=step_count
        ),
        "variants": pb.VariantsTask(image=image, strength=0.5, steps=step_count * 2),
        "continue_text": pb.ContinueTextTask(
            before=draw(texts) or "x", max_new_tokens=draw(st.integers(1, 8)), stop_at=draw(st.integers(0, 2))
        ),
        "rewrite_text": pb.RewriteTextTask(selection="Some words.", instruction=draw(texts), max_new_tokens=4),
    }
    which = draw(st.sampled_from(sorted(valid)))
    task = valid[which]
    request = pb.GenerateRequest(
        session_id=session_id, candidates=draw(st.integers(1, 3)), previews=draw(st.booleans()), **{which: task}
    )
    if draw(st.booleans()):
        scalar = [
            f
            for f in task.DESCRIPTOR.fields
            if f.type in (f.TYPE_FLOAT, f.TYPE_UINT32, f.TYPE_STRING) and not hasattr(getattr(task, f.name), "append")
        ]
        field = draw(st.sampled_from(scalar))
        value = {field.TYPE_FLOAT: floats, field.TYPE_UINT32: u32, field.TYPE_STRING: texts}[field.type]
        setattr(getattr(request, which), field.name, draw(value))
    return request
