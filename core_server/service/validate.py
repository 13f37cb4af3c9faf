"""Turn a GenerateRequest into a domain task, refusing anything the engines should never see.

Every check raises InvalidArgument naming the field, so a person can fix the request.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

from .. import config, tasks
from ..pb import cocreate_pb2 as pb
from . import controls
from .errors import InvalidArgument

ID = re.compile(r"[0-9a-f]{32}")
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_SEED = 2**63 - 1
TEXTURE_DEFAULT_SIDE = 512
MAX_NAMED_CANDIDATES = 16  # interpolate, more_like, less_like
# What the engines use for 0 ("the default"): engines.paint.DEFAULT_STEPS, engines.text.DEFAULT_MAX_NEW_TOKENS.
# A limit below them turns 0 into the limit, so a default never exceeds what the daemon allows.
ENGINE_DEFAULT_STEPS = 20
ENGINE_DEFAULT_NEW_TOKENS = 64


@dataclass(frozen=True)
class GenerateSpec:
    session_id: str
    parent_turn_id: str | None
    model: str  # "" = the default for the task's kind
    task: tasks.Task
    seeds: tuple[int, ...]
    previews: bool
    exploration: float | None
    client: str
    lora: str = ""
    interpolate: tuple[str, ...] = ()
    more_like: tuple[str, ...] = ()
    less_like: tuple[str, ...] = ()
    replay_turn_id: str | None = None
    live: bool = False  # live painting: scheduler.live, models.few_step


def check_id(field: str, value: str) -> str:
    if not ID.fullmatch(value):
        shown = value if len(value) <= 64 else value[:64] + "…"
        raise InvalidArgument(field, f"{shown!r} is not an id (32 lowercase hex characters)")
    return value


def check_model_name(field: str, value: str) -> str:
    if value and not MODEL_NAME.fullmatch(value):
        raise InvalidArgument(field, "a model name is letters, digits, '.', '_' and '-' (at most 64), never a path")
    return value


def generate_spec(request: pb.GenerateRequest, random_seed: int, limits: config.Limits) -> GenerateSpec:
    """Validate every field; `random_seed` is used when the request names no seed."""
    check_id("session_id", request.session_id)
    parent = check_id("parent_turn_id", request.parent_turn_id) if request.parent_turn_id else None
    check_model_name("model", request.model)
    n = request.candidates
    if not 1 <= n <= limits.max_candidates:
        raise InvalidArgument("candidates", f"must be 1 to {limits.max_candidates}, got {n}")
    base = request.seed if request.HasField("seed") else random_seed
    if base + n - 1 > MAX_SEED:
        raise InvalidArgument("seed", f"must be at most {MAX_SEED - n + 1} (each candidate uses seed + index)")
    exploration = None
    if request.HasField("exploration"):
        exploration = _fraction("exploration", request.exploration, allow_zero=True)
    if len(request.client) > 200:
        raise InvalidArgument("client", "at most 200 characters")
    which = request.WhichOneof("task")
    if which is None:
        raise InvalidArgument("task", f"set one of {', '.join(_TASKS)}")
    task = _TASKS[which](getattr(request, which), limits)
    if request.controls:
        task = replace(task, controls=controls.parse(request.controls, task, limits))  # type: ignore[arg-type]
    interpolate = _ids("interpolate", request.interpolate)
    if interpolate:
        if tasks.task_kind(task) != "image":
            raise InvalidArgument("interpolate", "only image tasks interpolate; for text use more_like / less_like")
        if len(interpolate) < 2 or n < len(interpolate):
            raise InvalidArgument(
                "interpolate", f"name at least 2 candidates, and ask for at least as many candidates ({n} asked)"
            )
    replay = check_id("replay_turn_id", request.replay_turn_id) if request.replay_turn_id else None
    if replay and (interpolate or request.more_like or request.less_like):
        raise InvalidArgument("replay_turn_id", "a replay uses what that turn used; leave interpolate and *_like empty")
    if request.lora and tasks.task_kind(task) != "image":
        raise InvalidArgument("lora", "a LoRA applies to image tasks")
    if request.live and tasks.task_kind(task) != "image":
        raise InvalidArgument("live", "live painting applies to image tasks (inpaint, expand, texture, variants)")
    resolution = _resolution(request, limits)
    if resolution != tasks.Resolution():
        if tasks.task_kind(task) != "image":
            raise InvalidArgument("paint_size", "paint_size and max_paint_side apply to image tasks")
        task = replace(task, resolution=resolution)  # type: ignore[arg-type]
    if request.references:
        if tasks.task_kind(task) != "image":
            raise InvalidArgument("references", "reference images apply to image tasks")
        task = replace(task, references=_references(request.references, limits))  # type: ignore[arg-type]
    return GenerateSpec(
        session_id=request.session_id,
        parent_turn_id=parent,
        model=request.model,
        task=task,
        seeds=tuple(base + i for i in range(n)),
        previews=request.previews,
        exploration=exploration,
        client=request.client,
        lora=check_model_name("lora", request.lora),
        interpolate=interpolate,
        more_like=_ids("more_like", request.more_like),
        less_like=_ids("less_like", request.less_like),
        replay_turn_id=replay,
        live=request.live,
    )


MAX_REFERENCES = 4
_REFERENCE_KINDS = {
    pb.REFERENCE_STYLE: tasks.ReferenceKind.STYLE,
    pb.REFERENCE_COMPOSITION: tasks.ReferenceKind.COMPOSITION,
    pb.REFERENCE_FACE: tasks.ReferenceKind.FACE,
}


def _references(references: object, limits: config.Limits) -> tuple[tasks.Reference, ...]:
    given = list(references)  # type: ignore[call-overload]
    if len(given) > MAX_REFERENCES:
        raise InvalidArgument("references", f"has {len(given)} pictures; the limit is {MAX_REFERENCES}")
    checked = []
    for i, reference in enumerate(given):
        where = f"references[{i}]"
        if not reference.HasField("image"):
            raise InvalidArgument(f"{where}.image", "a reference needs its picture")
        if reference.kind not in _REFERENCE_KINDS:
            raise InvalidArgument(f"{where}.kind", f"unknown value {reference.kind}; use STYLE, COMPOSITION or FACE")
        checked.append(
            tasks.Reference(
                image=rgba_image(f"{where}.image", reference.image, limits),
                kind=_REFERENCE_KINDS[reference.kind],
                strength=_fraction(f"{where}.strength", reference.strength),
                model=check_model_name(f"{where}.model", reference.model),
            )
        )
    return tuple(checked)


_PAINT_SIZES = {
    pb.PAINT_SIZE_AUTO: tasks.PaintSize.AUTO,
    pb.PAINT_SIZE_REGION: tasks.PaintSize.REGION,
    pb.PAINT_SIZE_NATIVE: tasks.PaintSize.NATIVE,
}


def _resolution(request: pb.GenerateRequest, limits: config.Limits) -> tasks.Resolution:
    if request.paint_size not in _PAINT_SIZES:
        raise InvalidArgument("paint_size", f"unknown value {request.paint_size}; use AUTO, REGION or NATIVE")
    if request.max_paint_side > limits.max_side:
        raise InvalidArgument("max_paint_side", f"must be at most {limits.max_side} px (0 = no cap)")
    return tasks.Resolution(_PAINT_SIZES[request.paint_size], request.max_paint_side)


# Training bounds: far above what a personal LoRA needs, low enough that a typo cannot hold the worker for days.
MAX_TRAINING_STEPS = 10_000
MAX_RANK = 128
DEFAULT_TRAINING = tasks.Training()


@dataclass(frozen=True)
class PersonalizeSpec:
    session_id: str
    name: str
    model: str  # "" = the default image model
    prompt: str | None  # None: each turn's prompt
    training: tasks.Training
    client: str


def personalize_spec(request: pb.PersonalizeRequest, limits: config.Limits) -> PersonalizeSpec:
    check_id("session_id", request.session_id)
    if not request.name:
        raise InvalidArgument("name", "name the LoRA (letters, digits, '.', '_' and '-'), as requests will call it")
    check_model_name("name", request.name)
    check_model_name("model", request.model)
    if not request.steps <= MAX_TRAINING_STEPS:
        raise InvalidArgument("steps", f"must be at most {MAX_TRAINING_STEPS} (0 = {DEFAULT_TRAINING.steps})")
    if not request.rank <= MAX_RANK:
        raise InvalidArgument("rank", f"must be at most {MAX_RANK} (0 = {DEFAULT_TRAINING.rank})")
    learning_rate = _bounded("learning_rate", request.learning_rate, 1.0)
    if request.seed > MAX_SEED:
        raise InvalidArgument("seed", f"must be at most {MAX_SEED}")
    if len(request.client) > 200:
        raise InvalidArgument("client", "at most 200 characters")
    return PersonalizeSpec(
        session_id=request.session_id,
        name=request.name,
        model=request.model,
        prompt=_prompt("prompt", request.prompt, limits) if request.HasField("prompt") else None,
        training=tasks.Training(
            steps=request.steps or DEFAULT_TRAINING.steps,
            rank=request.rank or DEFAULT_TRAINING.rank,
            learning_rate=learning_rate or DEFAULT_TRAINING.learning_rate,
            seed=request.seed,
        ),
        client=request.client,
    )


def _ids(field: str, values: object) -> tuple[str, ...]:
    ids = tuple(values)  # type: ignore[call-overload]
    if len(ids) > MAX_NAMED_CANDIDATES:
        raise InvalidArgument(field, f"names {len(ids)} candidates; the limit is {MAX_NAMED_CANDIDATES}")
    return tuple(check_id(f"{field}[{i}]", value) for i, value in enumerate(ids))


# ---------------------------------------------------------------- fields


def rgba_image(field: str, image: pb.Image, limits: config.Limits) -> tasks.RGBAImage:
    _size(field, image.width, image.height, limits)
    expected = image.width * image.height * 4
    if len(image.rgba) != expected:
        raise InvalidArgument(
            f"{field}.rgba",
            f"has {len(image.rgba)} bytes; {image.width}×{image.height} RGBA8 needs width × height × 4 = {expected}",
        )
    return tasks.RGBAImage(image.width, image.height, image.rgba)


def _mask(field: str, mask: pb.Mask, image: tasks.RGBAImage | None, limits: config.Limits) -> tasks.Mask:
    _size(field, mask.width, mask.height, limits)
    if image is not None and (mask.width, mask.height) != (image.width, image.height):
        raise InvalidArgument(
            field, f"is {mask.width}×{mask.height} but the image is {image.width}×{image.height}; they must match"
        )
    expected = mask.width * mask.height
    if len(mask.alpha) != expected:
        raise InvalidArgument(f"{field}.alpha", f"has {len(mask.alpha)} bytes; one byte per pixel needs {expected}")
    return tasks.Mask(mask.width, mask.height, mask.alpha)


def _size(field: str, width: int, height: int, limits: config.Limits) -> None:
    if not (1 <= width <= limits.max_side and 1 <= height <= limits.max_side):
        raise InvalidArgument(field, f"is {width}×{height}; each side must be 1 to {limits.max_side} pixels")


def text_field(field: str, value: str, limit: int) -> str:
    if len(value) > limit:
        raise InvalidArgument(field, f"has {len(value)} characters; the limit is {limit}")
    return value


def _prompt(field: str, value: str, limits: config.Limits) -> str:
    return text_field(field, value, limits.max_prompt_chars)


def _fraction(field: str, value: float, *, allow_zero: bool = True) -> float:
    low_ok = value >= 0 if allow_zero else value > 0
    if not (math.isfinite(value) and low_ok and value <= 1):
        raise InvalidArgument(field, f"must be between 0 and 1, got {value}")
    return value


def _bounded(field: str, value: float, high: float) -> float:
    if not (math.isfinite(value) and 0 <= value <= high):
        raise InvalidArgument(field, f"must be between 0 and {high} (0 = default), got {value}")
    return value


def _steps(value: int, limits: config.Limits) -> int:
    if value > limits.max_steps:
        raise InvalidArgument("steps", f"must be at most {limits.max_steps}, got {value}")
    if value == 0 and limits.max_steps < ENGINE_DEFAULT_STEPS:
        return limits.max_steps
    return value


def _guidance(value: float) -> float:
    return _bounded("guidance", value, 50.0)


def _tokens(value: int, limits: config.Limits, default_at_most: int = ENGINE_DEFAULT_NEW_TOKENS) -> int:
    """`default_at_most`: the most tokens the engine's default (0) could make for this request."""
    if value > limits.max_new_tokens:
        raise InvalidArgument("max_new_tokens", f"must be at most {limits.max_new_tokens}, got {value}")
    if value == 0 and limits.max_new_tokens < default_at_most:
        return limits.max_new_tokens
    return value


