"""The studio's storage on one machine: sessions in PostgreSQL, candidate files in a folder outside the home."""

from __future__ import annotations

from pathlib import Path

from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc
from tests.support.daemon import Daemon

from .conftest import channel_for
from .test_generate import generate


def test_candidate_files_go_to_the_shared_folder_and_come_back(postgresql_daemon: Daemon, shared_blobs: Path) -> None:
    with channel_for(postgresql_daemon) as channel:
        stub = pb_grpc.CocreateStub(channel)
        session_id = stub.CreateSession(pb.CreateSessionRequest(host="studio", document_id="shared")).id
        (candidate,) = [
            e.candidate for e in generate(stub, session_id, "inpaint", candidates=1, seed=5) if e.HasField("candidate")
        ]
        content = stub.GetCandidate(pb.GetCandidateRequest(candidate_id=candidate.candidate_id))
        assert (shared_blobs / content.info.sha256[:2] / f"{content.info.sha256}.png").is_file()
        assert content.image.rgba == candidate.image.rgba
    assert postgresql_daemon.home is not None
    assert not (postgresql_daemon.home / "sessions" / "blobs").exists()
    assert not (postgresql_daemon.home / "sessions" / "sessions.db").exists()
