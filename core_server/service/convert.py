"""The only translation between wire types (pb) and the daemon's plain values."""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from typing import Any

from .. import config, tasks
from ..pb import cocreate_pb2 as pb
from ..provenance import embed
from ..provenance.artifacts import SignedArtifact
from ..sessions import analytics, model

_DECISION_TO_PB = {"accepted": pb.ACCEPTED, "rejected": pb.REJECTED, "edited": pb.EDITED}
DECISION_FROM_PB = {v: k for k, v in _DECISION_TO_PB.items()}
IMAGE_TYPE_FROM_PB = {
    pb.PROVENANCE_FORMAT_UNSPECIFIED: embed.PNG,
    pb.PROVENANCE_FORMAT_PNG: embed.PNG,
    pb.PROVENANCE_FORMAT_JPEG: embed.JPEG,
}


def limits_to_pb(limits: config.Limits) -> pb.Limits:
    return pb.Limits(
        max_side=limits.max_side,
        max_candidates=limits.max_candidates,
        max_steps=limits.max_steps,
        max_new_tokens=limits.max_new_tokens,
        max_text_chars=limits.max_text_chars,
        max_prompt_chars=limits.max_prompt_chars,
        max_queue=limits.max_queue,
        max_message_bytes=limits.max_message_bytes,
    )


def image_to_pb(image: tasks.RGBAImage) -> pb.Image:
    return pb.Image(width=image.width, height=image.height, rgba=image.data)


# Recorded by service.cocreation and service.conditioning in their own words (the feedback used, the LoRA's
# and the references' names and hashes).
_RECORDED_APART = {"steering", "lora", "references"}


def task_params(task: tasks.Task) -> dict[str, Any]:
    """Every parameter of the task as JSON values; pixels are summarised by their size."""
    params: dict[str, Any] = {}
    for field in dataclasses.fields(task):
        if field.name in _RECORDED_APART:
            continue
        value = getattr(task, field.name)
        if isinstance(value, tasks.RGBAImage | tasks.Mask):
            value = {"width": value.width, "height": value.height}
        elif isinstance(value, enum.Enum):
            value = value.value
        elif isinstance(value, tasks.Resolution):
            value = {"size": value.size.value, "max_side": value.max_side}
        elif field.name == "controls":
            value = [_control_params(control) for control in value]
        elif isinstance(value, tuple):
            value = list(value)
        params[field.name] = value
    return params


def _control_params(control: tasks.Control) -> dict[str, Any]:
    """A control as its turn keeps it: the map by size and SHA-256 (as pictures are kept by size), the model
    by name and weights, so a replay with the same map is known to be the same."""
    image = control.image
    return {
        "kind": control.kind.value,
        "image": {"width": image.width, "height": image.height, "sha256": hashlib.sha256(image.data).hexdigest()},
        "strength": control.strength,
        "start": control.start,
        "end": control.end,
        "derive": control.derive,
        "model": {"name": control.model.name, "sha256": control.model.sha256} if control.model else None,
    }


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
    progress = pb.Progress(step=event.step, total=event.total, previews=[image_to_pb(p) for p in event.previews])
    if event.painted is not None:
        progress.painted_width, progress.painted_height = event.painted
    return pb.GenerateEvent(progress=progress)


def candidate_to_pb(index: int, candidate_id: str, seed: int, content: tasks.RGBAImage | str) -> pb.GenerateEvent:
    """Sent before the candidate is stored: its stored file's sha256 is not known yet (GetCandidate has it)."""
    candidate = pb.Candidate(index=index, candidate_id=candidate_id, seed=seed)
    if isinstance(content, str):
        candidate.text = content
    else:
        candidate.image.CopyFrom(image_to_pb(content))
    return pb.GenerateEvent(candidate=candidate)


def candidate_content_to_pb(c: model.Candidate, content: tasks.RGBAImage | str) -> pb.CandidateContent:
    reply = pb.CandidateContent(info=candidate_info_to_pb(c))
    if isinstance(content, str):
        reply.text = content
    else:
        reply.image.CopyFrom(image_to_pb(content))
    return reply


def provenance_to_pb(a: SignedArtifact) -> pb.Provenance:
    return pb.Provenance(
        candidate_id=a.candidate_id,
        feedback_id=a.feedback_id or "",
        media_type=a.media_type,
        file_name=a.file_name,
        data=a.data,
        manifest_json=json.dumps(a.manifest, sort_keys=True, ensure_ascii=False),
        human_edited=a.human_edited,
        text=a.text or "",
    )


def edit_to_pb(e: analytics.Edit) -> pb.EditDistance:
    d = e.distance
    measures: dict[str, Any]
    if isinstance(d, analytics.TextDistance):
        measures = {
            "kind": "text",
            "char_distance": d.chars,
            "word_distance": d.words,
            "char_ratio": d.char_ratio,
            "word_ratio": d.word_ratio,
        }
    else:
        measures = {"kind": "image", "pixel_distance": d.pixel, "ssim": d.ssim}
    return pb.EditDistance(
        feedback_id=e.feedback_id, candidate_id=e.candidate_id, turn_id=e.turn_id, created_ms=e.created_ms, **measures
    )


def turn_stats_to_pb(t: analytics.TurnStats) -> pb.TurnAnalytics:
    return pb.TurnAnalytics(
        turn_id=t.turn_id,
        parent_id=t.parent_id or "",
        created_ms=t.created_ms,
        depth=t.depth,
        status=t.status,
        candidates=t.candidates,
        accepted=t.accepted,
        edited=t.edited,
        rejected=t.rejected,
        diversity=t.diversity,
    )


def session_stats_to_pb(s: analytics.SessionStats) -> pb.SessionAnalytics:
    return pb.SessionAnalytics(
        session_id=s.session_id,
        host=s.host,
        document_name=s.document_name,
        created_ms=s.created_ms,
        turns=s.turns,
        tree_depth=s.tree_depth,
        turns_to_accept=s.turns_to_accept,
        branches=s.branches,
        candidates=s.candidates,
        decided=s.decided,
        accepted=s.accepted,
        edited=s.edited,
        rejected=s.rejected,
        rejection_rate=s.rejection_rate,
        diversity=s.diversity,
        timeline=[turn_stats_to_pb(t) for t in s.timeline],
        edits=[edit_to_pb(e) for e in s.edits],
    )


def analytics_to_pb(sessions: list[analytics.SessionStats], overview: analytics.Overview) -> pb.AnalyticsReport:
    # None leaves an `optional` field unset: "no value" (no decision yet, say), not zero.
    return pb.AnalyticsReport(
        sessions=[session_stats_to_pb(s) for s in sessions],
        overview=pb.AnalyticsOverview(**dataclasses.asdict(overview)),
    )