# ---------------------------------------------------------------- tasks


def _inpaint(t: pb.InpaintTask, limits: config.Limits) -> tasks.InpaintTask:
    image = rgba_image("inpaint.image", t.image, limits)
    return tasks.InpaintTask(
        image=image,
        mask=_mask("inpaint.mask", t.mask, image, limits) if t.HasField("mask") else None,
        prompt=_prompt("inpaint.prompt", t.prompt, limits),
        negative_prompt=_prompt("inpaint.negative_prompt", t.negative_prompt, limits),
        strength=_fraction("inpaint.strength", t.strength),
        steps=_steps(t.steps, limits),
        guidance=_guidance(t.guidance),
    )


def _expand(t: pb.ExpandTask, limits: config.Limits) -> tasks.ExpandTask:
    image = rgba_image("expand.image", t.image, limits)
    if t.left + t.top + t.right + t.bottom == 0:
        raise InvalidArgument("expand", "add pixels on at least one side (left, top, right or bottom)")
    width, height = image.width + t.left + t.right, image.height + t.top + t.bottom
    if width > limits.max_side or height > limits.max_side:
        raise InvalidArgument("expand", f"the grown image would be {width}×{height}; the limit is {limits.max_side}")
    if t.feather > 512:
        raise InvalidArgument("expand.feather", f"must be at most 512 pixels, got {t.feather}")
    return tasks.ExpandTask(
        image=image,
        left=t.left,
        top=t.top,
        right=t.right,
        bottom=t.bottom,
        prompt=_prompt("expand.prompt", t.prompt, limits),
        negative_prompt=_prompt("expand.negative_prompt", t.negative_prompt, limits),
        steps=_steps(t.steps, limits),
        guidance=_guidance(t.guidance),
        feather=t.feather,
    )


