"""What the service asks of an engine, and what an engine reports back.

This module is the seam between the layers: the gRPC service builds these plain
objects from requests, the scheduler hands them to an engine, and the engine
answers with events and results. It imports neither grpc nor torch.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class RGBAImage:
    """Raw RGBA8, rows top-down, no padding: len(data) == width * height * 4."""

    width: int
    height: int
    data: bytes


@dataclass(frozen=True)
class Mask:
    """One byte per pixel: 0 keeps the pixel, 255 regenerates it, values between blend."""

    width: int
    height: int
    data: bytes


class Seamless(enum.Enum):
    NONE = "none"
    X = "x"
    Y = "y"
    BOTH = "both"


class PaintSize(enum.Enum):
    """The size an image job paints its region at."""

    AUTO = "auto"  # the daemon's policy: native on a GPU, the region's own size on the CPU
    REGION = "region"  # the region's own size, kept between the family's minimum and native size
    NATIVE = "native"  # the model's native size, as a GPU paints it


@dataclass(frozen=True)
class Resolution:
    size: PaintSize = PaintSize.AUTO
    max_side: int = 0  # a cap on the longest painted side, px (0 = none)


class StopAt(enum.Enum):
    NONE = "none"
    SENTENCE = "sentence"
    PARAGRAPH = "paragraph"


# Zero / empty fields mean "the engine's default" throughout, as in the proto.

# ---------------------------------------------------------------- feedback, as plain values

# A candidate's initial noise: sum of weight * N(0, 1) drawn from each seed, the pairs sorted by seed.
# ((seed, 1.0),) is the plain noise of `seed`. Recipes keep steering and interpolation plain numbers,
# recorded with the turn, so a session replays exactly.
# (`steering` below; `guidance` in the tasks stays the classifier-free guidance scale.)
NoiseRecipe = tuple[tuple[int, float], ...]


@dataclass(frozen=True)
class ImageSteering:
    """What the session's feedback asks of an image job: the initial noise of each candidate."""

    noise: tuple[NoiseRecipe, ...]  # one per seed, in order


@dataclass(frozen=True)
class TextSteering:
    """What the session's feedback asks of a text job."""

    examples: tuple[str, ...] = ()  # accepted passages as the person left them: few-shot context
    avoid: tuple[str, ...] = ()  # rejected candidates: their tokens are discouraged
    strength: float = 0.0  # 0 = no steering .. 1 = full (1 - exploration)


@dataclass(frozen=True)
class Adapter:
    """A personal LoRA for the image model, as the catalog resolved it (never a request's path)."""

    name: str
    path: str
    sha256: str


class ControlKind(enum.Enum):
    """What a control map shows; the values are the proto's names, lower case."""

    SCRIBBLE = "scribble"
    LINE_ART = "line_art"
    SOFT_EDGE = "soft_edge"
    CANNY = "canny"
    DEPTH = "depth"
    NORMAL = "normal"
    POSE = "pose"
    SEGMENTATION = "segmentation"
    TILE = "tile"


@dataclass(frozen=True)
class ControlModel:
    """A ControlNet as the catalog resolved it (never a request's path)."""

    name: str
    path: str
    sha256: str
    family: str
    kinds: tuple[str, ...]  # the ControlKind values it was trained for (a union model: several)
    union: bool = False  # one model for several kinds, told the kind per call (ControlNetUnionModel)
    config: str = ""  # a single-file ControlNet's config folder (written by the catalog); "" for a folder


@dataclass(frozen=True)
class Control:
    """A structure the candidates follow: `image` covers the task's result canvas at its size."""

    kind: ControlKind
    image: RGBAImage
    strength: float = 1.0  # controlnet_conditioning_scale, (0, 2]
    start: float = 0.0  # the fraction of the steps it starts at
    end: float = 1.0  # the fraction it ends at
    derive: bool = False  # True: derive the map from an ordinary picture
    model: ControlModel | None = None  # set by the service from the catalog; None until then
    asked_model: str = ""  # the model the request named ("" = the installed one for family and kind)
    estimator: str = ""  # the depth estimator's folder deriving a depth or normal map; set by the service


