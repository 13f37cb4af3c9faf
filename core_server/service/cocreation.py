"""Turn a validated request into the task the engine runs: steered by the session's feedback, walking
an interpolation, replaying a turn, with a personal LoRA. Returns what the turn records about it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from .. import tasks
from ..models.catalog import LORA, ModelCatalog
from ..sessions.store import SessionStore
from . import history, steering
from .errors import InvalidArgument
from .validate import GenerateSpec


@dataclass(frozen=True)
class Steered:
    task: tasks.Task
    seeds: tuple[int, ...]
    record: dict[str, Any]  # added to the turn's params: the feedback used, the noise, the LoRA


def steer(store: SessionStore, catalog: ModelCatalog, spec: GenerateSpec) -> Steered:
    """Blocking (reads the store and the catalog): call from a thread."""
    task, seeds, lora = spec.task, spec.seeds, spec.lora
    record: dict[str, Any] = {}
    direction: tasks.ImageSteering | tasks.TextSteering | None
    if spec.replay_turn_id:
        turn = history.replayed_turn(store, spec.session_id, spec.replay_turn_id)
        name = tasks.TASK_NAMES[type(task)]
        if turn.task != name:
            raise InvalidArgument("replay_turn_id", f"that turn ran {turn.task}; this request is {name}")
        seeds = turn.seeds
        direction = steering.from_json(turn.params.get("steering"))
        record["replay_of"] = turn.id
        record["feedback"] = turn.params.get("feedback")
        lora = lora or (turn.params.get("lora") or {}).get("name", "")  # the same adapter, unless one is named
    elif spec.interpolate:
        sources = history.interpolation_sources(store, spec.session_id, spec.interpolate)
        direction = steering.interpolate(sources, len(seeds))
        record["interpolate"] = list(spec.interpolate)
    else:
        exploration = steering.DEFAULT_EXPLORATION if spec.exploration is None else spec.exploration
        past = history.resolve(store, spec.session_id, spec.parent_turn_id, spec.more_like, spec.less_like)
        if tasks.task_kind(task) == "image":
            direction = steering.steer_noise(seeds, past.recipes(liked=True), past.recipes(liked=False), exploration)
        else:
            direction = steering.steer_text(past.texts(liked=True), past.texts(liked=False), exploration)
        record["feedback"] = {"exploration": exploration, **past.record()}
    if direction is not None:
        task = replace(task, steering=direction)  # type: ignore[arg-type]
        record["steering"] = steering.to_json(direction)
    if lora:
        entry = catalog.resolve(lora, LORA)
        adapter = tasks.Adapter(entry.name, str(entry.path), entry.sha256)
        task = replace(task, lora=adapter)  # type: ignore[arg-type]
        record["lora"] = {"name": adapter.name, "sha256": adapter.sha256}
    return Steered(task, seeds, record)