_SEAMLESS = {
    pb.SEAMLESS_NONE: tasks.Seamless.NONE,
    pb.SEAMLESS_X: tasks.Seamless.X,
    pb.SEAMLESS_Y: tasks.Seamless.Y,
    pb.SEAMLESS_BOTH: tasks.Seamless.BOTH,
}


def _texture(t: pb.TextureTask, limits: config.Limits) -> tasks.TextureTask:
    image = rgba_image("texture.image", t.image, limits) if t.HasField("image") else None
    if t.HasField("mask") and image is None:
        raise InvalidArgument("texture.mask", "a mask needs the image it belongs to (texture.image)")
    width = t.width or (image.width if image else TEXTURE_DEFAULT_SIDE)
    height = t.height or (image.height if image else TEXTURE_DEFAULT_SIDE)
    _size("texture", width, height, limits)
    if image is not None and (width, height) != (image.width, image.height):
        raise InvalidArgument("texture", f"width × height {width}×{height} must match the image to repair")
    if t.seamless not in _SEAMLESS:
        raise InvalidArgument("texture.seamless", f"unknown value {t.seamless}")
    return tasks.TextureTask(
        width=width,
        height=height,
        prompt=_prompt("texture.prompt", t.prompt, limits),
        negative_prompt=_prompt("texture.negative_prompt", t.negative_prompt, limits),
        seamless=_SEAMLESS[t.seamless],
        image=image,
        mask=_mask("texture.mask", t.mask, image, limits) if t.HasField("mask") else None,
        steps=_steps(t.steps, limits),
        guidance=_guidance(t.guidance),
        strength=_fraction("texture.strength", t.strength),
    )


