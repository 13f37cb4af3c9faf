"""The plugin client names itself in every Generate (host + document) so the daemon's fair queue gives
each open document its own lane; a stand-in daemon records what arrives."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from cocreate_client import CocreateClient, tasks
from cocreate_client.client import MAX_CLIENT_NAME
from cocreate_client.loop import BackgroundLoop
from cocreate_client.pb import cocreate_pb2 as pb
from cocreate_client.pb.cocreate_grpc import CocreateBase
from grpclib.const import Status
from grpclib.exceptions import GRPCError
from grpclib.server import Server, Stream


class RecordingDaemon(CocreateBase):
    """Sessions by id, and the `client` of each Generate; every job ends at once."""

    def __init__(self) -> None:
        self.sessions: dict[str, pb.Session] = {}
        self.clients: list[str] = []

    async def CreateSession(self, stream: Stream[pb.CreateSessionRequest, pb.Session]) -> None:
        request = await stream.recv_message()
        assert request is not None
        session = pb.Session(id=f"s{len(self.sessions)}", host=request.host, document_id=request.document_id)
        session.document_name = request.document_name
        self.sessions[session.id] = session
        await stream.send_message(session)

    async def ListSessions(self, stream: Stream[pb.ListSessionsRequest, pb.ListSessionsResponse]) -> None:
        await stream.recv_message()
        await stream.send_message(pb.ListSessionsResponse(sessions=self.sessions.values()))

    async def Generate(self, stream: Stream[pb.GenerateRequest, pb.GenerateEvent]) -> None:
        request = await stream.recv_message()
        assert request is not None
        self.clients.append(request.client)
        await stream.send_message(pb.GenerateEvent(done=pb.Done(turn_id="t", status=pb.JOB_COMPLETED)))

    async def _not_here(self, stream: Stream[object, object]) -> None:
        raise GRPCError(Status.UNIMPLEMENTED)

    Cancel = GetSession = ForkSession = ExportSession = GetCandidate = Feedback = _not_here
    ListModels = ModelStatus = GetProvenance = GetAnalytics = RestoreCandidate = Personalize = _not_here
    ProbeSharedMemory = _not_here


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[str, RecordingDaemon]]:
    recording = RecordingDaemon()
    socket = tmp_path / "daemon.sock"

    async def start() -> Server:  # made in the loop it serves from
        server = Server([recording])
        await server.start(path=str(socket))
        return server

    async def stop() -> None:
        server.close()
        await asyncio.wait_for(server.wait_closed(), 5)

    loop = BackgroundLoop("stand-in daemon")
    server = loop.run(start())
    try:
        yield f"unix:{socket}", recording
    finally:
        loop.run(stop())
        loop.close()


def run(client: CocreateClient, request: pb.GenerateRequest) -> None:
    result = client.generate(request).wait(30)
    assert result.ok, result.error


def test_each_generation_is_named_after_the_host_and_document_of_its_session(
    daemon: tuple[str, RecordingDaemon],
) -> None:
    endpoint, recording = daemon
    with CocreateClient(endpoint, client_name="krita") as client:
        first = client.create_session("krita", "doc-1", "Cat.kra")
        second = client.create_session("krita", "", "Untitled 2")
        request = tasks.continue_text("x", session_id=first.id)
        run(client, request)
        run(client, tasks.continue_text("x", session_id=second.id))
        run(client, tasks.continue_text("x", session_id="made-elsewhere"))
        own = tasks.continue_text("x", session_id=first.id)
        own.client = "chosen by the caller"
        run(client, own)
    assert recording.clients == ["krita:doc-1", "krita:Untitled 2", "krita", "chosen by the caller"]


def test_sessions_listed_or_made_by_another_client_are_named_too_and_names_stay_in_bounds(
    daemon: tuple[str, RecordingDaemon],
) -> None:
    endpoint, recording = daemon
    with CocreateClient(endpoint) as maker:
        long = maker.create_session("gimp", "/home/p/" + "x" * 500 + ".xcf")
    with CocreateClient(endpoint) as client:  # no client_name: the session's own host
        client.list_sessions()
        run(client, tasks.continue_text("x", session_id=long.id))
        run(client, tasks.continue_text("x", session_id="unknown"))  # nothing known: the daemon decides
    assert recording.clients[0].startswith("gimp:/home/p/xxx") and len(recording.clients[0]) == MAX_CLIENT_NAME
    assert recording.clients[1] == ""
