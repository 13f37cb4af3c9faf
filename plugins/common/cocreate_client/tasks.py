"""One builder per task, so host glue can make a GenerateRequest without knowing protobuf.

Every builder takes the session and the shared options as keywords (RequestOptions; image builders also
ImageRequestOptions); zero or empty values mean "the daemon's default", as the proto says.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal, TypedDict

from .convert import image_fields, mask_fields
from .pb import cocreate_pb2 as pb
from .pixels import Image, Mask

if TYPE_CHECKING:  # typing.Unpack is 3.11+, and hosts may run older Pythons: only type checkers read it
    from typing_extensions import Unpack

Seamless = Literal["none", "x", "y", "both"]
StopAt = Literal["none", "sentence", "paragraph"]
ControlKind = Literal["scribble", "line_art", "soft_edge", "canny", "depth", "normal", "pose", "segmentation", "tile"]
ReferenceKind = Literal["style", "composition", "face"]

_SEAMLESS = {"none": pb.SEAMLESS_NONE, "x": pb.SEAMLESS_X, "y": pb.SEAMLESS_Y, "both": pb.SEAMLESS_BOTH}
_STOP_AT = {"none": pb.STOP_AT_NONE, "sentence": pb.STOP_AT_SENTENCE, "paragraph": pb.STOP_AT_PARAGRAPH}
CONTROL_KINDS: dict[str, int] = {
    "scribble": pb.CONTROL_SCRIBBLE,
    "line_art": pb.CONTROL_LINE_ART,
    "soft_edge": pb.CONTROL_SOFT_EDGE,
    "canny": pb.CONTROL_CANNY,
    "depth": pb.CONTROL_DEPTH,
    "normal": pb.CONTROL_NORMAL,
    "pose": pb.CONTROL_POSE,
    "segmentation": pb.CONTROL_SEGMENTATION,
    "tile": pb.CONTROL_TILE,
}
REFERENCE_KINDS: dict[str, int] = {
    "style": pb.REFERENCE_STYLE,
    "composition": pb.REFERENCE_COMPOSITION,
    "face": pb.REFERENCE_FACE,
}


class RequestOptions(TypedDict, total=False):
    """What every builder takes besides its task's fields (a value left out: the default named)."""

    candidates: int  # 1
    seed: int | None  # None: the daemon picks
    parent_turn_id: str  # "": a new branch of the session's history
    model: str  # "": the daemon's default for the task
    exploration: float | None  # None: the session's own


class ImageRequestOptions(RequestOptions, total=False):
    """What every image builder also takes."""

    previews: bool  # False
    controls: Iterable[pb.Control]  # control() for each structure to follow
    references: Iterable[pb.Reference]  # reference() for each picture to take after


def _request(
    task: str,
    task_fields: dict[str, object],
    *,
    session_id: str,
    candidates: int = 1,
    seed: int | None = None,
    parent_turn_id: str = "",
    model: str = "",
    exploration: float | None = None,
    previews: bool = False,
    controls: Iterable[pb.Control] = (),
    references: Iterable[pb.Reference] = (),
) -> pb.GenerateRequest:
    return pb.GenerateRequest(
        session_id=session_id,
        parent_turn_id=parent_turn_id,
        model=model,
        candidates=candidates,
        previews=previews,
        seed=seed,
        exploration=exploration,
        controls=list(controls),
        references=list(references),
        **{task: task_fields},
    )


_IMAGE_ONLY = ImageRequestOptions.__optional_keys__ - RequestOptions.__optional_keys__


def _text_request(
    task: str, task_fields: dict[str, object], *, session_id: str, **options: Unpack[RequestOptions]
) -> pb.GenerateRequest:
    """A text task's request: an image option (previews, controls, references) is refused by name."""
    if image_only := _IMAGE_ONLY & options.keys():
        raise TypeError(f"{task} takes no {', '.join(sorted(image_only))}")
    return _request(task, task_fields, session_id=session_id, **options)


