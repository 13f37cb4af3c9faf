"""A request's controls: each field checked (INVALID_ARGUMENT), then each given its ControlNet from the
catalog (FAILED_PRECONDITION naming the pull that adds a missing one)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

from .. import config, tasks
from ..engines.families import FAMILIES
from ..models import depth_estimators
from ..models.catalog import CONTROL, ModelCatalog, ModelEntry, UnknownModel
from ..models.control_models import CONTROL_FAMILIES
from ..models.control_pulls import pull_hint
from ..pb import cocreate_pb2 as pb
from .errors import FailedPrecondition, InvalidArgument

MAX_CONTROLS = 4  # each is a ControlNet forward per step; more is rarely wanted and slow everywhere
MAX_STRENGTH = 2.0
_KINDS = {
    pb.CONTROL_SCRIBBLE: tasks.ControlKind.SCRIBBLE,
    pb.CONTROL_LINE_ART: tasks.ControlKind.LINE_ART,
    pb.CONTROL_SOFT_EDGE: tasks.ControlKind.SOFT_EDGE,
    pb.CONTROL_CANNY: tasks.ControlKind.CANNY,
    pb.CONTROL_DEPTH: tasks.ControlKind.DEPTH,
    pb.CONTROL_NORMAL: tasks.ControlKind.NORMAL,
    pb.CONTROL_POSE: tasks.ControlKind.POSE,
    pb.CONTROL_SEGMENTATION: tasks.ControlKind.SEGMENTATION,
    pb.CONTROL_TILE: tasks.ControlKind.TILE,
}
# Kinds derived from a depth estimate of the picture (normals from its gradients).
FROM_DEPTH = (tasks.ControlKind.DEPTH, tasks.ControlKind.NORMAL)
# Kinds whose map only a model cocreate does not run can derive from a photo, and the model that would.
NEEDS_A_MODEL_TO_DERIVE = {
    tasks.ControlKind.POSE: "a pose estimator (lllyasviel/Annotators: OpenPose)",
    tasks.ControlKind.SEGMENTATION: "a segmenter (lllyasviel/Annotators: UperNet)",
}


def canvas_size(task: tasks.Task) -> tuple[int, int]:
    """(width, height) of the task's result canvas: what a control map must cover."""
    if isinstance(task, tasks.ExpandTask):
        return task.image.width + task.left + task.right, task.image.height + task.top + task.bottom
    if isinstance(task, tasks.TextureTask):
        return task.width, task.height
    image = getattr(task, "image", None)
    if not isinstance(image, tasks.RGBAImage):
        raise InvalidArgument("controls", "controls apply to image tasks (inpaint, expand, texture, variants)")
    return image.width, image.height


def parse(controls: Sequence[pb.Control], task: tasks.Task, limits: config.Limits) -> tuple[tasks.Control, ...]:
    """Every field of every control checked against the task it steers."""
    if tasks.task_kind(task) != "image":
        raise InvalidArgument("controls", "controls apply to image tasks (inpaint, expand, texture, variants)")
    if isinstance(task, tasks.EditTask):
        raise FailedPrecondition(
            "an edit takes no controls in cocreate yet: no instruction-edit pipeline reads ControlNet maps; "
            "send the controls with inpaint or variants instead"
        )
    if len(controls) > MAX_CONTROLS:
        raise InvalidArgument("controls", f"{len(controls)} controls; at most {MAX_CONTROLS} at once")
    width, height = canvas_size(task)
    return tuple(_control(f"controls[{i}]", control, width, height, limits) for i, control in enumerate(controls))


