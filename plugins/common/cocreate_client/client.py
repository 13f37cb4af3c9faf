"""Async client over grpclib: every RPC of the contract, with errors a person can act on.

The channel is made on first use inside the running event loop, and dropped when the connection
fails, so the next call after a daemon restart simply connects again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import ssl
from collections.abc import AsyncGenerator, Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from grpclib.client import Channel
from grpclib.config import Configuration
from grpclib.const import Status
from grpclib.exceptions import GRPCError, StreamTerminatedError
from h2.exceptions import ProtocolError

from . import shm
from .convert import candidate_content_from_pb, event_from_pb, image_fields, personalize_events_from_pb
from .endpoint import default_endpoint, parse_endpoint, resolve_token, tls_context
from .errors import DaemonUnavailable, RequestError
from .events import CandidateReady, Event
from .pb import cocreate_pb2 as pb
from .pb.cocreate_grpc import CocreateStub
from .pixels import Image

Decision = Literal["accepted", "rejected", "edited"]
_DECISIONS = {"accepted": pb.ACCEPTED, "rejected": pb.REJECTED, "edited": pb.EDITED}
ImageFormat = Literal["png", "jpeg"]
_FORMATS = {"png": pb.PROVENANCE_FORMAT_PNG, "jpeg": pb.PROVENANCE_FORMAT_JPEG}

# grpclib sets no message size limit of its own; larger HTTP/2 windows than its 4 MiB default keep
# a 256 MiB image (8192² RGBA) from stalling on a window update every 4 MiB.
_WINDOW = 64 * 1024 * 1024
_CONFIG = Configuration(http2_connection_window_size=_WINDOW, http2_stream_window_size=_WINDOW)
MAX_CLIENT_NAME = 200  # the daemon's bound on GenerateRequest.client
_REMEMBERED_SESSIONS = 1024  # documents known by session id, for client names; the oldest go first


class Client:
    """One daemon, reached at `endpoint` (default: `default_endpoint()`)."""

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        token: str | None = None,
        ca_file: str | os.PathLike[str] | None = None,
        timeout: float = 60.0,
        client_name: str = "",
    ) -> None:
        self.endpoint = parse_endpoint(endpoint or default_endpoint())
        if ca_file and self.endpoint.path is not None:
            raise ValueError("TLS (ca_file) applies to TCP endpoints only; a Unix socket is already private")
        self._ssl = tls_context(ca_file) if ca_file else None
        token = resolve_token(token)
        self._metadata = {"authorization": f"Bearer {token}"} if token else {}
        self.timeout = timeout
        self.client_name = client_name
        self._documents: dict[str, tuple[str, str]] = {}  # session id → (host, document)
        self._channel: Channel | None = None
        self._stub: CocreateStub | None = None
        self._shares_memory: bool | None = None  # with the daemon, on this connection; None: not asked yet

    # ------------------------------------------------------------ plumbing

    def _connect(self) -> CocreateStub:
        if self._stub is None:
            if self.endpoint.path is not None:
                self._channel = Channel(path=self.endpoint.path, config=_CONFIG)
            else:
                self._channel = Channel(self.endpoint.host, self.endpoint.port, ssl=self._ssl, config=_CONFIG)
            self._stub = CocreateStub(self._channel)
        return self._stub

    def close(self) -> None:
        """Close the connection; the next call opens a new one."""
        if self._channel is not None:
            self._channel.close()
        self._channel = self._stub = None
        self._shares_memory = None

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """grpclib and socket errors → DaemonUnavailable or RequestError."""
        try:
            yield
        except GRPCError as error:
            if error.status is Status.UNAVAILABLE:  # the daemon is shutting down, say
                raise DaemonUnavailable(str(self.endpoint), error.message or "unavailable") from error
            raise RequestError(error.status.name, error.message or "") from error
        except asyncio.TimeoutError as error:  # before OSError: TimeoutError is one since 3.11
            raise RequestError("DEADLINE_EXCEEDED", "the daemon did not answer in time") from error
        except (OSError, StreamTerminatedError, ProtocolError) as error:
            self.close()  # the connection is gone: the next call makes a new one
            raise DaemonUnavailable(str(self.endpoint), _reason(error)) from error

    def _remember(self, *sessions: pb.Session) -> None:
        """Note each session's host and document, to name the client of generations in it."""
        for session in sessions:
            self._documents.pop(session.id, None)
            self._documents[session.id] = (session.host, session.document_id or session.document_name)
        while len(self._documents) > _REMEMBERED_SESSIONS:
            del self._documents[next(iter(self._documents))]

    def name_for(self, session_id: str) -> str:
        """Who asks, for the daemon's fair queue: "host:document" of the session, else `client_name`.

        A stable name per document gives each open document its own lane, whatever its connection."""
        host, document = self._documents.get(session_id, ("", ""))
        return ":".join(part for part in (self.client_name or host, document) if part)[:MAX_CLIENT_NAME]

    async def _unary(self, method_name: str, request: object, timeout: float | None = None) -> Any:
        with self._errors():
            method = getattr(self._connect(), method_name)
            return await method(request, timeout=timeout or self.timeout, metadata=self._metadata)

    async def _stream(self, method_name: str, request: object) -> AsyncGenerator[Any, None]:
        """A server-streaming call; leaving it early (cancel, aclose) resets the HTTP/2 stream."""
        with self._errors():
            async with getattr(self._connect(), method_name).open(metadata=self._metadata) as stream:
                await stream.send_message(request, end=True)
                async for message in stream:
                    yield message

    # ------------------------------------------------------------ generation

    async def generate(self, request: pb.GenerateRequest) -> AsyncGenerator[Event, None]:
        """Run one job, yielding its events; leaving early (cancel, aclose) makes the daemon cancel it.

        On this machine (a Unix socket) large images travel through shared memory both ways, when
        the daemon sees this client's /dev/shm."""
        local = await self.shares_memory()
        if not request.client:  # filled in, not put back: a request reused for its session keeps its name
            request.client = self.name_for(request.session_id)
        with shm.outgoing(request) if local else contextlib.nullcontext():
            request.shared_memory = local
            async with contextlib.aclosing(self._stream("Generate", request)) as messages:
                async for message in messages:
                    event = await self._event(message)
                    if event is not None:
                        yield event

    async def _event(self, message: pb.GenerateEvent) -> Event | None:
        try:
            return event_from_pb(message)
        except shm.SharedMemoryError:
            if message.WhichOneof("event") != "candidate":
                raise
            # The probe said yes, yet this candidate's file is not here (the daemon restarted in
            # another sandbox, say): it is stored, so fetch it on the wire rather than lose it.
            self._shares_memory = False
            return await self.get_candidate(message.candidate.candidate_id)

    async def shares_memory(self) -> bool:
        """Whether large pixels may go through /dev/shm: a Unix socket, and the daemon reads back a
        probe file this client wrote (asked once per connection; an older daemon means no)."""
        if self.endpoint.path is None or not shm.available():
            return False
        if self._shares_memory is not None:
            return self._shares_memory
        secret = secrets.token_bytes(shm.PROBE_MAX_BYTES)
        try:
            name = shm.write(secret)
        except OSError:  # /dev/shm is full, say
            return False
        try:
            probe = pb.SharedMemoryProbe(file=pb.SharedMemory(name=name, size=len(secret)))
            reply: pb.SharedMemoryProbeReply = await self._unary("ProbeSharedMemory", probe)
            shared = secrets.compare_digest(reply.seen, secret)
        except RequestError:  # UNIMPLEMENTED: a daemon from before the probe
            shared = False
        finally:
            shm.remove(name)
        self._shares_memory = shared
        return shared

    async def cancel(self, job_id: str) -> bool:
        """Cancel a job by id (one this client did not start, say). True if it was running, not queued."""
        reply: pb.CancelResponse = await self._unary("Cancel", pb.CancelRequest(job_id=job_id))
        return reply.was_running

    async def personalize(self, request: pb.PersonalizeRequest) -> AsyncGenerator[Event, None]:
        """Train a personal LoRA on a session's kept pictures (build `request` with tasks.personalize):
        Accepted, Queued*, Progress* (with the loss), Trained, Done; leaving early makes the daemon stop it."""
        request.client = request.client or self.name_for(request.session_id)
        async with contextlib.aclosing(self._stream("Personalize", request)) as messages:
            async for message in messages:
                for event in personalize_events_from_pb(message):
                    yield event

    # ------------------------------------------------------------ sessions

    async def create_session(self, host: str, document_id: str = "", document_name: str = "") -> pb.Session:
        request = pb.CreateSessionRequest(host=host, document_id=document_id, document_name=document_name)
        session: pb.Session = await self._unary("CreateSession", request)
        self._remember(session)
        return session

    async def get_session(self, session_id: str, thumbnail_size: int = 0) -> pb.SessionDetail:
        request = pb.GetSessionRequest(session_id=session_id, thumbnail_size=thumbnail_size)
        detail: pb.SessionDetail = await self._unary("GetSession", request)
        self._remember(detail.session)
        return detail

    async def list_sessions(self, host: str = "", document_id: str = "", limit: int = 0) -> list[pb.Session]:
        request = pb.ListSessionsRequest(host=host, document_id=document_id, limit=limit)
        reply: pb.ListSessionsResponse = await self._unary("ListSessions", request)
        self._remember(*reply.sessions)
        return list(reply.sessions)

    async def fork_session(self, session_id: str, turn_id: str) -> pb.Session:
        request = pb.ForkSessionRequest(session_id=session_id, turn_id=turn_id)
        session: pb.Session = await self._unary("ForkSession", request)
        self._remember(session)
        return session

    async def export_session(self, session_id: str, path: str | os.PathLike[str]) -> int:
        """Write the session's zip to `path` (complete or not at all); returns its size in bytes."""
        target = Path(path)
        partial = target.with_name(target.name + ".part")
        size = 0
        try:
            chunks = self._stream("ExportSession", pb.ExportSessionRequest(session_id=session_id))
            async with contextlib.aclosing(chunks):
                with partial.open("wb") as out:
                    async for chunk in chunks:
                        size += out.write(chunk.data)
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
        return size

    async def get_candidate(self, candidate_id: str) -> CandidateReady:
        request = pb.GetCandidateRequest(candidate_id=candidate_id)
        return candidate_content_from_pb(await self._unary("GetCandidate", request))

    async def decide(self, decisions: Iterable[tuple[str, Decision]]) -> list[str]:
        """What the person did with several candidates (keeping one, dropping its siblings), in order;
        returns the feedback ids."""
        return [await self.feedback(candidate_id, decision) for candidate_id, decision in decisions]

    async def feedback(
        self,
        candidate_id: str,
        decision: Decision,
        final_image: Image | None = None,
        final_text: str | None = None,
        note: str = "",
    ) -> str:
        """Record what the person did with a candidate; returns the feedback id."""
        if decision not in _DECISIONS:
            raise ValueError(f"decision must be one of {', '.join(_DECISIONS)}, not {decision!r}")
        request = pb.FeedbackRequest(
            candidate_id=candidate_id,
            decision=_DECISIONS[decision],
            final_image=image_fields(final_image) if final_image else None,
            final_text=final_text,
            note=note,
        )
        reply: pb.FeedbackResponse = await self._unary("Feedback", request)
        return reply.feedback_id

    async def restore_candidate(self, candidate_id: str) -> pb.RestoreCandidateResponse:
        """Go back to an earlier candidate: recorded as ACCEPTED; continue from the returned `turn_id`."""
        return await self._unary("RestoreCandidate", pb.RestoreCandidateRequest(candidate_id=candidate_id))

    # ------------------------------------------------------------ provenance and analytics

    async def get_provenance(self, candidate_id: str, image_format: ImageFormat = "png") -> pb.Provenance:
        """The candidate's file carrying its signed C2PA manifest: what the person kept when their
        ACCEPTED/EDITED feedback sent a final artifact, else the candidate. Texts get a JSON sidecar
        (`data`, saved as `file_name`) covering `text`."""
        if image_format not in _FORMATS:
            raise ValueError(f"image_format must be one of {', '.join(_FORMATS)}, not {image_format!r}")
        request = pb.GetProvenanceRequest(candidate_id=candidate_id, format=_FORMATS[image_format])
        return await self._unary("GetProvenance", request)

    async def get_analytics(self, session_id: str = "", host: str = "", limit: int = 0) -> pb.AnalyticsReport:
        """Iteration depth, rejection rate, breadth and edit distances: of one session, or of the
        newest `limit` sessions (of `host`) when `session_id` is empty."""
        request = pb.GetAnalyticsRequest(session_id=session_id, host=host, limit=limit)
        return await self._unary("GetAnalytics", request)

    # ------------------------------------------------------------ models and health

    async def list_models(self) -> list[pb.ModelInfo]:
        reply: pb.ListModelsResponse = await self._unary("ListModels", pb.ListModelsRequest())
        return list(reply.models)

    async def model_status(self) -> pb.ModelStatusResponse:
        return await self._unary("ModelStatus", pb.ModelStatusRequest())

    async def health(self, timeout: float = 5.0) -> pb.ModelStatusResponse:
        """The daemon's status with a short deadline: raises DaemonUnavailable when none answers."""
        return await self._unary("ModelStatus", pb.ModelStatusRequest(), timeout=timeout)


def _reason(error: Exception) -> str:
    """A short cause: "Connection refused", not asyncio's "Connect call failed ('127.0.0.1', 1)"."""
    if isinstance(error, ssl.SSLError):
        return f"TLS: {error.reason or error}"
    if isinstance(error, OSError) and error.errno:
        return os.strerror(error.errno)
    return str(error) or type(error).__name__
