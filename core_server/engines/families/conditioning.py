"""Which families edit by instruction and take reference images, and why a request cannot have them: read
without torch by the service (to refuse before a job is queued) and by the engine (to refuse inside one)."""

from __future__ import annotations

from collections.abc import Sequence

from core_server.engines.families import FAMILIES
from core_server.engines.families.family import IMAGE_REFERENCE, IP_ADAPTER, REDUX, Family
from core_server.models import redux
from core_server.tasks import Reference, ReferenceKind

MAX_IMAGE_REFERENCES = 1  # Flux.2 Klein, Kontext: their pipelines would batch several pictures as one per candidate
# `cocreate models pull` short names (models.pulls) that add what a family lacks.
EDITING_PULLS = "flux-kontext, qwen-image-edit or flux2-klein"
ADAPTER_PULLS = {"sd15": "ip-adapter-sd15", "sdxl": "ip-adapter-sdxl", redux.FAMILY: redux.PULL_NAME}


def edit_refusal(family: Family) -> str | None:
    """Why `family` cannot edit (naming the families that can), or None when it can."""
    if family.edits:
        return None
    editing = ", ".join(f.title for f in FAMILIES.values() if f.edits)
    return (
        f"{family.title} models cannot edit by instruction; {editing} models can. Add one with "
        f"`cocreate models pull NAME` (NAME: {EDITING_PULLS}) and name it as the request's model."
    )


def reference_refusal(family: Family, references: Sequence[Reference]) -> str | None:
    """Why `family` cannot take these references (naming what can), or None when it can."""
    if not references:
        return None
    if not family.references:
        takers = ", ".join(f.title for f in FAMILIES.values() if f.references)
        return f"{family.title} models take no reference images here; {takers} models do."
    if family.references == IP_ADAPTER and any(r.kind is ReferenceKind.FACE for r in references):
        return (
            "Face references need IP-Adapter FaceID, which needs insightface (not part of cocreate); "
            "send the face as a STYLE or COMPOSITION reference instead."
        )
    if family.references == REDUX and any(r.kind is ReferenceKind.FACE for r in references):
        return (
            f"{family.title} models take references through Flux Redux, which follows a picture as a whole, not a "
            "face's identity; send the face as a STYLE or COMPOSITION reference instead."
        )
    if family.references == IMAGE_REFERENCE and len(references) > MAX_IMAGE_REFERENCES:
        return f"{family.title} models take {MAX_IMAGE_REFERENCES} reference picture here, not {len(references)}."
    return None


def adapter_family(family: Family) -> str:
    """The family the catalog records the adapters `family` takes under: Fill reads Flux.1's Redux tokens."""
    return redux.FAMILY if family.references == REDUX else family.name


def missing_adapter(family: Family) -> str:
    """What to say when no IP-Adapter (or Redux model) for `family` is in the catalog."""
    pull = ADAPTER_PULLS.get(adapter_family(family))
    if family.references == REDUX:
        return (
            f"Reference images on {family.title} need Flux Redux ({redux.REPO}), and it is not installed; "
            f"add it with `cocreate models pull {redux.PULL_NAME}`."
        )
    how = f"`cocreate models pull {pull}`" if pull else "`cocreate models add NAME FOLDER` (an IP-Adapter folder)"
    return f"Reference images on {family.title} need an IP-Adapter for it, and none is installed; add one with {how}."