def _variants(t: pb.VariantsTask, limits: config.Limits) -> tasks.VariantsTask:
    image = rgba_image("variants.image", t.image, limits)
    return tasks.VariantsTask(
        image=image,
        mask=_mask("variants.mask", t.mask, image, limits) if t.HasField("mask") else None,
        strength=_fraction("variants.strength", t.strength),
        style_prompt=_prompt("variants.style_prompt", t.style_prompt, limits),
        negative_prompt=_prompt("variants.negative_prompt", t.negative_prompt, limits),
        steps=_steps(t.steps, limits),
        guidance=_guidance(t.guidance),
    )


def _edit(t: pb.EditTask, limits: config.Limits) -> tasks.EditTask:
    if not t.HasField("image"):
        raise InvalidArgument("edit.image", "an edit needs the picture to change")
    image = rgba_image("edit.image", t.image, limits)
    if not t.instruction.strip():
        raise InvalidArgument("edit.instruction", "say what to change, e.g. 'make it night'")
    return tasks.EditTask(
        image=image,
        mask=_mask("edit.mask", t.mask, image, limits) if t.HasField("mask") else None,
        instruction=_prompt("edit.instruction", t.instruction, limits),
        steps=_steps(t.steps, limits),
        guidance=_guidance(t.guidance),
    )


