"""Live painting through a real daemon: latest wins, the live lane does not wait behind others' long jobs,
encodings are reused between updates, a few-step model is picked, and live turns are kept."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from core_server.models.catalog import ModelCatalog
from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc
from tests.support.daemon import Daemon, running_daemon
from tests.support.postgres import PostgresServer

from .conftest import channel_for
from .images import disc, gradient
from .test_cancel_and_queue import long_inpaint, wait_idle

FEW_STEP_MODEL = "tiny-image-turbo"  # the tiny SD 1.5 weights under a few-step name: a second engine


@pytest.fixture(scope="module")
def live_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with running_daemon(tmp_path_factory.mktemp("live-home")) as daemon:
        assert daemon.home is not None
        catalog = ModelCatalog(Path(daemon.home) / "models")
        catalog.add(FEW_STEP_MODEL, catalog.resolve("", "image").path)
        yield daemon


@pytest.fixture(scope="module")
def live_stub(live_daemon: Daemon) -> Iterator[pb_grpc.CocreateStub]:
    with channel_for(live_daemon) as channel:
        yield pb_grpc.CocreateStub(channel)


@pytest.fixture
def live_session(live_stub: pb_grpc.CocreateStub) -> str:
    return live_stub.CreateSession(pb.CreateSessionRequest(host="krita", document_id="live", document_name="Live")).id


def live_request(session_id: str, image: pb.Image, prompt: str = "a red fox", **fields: object) -> pb.GenerateRequest:
    mask = disc(image.width, image.height)
    task = pb.InpaintTask(image=image, mask=mask, prompt=prompt, **fields)  # type: ignore[arg-type]
    return pb.GenerateRequest(session_id=session_id, candidates=1, seed=7, live=True, inpaint=task)


def stroke(image: pb.Image, index: int) -> pb.Image:
    """The picture with one more dab painted into it."""
    pixels = bytearray(image.rgba)
    y = (7 * index) % image.height
    for x in range(image.width // 4, image.width // 2):
        pixels[(y * image.width + x) * 4 : (y * image.width + x) * 4 + 3] = bytes((200, 30 * index % 255, 40))
    return pb.Image(width=image.width, height=image.height, rgba=bytes(pixels))


def turns_by_id(stub: pb_grpc.CocreateStub, session_id: str) -> dict[str, pb.Turn]:
    return {t.id: t for t in stub.GetSession(pb.GetSessionRequest(session_id=session_id)).turns}


def test_a_burst_of_live_requests_only_the_last_completes(live_stub: pb_grpc.CocreateStub, live_session: str) -> None:
    picture = gradient(128, 128)
    streams, accepted = [], []
    for index in range(5):  # each update sent as soon as the previous one is accepted, as a painter's strokes
        picture = stroke(picture, index)
        # The earlier ones long enough never to finish before the next arrives (one that had is kept, not superseded).
        steps = 30 if index == 4 else 200
        stream = live_stub.Generate(live_request(live_session, picture, steps=steps), timeout=120)
        streams.append(stream)
        accepted.append(next(stream).accepted)
    events = [list(stream) for stream in streams]
    *earlier, last = events
    for rest in earlier:
        assert rest[-1].done.status == pb.JOB_CANCELLED
        assert not any(e.HasField("candidate") for e in rest), "a superseded update's picture was sent"
    assert last[-1].done.status == pb.JOB_COMPLETED
    assert sum(e.HasField("candidate") for e in last) == 1
    turns = turns_by_id(live_stub, live_session)
    statuses = [turns[a.turn_id].status for a in accepted]
    assert statuses == ["cancelled"] * 4 + ["completed"], "every live turn is kept"
    assert all(json.loads(turns[a.turn_id].params_json)["live"] for a in accepted)
    wait_idle(live_stub)


def test_an_update_being_stored_when_a_newer_one_comes_is_kept_and_sent(
    tmp_path_factory: pytest.TempPathFactory, postgres: PostgresServer
) -> None:
    """An update that had finished, its candidate being stored, when the painter's next update arrived: the
    session and its client agree that it completed, and the client has its candidate (stale for the painter,
    which the plugin drops). The moment is made exact with a PostgreSQL store: the test holds the candidates
    table, sees the daemon wait for it, and only then sends the next update."""
    import psycopg

    url = postgres.new_database()
    home = tmp_path_factory.mktemp("live-store-home")
    with running_daemon(home, extra_args=("--store", url)) as daemon, channel_for(daemon) as channel:
        stub = pb_grpc.CocreateStub(channel)
        session = stub.CreateSession(pb.CreateSessionRequest(host="krita", document_id="live", document_name="L")).id
        picture = gradient(64, 64)
        with psycopg.connect(url) as holder, psycopg.connect(url, autocommit=True) as watcher:
            holder.execute("LOCK TABLE candidates IN SHARE MODE")  # held until the rollback below
            first = stub.Generate(live_request(session, picture, steps=2), timeout=120)
            first_turn = next(first).accepted.turn_id
            waiting_on_store = "SELECT count(*) FROM pg_locks WHERE relation = 'candidates'::regclass AND NOT granted"
            deadline = time.monotonic() + 60
            while not watcher.execute(waiting_on_store).fetchone()[0]:
                assert time.monotonic() < deadline, "the first update never reached its store"
                time.sleep(0.01)
            second = stub.Generate(live_request(session, stroke(picture, 1), steps=200), timeout=120)
            next(second)  # accepted: the daemon holds it as the session's newest
            holder.rollback()
        events = list(first)
        second.cancel()
        done = events[-1].done
        sent = [e.candidate.candidate_id for e in events if e.HasField("candidate")]
        turn = turns_by_id(stub, session)[first_turn]
        assert (done.status, turn.status) == (pb.JOB_COMPLETED, "completed"), "the client and the session disagree"
        assert sent == [c.id for c in turn.candidates], "the client has the candidate the session keeps"
        wait_idle(stub, timeout=60)


def test_live_picks_the_few_step_model_with_fewer_steps(live_stub: pb_grpc.CocreateStub, live_session: str) -> None:
    events = list(live_stub.Generate(live_request(live_session, gradient(64, 64)), timeout=120))
    accepted = events[0].accepted
    assert accepted.model == FEW_STEP_MODEL
    assert events[-1].done.status == pb.JOB_COMPLETED
    params = json.loads(turns_by_id(live_stub, live_session)[accepted.turn_id].params_json)
    assert (params["steps"], params["guidance"]) == (4, 1.0)
    named = live_request(live_session, gradient(64, 64), steps=3)
    named.model = "tiny-image"  # a model the request names is used, with the steps it asks for
    events = list(live_stub.Generate(named, timeout=120))
    assert events[0].accepted.model == "tiny-image"
    assert json.loads(turns_by_id(live_stub, live_session)[events[0].accepted.turn_id].params_json)["steps"] == 3


def test_live_updates_reuse_the_prompt_and_picture_encodings(
    live_stub: pb_grpc.CocreateStub, live_session: str
) -> None:
    first, second = gradient(80, 80), stroke(gradient(80, 80), 1)  # pictures no other test sent

    def stages(image: pb.Image) -> set[str]:
        done = list(live_stub.Generate(live_request(live_session, image, prompt="reused prompt"), timeout=120))[-1]
        assert done.done.status == pb.JOB_COMPLETED
        return {stage.name for stage in done.done.stages}

    assert {"text encoder", "vae encode"} <= stages(first)
    after_a_stroke = stages(second)
    assert "text encoder" not in after_a_stroke, "the same prompt is encoded once"
    assert "vae encode" in after_a_stroke, "the painted picture is new"
    assert not {"text encoder", "vae encode"} & stages(second), "an unchanged picture is encoded once"


def test_live_does_not_wait_behind_another_clients_long_jobs(
    live_stub: pb_grpc.CocreateStub, live_session: str
) -> None:
    running = live_stub.Generate(long_inpaint(live_session, steps=200, client="other"), timeout=300)
    long_job = next(running).accepted.job_id
    next(e for e in running if e.HasField("progress"))
    queued = live_stub.Generate(long_inpaint(live_session, steps=200, client="other"), timeout=300)
    assert next(queued).accepted.queue_position == 1
    steps_seen: list[int] = []
    reader = threading.Thread(
        target=lambda: steps_seen.extend(e.progress.step for e in running if e.HasField("progress")), daemon=True
    )
    reader.start()
    events = list(live_stub.Generate(live_request(live_session, gradient(64, 64)), timeout=120))
    step_when_live_was_done = max(steps_seen, default=0)
    assert events[0].accepted.queue_position == 0
    assert events[-1].done.status == pb.JOB_COMPLETED
    assert step_when_live_was_done < 200, "the long job had not finished: the live update did not wait for it"
    queued.cancel()
    live_stub.Cancel(pb.CancelRequest(job_id=long_job))
    reader.join(30)
    wait_idle(live_stub, timeout=30)


def test_live_is_refused_for_text_tasks(live_stub: pb_grpc.CocreateStub, live_session: str) -> None:
    request = pb.GenerateRequest(
        session_id=live_session, candidates=1, live=True, continue_text=pb.ContinueTextTask(before="Once")
    )
    with pytest.raises(grpc.RpcError) as caught:
        list(live_stub.Generate(request, timeout=60))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "live" in (caught.value.details() or "")
