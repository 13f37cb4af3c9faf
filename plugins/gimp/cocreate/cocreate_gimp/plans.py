"""From what the person asked and what the image holds to a request, and from each answer to a layer.

A Plan is made before anything is sent: it holds the request (without its session yet), how the canvas grows,
and how a candidate becomes a layer. The image is read through the `Picture` protocol, so tests can plan
against plain bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, TypedDict

from cocreate_client import tasks
from cocreate_client.pb import cocreate_pb2 as pb
from cocreate_client.pixels import Image, Mask, crop

from . import geometry, masks
from .geometry import Rect, Sides
from .guides import Guides, LayerReader


class PlanError(ValueError):
    """The image or the selection does not fit the procedure; the message says what to do.

    Sizes that cannot work raise geometry.GeometryError, the other error a person is told about.
    """


class Picture(LayerReader, Protocol):
    """What planning reads from an image (document.GimpDocument in GIMP)."""

    @property
    def width(self) -> int: ...

    @property
    def height(self) -> int: ...

    def visible(self, rect: Rect) -> Image:
        """The image as it looks (all visible layers merged), RGBA8, inside `rect`."""
        ...

    def selection_bounds(self) -> Rect | None:
        """The selection's bounding box; None when nothing is selected."""
        ...

    def selection(self, rect: Rect) -> Mask:
        """The selection's 8-bit values inside `rect` (soft edges included)."""
        ...


@dataclass(frozen=True)
class Options:
    """What every procedure asks besides its own settings; zero means the daemon's default."""

    prompt: str = ""
    negative_prompt: str = ""
    candidates: int = 3
    seed: int | None = None
    steps: int = 0
    guidance: float = 0.0
    strength: float = 0.0
    lora: str = ""  # a personal LoRA's name (the daemon's list); "" = none
    model: str = ""  # an image model of the daemon by name; "" = its default
    guides: Guides = field(default_factory=Guides)  # a control layer and a style reference, if chosen


@dataclass(frozen=True)
class Layer:
    """A candidate as GIMP will hold it: pixels and where they go on the (grown) canvas."""

    image: Image
    x: int
    y: int


@dataclass(frozen=True)
class Plan:
    task: str  # expand | fill | variants: names the layers
    prompt: str
    request: pb.GenerateRequest  # session_id is filled in when the session is known
    grow: Sides | None  # the canvas grows by this before the first layer goes in
    painted: Mask | None  # answer pixels the layer keeps (None: all of them)
    placed: tuple[int, int]  # where the answer's top-left corner lands on the canvas
    alpha: bytes | None = None  # replaces the answer's alpha (a layer's own shape, for whole-layer variants)
    above: object = None  # the layer the candidates go above; None: the top of the image
    skipped: frozenset[int] = frozenset()  # candidate indices that get no layer (an interpolation's ends)

    def layer(self, answer: Image) -> Layer:
        """The part of an answer a new layer holds: painted pixels only, cut to their bounding box."""
        if self.alpha is not None:
            answer = masks.with_alpha(answer, self.alpha)
        x, y = self.placed
        if self.painted is None:
            return Layer(answer, x, y)
        box = masks.bounding_box(self.painted)
        if box is None:
            raise PlanError("The daemon was given nothing to paint.")
        kept = masks.keep_painted(answer, self.painted)
        return Layer(crop(kept, box.x, box.y, box.width, box.height), x + box.x, y + box.y)


class _Shared(TypedDict):
    session_id: str
    negative_prompt: str
    steps: int
    guidance: float
    candidates: int
    seed: int | None
    model: str


def _shared(options: Options) -> _Shared:
    if not 1 <= options.candidates <= 16:
        raise PlanError(f"Ask for 1 to 16 candidates, not {options.candidates}.")
    return _Shared(
        session_id="",
        negative_prompt=options.negative_prompt,
        steps=options.steps,
        guidance=options.guidance,
        candidates=options.candidates,
        seed=options.seed,
        model=options.model,
    )


def _with_lora(options: Options, request: pb.GenerateRequest) -> pb.GenerateRequest:
    return tasks.steered(request, lora=options.lora)