class ReferenceKind(enum.Enum):
    STYLE = "style"
    COMPOSITION = "composition"
    FACE = "face"


@dataclass(frozen=True)
class Reference:
    """A picture the candidates take after (engines.reference says how each family serves it)."""

    image: RGBAImage
    kind: ReferenceKind = ReferenceKind.STYLE
    strength: float = 0.0  # 0: the default (0.6)
    model: str = ""  # an adapter by name; "": the installed one for the family
    adapter: Adapter | None = None  # the adapter the catalog resolved (IP-Adapter families), None: none needed


@dataclass(frozen=True)
class InpaintTask:
    image: RGBAImage
    mask: Mask | None  # None: the whole image
    prompt: str = ""
    negative_prompt: str = ""
    strength: float = 0.0
    steps: int = 0
    guidance: float = 0.0
    steering: ImageSteering | None = None  # None: plain noise from the seeds
    lora: Adapter | None = None
    resolution: Resolution = field(default_factory=Resolution)
    controls: tuple[Control, ...] = ()
    references: tuple[Reference, ...] = ()


@dataclass(frozen=True)
class ExpandTask:
    image: RGBAImage
    left: int = 0
    top: int = 0
    right: int = 0
    bottom: int = 0
    prompt: str = ""
    negative_prompt: str = ""
    steps: int = 0
    guidance: float = 0.0
    feather: int = 0
    steering: ImageSteering | None = None  # None: plain noise from the seeds
    lora: Adapter | None = None
    resolution: Resolution = field(default_factory=Resolution)
    controls: tuple[Control, ...] = ()
    references: tuple[Reference, ...] = ()


@dataclass(frozen=True)
class TextureTask:
    width: int
    height: int
    prompt: str = ""
    negative_prompt: str = ""
    seamless: Seamless = Seamless.NONE
    image: RGBAImage | None = None
    mask: Mask | None = None
    steps: int = 0
    guidance: float = 0.0
    strength: float = 0.0
    steering: ImageSteering | None = None  # None: plain noise from the seeds
    lora: Adapter | None = None
    resolution: Resolution = field(default_factory=Resolution)
    controls: tuple[Control, ...] = ()
    references: tuple[Reference, ...] = ()


@dataclass(frozen=True)
class VariantsTask:
    image: RGBAImage
    mask: Mask | None = None
    strength: float = 0.0
    style_prompt: str = ""
    negative_prompt: str = ""
    steps: int = 0
    guidance: float = 0.0
    steering: ImageSteering | None = None  # None: plain noise from the seeds
    lora: Adapter | None = None
    resolution: Resolution = field(default_factory=Resolution)
    controls: tuple[Control, ...] = ()
    references: tuple[Reference, ...] = ()


@dataclass(frozen=True)
class EditTask:
    """An instruction applied to the image, or to its masked part (pixels where the mask is 0 stay)."""

    image: RGBAImage
    mask: Mask | None = None  # None: the whole image
    instruction: str = ""
    steps: int = 0
    guidance: float = 0.0
    steering: ImageSteering | None = None  # None: plain noise from the seeds
    lora: Adapter | None = None
    resolution: Resolution = field(default_factory=Resolution)
    references: tuple[Reference, ...] = ()
    controls: tuple[Control, ...] = ()  # refused for edits (service.controls): no edit pipeline takes them yet


@dataclass(frozen=True)
class ContinueTextTask:
    before: str
    after: str = ""
    max_new_tokens: int = 0
    temperature: float = 0.0
    top_p: float = 0.0
    stop: tuple[str, ...] = ()
    stop_at: StopAt = StopAt.NONE
    steering: TextSteering | None = None


