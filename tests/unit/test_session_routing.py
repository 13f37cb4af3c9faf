"""Sticky routing by session: the home replica comes first, is the same on every call whatever the order
of the candidates, and a replica leaving moves only the sessions that were at home on it."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

pytest.importorskip("ray", reason="the studio extra is not installed")

from ray.serve._private.request_router.pow_2_router import PowerOfTwoChoicesRequestRouter

from core_server.cluster.routing import SessionAffinityRouter

REPLICAS = [SimpleNamespace(replica_id=SimpleNamespace(unique_id=name)) for name in ("a1", "b2", "c3", "d4")]
SESSIONS = [f"{n:032x}" for n in range(200)]


@pytest.fixture(autouse=True)
def serve_ranks_all(monkeypatch: pytest.MonkeyPatch) -> None:
    async def ranks(self: object, candidates: list, request: object = None) -> list[list]:
        return [list(candidates)]

    monkeypatch.setattr(PowerOfTwoChoicesRequestRouter, "choose_replicas", ranks)


def home(session: str | None, replicas: list) -> list[list]:
    request = SimpleNamespace(kwargs={"session": session} if session else {})
    router = SessionAffinityRouter.__new__(SessionAffinityRouter)  # choose_replicas uses no router state
    return asyncio.run(router.choose_replicas(replicas, request))


def test_the_home_replica_comes_first_and_is_stable() -> None:
    for session in SESSIONS[:20]:
        first = home(session, REPLICAS)
        assert first[1] == REPLICAS, "Serve's own ranking follows, for when the home is busy"
        assert home(session, REPLICAS[::-1])[0] == first[0]
    assert len({home(s, REPLICAS)[0][0].replica_id.unique_id for s in SESSIONS}) == len(REPLICAS), "spread"


def test_a_replica_leaving_moves_only_its_own_sessions() -> None:
    before = {s: home(s, REPLICAS)[0][0] for s in SESSIONS}
    after = {s: home(s, REPLICAS[1:])[0][0] for s in SESSIONS}
    assert all(after[s] is before[s] for s in SESSIONS if before[s] is not REPLICAS[0])


def test_a_job_without_a_session_gets_serves_ranking() -> None:
    assert home(None, REPLICAS) == [REPLICAS]