def _control(field: str, control: pb.Control, width: int, height: int, limits: config.Limits) -> tasks.Control:
    from .validate import check_model_name, rgba_image  # validate imports this module

    kind = _KINDS.get(control.kind)
    if kind is None:
        names = ", ".join(pb.ControlKind.Name(k) for k in _KINDS)
        raise InvalidArgument(f"{field}.kind", f"say what the map shows: one of {names}")
    if not control.HasField("image"):
        raise InvalidArgument(f"{field}.image", f"give the {kind.value} map, {width}×{height} like the result")
    image = rgba_image(f"{field}.image", control.image, limits)
    if (image.width, image.height) != (width, height):
        raise InvalidArgument(
            f"{field}.image",
            f"is {image.width}×{image.height}; it must cover the result canvas, {width}×{height}, "
            "so it lines up with the picture (the daemon crops and scales it as it does the region)",
        )
    strength = control.strength
    if not (math.isfinite(strength) and 0 <= strength <= MAX_STRENGTH):
        raise InvalidArgument(f"{field}.strength", f"must be in (0, {MAX_STRENGTH}] (0 = 1.0), got {strength}")
    start, end = control.start, control.end or 1.0
    if not (math.isfinite(start) and 0 <= start < 1):
        raise InvalidArgument(f"{field}.start", f"the fraction of the steps it starts at, in [0, 1); got {start}")
    if not (math.isfinite(end) and start < end <= 1):
        raise InvalidArgument(f"{field}.end", f"the fraction it ends at, in (start = {start}, 1] (0 = 1); got {end}")
    return tasks.Control(
        kind=kind,
        image=image,
        strength=strength or 1.0,
        start=start,
        end=end,
        derive=control.derive,
        asked_model=check_model_name(f"{field}.model", control.model),
    )


def attach_models(catalog: ModelCatalog, image_model: ModelEntry, task: tasks.Task) -> tasks.Task:
    """The task with each control's ControlNet resolved for the image model's family. Blocking: a thread."""
    controls = getattr(task, "controls", ())
    if not controls:
        return task
    family = FAMILIES.get(image_model.family)
    if image_model.family not in CONTROL_FAMILIES:
        served = ", ".join(FAMILIES[name].title for name in CONTROL_FAMILIES)
        title = family.title if family else image_model.name
        raise FailedPrecondition(f"{title} models take no controls in cocreate; controls run on {served} models")
    attached = []
    for i, control in enumerate(controls):
        if control.derive and control.kind in FROM_DEPTH:
            control = replace(control, estimator=_depth_estimator(catalog, control, i))
        if control.derive and control.kind in NEEDS_A_MODEL_TO_DERIVE:
            raise FailedPrecondition(
                f"controls[{i}]: deriving a {control.kind.value} map from a picture needs "
                f"{NEEDS_A_MODEL_TO_DERIVE[control.kind]}, which this daemon does not run; send the "
                f"{control.kind.value} map itself with derive = false (Blender renders depth and normals)"
            )
        attached.append(replace(control, model=_control_model(catalog, image_model, control, i)))
    return replace(task, controls=tuple(attached))  # type: ignore[arg-type]


def _depth_estimator(catalog: ModelCatalog, control: tasks.Control, i: int) -> str:
    entry = catalog.depth_estimator()
    if entry is None:
        raise FailedPrecondition(
            f"controls[{i}]: deriving a {control.kind.value} map from a picture needs a depth estimator, and none "
            f"is installed; {depth_estimators.PULL_HINT}, or send the {control.kind.value} map itself with "
            "derive = false (Blender renders depth and normals)"
        )
    return str(entry.path)


def _control_model(
    catalog: ModelCatalog, image_model: ModelEntry, control: tasks.Control, i: int
) -> tasks.ControlModel:
    family, kind = image_model.family, control.kind.value
    if control.asked_model:
        try:
            entry = catalog.resolve(control.asked_model, CONTROL)
        except UnknownModel as error:
            raise FailedPrecondition(f"controls[{i}].model: {error}") from error
        if entry.family != family:
            raise FailedPrecondition(
                f"controls[{i}].model: {entry.name} is a {entry.family} control model; {image_model.name} is "
                f"{family or 'not an image model of a known family'}. {pull_hint(family, kind)}"
            )
        if kind not in entry.controls:
            raise FailedPrecondition(
                f"controls[{i}].model: {entry.name} was trained for {', '.join(entry.controls)}, not {kind}. "
                + pull_hint(family, kind)
            )
    else:
        entry = catalog.control_for(family, kind)  # type: ignore[assignment]
        if entry is None:
            raise FailedPrecondition(
                f"no {kind} control for {family or image_model.name} is installed; " + pull_hint(family, kind)
            )
    config = str(entry.config) if entry.config else ""
    return tasks.ControlModel(
        entry.name, str(entry.path), entry.sha256, entry.family, entry.controls, entry.union, config
    )