_STOP_AT = {
    pb.STOP_AT_NONE: tasks.StopAt.NONE,
    pb.STOP_AT_SENTENCE: tasks.StopAt.SENTENCE,
    pb.STOP_AT_PARAGRAPH: tasks.StopAt.PARAGRAPH,
}


def _continue_text(t: pb.ContinueTextTask, limits: config.Limits) -> tasks.ContinueTextTask:
    if not t.before and not t.after:
        raise InvalidArgument("continue_text.before", "there is no text to continue")
    if len(t.stop) > 16 or any(not s or len(s) > 100 for s in t.stop):
        raise InvalidArgument("continue_text.stop", "at most 16 stop strings of 1 to 100 characters")
    if t.stop_at not in _STOP_AT:
        raise InvalidArgument("continue_text.stop_at", f"unknown value {t.stop_at}")
    return tasks.ContinueTextTask(
        before=text_field("continue_text.before", t.before, limits.max_text_chars),
        after=text_field("continue_text.after", t.after, limits.max_text_chars),
        max_new_tokens=_tokens(t.max_new_tokens, limits),
        temperature=_bounded("continue_text.temperature", t.temperature, 5.0),
        top_p=_fraction("continue_text.top_p", t.top_p),
        stop=tuple(t.stop),
        stop_at=_STOP_AT[t.stop_at],
    )


def _rewrite_text(t: pb.RewriteTextTask, limits: config.Limits) -> tasks.RewriteTextTask:
    if not t.selection.strip():
        raise InvalidArgument("rewrite_text.selection", "there is no text to rewrite")
    return tasks.RewriteTextTask(
        selection=text_field("rewrite_text.selection", t.selection, limits.max_text_chars // 10),
        instruction=_prompt("rewrite_text.instruction", t.instruction, limits),
        # The engine's default grows with the selection: up to twice its tokens (a token is at least a byte).
        max_new_tokens=_tokens(t.max_new_tokens, limits, max(ENGINE_DEFAULT_NEW_TOKENS, 2 * len(t.selection.encode()))),
        temperature=_bounded("rewrite_text.temperature", t.temperature, 5.0),
        top_p=_fraction("rewrite_text.top_p", t.top_p),
    )


_TASKS = {
    "inpaint": _inpaint,
    "expand": _expand,
    "texture": _texture,
    "variants": _variants,
    "edit": _edit,
    "continue_text": _continue_text,
    "rewrite_text": _rewrite_text,
}