def _choice(name: str, table: dict[str, int], value: str) -> int:
    if value not in table:
        raise ValueError(f"{name} must be one of {', '.join(table)}, not {value!r}")
    return table[value]


def inpaint(
    image: Image,
    *,
    session_id: str,
    prompt: str = "",
    mask: Mask | None = None,
    negative_prompt: str = "",
    strength: float = 0.0,
    steps: int = 0,
    guidance: float = 0.0,
    **options: Unpack[ImageRequestOptions],
) -> pb.GenerateRequest:
    """Regenerate `image` where `mask` is set (all of it without a mask)."""
    task = dict(
        image=image_fields(image),
        mask=mask_fields(mask) if mask else None,
        prompt=prompt,
        negative_prompt=negative_prompt,
        strength=strength,
        steps=steps,
        guidance=guidance,
    )
    return _request("inpaint", task, session_id=session_id, **options)


def expand(
    image: Image,
    *,
    session_id: str,
    left: int = 0,
    top: int = 0,
    right: int = 0,
    bottom: int = 0,
    prompt: str = "",
    negative_prompt: str = "",
    steps: int = 0,
    guidance: float = 0.0,
    feather: int = 0,
    **options: Unpack[ImageRequestOptions],
) -> pb.GenerateRequest:
    """Grow the canvas by the given pixels per side and fill the new area."""
    task = dict(
        image=image_fields(image),
        left=left,
        top=top,
        right=right,
        bottom=bottom,
        prompt=prompt,
        negative_prompt=negative_prompt,
        steps=steps,
        guidance=guidance,
        feather=feather,
    )
    return _request("expand", task, session_id=session_id, **options)


def texture(
    prompt: str,
    *,
    session_id: str,
    width: int = 0,
    height: int = 0,
    seamless: Seamless = "none",
    image: Image | None = None,
    mask: Mask | None = None,
    negative_prompt: str = "",
    steps: int = 0,
    guidance: float = 0.0,
    strength: float = 0.0,
    **options: Unpack[ImageRequestOptions],
) -> pb.GenerateRequest:
    """A texture from a prompt, optionally tiling; with `image` (and `mask`), repair that texture."""
    task = dict(
        prompt=prompt,
        negative_prompt=negative_prompt,
        width=width,
        height=height,
        seamless=_choice("seamless", _SEAMLESS, seamless),
        image=image_fields(image) if image else None,
        mask=mask_fields(mask) if mask else None,
        steps=steps,
        guidance=guidance,
        strength=strength,
    )
    return _request("texture", task, session_id=session_id, **options)


def variants(
    image: Image,
    *,
    session_id: str,
    style_prompt: str = "",
    mask: Mask | None = None,
    strength: float = 0.0,
    negative_prompt: str = "",
    steps: int = 0,
    guidance: float = 0.0,
    **options: Unpack[ImageRequestOptions],
) -> pb.GenerateRequest:
    """Style variants of `image`, or of its masked part."""
    task = dict(
        image=image_fields(image),
        mask=mask_fields(mask) if mask else None,
        strength=strength,
        style_prompt=style_prompt,
        negative_prompt=negative_prompt,
        steps=steps,
        guidance=guidance,
    )
    return _request("variants", task, session_id=session_id, **options)


def edit(
    image: Image,
    instruction: str,
    *,
    session_id: str,
    mask: Mask | None = None,
    steps: int = 0,
    guidance: float = 0.0,
    **options: Unpack[ImageRequestOptions],
) -> pb.GenerateRequest:
    """Apply `instruction` ("make it night") to `image`, or only to its masked part."""
    task = dict(
        image=image_fields(image),
        mask=mask_fields(mask) if mask else None,
        instruction=instruction,
        steps=steps,
        guidance=guidance,
    )
    return _request("edit", task, session_id=session_id, **options)


