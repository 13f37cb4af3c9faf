"""Pictures, masks and event recording for the engine tests."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from core_server.engines import load_engine
from core_server.engines.devices import DEVICE_ENV, DTYPE_ENV
from core_server.models import ModelEntry
from core_server.tasks import CancelToken, Engine, EngineEvent, Mask, RGBAImage, StepEvent, TextDeltaEvent


def load_on_cpu(entry: ModelEntry) -> Engine:
    """Load in float32 on the CPU whatever the machine has, so results are the same everywhere."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(DEVICE_ENV, "cpu")
        patch.setenv(DTYPE_ENV, "float32")
        return load_engine(entry)


def random_image(width: int, height: int, seed: int = 0, *, alpha: bool = False) -> RGBAImage:
    """Smooth colour gradients plus noise, opaque unless `alpha` (then a transparent left third)."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width]
    base = np.stack([xs * 255 / width, ys * 255 / height, np.full_like(xs, 128)], axis=-1)
    rgb = np.clip(base + rng.normal(0, 20, base.shape), 0, 255)
    rgba = np.concatenate([rgb, np.full((height, width, 1), 255)], axis=-1).astype(np.uint8)
    if alpha:
        rgba[:, : width // 3, 3] = rng.integers(0, 64, (height, width // 3), dtype=np.uint8)
    return RGBAImage(width, height, rgba.tobytes())


def disc_mask(width: int, height: int, cx: float, cy: float, radius: float, soft: float = 4.0) -> Mask:
    """A disc of 255 fading to 0 over `soft` pixels: an irregular, soft-edged selection."""
    ys, xs = np.mgrid[0:height, 0:width]
    distance = np.hypot(xs - cx, ys - cy)
    alpha = np.clip((radius + soft - distance) / soft, 0, 1) * 255
    return Mask(width, height, np.rint(alpha).astype(np.uint8).tobytes())


def pixels(image: RGBAImage) -> np.ndarray:
    return np.frombuffer(image.data, np.uint8).reshape(image.height, image.width, 4)


def mask_pixels(mask: Mask) -> np.ndarray:
    return np.frombuffer(mask.data, np.uint8).reshape(mask.height, mask.width)


@dataclass
class Recorder:
    """An emit() that keeps every event; optionally cancels its token after a given step."""

    cancel_after_step: int | None = None
    token: CancelToken = field(default_factory=CancelToken)
    events: list[EngineEvent] = field(default_factory=list)

    def __call__(self, event: EngineEvent) -> None:
        self.events.append(event)
        if isinstance(event, StepEvent) and event.step == self.cancel_after_step:
            self.token.cancel()

    @property
    def steps(self) -> list[StepEvent]:
        return [event for event in self.events if isinstance(event, StepEvent)]

    def text(self, index: int) -> str:
        return "".join(e.text for e in self.events if isinstance(e, TextDeltaEvent) and e.index == index)


def assert_inpaints_keeping_the_rest(entry: ModelEntry, prompt: str = "") -> None:
    """Load `entry` on the CPU, inpaint a disc in 2 steps: every pixel outside the mask comes back unchanged."""
    from core_server.tasks import InpaintTask

    engine = load_on_cpu(entry)
    image, mask = random_image(64, 64, seed=4), disc_mask(64, 64, 30, 30, 12)
    recorder = Recorder()
    try:
        task = InpaintTask(image, mask, prompt=prompt, steps=2)
        result = engine.run(task, (1,), previews=False, emit=recorder, cancel=recorder.token)
    finally:
        engine.close()
    keep = mask_pixels(mask) == 0
    assert np.array_equal(pixels(result.images[0])[keep], pixels(image)[keep])
