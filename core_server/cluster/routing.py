"""Sticky routing by session: a session's jobs go to one home replica while it has room, so the caches
a replica keeps for a session (prompt and VAE encodings, a text prefix's KV) are hit.

The home is chosen by rendezvous hashing over the live replicas (a replica coming or going moves only its
own sessions). When the home is busy, Serve's own ranking (replicas holding the model first, then the
shorter queue of two) decides, so load still spreads."""

from __future__ import annotations

import hashlib

from ray.serve._private.request_router.pow_2_router import PowerOfTwoChoicesRequestRouter
from ray.serve.request_router import PendingRequest, RunningReplica


def _score(session: str, replica: RunningReplica) -> bytes:
    return hashlib.blake2b(f"{session}/{replica.replica_id.unique_id}".encode(), digest_size=8).digest()


class SessionAffinityRouter(PowerOfTwoChoicesRequestRouter):
    async def choose_replicas(
        self, candidate_replicas: list[RunningReplica], pending_request: PendingRequest | None = None
    ) -> list[list[RunningReplica]]:
        ranks = await super().choose_replicas(candidate_replicas, pending_request)
        session = pending_request.kwargs.get("session") if pending_request is not None else None
        if not session or not candidate_replicas:
            return ranks
        home = max(candidate_replicas, key=lambda replica: _score(session, replica))
        return [[home], *ranks]