def control(
    kind: ControlKind,
    image: Image,
    *,
    strength: float = 0.0,
    start: float = 0.0,
    end: float = 0.0,
    derive: bool = False,
    model: str = "",
) -> pb.Control:
    """A structure the candidates follow, for a builder's `controls`. `image` covers the task's whole result
    canvas (the image sent; the grown canvas for expand); `derive` asks the daemon to make the map from an
    ordinary picture rather than take `image` as the map. 0 = the daemon's default; `end` 0 = the last step."""
    return pb.Control(
        kind=_choice("control kind", CONTROL_KINDS, kind),
        image=image_fields(image),  # type: ignore[arg-type]
        strength=strength,
        start=start,
        end=end,
        derive=derive,
        model=model,
    )


def reference(image: Image, *, kind: ReferenceKind = "style", strength: float = 0.0, model: str = "") -> pb.Reference:
    """A picture of any size the candidates take after, for a builder's `references`."""
    return pb.Reference(
        image=image_fields(image),  # type: ignore[arg-type]
        kind=_choice("reference kind", REFERENCE_KINDS, kind),
        strength=strength,
        model=model,
    )


def continue_text(
    before: str,
    *,
    session_id: str,
    after: str = "",
    max_new_tokens: int = 0,
    temperature: float = 0.0,
    top_p: float = 0.0,
    stop: Iterable[str] = (),
    stop_at: StopAt = "none",
    **options: Unpack[RequestOptions],
) -> pb.GenerateRequest:
    """Continue writing at the cursor; `before`/`after` are the text on either side of it."""
    task = dict(
        before=before,
        after=after,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        top_p=top_p,
        stop=list(stop),
        stop_at=_choice("stop_at", _STOP_AT, stop_at),
    )
    return _text_request("continue_text", task, session_id=session_id, **options)


def rewrite_text(
    selection: str,
    instruction: str,
    *,
    session_id: str,
    max_new_tokens: int = 0,
    temperature: float = 0.0,
    top_p: float = 0.0,
    **options: Unpack[RequestOptions],
) -> pb.GenerateRequest:
    """Rewrite `selection` following `instruction` ("shorter", "more formal", ...)."""
    task = dict(
        selection=selection,
        instruction=instruction,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        top_p=top_p,
    )
    return _text_request("rewrite_text", task, session_id=session_id, **options)


def steered(
    request: pb.GenerateRequest,
    *,
    more_like: Iterable[str] = (),
    less_like: Iterable[str] = (),
    interpolate: Iterable[str] = (),
    replay_turn_id: str = "",
    lora: str = "",
) -> pb.GenerateRequest:
    """`request` (from any builder above) steered by named candidates of its session: toward `more_like`,
    away from `less_like`; or walking from the first of `interpolate` to the last (image tasks; the request's
    `candidates` counts the points, ends included); or replaying what turn `replay_turn_id` used.
    `lora` names a personal LoRA for image tasks."""
    request.more_like.extend(more_like)
    request.less_like.extend(less_like)
    request.interpolate.extend(interpolate)
    request.replay_turn_id = replay_turn_id
    request.lora = lora
    return request


def live(request: pb.GenerateRequest) -> pb.GenerateRequest:
    """`request` (an image task from a builder above) as a live-painting update: it supersedes the session's
    previous live request (which ends cancelled), runs ahead of other clients' long jobs, and on a few-step
    model when one is installed, with fewer steps when `steps` is 0."""
    request.live = True
    return request


def personalize(
    session_id: str,
    name: str,
    *,
    model: str = "",
    prompt: str | None = None,
    steps: int = 0,
    rank: int = 0,
    learning_rate: float = 0.0,
    seed: int = 0,
) -> pb.PersonalizeRequest:
    """Train personal LoRA `name` on the pictures kept in the session, for the image model `model` ("" = the
    default). `prompt` captions every picture (None: each turn's prompt); 0 = the daemon's default."""
    return pb.PersonalizeRequest(
        session_id=session_id,
        name=name,
        model=model,
        prompt=prompt,
        steps=steps,
        rank=rank,
        learning_rate=learning_rate,
        seed=seed,
    )
