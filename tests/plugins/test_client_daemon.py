"""The plugin client against a real daemon on the tiny profile: every RPC, jobs, cancel, auth, restarts."""

from __future__ import annotations

import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cocreate_client import (
    Accepted,
    CandidateReady,
    CocreateClient,
    DaemonUnavailable,
    Done,
    Event,
    Failed,
    Image,
    Job,
    Mask,
    Progress,
    RequestError,
    TextDelta,
    tasks,
)
from cocreate_client.pb import cocreate_pb2 as pb

from tests.support.daemon import Daemon, running_daemon, start_daemon

TOKEN = "s3cret-token"


def gradient(side: int) -> Image:
    return Image(side, side, bytes(v for y in range(side) for x in range(side) for v in (x, y, 128, 255)))


def square(side: int, start: int, end: int) -> Mask:
    row = bytes(255 if start <= x < end else 0 for x in range(side))
    return Mask(side, side, b"".join(row if start <= y < end else bytes(side) for y in range(side)))


def unmasked_kept(before: Image, after: Image, mask: Mask) -> bool:
    return all(
        after.rgba[i * 4 : i * 4 + 4] == before.rgba[i * 4 : i * 4 + 4] for i, m in enumerate(mask.alpha) if m == 0
    )


def wait_for(job: Job, kind: type, timeout: float = 60.0) -> list[Event]:
    """Poll as a host's timer would, until an event of `kind` arrived; returns everything seen."""
    seen: list[Event] = []
    deadline = time.monotonic() + timeout
    while not any(isinstance(e, kind) for e in seen):
        assert time.monotonic() < deadline, f"no {kind.__name__} within {timeout} s: {seen}"
        seen += job.poll()
        time.sleep(0.01)
    return seen


