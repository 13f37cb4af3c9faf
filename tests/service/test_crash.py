"""kill -9 during a generation loses nothing that was acknowledged; the store (SQLite or PostgreSQL) stays sound."""

from __future__ import annotations

from pathlib import Path

import grpc

from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc
from core_server.sessions.store import SessionStore
from tests.support.daemon import start_daemon

from .conftest import channel_for
from .images import disc, gradient


def test_sigkill_mid_generation_keeps_every_earlier_turn(tmp_path: Path, store_url: str | None) -> None:
    home = tmp_path / "home"
    store_args = ("--store", store_url) if store_url else ()
    daemon = start_daemon(home, extra_args=store_args)
    try:
        with channel_for(daemon) as channel:
            stub = pb_grpc.CocreateStub(channel)
            session = stub.CreateSession(pb.CreateSessionRequest(host="test", document_id="crash")).id
            done_turns = {}
            for seed in (1, 2):
                events = list(
                    stub.Generate(
                        pb.GenerateRequest(
                            session_id=session,
                            candidates=2,
                            seed=seed,
                            inpaint=pb.InpaintTask(image=gradient(), mask=disc(), steps=3),
                        ),
                        timeout=60,
                    )
                )
                sent = [e.candidate.candidate_id for e in events if e.HasField("candidate")]
                done_turns[events[0].accepted.turn_id] = sent
            stream = stub.Generate(
                pb.GenerateRequest(
                    session_id=session,
                    candidates=2,
                    inpaint=pb.InpaintTask(image=gradient(192, 192), mask=disc(192, 192), steps=200),
                ),
                timeout=60,
            )
            killed_turn = next(stream).accepted.turn_id
            next(e for e in stream if e.HasField("progress"))
            daemon.kill()
            try:
                list(stream)
            except grpc.RpcError as error:
                assert error.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        daemon.stop()

    restarted = start_daemon(home, extra_args=store_args)
    try:
        with channel_for(restarted) as channel:
            stub = pb_grpc.CocreateStub(channel)
            turns = {t.id: t for t in stub.GetSession(pb.GetSessionRequest(session_id=session)).turns}
            for turn_id, candidate_ids in done_turns.items():
                assert turns[turn_id].status == "completed"
                assert [c.id for c in turns[turn_id].candidates] == candidate_ids
                for candidate in turns[turn_id].candidates:
                    stub.GetCandidate(pb.GetCandidateRequest(candidate_id=candidate.id))
            assert turns[killed_turn].status == "interrupted"
    finally:
        restarted.stop()
    with SessionStore(home / "sessions", url=store_url) as store:
        assert store.integrity_check() == "ok"