@dataclass(frozen=True)
class RewriteTextTask:
    selection: str
    instruction: str = ""
    max_new_tokens: int = 0
    temperature: float = 0.0
    top_p: float = 0.0
    steering: TextSteering | None = None


ImageTask = InpaintTask | ExpandTask | TextureTask | VariantsTask | EditTask
TextTask = ContinueTextTask | RewriteTextTask
Task = ImageTask | TextTask

TASK_NAMES: dict[type, str] = {
    InpaintTask: "inpaint",
    ExpandTask: "expand",
    TextureTask: "texture",
    VariantsTask: "variants",
    ContinueTextTask: "continue_text",
    RewriteTextTask: "rewrite_text",
    EditTask: "edit",
}


@dataclass(frozen=True)
class Training:
    steps: int = 200
    rank: int = 8
    learning_rate: float = 1e-4
    seed: int = 0


@dataclass(frozen=True)
class PersonalizeTask:
    """Train a personal LoRA on pictures the person kept; the trainer writes it to `out`.

    Not a generation: the scheduler hands it to its trainer rather than to a loaded engine."""

    pictures: tuple[tuple[bytes, str], ...]  # (an encoded picture PIL reads, its caption)
    out: str  # the .safetensors file to write: a staging file the daemon chose, never a request's path
    training: Training


def task_kind(task: Task) -> str:
    """'image' or 'text': which kind of model serves this task."""
    return "text" if isinstance(task, ContinueTextTask | RewriteTextTask) else "image"


# ---------------------------------------------------------------- events


@dataclass(frozen=True)
class StepEvent:
    """One denoising step (image), one token (text) or one training step is done."""

    step: int
    total: int
    previews: tuple[RGBAImage, ...] = ()  # one small image per candidate, when asked for
    loss: float | None = None  # training steps only
    painted: tuple[int, int] | None = None  # image jobs: the (width, height) the model paints at


@dataclass(frozen=True)
class TextDeltaEvent:
    index: int
    text: str


EngineEvent = StepEvent | TextDeltaEvent
Emit = Callable[[EngineEvent], None]


@dataclass(frozen=True)
class GenerationResult:
    """Final candidates, in request order; exactly one of the two lists is filled."""

    images: tuple[RGBAImage, ...] = ()
    texts: tuple[str, ...] = ()
    painted: tuple[int, int] | None = None  # image jobs: the (width, height) the model painted at
    stages: tuple[tuple[str, float], ...] = ()  # seconds per stage of the engine's work (core_server.stages)


class Cancelled(Exception):
    """Raised inside an engine when its job's CancelToken was set."""


@dataclass
class CancelToken:
    """Set from any thread; engines call check() once per step or token."""

    _event: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until cancelled (True) or `timeout` seconds pass (False)."""
        return self._event.wait(timeout)


class EngineError(Exception):
    """A request an engine cannot serve (wrong model kind, unsupported size...); the message is for people."""


class EngineUnavailable(Exception):
    """The engine running a job went away (a cluster replica died); the job may be sent again."""


class Engine(Protocol):
    """A loaded model that serves tasks of one kind ('image' or 'text')."""

    kind: str
    device: str
    dtype: str
    memory_bytes: int

    def run(
        self,
        task: Task,
        seeds: Sequence[int],
        *,
        previews: bool,
        emit: Emit,
        cancel: CancelToken,
    ) -> GenerationResult:
        """Make len(seeds) candidates, candidate i from seeds[i], batched where possible.

        Calls emit() after every step / token and cancel.check() at least as often.
        Raises Cancelled or EngineError; never returns partial results.
        """
        ...

    def close(self) -> None:
        """Drop the weights (and free device memory) so the registry can unload this model."""
        ...


# Trains a PersonalizeTask for the image model of a catalog entry: emits a StepEvent (with its loss)
# per step, checks the token as often, writes the LoRA to task.out; raises Cancelled or EngineError.
Trainer = Callable[[Any, PersonalizeTask, Emit, CancelToken], None]