def expand(picture: Picture, sides: Sides, feather: int, options: Options) -> Plan:
    """Grow the canvas by `sides`; the model paints the new area and a `feather` px seam into the old picture."""
    if feather < 1:
        raise PlanError("The seam needs a feather of at least 1 px.")
    region = geometry.expand_region(picture.width, picture.height, sides, feather)
    source = region.source
    answer_width, answer_height = sides.around(source.width, source.height)
    grown = Rect(source.x - sides.left, source.y - sides.top, answer_width, answer_height)  # old canvas coordinates
    request = _with_lora(
        options,
        tasks.expand(
            picture.visible(source),
            left=sides.left,
            top=sides.top,
            right=sides.right,
            bottom=sides.bottom,
            prompt=options.prompt,
            feather=feather,
            **_shared(options),
            **options.guides.request_fields(picture, grown),  # type: ignore[arg-type]
        ),
    )
    painted = masks.seam_mask(
        answer_width, answer_height, Rect(sides.left, sides.top, source.width, source.height), sides, feather
    )
    return Plan("expand", options.prompt, request, sides, painted, region.placed)


def _selected_area(picture: Picture, what: str) -> tuple[Rect, Image, Mask]:
    """The selection's context crop of the visible image, and the selection's own soft mask over it."""
    bounds = picture.selection_bounds()
    if bounds is None:
        raise PlanError(f"{what} works on a selection: select the area first.")
    context = geometry.with_context(bounds, Rect(0, 0, picture.width, picture.height))
    geometry.check_sendable(context, "The selection")
    return context, picture.visible(context), picture.selection(context)


def fill(picture: Picture, options: Options) -> Plan:
    """Repaint the selection from its surroundings, blending by the selection's soft edge."""
    context, image, mask = _selected_area(picture, "Fill selection")
    request = _with_lora(
        options,
        tasks.inpaint(
            image,
            mask=mask,
            prompt=options.prompt,
            strength=options.strength,
            **_shared(options),
            **options.guides.request_fields(picture, context),  # type: ignore[arg-type]
        ),
    )
    return Plan("fill", options.prompt, request, None, mask, (context.x, context.y))


def variants_of_selection(picture: Picture, options: Options) -> Plan:
    """Style variants of the selected part of the visible image."""
    context, image, mask = _selected_area(picture, "Variants")
    request = _with_lora(
        options,
        tasks.variants(
            image,
            mask=mask,
            style_prompt=options.prompt,
            strength=options.strength,
            **_shared(options),
            **options.guides.request_fields(picture, context),  # type: ignore[arg-type]
        ),
    )
    return Plan("variants", options.prompt, request, None, mask, (context.x, context.y))


def variants_of_layer(picture: Picture, layer: object, options: Options) -> Plan:
    """Style variants of a whole layer: each candidate keeps the layer's shape (its alpha) and sits above it."""
    pixels, offsets = picture.layer_pixels(layer)
    canvas = Rect(*offsets, pixels.width, pixels.height)
    geometry.check_sendable(Rect(0, 0, pixels.width, pixels.height), "The layer")
    request = _with_lora(
        options,
        tasks.variants(
            pixels,
            style_prompt=options.prompt,
            strength=options.strength,
            **_shared(options),
            **options.guides.request_fields(picture, canvas),  # type: ignore[arg-type]
        ),
    )
    return Plan("variants", options.prompt, request, None, None, offsets, alpha=bytes(pixels.rgba[3::4]), above=layer)


def edit(picture: Picture, instruction: str, options: Options) -> Plan:
    """An instruction ("make it night") applied to the selection, or to the whole visible image without one."""
    if not instruction.strip():
        raise PlanError("Say what to change, as in “make it night”.")
    if picture.selection_bounds() is None:
        context = Rect(0, 0, picture.width, picture.height)
        geometry.check_sendable(context, "The image")
        image, mask = picture.visible(context), None
    else:
        context, image, mask = _selected_area(picture, "Edit")
    # An instruction says what to change: there is no negative prompt.
    shared = {key: value for key, value in _shared(options).items() if key != "negative_prompt"}
    request = tasks.edit(
        image,
        instruction,
        mask=mask,
        **shared,  # type: ignore[arg-type]
        **options.guides.request_fields(picture, context),  # type: ignore[arg-type]
    )
    return Plan("edit", instruction, request, None, mask, (context.x, context.y))
