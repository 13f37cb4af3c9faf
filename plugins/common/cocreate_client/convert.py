"""The only translation between protobuf messages and this package's plain types."""

from __future__ import annotations

from . import shm
from .events import Accepted, CandidateReady, Done, Event, Progress, Queued, TextDelta, Trained
from .pb import cocreate_pb2 as pb
from .pixels import Image, Mask

# Requests take pixels as dicts: protobuf builds nested messages from a dict in place, while a
# ready-made pb.Image passed to a parent's constructor is copied again (0.3 s per 64 MiB with upb).


def image_fields(image: Image) -> dict[str, object]:
    return {"width": image.width, "height": image.height, "rgba": bytes(image.rgba)}


def mask_fields(mask: Mask) -> dict[str, object]:
    return {"width": mask.width, "height": mask.height, "alpha": bytes(mask.alpha)}


def image_from_pb(message: pb.Image) -> Image:
    if message.HasField("shared"):  # the daemon left the pixels in shared memory for this client
        return Image(message.width, message.height, shm.take(message.shared.name, message.width * message.height * 4))
    return Image(message.width, message.height, message.rgba)


def candidate_from_pb(message: pb.Candidate) -> CandidateReady:
    content = message.WhichOneof("content")
    return CandidateReady(
        index=message.index,
        candidate_id=message.candidate_id,
        seed=message.seed,
        image=image_from_pb(message.image) if content == "image" else None,
        text=message.text if content == "text" else None,
        sha256=message.sha256,
    )


def candidate_content_from_pb(message: pb.CandidateContent) -> CandidateReady:
    info, content = message.info, message.WhichOneof("content")
    return CandidateReady(
        index=info.index,
        candidate_id=info.id,
        seed=info.seed,
        image=image_from_pb(message.image) if content == "image" else None,
        text=message.text if content == "text" else None,
        sha256=info.sha256,
    )


def event_from_pb(message: pb.GenerateEvent) -> Event | None:
    """None for an event kind this client does not know yet (a newer daemon)."""
    kind = message.WhichOneof("event")
    if kind == "accepted":
        a = message.accepted
        return Accepted(a.job_id, a.turn_id, a.queue_position, list(a.seeds), a.model)
    if kind == "queued":
        return Queued(message.queued.queue_position)
    if kind == "progress":
        p = message.progress
        return Progress(p.step, p.total, [image_from_pb(i) for i in p.previews])
    if kind == "text_delta":
        return TextDelta(message.text_delta.index, message.text_delta.text)
    if kind == "candidate":
        return candidate_from_pb(message.candidate)
    if kind == "done":
        d = message.done
        stages = tuple((stage.name, stage.seconds) for stage in d.stages)
        return Done(d.turn_id, cancelled=d.status == pb.JOB_CANCELLED, elapsed_ms=d.elapsed_ms, stages=stages)
    return None


def personalize_events_from_pb(message: pb.PersonalizeEvent) -> list[Event]:
    """A personalisation's events as a generation's: its end is Trained (when it completed) and Done."""
    kind = message.WhichOneof("event")
    if kind == "accepted":
        a = message.accepted
        return [Accepted(a.job_id, "", a.queue_position, [], a.model)]
    if kind == "queued":
        return [Queued(message.queued.queue_position)]
    if kind == "progress":
        return [Progress(message.progress.step, message.progress.total, loss=message.progress.loss)]
    if kind == "done":
        d = message.done
        done = Done("", cancelled=d.status == pb.JOB_CANCELLED, elapsed_ms=d.elapsed_ms)
        return [done] if done.cancelled else [Trained(d.lora, d.pictures, d.sha256), done]
    return []
