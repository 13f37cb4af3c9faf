"""The Cocreate gRPC service: validate, hand work to the scheduler and the store, translate back.

Blocking work (SQLite, PNG encoding, model files) runs in threads; the event loop
only moves messages.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import grpc
from google.protobuf import json_format

from .. import __version__, config, tasks
from ..models import few_step
from ..models.catalog import ModelCatalog
from ..pb import cocreate_pb2 as pb
from ..pb import cocreate_pb2_grpc as pb_grpc
from ..provenance import measure
from ..provenance.artifacts import Provenance
from ..provenance.credentials import SigningError
from ..scheduler.jobs import Failed, Finished, Job, QueuedAt, WasCancelled
from ..scheduler.scheduler import Scheduler
from ..sessions import analytics
from ..sessions.kept import kept_pictures
from ..sessions.model import Feedback
from ..sessions.store import SessionStore, new_id
from ..tasks import PersonalizeTask
from . import cocreation, conditioning, controls, convert, keeping, shm, shm_probe, validate
from .chunks import ChunkPipe
from .errors import FailedPrecondition, InvalidArgument, PermissionDenied, streaming, unary
from .identity import TokenBook, caller, lane

log = logging.getLogger(__name__)
EXPORT_CHUNK = 1 << 20
MAX_THUMBNAIL = 256
MAX_ANALYTICS_SESSIONS = 1000  # each one reads its candidates and finals: keep a report bounded


class CocreateServicer(pb_grpc.CocreateServicer):
    def __init__(
        self,
        store: SessionStore,
        catalog: ModelCatalog,
        scheduler: Scheduler,
        device: str,
        limits: config.Limits,
        tokens: TokenBook | None = None,  # None: the Unix socket, where the kernel names the caller
    ) -> None:
        self.limits = limits
        self.tokens = tokens
        self.store = store
        self.catalog = catalog
        self.scheduler = scheduler
        self.device = device
        self.provenance = Provenance(store, config.data_dir() / "provenance")
        self.keeping = keeping.Keeping()  # candidates sent and still being stored

    # ------------------------------------------------------------ generation

    @streaming
    async def Generate(
        self, request: pb.GenerateRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.GenerateEvent]:
        identity = caller(context, self.tokens)
        local = self.tokens is None
        received = time.perf_counter()
        await asyncio.to_thread(shm.take_pixels, request, self.limits, local)
        spec = validate.generate_spec(request, secrets.randbelow(2**48), self.limits)
        decoded = time.perf_counter()
        kind = tasks.task_kind(spec.task)
        named = (spec.parent_turn_id, spec.replay_turn_id, *spec.interpolate, *spec.more_like, *spec.less_like)
        await self.keeping.kept(*named)  # a turn whose candidates are still being stored steers once they are
        if spec.live:  # a few-step model or LoRA when one is installed, and fewer steps
            choice = await asyncio.to_thread(few_step.choose, self.catalog, spec.model, spec.lora, kind)
            tuned = few_step.tune(spec.task, choice.few_step, self.limits.max_steps)
            spec, entry = replace(spec, task=tuned, lora=spec.lora or choice.lora), choice.model
        else:
            entry = await asyncio.to_thread(self.catalog.resolve, spec.model, kind)
        spec = replace(spec, task=await asyncio.to_thread(controls.attach_models, self.catalog, entry, spec.task))
        steered = await asyncio.to_thread(cocreation.steer, self.store, self.catalog, spec)
        steered = await asyncio.to_thread(conditioning.resolve, self.catalog, entry, steered)
        turn = await asyncio.to_thread(
            self.store.start_turn,
            spec.session_id,
            spec.parent_turn_id,
            tasks.TASK_NAMES[type(spec.task)],
            {
                **convert.task_params(steered.task),
                "candidates": len(steered.seeds),
                "exploration": spec.exploration,
                **steered.record,
                **({"live": True} if spec.live else {}),
            },
            list(steered.seeds),
            entry.name,
            entry.sha256,
            identity,
        )
        job = Job(
            id=uuid.uuid4().hex,
            owner=identity,
            client=lane(identity, spec.client),
            task=steered.task,
            seeds=steered.seeds,
            model=entry.name,
            model_entry=entry,
            previews=spec.previews,
            loop=asyncio.get_running_loop(),
            session=spec.session_id,
            live=spec.live,
        )
        job.stages.add("request", decoded - received)  # its pixels taken and checked
        job.stages.add("turn start", time.perf_counter() - decoded)  # model, steering, the turn's row
        try:
            position = self.scheduler.submit(job)
        except Exception:
            await asyncio.to_thread(self.store.finish_turn, turn.id, "failed")
            raise
        settled = False  # the turn's final status is written (or being written)
        outbox = shm.Outbox(request.shared_memory and local)
        try:
            yield pb.GenerateEvent(
                accepted=pb.Accepted(
                    job_id=job.id, turn_id=turn.id, queue_position=position, seeds=job.seeds, model=entry.name
                )
            )
            while True:
                event = await job.next_event()
                if isinstance(event, tasks.StepEvent):
                    with job.stages.timed("progress events"):
                        yield convert.progress_to_pb(event)
                elif isinstance(event, tasks.TextDeltaEvent):
                    yield pb.GenerateEvent(text_delta=pb.TextDelta(index=event.index, text=event.text))
                elif isinstance(event, QueuedAt):
                    yield pb.GenerateEvent(queued=pb.Queued(queue_position=event.position))
                elif isinstance(event, Finished) and not self.scheduler.settle(job):  # a newer live request took over
                    settled = True
                    await asyncio.to_thread(self.store.finish_turn, turn.id, "cancelled")
                    yield _done(turn.id, pb.JOB_CANCELLED, job)
                    return
                elif isinstance(event, Finished):
                    settled = True
                    async for message in self._send_and_keep(job, turn.id, event.result, outbox):
                        yield message
                    return
                elif isinstance(event, WasCancelled):
                    settled = True
                    await asyncio.to_thread(self.store.finish_turn, turn.id, "cancelled")
                    yield _done(turn.id, pb.JOB_CANCELLED, job)
                    return
                elif isinstance(event, Failed):
                    settled = True
                    await asyncio.to_thread(self.store.finish_turn, turn.id, "failed")
                    raise event.error
        finally:
            outbox.release_later()
            if job.live:
                self.scheduler.forget_live(job)
            if not settled:  # the caller went away (cancelled call, deadline, dropped connection)
                self.scheduler.cancel(job.id)
                try:  # synchronously: this task is being cancelled and may not await again
                    self.store.finish_turn(turn.id, "cancelled")
                except ValueError:
                    log.warning("turn %s was already finished when its caller left", turn.id)

    async def _send_and_keep(
        self, job: Job, turn_id: str, result: tasks.GenerationResult, outbox: shm.Outbox
    ) -> AsyncIterator[pb.GenerateEvent]:
        """The candidates as soon as the engine has them, stored meanwhile; Done (and the turn's "completed")
        only once they are durable. Storing that fails after they were sent ends the stream with DATA_LOSS
        and the turn failed."""
        contents = result.images or result.texts
        ids = [new_id() for _ in contents]
        store = functools.partial(
            self.store.finish_turn,
            turn_id,
            "completed",
            images=result.images,
            texts=result.texts,
            painted=result.painted,
            candidate_ids=ids,
            stages=job.stages,
        )
        stored = self.keeping.start([turn_id, *ids], store)
        for index, (candidate_id, content) in enumerate(zip(ids, contents, strict=True)):
            with job.stages.timed("candidate events"):  # made, serialised and sent (the write is awaited)
                yield outbox.candidate_to_pb(index, candidate_id, job.seeds[index], content)
        try:
            with job.stages.timed("store wait"):
                await keeping.written(stored, f"the candidates of turn {turn_id}")
        except keeping.CandidatesLost:
            await asyncio.to_thread(self._fail_turn, turn_id)
            raise
        yield _done(turn_id, pb.JOB_COMPLETED, job)

    def _fail_turn(self, turn_id: str) -> None:
        try:
            self.store.finish_turn(turn_id, "failed")
        except Exception:  # the store that lost the candidates may refuse this too: the turn stays 'running'
            log.exception("turn %s lost its candidates and could not be marked failed", turn_id)

    @unary
    async def Cancel(self, request: pb.CancelRequest, context: grpc.aio.ServicerContext) -> pb.CancelResponse:
        job_id = validate.check_id("job_id", request.job_id)
        owner = self.scheduler.owner_of(job_id)
        if owner is None:
            raise LookupError(f"no queued or running job {job_id!r} (it may have finished already)")
        if owner != caller(context, self.tokens):
            raise PermissionDenied(f"job {job_id} was started by another client; only that client can cancel it")
        was_running = self.scheduler.cancel(job_id)
        if was_running is None:
            raise LookupError(f"no queued or running job {job_id!r} (it may have finished already)")
        return pb.CancelResponse(was_running=was_running)

    # ------------------------------------------------------------ personal LoRAs

    @streaming
    async def Personalize(
        self, request: pb.PersonalizeRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.PersonalizeEvent]:
        spec = validate.personalize_spec(request, self.limits)
        entry = await asyncio.to_thread(self.catalog.resolve, spec.model, "image")
        await asyncio.to_thread(self._check_lora_name, spec.name)
        pictures = await asyncio.to_thread(kept_pictures, self.store, spec.session_id)
        if not pictures:
            raise FailedPrecondition(
                f"Session {spec.session_id} has no accepted pictures yet: keep (accept) some candidates first, "
                "then personalize again."
            )
        if spec.prompt is not None:
            pictures = [(picture, spec.prompt) for picture, _ in pictures]
        staging = Path(await asyncio.to_thread(tempfile.mkdtemp, dir=self.catalog.models_dir, prefix=".personalize-"))
        weights = staging / f"{spec.name}.safetensors"
        identity = caller(context, self.tokens)
        job = Job(
            id=uuid.uuid4().hex,
            owner=identity,
            client=lane(identity, spec.client),
            task=PersonalizeTask(tuple(pictures), str(weights), spec.training),
            seeds=(spec.training.seed,),
            model=entry.name,
            model_entry=entry,
            previews=False,
            loop=asyncio.get_running_loop(),
        )
        settled = False
        try:
            position = self.scheduler.submit(job)
            yield pb.PersonalizeEvent(accepted=pb.Accepted(job_id=job.id, queue_position=position, model=entry.name))
            while True:
                event = await job.next_event()
                if isinstance(event, tasks.StepEvent):
                    progress = pb.Progress(step=event.step, total=event.total, loss=event.loss or 0.0)
                    yield pb.PersonalizeEvent(progress=progress)
                elif isinstance(event, QueuedAt):
                    yield pb.PersonalizeEvent(queued=pb.Queued(queue_position=event.position))
                elif isinstance(event, Finished):
                    settled = True
                    lora = await asyncio.to_thread(self.catalog.add_personal, spec.name, weights)
                    yield _personalized(pb.JOB_COMPLETED, job, lora=lora.name, pictures=len(pictures), sha=lora.sha256)
                    return
                elif isinstance(event, WasCancelled):
                    settled = True
                    yield _personalized(pb.JOB_CANCELLED, job)
                    return
                elif isinstance(event, Failed):
                    settled = True
                    raise event.error
        finally:
            if not settled:  # the caller went away
                self.scheduler.cancel(job.id)
            shutil.rmtree(staging, ignore_errors=True)

    def _check_lora_name(self, name: str) -> None:
        """Training again under a personal LoRA's name replaces it; any other model's name is taken."""
        taken = next((e for e in self.catalog.list() if e.name == name and e.source != "personal"), None)
        if taken is not None:
            raise FailedPrecondition(f"{name} is already the name of {taken.source} {taken.kind} model; pick another.")

    # ------------------------------------------------------------ sessions

    @unary
    async def CreateSession(self, request: pb.CreateSessionRequest, context: grpc.aio.ServicerContext) -> pb.Session:
        for field in ("host", "document_id", "document_name"):
            value = getattr(request, field)
            if len(value) > 1000:
                raise InvalidArgument(field, f"has {len(value)} characters; the limit is 1000")
        if not request.host:
            raise InvalidArgument("host", "name the program asking (krita, gimp, blender, libreoffice, cli...)")
        session = await asyncio.to_thread(
            self.store.create_session,
            request.host,
            request.document_id,
            request.document_name,
            caller(context, self.tokens),
        )
        return convert.session_to_pb(session)

    @unary
    async def GetSession(self, request: pb.GetSessionRequest, context: grpc.aio.ServicerContext) -> pb.SessionDetail:
        session_id = validate.check_id("session_id", request.session_id)
        size = request.thumbnail_size
        if size > MAX_THUMBNAIL:
            raise InvalidArgument("thumbnail_size", f"must be at most {MAX_THUMBNAIL}, got {size}")
        return await asyncio.to_thread(self._session_detail, session_id, size)

    def _session_detail(self, session_id: str, thumbnail_size: int) -> pb.SessionDetail:
        session, turns = self.store.session_detail(session_id)
        thumbnails = {}
        if thumbnail_size:
            for turn in turns:
                for candidate in turn.candidates:
                    if candidate.kind == "image":
                        thumbnails[candidate.id] = self.store.thumbnail(candidate, thumbnail_size)
        return pb.SessionDetail(
            session=convert.session_to_pb(session), turns=[convert.turn_to_pb(t, thumbnails) for t in turns]
        )

    @unary
    async def ListSessions(
        self, request: pb.ListSessionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListSessionsResponse:
        limit = request.limit or 100
        if limit > 10_000:
            raise InvalidArgument("limit", f"must be at most 10000, got {limit}")
        sessions = await asyncio.to_thread(
            self.store.list_sessions, request.host or None, request.document_id or None, limit
        )
        return pb.ListSessionsResponse(sessions=[convert.session_to_pb(s) for s in sessions])

    @unary
    async def ForkSession(self, request: pb.ForkSessionRequest, context: grpc.aio.ServicerContext) -> pb.Session:
        session_id = validate.check_id("session_id", request.session_id)
        turn_id = validate.check_id("turn_id", request.turn_id)
        await self.keeping.kept(turn_id)
        return convert.session_to_pb(await asyncio.to_thread(self.store.fork, session_id, turn_id))

    @streaming
    async def ExportSession(
        self, request: pb.ExportSessionRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.FileChunk]:
        session_id = validate.check_id("session_id", request.session_id)
        await asyncio.to_thread(self.store.get_session, session_id)  # NOT_FOUND before any byte
        pipe = ChunkPipe(EXPORT_CHUNK)
        writer = asyncio.create_task(asyncio.to_thread(self._export, session_id, pipe))
        try:
            while (chunk := await asyncio.to_thread(pipe.next_chunk)) is not None:
                yield pb.FileChunk(data=chunk)
            await writer  # its error, if it failed part way
        finally:
            pipe.close()  # a caller that left stops the writer at its next write

    def _export(self, session_id: str, out: ChunkPipe) -> None:
        """The session's zip with every candidate signed (provenance/, provenance.json) and analytics.json,
        written as each file is made."""

        def extra() -> Iterator[tuple[str, bytes]]:
            try:
                yield from self.provenance.export_files(session_id)
            except SigningError as error:
                raise FailedPrecondition(str(error)) from error
            stats = measure.session_report(self.store, session_id)
            report = json_format.MessageToJson(convert.session_stats_to_pb(stats), indent=2, ensure_ascii=False)
            yield "analytics.json", report.encode()

        try:
            self.store.export_zip(session_id, out, extra())
        finally:
            out.finish()

    @unary
    async def GetCandidate(
        self, request: pb.GetCandidateRequest, context: grpc.aio.ServicerContext
    ) -> pb.CandidateContent:
        candidate_id = validate.check_id("candidate_id", request.candidate_id)
        await self.keeping.kept(candidate_id)
        candidate, content = await asyncio.to_thread(self.store.get_candidate, candidate_id)
        return convert.candidate_content_to_pb(candidate, content)

    @unary
    async def Feedback(self, request: pb.FeedbackRequest, context: grpc.aio.ServicerContext) -> pb.FeedbackResponse:
        candidate_id = validate.check_id("candidate_id", request.candidate_id)
        decision = convert.DECISION_FROM_PB.get(request.decision)
        if decision is None:
            raise InvalidArgument("decision", "must be ACCEPTED, REJECTED or EDITED")
        final_image = final_text = None
        if request.HasField("final_image"):
            final_image = validate.rgba_image("final_image", request.final_image, self.limits)
        elif request.HasField("final_text"):
            final_text = validate.text_field("final_text", request.final_text, self.limits.max_text_chars)
        if decision == "edited" and final_image is None and final_text is None:
            raise InvalidArgument("final", "EDITED needs the edited result (final_image or final_text)")
        note = validate.text_field("note", request.note, limit=10_000)
        await self.keeping.kept(candidate_id)
        feedback = await asyncio.to_thread(
            self.store.add_feedback, candidate_id, decision, final_image=final_image, final_text=final_text, note=note
        )
        if decision != "rejected":
            await asyncio.to_thread(self._sign_kept, feedback)
        return pb.FeedbackResponse(feedback_id=feedback.id)

    @unary
    async def RestoreCandidate(
        self, request: pb.RestoreCandidateRequest, context: grpc.aio.ServicerContext
    ) -> pb.RestoreCandidateResponse:
        candidate_id = validate.check_id("candidate_id", request.candidate_id)
        await self.keeping.kept(candidate_id)
        candidate, content = await asyncio.to_thread(self.store.get_candidate, candidate_id)
        turn = await asyncio.to_thread(self.store.get_turn, candidate.turn_id)
        # Going back to a version is choosing it: it steers what the new branch suggests.
        feedback = await asyncio.to_thread(self.store.add_feedback, candidate_id, "accepted", note="restored")
        await asyncio.to_thread(self._sign_kept, feedback)
        candidate, content = await asyncio.to_thread(self.store.get_candidate, candidate_id)
        return pb.RestoreCandidateResponse(
            candidate=convert.candidate_content_to_pb(candidate, content),
            session_id=turn.session_id,
            turn_id=turn.id,
            feedback_id=feedback.id,
        )

    def _sign_kept(self, feedback: Feedback) -> None:
        """Sign what was kept. The decision is stored already: a signing failure is logged, not
        returned, and GetProvenance tries again (and reports why) when asked."""
        try:
            self.provenance.record(feedback)
        except Exception:
            log.exception("could not sign what feedback %s kept", feedback.id)

    # ------------------------------------------------------------ provenance and analytics

    @unary
    async def GetProvenance(self, request: pb.GetProvenanceRequest, context: grpc.aio.ServicerContext) -> pb.Provenance:
        candidate_id = validate.check_id("candidate_id", request.candidate_id)
        image_type = convert.IMAGE_TYPE_FROM_PB.get(request.format)
        if image_type is None:
            raise InvalidArgument("format", f"unknown value {request.format}; use PNG or JPEG")
        await self.keeping.kept(candidate_id)
        try:
            artifact = await asyncio.to_thread(self.provenance.artifact, candidate_id, image_type)
        except SigningError as error:
            raise FailedPrecondition(str(error)) from error
        return convert.provenance_to_pb(artifact)

    @unary
    async def GetAnalytics(
        self, request: pb.GetAnalyticsRequest, context: grpc.aio.ServicerContext
    ) -> pb.AnalyticsReport:
        if request.session_id:
            session_id = validate.check_id("session_id", request.session_id)
            stats = [await asyncio.to_thread(measure.session_report, self.store, session_id)]
        else:
            limit = request.limit or 100
            if limit > MAX_ANALYTICS_SESSIONS:
                raise InvalidArgument("limit", f"must be at most {MAX_ANALYTICS_SESSIONS}, got {limit}")
            stats = await asyncio.to_thread(measure.sessions_report, self.store, request.host or None, limit)
        return convert.analytics_to_pb(stats, analytics.overview(stats))

    # ------------------------------------------------------------ models

    @unary
    async def ListModels(
        self, request: pb.ListModelsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListModelsResponse:
        return pb.ListModelsResponse(models=await asyncio.to_thread(self._models))

    def _models(self) -> list[pb.ModelInfo]:
        residents = {r.name: r for r in self.scheduler.residency.residents()}
        infos = []
        for entry in self.catalog.list():
            resident = residents.get(entry.name)
            infos.append(
                pb.ModelInfo(
                    name=entry.name,
                    kind=entry.kind,
                    source=entry.source,
                    loaded=resident is not None,
                    device=resident.device if resident else self.device,
                    dtype=resident.dtype if resident else "",
                    memory_bytes=resident.memory_bytes if resident else 0,
                    is_default=entry.is_default,
                    family=entry.family,
                    load_seconds=resident.load_seconds if resident else 0.0,
                    load_peak_rss_bytes=resident.load_peak_rss_bytes if resident else 0,
                    controls=entry.controls,
                )
            )
        return infos

    @unary
    async def ModelStatus(
        self, request: pb.ModelStatusRequest, context: grpc.aio.ServicerContext
    ) -> pb.ModelStatusResponse:
        models = await asyncio.to_thread(self._models)
        running = self.scheduler.running_job_ids(owner=caller(context, self.tokens))  # others' jobs are not shown
        return pb.ModelStatusResponse(
            loaded=[m for m in models if m.loaded],
            device=self.device,
            queue_length=self.scheduler.queue_length(),
            running_job_id=running[0] if running else "",
            memory_budget_bytes=self.scheduler.residency.budget or 0,
            version=__version__,
            limits=convert.limits_to_pb(self.limits),
            cluster=await asyncio.to_thread(self._cluster),
        )

    def _cluster(self) -> pb.ClusterStatus | None:
        cluster = self.scheduler.runner.cluster()
        if cluster is None:
            return None
        replicas = [
            pb.EngineReplica(
                id=r.id, kind=r.kind, state=r.state, node=r.node, pid=r.pid, models=r.models, running=r.running
            )
            for r in cluster.replicas
        ]
        return pb.ClusterStatus(address=cluster.address, replicas=replicas, waiting=cluster.waiting)

    @unary
    async def ProbeSharedMemory(
        self, request: pb.SharedMemoryProbe, context: grpc.aio.ServicerContext
    ) -> pb.SharedMemoryProbeReply:
        return await asyncio.to_thread(shm_probe.probe, request, self.tokens is None)


def _elapsed_ms(job: Job) -> int:
    return int((time.monotonic() - job.submitted) * 1000)


def _done(turn_id: str, status: int, job: Job) -> pb.GenerateEvent:
    elapsed_ms = _elapsed_ms(job)
    log.debug("job %s took %d ms: %s", job.id, elapsed_ms, job.stages.describe())
    stages = [pb.StageTime(name=name, seconds=seconds) for name, seconds in job.stages.items()]
    return pb.GenerateEvent(done=pb.Done(turn_id=turn_id, status=status, elapsed_ms=elapsed_ms, stages=stages))


def _personalized(status: int, job: Job, *, lora: str = "", pictures: int = 0, sha: str = "") -> pb.PersonalizeEvent:
    done = pb.Personalized(status=status, lora=lora, pictures=pictures, sha256=sha, elapsed_ms=_elapsed_ms(job))
    return pb.PersonalizeEvent(done=done)
