"""What an image task asks beyond its prompt, checked against the model it will run on before a job is
queued: an edit needs a family that edits; reference images need a family that takes them and, on the
IP-Adapter and Redux families, an adapter from the catalog. Returns the task with its adapters resolved, and what the
turn records of them (each reference's kind, strength, picture hash and adapter), so a replay can be checked."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

from .. import tasks
from ..engines.families import FAMILIES
from ..engines.families.conditioning import adapter_family, edit_refusal, missing_adapter, reference_refusal
from ..engines.families.family import IP_ADAPTER, REDUX, Family
from ..models.catalog import ADAPTER, ModelCatalog, ModelEntry, UnknownModel
from .cocreation import Steered
from .errors import FailedPrecondition


def resolve(catalog: ModelCatalog, entry: ModelEntry, steered: Steered) -> Steered:
    """Blocking (reads the catalog): call from a thread."""
    task = steered.task
    if tasks.task_kind(task) != "image":
        return steered
    family = FAMILIES.get(entry.family)
    references: tuple[tasks.Reference, ...] = task.references  # type: ignore[union-attr]
    if family is None:
        if isinstance(task, tasks.EditTask) or references:
            raise FailedPrecondition(f"{entry.name} is of no family cocreate knows; add it again to the catalog.")
        return steered
    if isinstance(task, tasks.EditTask) and (why := edit_refusal(family)):
        raise FailedPrecondition(why)
    if not references:
        return steered
    if why := reference_refusal(family, references):
        raise FailedPrecondition(why)
    if family.references in (IP_ADAPTER, REDUX):
        references = tuple(replace(r, adapter=_adapter(catalog, entry, family, r.model)) for r in references)
    return Steered(
        replace(task, references=references),  # type: ignore[arg-type]
        steered.seeds,
        {**steered.record, "references": [_record(reference) for reference in references]},
    )


def _adapter(catalog: ModelCatalog, model: ModelEntry, family: Family, name: str) -> tasks.Adapter:
    if not name:
        fitting = [e for e in catalog.list() if e.kind == ADAPTER and e.family == adapter_family(family)]
        if not fitting:
            raise FailedPrecondition(missing_adapter(family))
        # A tiny model takes the tiny adapter; a real one a real adapter when there is one.
        name = min(fitting, key=lambda e: ((e.source == "tiny") != (model.source == "tiny"), e.name)).name
    try:
        entry = catalog.resolve(name, ADAPTER)
    except UnknownModel as error:
        raise FailedPrecondition(f"{error} {missing_adapter(family)}") from error
    if entry.family and entry.family != adapter_family(family):
        raise FailedPrecondition(
            f"The adapter {entry.name} is made for {FAMILIES[entry.family].title} models, not {family.title}."
        )
    return tasks.Adapter(entry.name, str(entry.path), entry.sha256)


def _record(reference: tasks.Reference) -> dict[str, Any]:
    image = reference.image
    return {
        "kind": reference.kind.value,
        "strength": reference.strength,
        "image": {"width": image.width, "height": image.height, "sha256": hashlib.sha256(image.data).hexdigest()},
        "adapter": {"name": reference.adapter.name, "sha256": reference.adapter.sha256} if reference.adapter else None,
    }