def wait_idle(client: CocreateClient, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while client.model_status().running_job_id:
        assert time.monotonic() < deadline, "a cancelled job kept running"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with running_daemon(tmp_path_factory.mktemp("home")) as d:
        yield d


@pytest.fixture
def client(daemon: Daemon) -> Iterator[CocreateClient]:
    with CocreateClient(daemon.endpoint) as c:
        yield c


@pytest.fixture
def session_id(client: CocreateClient) -> str:
    return client.create_session("test", "doc-1", "Doc").id


# ---------------------------------------------------------------- calls


def test_health_and_models(client: CocreateClient) -> None:
    status = client.health()
    assert status.version
    models = client.list_models()
    assert {m.kind for m in models} >= {"image", "text"}
    assert any(m.is_default for m in models)
    assert client.model_status().version == status.version


def test_sessions(client: CocreateClient) -> None:
    session = client.create_session("krita", "doc-42", "Picture")
    assert session.id and session.host == "krita" and session.document_name == "Picture"
    assert client.get_session(session.id).session.id == session.id
    assert session.id in [s.id for s in client.list_sessions(host="krita", document_id="doc-42")]
    with pytest.raises(RequestError) as raised:
        client.get_session("0" * 32)  # well formed, but no such session
    assert raised.value.code == "NOT_FOUND"


# ---------------------------------------------------------------- generation


def test_inpaint_three_candidates(client: CocreateClient, session_id: str) -> None:
    image, mask = gradient(64), square(64, 16, 48)
    woken: list[tuple[Event, bool]] = []
    job = client.generate(
        tasks.inpaint(
            image, mask=mask, session_id=session_id, prompt="a red apple", candidates=3, seed=7, steps=4, previews=True
        ),
        on_event=lambda e: woken.append((e, threading.current_thread() is threading.main_thread())),
    )
    result = job.wait(120)
    events = job.poll()
    assert result.ok, result.error
    assert isinstance(events[0], Accepted) and events[0].seeds == [7, 8, 9]
    assert isinstance(events[-1], Done) and not events[-1].cancelled
    assert events[-1].turn_id == events[0].turn_id == result.turn_id
    first_candidate = next(i for i, e in enumerate(events) if isinstance(e, CandidateReady))
    progress = [e for e in events[:first_candidate] if isinstance(e, Progress)]
    assert progress and all(len(p.previews) == 3 for p in progress), "previews come with progress, before candidates"
    assert all(isinstance(p.previews[0], Image) for p in progress)
    candidates = [e for e in events if isinstance(e, CandidateReady)]
    assert [c.index for c in candidates] == [0, 1, 2] and candidates == result.candidates
    for candidate in candidates:
        assert candidate.image is not None and (candidate.image.width, candidate.image.height) == (64, 64)
        assert unmasked_kept(image, candidate.image, mask)
    assert [e for e, _ in woken] == events, "on_event saw every event, in order"
    assert not any(on_main for _, on_main in woken), "on_event runs on the client thread"


def test_continue_text_streams(client: CocreateClient, session_id: str) -> None:
    job = client.generate(tasks.continue_text("Once upon a time", session_id=session_id, max_new_tokens=12))
    result = job.wait(120)
    events = job.poll()
    assert result.ok, result.error
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert deltas, "text arrives token by token"
    (candidate,) = result.candidates
    assert candidate.text and "".join(d.text for d in deltas) == candidate.text == result.texts[0]


def test_rewrite_text(client: CocreateClient, session_id: str) -> None:
    request = tasks.rewrite_text("The cat sat on the mat.", "more formal", session_id=session_id, max_new_tokens=8)
    result = client.generate(request).wait(120)
    assert result.ok and result.candidates[0].text


@pytest.mark.parametrize(
    ("request_for", "size"),
    [
        (lambda sid: tasks.expand(gradient(64), session_id=sid, left=16, right=16, bottom=8, steps=2), (96, 72)),
        (lambda sid: tasks.texture("bricks", session_id=sid, width=64, height=64, seamless="both", steps=2), (64, 64)),
        (lambda sid: tasks.variants(gradient(64), session_id=sid, style_prompt="ink", steps=2), (64, 64)),
    ],
    ids=["expand", "texture", "variants"],
)
def test_image_tasks(
    client: CocreateClient, session_id: str, request_for: Callable[[str], pb.GenerateRequest], size: tuple[int, int]
) -> None:
    result = client.generate(request_for(session_id)).wait(120)
    assert result.ok, result.error
    assert [(c.image.width, c.image.height) for c in result.candidates if c.image] == [size]


def test_invalid_request_fails_the_job(client: CocreateClient, session_id: str) -> None:
    request = tasks.inpaint(gradient(8), session_id=session_id, candidates=99)
    result = client.generate(request).wait(60)
    assert isinstance(result.error, Failed) and result.error.code == "INVALID_ARGUMENT"
    assert "candidates" in result.error.message


def long_job(client: CocreateClient, session_id: str) -> Job:
    image = gradient(192)
    return client.generate(tasks.inpaint(image, mask=square(192, 32, 160), session_id=session_id, steps=150))


def test_job_cancel_stops_the_daemon_job(client: CocreateClient, session_id: str) -> None:
    job = long_job(client, session_id)
    seen = wait_for(job, Progress)
    accepted = seen[0]
    assert isinstance(accepted, Accepted)
    job.cancel()
    result = job.wait(30)
    rest = job.poll()
    assert result.cancelled and not result.candidates
    assert rest and rest[-1] == Done(accepted.turn_id, cancelled=True)
    wait_idle(client)
    turn = next(t for t in client.get_session(session_id).turns if t.id == accepted.turn_id)
    assert turn.status == "cancelled"
    after = client.generate(tasks.continue_text("Next", session_id=session_id, max_new_tokens=4)).wait(60)
    assert after.ok, "the daemon takes the next job"


def test_cancel_rpc(client: CocreateClient, session_id: str) -> None:
    job = long_job(client, session_id)
    wait_for(job, Progress)
    assert client.cancel(job.job_id) is True
    result = job.wait(30)
    assert result.cancelled and result.error is None
    wait_idle(client)


def test_session_records(client: CocreateClient, session_id: str, tmp_path: Path) -> None:
    image = gradient(32)
    result = client.generate(tasks.inpaint(image, session_id=session_id, steps=2, candidates=2)).wait(120)
    assert result.ok, result.error
    first, second = result.candidates
    fetched = client.get_candidate(first.candidate_id)
    assert fetched.image == first.image and fetched.seed == first.seed
    assert client.feedback(first.candidate_id, "accepted")
    assert client.feedback(second.candidate_id, "edited", final_image=gradient(32), note="warmer")
    with pytest.raises(ValueError, match="decision"):
        client.feedback(second.candidate_id, "loved")  # type: ignore[arg-type]
    detail = client.get_session(session_id, thumbnail_size=16)
    (turn,) = detail.turns
    assert [c.id for c in turn.candidates] == [first.candidate_id, second.candidate_id]
    assert [f.decision for c in turn.candidates for f in c.feedback] == [pb.ACCEPTED, pb.EDITED]
    fork = client.fork_session(session_id, turn.id)
    assert fork.id != session_id and fork.forked_from_turn_id == turn.id
    size = client.export_session(session_id, tmp_path / "session.zip")
    assert size == (tmp_path / "session.zip").stat().st_size
    assert "session.json" in zipfile.ZipFile(tmp_path / "session.zip").namelist()
    assert not (tmp_path / "session.zip.part").exists()


def test_4096_image_round_trip(client: CocreateClient, session_id: str) -> None:
    """A 64 MiB message each way: no limit of grpclib or h2 may stop it."""
    side = 4096
    image = Image(side, side, bytes(range(256)) * (side * side * 4 // 256))
    mask = square(side, 2000, 2064)
    start = time.perf_counter()
    result = client.generate(tasks.inpaint(image, mask=mask, session_id=session_id, steps=1)).wait(300)
    print(f"4096² inpaint round trip: {time.perf_counter() - start:.1f} s")
    assert result.ok, result.error
    (candidate,) = result.candidates
    assert candidate.image is not None and (candidate.image.width, candidate.image.height) == (side, side)
    assert candidate.image.rgba[:4096] == image.rgba[:4096] and candidate.image.rgba[-4096:] == image.rgba[-4096:]


# ---------------------------------------------------------------- TCP and tokens


@pytest.fixture(scope="module")
def tcp_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with running_daemon(tmp_path_factory.mktemp("tcp"), listen="127.0.0.1:0", token=TOKEN) as d:
        yield d


@pytest.fixture
def no_token_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COCREATE_TOKEN", raising=False)
    monkeypatch.delenv("COCREATE_TOKEN_FILE", raising=False)


def test_tcp_with_the_token(tcp_daemon: Daemon, no_token_env: None) -> None:
    with CocreateClient(tcp_daemon.endpoint, token=TOKEN) as client:
        session = client.create_session("blender", "scene", "Scene")
        result = client.generate(tasks.continue_text("Hi", session_id=session.id, max_new_tokens=4)).wait(60)
        assert result.ok, result.error


def test_tcp_token_from_a_file(tcp_daemon: Daemon, no_token_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COCREATE_TOKEN_FILE", str(tcp_daemon.home / "token"))
    with CocreateClient(tcp_daemon.endpoint) as client:
        assert client.health().version


def test_over_tcp_shared_memory_is_never_probed_and_the_probe_is_refused(tcp_daemon: Daemon) -> None:
    """Shared memory is for clients on the daemon's machine: a remote caller cannot make it read a file."""
    with CocreateClient(tcp_daemon.endpoint, token=TOKEN) as client:
        assert client.shares_memory() is False
        request = pb.SharedMemoryProbe(file=pb.SharedMemory(name="cocreate-" + "0" * 32, size=8))
        with pytest.raises(RequestError) as raised:
            client._loop.run(client._client._unary("ProbeSharedMemory", request))
        assert raised.value.code == "INVALID_ARGUMENT" and "over TCP" in raised.value.message


@pytest.mark.parametrize("token", [None, "wrong"])
def test_tcp_refuses_a_missing_or_wrong_token(tcp_daemon: Daemon, no_token_env: None, token: str | None) -> None:
    with CocreateClient(tcp_daemon.endpoint, token=token) as client:
        with pytest.raises(RequestError) as raised:
            client.health()
        assert raised.value.code == "UNAUTHENTICATED"
        result = client.generate(tasks.continue_text("Hi", session_id="0" * 32)).wait(30)
        assert result.error is not None and result.error.code == "UNAUTHENTICATED"


def test_tls(tmp_path: Path, self_signed_cert: tuple[Path, Path], no_token_env: None) -> None:
    cert, key = self_signed_cert
    tls = ("--tls-cert", str(cert), "--tls-key", str(key))
    with running_daemon(tmp_path / "home", listen="127.0.0.1:0", token=TOKEN, extra_args=tls) as daemon:
        with CocreateClient(daemon.endpoint, token=TOKEN, ca_file=cert) as client:
            assert client.health().version
        with CocreateClient(daemon.endpoint, token=TOKEN) as plain, pytest.raises(DaemonUnavailable):
            plain.health()  # plaintext HTTP/2 to a TLS port


# ---------------------------------------------------------------- the daemon goes away and comes back


def test_daemon_stopped(tmp_path: Path) -> None:
    daemon = start_daemon(tmp_path / "home")
    with CocreateClient(daemon.endpoint) as client:
        assert client.health().version
        daemon.stop()
        with pytest.raises(DaemonUnavailable) as raised:
            client.health()
        message = str(raised.value)
        assert daemon.endpoint in message and "cocreate serve" in message
        result = client.generate(tasks.continue_text("Hi", session_id="0" * 32)).wait(30)
        assert result.error is not None and result.error.code == "UNAVAILABLE"


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_same_client_after_a_restart(tmp_path: Path, how: str) -> None:
    home = tmp_path / "home"
    daemon = start_daemon(home)
    try:
        with CocreateClient(daemon.endpoint) as client:
            session = client.create_session("gimp", "img", "Image")
            daemon.stop() if how == "stop" else daemon.kill()
            daemon = start_daemon(home)
            assert client.health().version, "the first call after the restart works"
            assert client.get_session(session.id).session.id == session.id
            result = client.generate(tasks.continue_text("Hi", session_id=session.id, max_new_tokens=4)).wait(60)
            assert result.ok, result.error
    finally:
        daemon.stop()
