"""The blocking API a host's main thread uses; the async client runs on a BackgroundLoop.

Every method but `generate` blocks until the daemon answers (bounded by `timeout`);
`generate` returns a Job at once, whose events the host drains with `job.poll()`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from .client import Client, Decision, ImageFormat
from .events import CandidateReady, Event
from .jobs import Job
from .loop import BackgroundLoop
from .pb import cocreate_pb2 as pb
from .pixels import Image


class CocreateClient:
    """One daemon, one background thread. Raises DaemonUnavailable or RequestError (see errors.py)."""

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        token: str | None = None,
        ca_file: str | os.PathLike[str] | None = None,
        timeout: float = 60.0,
        client_name: str = "",
    ) -> None:
        """`client_name` names the host ("krita"): each generation is queued as "<host>:<document>" of
        its session (one fair lane per document), unless the request sets `client` itself."""
        self._client = Client(endpoint, token=token, ca_file=ca_file, timeout=timeout, client_name=client_name)
        self._loop = BackgroundLoop()

    @property
    def endpoint(self) -> str:
        return str(self._client.endpoint)

    def generate(self, request: pb.GenerateRequest, on_event: Callable[[Event], None] | None = None) -> Job:
        """Start a job (build `request` with cocreate_client.tasks) and return at once.

        `on_event(event)` runs on the client thread after each event is queued: use it only to wake
        the host's main thread (a queued Qt signal, GLib.idle_add), never to touch the host API or
        to call this client (that would wait on the thread it runs on).
        """
        job = Job(self._loop.call_soon, on_event)
        self._loop.call_soon(job._start, self._client.generate(request))
        return job

    def personalize(self, request: pb.PersonalizeRequest, on_event: Callable[[Event], None] | None = None) -> Job:
        """Start training a personal LoRA (build `request` with cocreate_client.tasks.personalize) and
        return at once; its Trained event (and `job.wait().lora`) names the LoRA. Cancel as a generation."""
        job = Job(self._loop.call_soon, on_event)
        self._loop.call_soon(job._start, self._client.personalize(request))
        return job

    def cancel(self, job_id: str) -> bool:
        """Cancel a job by id through the daemon; True if it was running, False if still queued."""
        return self._loop.run(self._client.cancel(job_id))

    def shares_memory(self) -> bool:
        """Whether large pixels go through /dev/shm with this daemon (else on the wire): asked once per connection."""
        return self._loop.run(self._client.shares_memory())

    def health(self) -> pb.ModelStatusResponse:
        return self._loop.run(self._client.health())

    def create_session(self, host: str, document_id: str = "", document_name: str = "") -> pb.Session:
        return self._loop.run(self._client.create_session(host, document_id, document_name))

    def list_sessions(self, host: str = "", document_id: str = "", limit: int = 0) -> list[pb.Session]:
        return self._loop.run(self._client.list_sessions(host, document_id, limit))

    def get_session(self, session_id: str, thumbnail_size: int = 0) -> pb.SessionDetail:
        return self._loop.run(self._client.get_session(session_id, thumbnail_size))

    def fork_session(self, session_id: str, turn_id: str) -> pb.Session:
        return self._loop.run(self._client.fork_session(session_id, turn_id))

    def export_session(self, session_id: str, path: str | os.PathLike[str]) -> int:
        return self._loop.run(self._client.export_session(session_id, path))

    def get_candidate(self, candidate_id: str) -> CandidateReady:
        return self._loop.run(self._client.get_candidate(candidate_id))

    def feedback(
        self,
        candidate_id: str,
        decision: Decision,
        final_image: Image | None = None,
        final_text: str | None = None,
        note: str = "",
    ) -> str:
        return self._loop.run(self._client.feedback(candidate_id, decision, final_image, final_text, note))

    def decide(self, decisions: Iterable[tuple[str, Decision]]) -> list[str]:
        """Several decisions in one call, in order: ACCEPTED for the kept candidate, REJECTED for the rest."""
        return self._loop.run(self._client.decide(list(decisions)))

    def restore_candidate(self, candidate_id: str) -> pb.RestoreCandidateResponse:
        """Go back to an earlier candidate; its `turn_id` is the parent of the next generate (a new branch)."""
        return self._loop.run(self._client.restore_candidate(candidate_id))

    def get_provenance(self, candidate_id: str, image_format: ImageFormat = "png") -> pb.Provenance:
        """The signed file (C2PA manifest embedded, or a text's JSON sidecar) for what was applied."""
        return self._loop.run(self._client.get_provenance(candidate_id, image_format))

    def get_analytics(self, session_id: str = "", host: str = "", limit: int = 0) -> pb.AnalyticsReport:
        return self._loop.run(self._client.get_analytics(session_id, host, limit))

    def list_models(self) -> list[pb.ModelInfo]:
        return self._loop.run(self._client.list_models())

    def model_status(self) -> pb.ModelStatusResponse:
        return self._loop.run(self._client.model_status())

    def close(self) -> None:
        """Cancel running jobs, close the connection and end the thread (not from `on_event`)."""
        self._loop.close(last=self._client.close)

    def __enter__(self) -> CocreateClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
