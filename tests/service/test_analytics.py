"""Analytics through a real daemon: edit distances come from the finals that Feedback carries (as a
host plugin sends them), GetAnalytics and `cocreate analytics` report them, the PNG is written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import grpc
import numpy as np
import pytest
from cocreate_client import CocreateClient, Image
from PIL import Image as PILImage

from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc
from tests.support.daemon import Daemon

from .test_generate import generate

ADDED = " and then it rained."


def candidates_of(events: list[pb.GenerateEvent]) -> list[pb.Candidate]:
    return [e.candidate for e in events if e.HasField("candidate")]


def premultiplied(rgba: bytes) -> np.ndarray:
    pixels = np.frombuffer(rgba, np.uint8).reshape(-1, 4).astype(np.float64)
    return pixels[:, :3] * pixels[:, 3:] / 255.0


@pytest.mark.both_stores
def test_edit_distances_come_from_the_plugins_feedback(
    stub: pb_grpc.CocreateStub, daemon: Daemon, session_id: str
) -> None:
    texts = candidates_of(generate(stub, session_id, "continue_text", candidates=2, seed=11))
    (picture,) = candidates_of(generate(stub, session_id, "inpaint", candidates=1, seed=11))
    side = picture.image.width
    painted = bytes((0, 0, 0, 0)) * (side * 4) + picture.image.rgba[side * 4 * 4 :]  # four rows erased

    # Exactly what a host does once the person is done: the client facade, the passage and the region as left.
    with CocreateClient(daemon.endpoint) as client:
        client.feedback(texts[0].candidate_id, "edited", final_text=texts[0].text + ADDED)
        client.feedback(texts[1].candidate_id, "rejected")
        client.feedback(picture.candidate_id, "edited", final_image=Image(side, picture.image.height, painted))
        report = client.get_analytics(session_id)

    (session,) = report.sessions
    assert session.session_id == session_id and session.turns == 2 and session.tree_depth == 1
    assert (session.decided, session.edited, session.rejected) == (3, 2, 1)
    assert session.rejection_rate == pytest.approx(1 / 3) and session.turns_to_accept == 1
    assert session.timeline[0].HasField("diversity") and not session.timeline[1].HasField("diversity")
    text, image = session.edits
    assert (text.kind, text.candidate_id) == ("text", texts[0].candidate_id)
    assert (text.char_distance, text.word_distance) == (len(ADDED), len(ADDED.split()))
    assert text.char_ratio == pytest.approx(len(ADDED) / (len(texts[0].text) + len(ADDED)))
    assert (image.kind, image.candidate_id) == ("image", picture.candidate_id)
    expected = np.abs(premultiplied(picture.image.rgba) - premultiplied(painted)).mean() / 255.0
    assert image.pixel_distance == pytest.approx(expected) and image.pixel_distance > 0
    assert 0 <= image.ssim < 1
    assert report.overview.sessions == 1 and report.overview.mean_pixel_distance == pytest.approx(expected)


@pytest.mark.both_stores
def test_across_sessions(stub: pb_grpc.CocreateStub, session_id: str) -> None:
    other = stub.CreateSession(pb.CreateSessionRequest(host="analytics-test", document_name="Other")).id
    report = stub.GetAnalytics(pb.GetAnalyticsRequest(host="analytics-test"))
    assert [s.session_id for s in report.sessions] == [other]
    assert report.overview.sessions == 1 and not report.overview.HasField("rejection_rate")
    everyone = stub.GetAnalytics(pb.GetAnalyticsRequest(limit=1000))
    assert {session_id, other} <= {s.session_id for s in everyone.sessions}


@pytest.mark.both_stores
@pytest.mark.parametrize(
    ("request_", "code", "field"),
    [
        (pb.GetAnalyticsRequest(session_id="nope"), grpc.StatusCode.INVALID_ARGUMENT, "session_id"),
        (pb.GetAnalyticsRequest(session_id="0" * 32), grpc.StatusCode.NOT_FOUND, "session"),
        (pb.GetAnalyticsRequest(limit=1001), grpc.StatusCode.INVALID_ARGUMENT, "limit"),
    ],
)
def test_bad_analytics_requests(
    stub: pb_grpc.CocreateStub, request_: pb.GetAnalyticsRequest, code: grpc.StatusCode, field: str
) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        stub.GetAnalytics(request_)
    assert raised.value.code() == code and field in raised.value.details()


def cocreate(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    environment = dict(os.environ, COCREATE_HOME=str(home), COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "core_server", *args], env=environment, capture_output=True, text=True, timeout=300
    )


def test_cli_prints_a_table_and_writes_the_charts(
    stub: pb_grpc.CocreateStub, daemon: Daemon, session_id: str, tmp_path: Path
) -> None:
    assert daemon.home is not None
    first = candidates_of(generate(stub, session_id, "continue_text", candidates=3, seed=5))
    stub.Feedback(pb.FeedbackRequest(candidate_id=first[0].candidate_id, decision=pb.REJECTED))
    turn = stub.GetSession(pb.GetSessionRequest(session_id=session_id)).turns[0].id
    second = candidates_of(generate(stub, session_id, "continue_text", candidates=2, seed=6, parent_turn_id=turn))
    stub.Feedback(
        pb.FeedbackRequest(candidate_id=second[1].candidate_id, decision=pb.EDITED, final_text=second[1].text + "!")
    )

    one = tmp_path / "session.png"
    result = cocreate("analytics", session_id, "--plot", str(one), "--endpoint", daemon.endpoint, home=daemon.home)
    assert result.returncode == 0, result.stdout + result.stderr
    assert session_id in result.stdout and "TURNS TO ACCEPT" in result.stdout and "charts written" in result.stdout
    every = tmp_path / "sessions.png"
    result = cocreate("analytics", "--plot", str(every), "--endpoint", daemon.endpoint, home=daemon.home)
    assert result.returncode == 0, result.stdout + result.stderr
    for path in (one, every):
        with PILImage.open(path) as png:
            png.verify()
        with PILImage.open(path) as png:
            assert png.format == "PNG" and png.size == (1200, 800)
