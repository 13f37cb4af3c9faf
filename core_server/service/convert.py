"""The only translation between wire types (pb) and the daemon's plain values."""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Any

from .. import tasks
from ..pb import cocreate_pb2 as pb
from ..sessions import model

_DECISION_TO_PB = {"accepted": pb.ACCEPTED, "rejected": pb.REJECTED, "edited": pb.EDITED}
DECISION_FROM_PB = {v: k for k, v in _DECISION_TO_PB.items()}


def image_to_pb(image: tasks.RGBAImage) -> pb.Image:
    return pb.Image(width=image.width, height=image.height, rgba=image.data)


def task_params(task: tasks.Task) -> dict[str, Any]:
    """Every parameter of the task as JSON values; pixels are summarised by their size."""
    params: dict[str, Any] = {}
    for field in dataclasses.fields(task):
        value = getattr(task, field.name)
        if isinstance(value, tasks.RGBAImage | tasks.Mask):
            value = {"width": value.width, "height": value.height}
        elif isinstance(value, enum.Enum):
            value = value.value
        elif isinstance(value, tuple):
            value = list(value)
        params[field.name] = value
    return params


def session_to_pb(s: model.Session) -> pb.Session:
    return pb.Session(
        id=s.id,
        host=s.host,
        document_id=s.document_id,
        document_name=s.document_name,
        created_ms=s.created_ms,
        turn_count=s.turn_count,
        forked_from_turn_id=s.forked_from_turn_id or "",
    )


def feedback_to_pb(f: model.Feedback) -> pb.FeedbackInfo:
    return pb.FeedbackInfo(
        id=f.id,
        decision=_DECISION_TO_PB[f.decision],
        created_ms=f.created_ms,
        final_sha256=f.final_sha256 or "",
        note=f.note,
    )


def candidate_info_to_pb(c: model.Candidate, thumbnail: tasks.RGBAImage | None = None) -> pb.CandidateInfo:
    info = pb.CandidateInfo(
        id=c.id,
        index=c.index,
        seed=c.seed,
        kind=c.kind,
        sha256=c.sha256,
        width=c.width,
        height=c.height,
        text=c.text,
        feedback=[feedback_to_pb(f) for f in c.feedback],
    )
    if thumbnail is not None:
        info.thumbnail.CopyFrom(image_to_pb(thumbnail))
    return info


def turn_to_pb(t: model.Turn, thumbnails: dict[str, tasks.RGBAImage]) -> pb.Turn:
    return pb.Turn(
        id=t.id,
        parent_id=t.parent_id or "",
        task=t.task,
        params_json=json.dumps(t.params, sort_keys=True),
        model=t.model,
        model_sha256=t.model_sha256,
        status=t.status,
        created_ms=t.created_ms,
        finished_ms=t.finished_ms or 0,
        candidates=[candidate_info_to_pb(c, thumbnails.get(c.id)) for c in t.candidates],
    )


def progress_to_pb(event: tasks.StepEvent) -> pb.GenerateEvent:
    return pb.GenerateEvent(
        progress=pb.Progress(step=event.step, total=event.total, previews=[image_to_pb(p) for p in event.previews])
    )


def candidate_to_pb(c: model.Candidate, content: tasks.RGBAImage | str) -> pb.GenerateEvent:
    candidate = pb.Candidate(index=c.index, candidate_id=c.id, seed=c.seed, sha256=c.sha256)
    if isinstance(content, str):
        candidate.text = content
    else:
        candidate.image.CopyFrom(image_to_pb(content))
    return pb.GenerateEvent(candidate=candidate)
