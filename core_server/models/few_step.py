"""Which model (and LoRA) a live-painting request runs on, and the steps it takes by default.

The catalog tells few-step models by name: an image model whose catalog name or weights' file/folder
name has one of Lightning, Hyper, LCM, Turbo or Schnell as a word (sdxl-lightning, sd-turbo,
FLUX.1-schnell, Z-Image-Turbo) is distilled to paint in a few steps. A live request that names no model
runs on such a model, of the default model's family first; with none installed, a LoRA named that way
that also names the default model's family (`cocreate models add sdxl-lightning-lora FILE`) is applied
to the default model; with neither, the default model runs with fewer steps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace

from core_server import tasks
from core_server.models.catalog import LORA, ModelCatalog, ModelEntry

FEW_STEP_NAME = re.compile(r"(?:^|[^a-z])(lightning|hyper|lcm|turbo|schnell)(?:[^a-z]|$)", re.IGNORECASE)
FEW_STEP_STEPS = 4  # what Lightning/Hyper/LCM/Turbo/Schnell are distilled for
FEW_STEP_GUIDANCE = 1.0  # no classifier-free guidance: distilled models run without it, at half the cost
LIVE_STEPS = 8  # a model that is not distilled, painting live: rough, but an update in time


def is_few_step(entry: ModelEntry) -> bool:
    return any(FEW_STEP_NAME.search(name) for name in (entry.name, entry.path.name))


@dataclass(frozen=True)
class LiveChoice:
    model: ModelEntry
    lora: str  # a few-step LoRA to apply, "" = none
    few_step: bool


def choose(catalog: ModelCatalog, model: str, lora: str, kind: str) -> LiveChoice:
    """The model a live request runs on: the one it names, else a few-step one (see the module's doc)."""
    if model:
        entry = catalog.resolve(model, kind)
        return LiveChoice(entry, "", is_few_step(entry) or _few_step_lora_name(lora))
    default = catalog.resolve("", kind)
    if is_few_step(default):
        return LiveChoice(default, "", True)
    entries = catalog.list()
    models = [e for e in entries if e.kind == kind and is_few_step(e)]
    models.sort(key=lambda e: (e.family != default.family, e.source == "tiny", e.name))
    if models:
        return LiveChoice(catalog.resolve(models[0].name, kind), "", True)
    if not lora:
        loras = sorted(e.name for e in entries if e.kind == LORA and is_few_step(e) and _names_family(e, default))
        if loras:
            return LiveChoice(default, loras[0], True)
    return LiveChoice(default, "", _few_step_lora_name(lora))


def tune(task: tasks.Task, few_step: bool, max_steps: int) -> tasks.Task:
    """The live defaults for what the request left at 0: fewer steps, and no guidance on a few-step model."""
    names = {f.name for f in fields(task)}  # type: ignore[arg-type]
    if "steps" not in names:
        return task
    changes: dict[str, object] = {}
    if task.steps == 0:  # type: ignore[union-attr]
        changes["steps"] = min(FEW_STEP_STEPS if few_step else LIVE_STEPS, max_steps)
    if few_step and task.guidance == 0:  # type: ignore[union-attr]
        changes["guidance"] = FEW_STEP_GUIDANCE
    return replace(task, **changes)  # type: ignore[type-var]


def _few_step_lora_name(lora: str) -> bool:
    return bool(lora and FEW_STEP_NAME.search(lora))


def _names_family(lora: ModelEntry, model: ModelEntry) -> bool:
    return bool(model.family) and model.family.lower() in re.split(r"[^a-z0-9]+", lora.name.lower())
