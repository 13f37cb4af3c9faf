"""The image engine end to end on the tiny profile: inpaint, expand, texture, variants."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from PIL import Image as PILImage
from torch import nn

from core_server.engines import image as image_module
from core_server.engines.image import ImageEngine
from core_server.engines.resolution import PAINT_SIZE_ENV, Geometry, geometry, paint_size
from core_server.models import ModelCatalog
from core_server.tasks import (
    Cancelled,
    CancelToken,
    ContinueTextTask,
    Engine,
    EngineError,
    ExpandTask,
    GenerationResult,
    InpaintTask,
    Mask,
    PaintSize,
    Resolution,
    Seamless,
    StepEvent,
    Task,
    TextureTask,
    VariantsTask,
)
from tests.engines.support import Recorder, disc_mask, load_on_cpu, mask_pixels, pixels, random_image

STEPS = 4


def run(engine: Engine, task: Task, seeds: Sequence[int] = (1,), *, previews: bool = False) -> GenerationResult:
    recorder = Recorder()
    return engine.run(task, seeds, previews=previews, emit=recorder, cancel=recorder.token)


def test_engine_describes_itself(image_engine: Engine) -> None:
    assert (image_engine.kind, image_engine.device, image_engine.dtype) == ("image", "cpu", "float32")
    assert image_engine.memory_bytes > 1_000_000


# ---------------------------------------------------------------- inpaint


def test_inpaint_keeps_every_unmasked_pixel_of_a_soft_irregular_mask(image_engine: Engine) -> None:
    image = random_image(64, 64, alpha=True)
    mask = disc_mask(64, 64, cx=30, cy=34, radius=12, soft=6)
    result = run(image_engine, InpaintTask(image, mask, prompt="a red apple", steps=STEPS), seeds=(1, 2, 3))

    assert len(result.images) == 3
    keep = mask_pixels(mask) == 0
    for candidate in result.images:
        assert (candidate.width, candidate.height) == (64, 64)
        out = pixels(candidate)
        assert np.array_equal(out[keep], pixels(image)[keep])  # RGB and alpha, bit for bit
        assert (out[mask_pixels(mask) == 255] != pixels(image)[mask_pixels(mask) == 255]).any()
        assert (out[mask_pixels(mask) == 255, 3] == 255).all()  # fully masked pixels become opaque


def test_inpaint_with_a_mask_touching_the_canvas_edge(image_engine: Engine) -> None:
    image = random_image(96, 80, seed=3)
    mask = disc_mask(96, 80, cx=95, cy=0, radius=20)
    result = run(image_engine, InpaintTask(image, mask, steps=STEPS), seeds=(5, 6))

    keep = mask_pixels(mask) == 0
    for candidate in result.images:
        assert (candidate.width, candidate.height) == (96, 80)
        assert np.array_equal(pixels(candidate)[keep], pixels(image)[keep])
        assert (pixels(candidate)[~keep] != pixels(image)[~keep]).any()


def test_inpaint_without_a_mask_regenerates_the_whole_image(image_engine: Engine) -> None:
    image = random_image(64, 48, seed=4, alpha=True)
    (candidate,) = run(image_engine, InpaintTask(image, None, steps=STEPS)).images

    assert (candidate.width, candidate.height) == (64, 48)
    assert (pixels(candidate)[..., 3] == 255).all()
    assert np.mean(pixels(candidate)[..., :3] != pixels(image)[..., :3]) > 0.9


def test_a_small_mask_in_a_large_image_only_touches_its_context(image_engine: Engine) -> None:
    image = random_image(400, 300, seed=5)
    mask = disc_mask(400, 300, cx=200, cy=150, radius=10)
    (candidate,) = run(image_engine, InpaintTask(image, mask, steps=STEPS)).images

    keep = mask_pixels(mask) == 0
    assert np.array_equal(pixels(candidate)[keep], pixels(image)[keep])
    assert (pixels(candidate)[~keep] != pixels(image)[~keep]).any()


def test_the_tiny_models_geometry_comes_from_its_config(image_engine: ImageEngine) -> None:
    # sample 16 x VAE 4 = 64 native; SD 1.5's minimum is half its native side; two UNet levels x VAE 4 = 8
    assert geometry(image_engine._pipe, image_engine.family) == Geometry(native=64, minimum=32, multiple=8)


def test_native_size_is_the_longest_side_at_native_resolution_in_model_multiples() -> None:
    shape, native = Geometry(native=64, minimum=32, multiple=8), Resolution(PaintSize.NATIVE)
    assert paint_size(shape, 64, 64, native, "cpu") == (64, 64)
    assert paint_size(shape, 200, 120, native, "cpu") == (64, 40)
    assert paint_size(shape, 20, 30, native, "cpu") == (40, 64)  # small regions are brought up to the native size
    assert paint_size(shape, 8000, 10, native, "cpu") == (64, 8)  # never below one multiple


def test_the_cpu_paints_a_region_at_its_own_size_and_a_gpu_at_native_size() -> None:
    sd15 = Geometry(native=512, minimum=256, multiple=8)
    assert paint_size(sd15, 256, 256, Resolution(), "cpu") == (256, 256)
    assert paint_size(sd15, 256, 256, Resolution(), "cuda") == (512, 512)
    assert paint_size(sd15, 256, 256, Resolution(PaintSize.NATIVE), "cpu") == (512, 512)
    assert paint_size(sd15, 256, 256, Resolution(PaintSize.REGION), "cuda") == (256, 256)
    assert paint_size(sd15, 100, 150, Resolution(), "cpu") == (168, 256)  # brought up to the family's minimum
    assert paint_size(sd15, 2000, 1000, Resolution(), "cpu") == (512, 256)  # never above native
    assert paint_size(sd15, 256, 256, Resolution(max_side=128), "cuda") == (128, 128)  # a request's cap


def test_serve_sets_the_default_paint_size(monkeypatch: pytest.MonkeyPatch) -> None:
    sd15 = Geometry(native=512, minimum=256, multiple=8)
    monkeypatch.setenv(PAINT_SIZE_ENV, "native")
    assert paint_size(sd15, 256, 256, Resolution(), "cpu") == (512, 512)
    assert paint_size(sd15, 256, 256, Resolution(PaintSize.REGION), "cpu") == (256, 256)
    monkeypatch.setenv(PAINT_SIZE_ENV, "huge")
    with pytest.raises(EngineError, match="not a paint size"):
        paint_size(sd15, 256, 256, Resolution(), "cpu")


def test_the_painted_size_is_reported_in_every_step_and_the_result(image_engine: Engine) -> None:
    image, mask = random_image(48, 48, seed=3), disc_mask(48, 48, 24, 24, 10)  # the region: all of the 48² image
    for resolution, size in ((Resolution(), (48, 48)), (Resolution(PaintSize.NATIVE), (64, 64))):
        recorder = Recorder()
        task = InpaintTask(image, mask, steps=STEPS, resolution=resolution)
        result = image_engine.run(task, (1,), previews=False, emit=recorder, cancel=recorder.token)
        assert result.painted == size
        assert {step.painted for step in recorder.steps} == {size}


def test_same_seeds_same_images_and_each_candidate_depends_on_its_seed_only(image_engine: Engine) -> None:
    task = InpaintTask(random_image(64, 64, seed=6), disc_mask(64, 64, 32, 32, 16), steps=STEPS)
    first = run(image_engine, task, seeds=(11, 12, 13)).images
    again = run(image_engine, task, seeds=(11, 12, 13)).images
    alone = run(image_engine, task, seeds=(13,)).images

    assert first == again
    assert len({candidate.data for candidate in first}) == 3
    difference = np.abs(pixels(alone[0]).astype(int) - pixels(first[2]).astype(int))
    assert difference.max() <= 1  # the same picture, whatever its place in the batch


def test_a_plain_4_channel_unet_inpaints_too(catalog: ModelCatalog, tmp_path: Path) -> None:
    folder = tmp_path / "plain-sd"
    shutil.copytree(catalog.resolve("tiny-image", "image").path, folder)
    torch.manual_seed(0)
    plain = UNet2DConditionModel.from_config({**UNet2DConditionModel.load_config(folder / "unet"), "in_channels": 4})
    shutil.rmtree(folder / "unet")
    plain.save_pretrained(folder / "unet")
    engine = load_on_cpu(catalog.add("plain-sd", folder))
    try:
        image, mask = random_image(64, 64, seed=7), disc_mask(64, 64, 20, 40, 12)
        result = run(engine, InpaintTask(image, mask, steps=STEPS), seeds=(1, 2))
    finally:
        engine.close()
        catalog.remove("plain-sd")

    keep = mask_pixels(mask) == 0
    for candidate in result.images:
        assert np.array_equal(pixels(candidate)[keep], pixels(image)[keep])
        assert (pixels(candidate)[~keep] != pixels(image)[~keep]).any()


@pytest.mark.parametrize(
    ("task", "message"),
    [
        (InpaintTask(random_image(32, 32), Mask(32, 32, bytes(32 * 32)), steps=STEPS), "mask is empty"),
        (InpaintTask(random_image(32, 32), Mask(16, 16, bytes(256))), "must match"),
        (InpaintTask(random_image(32, 32), None, strength=0.1, steps=4), "no denoising step"),
        (ExpandTask(random_image(32, 32)), "Nothing to expand"),
        (TextureTask(0, 0), "width and a height"),
        (ContinueTextTask("Once"), "cannot run continue_text"),
    ],
)
def test_requests_the_model_cannot_serve_say_why(image_engine: Engine, task: Task, message: str) -> None:
    with pytest.raises(EngineError, match=message):
        run(image_engine, task)


# ---------------------------------------------------------------- expand


def test_expand_keeps_the_old_picture_exact_at_its_new_place(image_engine: Engine) -> None:
    image = random_image(48, 40, seed=8)
    task = ExpandTask(image, left=16, top=8, right=0, bottom=24, steps=STEPS, feather=6)
    result = run(image_engine, task, seeds=(1, 2))

    old = pixels(image)
    for candidate in result.images:
        assert (candidate.width, candidate.height) == (48 + 16, 40 + 8 + 24)
        out = pixels(candidate)
        placed = out[8 : 8 + 40, 16 : 16 + 48]
        # Beyond the 6 px seam along the grown sides (left, top, bottom) every old pixel is untouched.
        assert np.array_equal(placed[6:-6, 6:], old[6:-6, 6:])
        assert (placed[:6] != old[:6]).any()  # the seam blends
        assert (out[:8] != out[8]).any()  # the new area is painted, not just the stretched edge


# ---------------------------------------------------------------- texture


def _wrap_ratio(image: np.ndarray, axis: int) -> float:
    """Mean difference across the wrap-around seam over the mean difference of interior neighbours."""
    rgb = image[..., :3].astype(float)
    interior = np.abs(np.diff(rgb, axis=axis)).mean()
    seam = np.abs(np.take(rgb, 0, axis=axis) - np.take(rgb, -1, axis=axis)).mean()
    return float(seam / interior)


@pytest.mark.parametrize("axes", [Seamless.X, Seamless.Y, Seamless.BOTH])
def test_seamless_textures_wrap_around_on_their_axes(image_engine: Engine, axes: Seamless) -> None:
    seeds = (1, 2, 3)
    tiled = run(image_engine, TextureTask(128, 128, "bricks", seamless=axes, steps=STEPS), seeds).images
    plain = run(image_engine, TextureTask(128, 128, "bricks", steps=STEPS), seeds).images

    for axis, name, wraps in ((1, "x", axes is not Seamless.Y), (0, "y", axes is not Seamless.X)):
        tiled_ratio = np.mean([_wrap_ratio(pixels(c), axis) for c in tiled])
        plain_ratio = np.mean([_wrap_ratio(pixels(c), axis) for c in plain])
        print(f"{axes.name} {name}: seam/interior tiled {tiled_ratio:.2f}, untiled {plain_ratio:.2f}")
        assert plain_ratio > 1.5  # without tiling, opposite edges do not match
        if wraps:
            assert tiled_ratio < 1.4  # like any two neighbouring columns (rows)
        else:
            assert tiled_ratio > 1.5


def _conv_layers(engine: ImageEngine) -> list[nn.Conv2d]:
    modules = (engine._pipe.unet, engine._pipe.vae)
    return [layer for module in modules for layer in module.modules() if isinstance(layer, nn.Conv2d)]


def test_tiling_is_switched_off_after_the_job_even_when_cancelled(image_engine: ImageEngine) -> None:
    task = InpaintTask(random_image(64, 64, seed=9), disc_mask(64, 64, 32, 32, 10), steps=STEPS)
    before = run(image_engine, task, seeds=(4,)).images

    run(image_engine, TextureTask(64, 64, seamless=Seamless.BOTH, steps=STEPS))
    recorder = Recorder(cancel_after_step=1)
    with pytest.raises(Cancelled):
        image_engine.run(
            TextureTask(64, 64, seamless=Seamless.X, steps=STEPS),
            (1,),
            previews=False,
            emit=recorder,
            cancel=recorder.token,
        )

    assert not any("_conv_forward" in vars(layer) for layer in _conv_layers(image_engine))
    assert run(image_engine, task, seeds=(4,)).images == before


def test_texture_repair_keeps_what_is_not_masked(image_engine: Engine) -> None:
    image = random_image(64, 64, seed=10)
    mask = disc_mask(64, 64, 10, 50, 8)
    result = run(image_engine, TextureTask(0, 0, "moss", seamless=Seamless.BOTH, image=image, mask=mask, steps=STEPS))

    keep = mask_pixels(mask) == 0
    assert np.array_equal(pixels(result.images[0])[keep], pixels(image)[keep])


# ---------------------------------------------------------------- variants


def test_variants_restyle_at_default_strength(image_engine: Engine) -> None:
    image = random_image(64, 64, seed=11)
    recorder = Recorder()
    result = image_engine.run(
        VariantsTask(image, style_prompt="watercolor", steps=10),
        (1, 2),
        previews=False,
        emit=recorder,
        cancel=recorder.token,
    )

    assert len(result.images) == 2
    assert [event.step for event in recorder.steps] == list(range(1, 7))  # 10 steps at strength 0.6
    assert result.images[0] != result.images[1]


def test_variants_with_a_mask_keep_the_rest(image_engine: Engine) -> None:
    image, mask = random_image(64, 64, seed=12), disc_mask(64, 64, 40, 20, 10)
    result = run(image_engine, VariantsTask(image, mask, strength=0.8, steps=STEPS))

    keep = mask_pixels(mask) == 0
    assert np.array_equal(pixels(result.images[0])[keep], pixels(image)[keep])


# ---------------------------------------------------------------- progress and cancel


def test_previews_come_with_every_step(image_engine: Engine) -> None:
    recorder = Recorder()
    image_engine.run(
        InpaintTask(random_image(64, 64), None, steps=STEPS),
        (1, 2, 3),
        previews=True,
        emit=recorder,
        cancel=CancelToken(),
    )

    steps = recorder.steps
    assert [(event.step, event.total) for event in steps] == [(step, STEPS) for step in range(1, STEPS + 1)]
    for event in steps:
        assert len(event.previews) == 3
        for preview in event.previews:
            assert (preview.width, preview.height) == (64, 64), "the whole result frame"
            assert len(preview.data) == preview.width * preview.height * 4
    assert steps[0].previews != steps[-1].previews


def test_previews_cover_the_frame_and_keep_the_unmasked_picture(image_engine: Engine) -> None:
    """A host lays the preview over the document: outside the mask it shows the document, downscaled."""
    recorder = Recorder()
    image = random_image(512, 384)
    mask = np.zeros((384, 512), np.uint8)
    mask[100:200, 300:400] = 255
    image_engine.run(
        InpaintTask(image, Mask(512, 384, mask.tobytes()), steps=STEPS),
        (1,),
        previews=True,
        emit=recorder,
        cancel=CancelToken(),
    )
    preview = recorder.steps[-1].previews[0]
    assert (preview.width, preview.height) == (256, 192)
    shown = pixels(preview).astype(int)
    expected = np.asarray(PILImage.fromarray(pixels(image)).resize((256, 192), PILImage.Resampling.BILINEAR))
    assert np.array_equal(shown[:40, :100], expected[:40, :100]), "far from the mask: the document itself"
    assert not np.array_equal(shown[55:95, 155:195], expected[55:95, 155:195]), "inside: the painting"


def test_no_previews_unless_asked(image_engine: Engine) -> None:
    recorder = Recorder()
    image_engine.run(
        InpaintTask(random_image(64, 64), None, steps=STEPS), (1,), previews=False, emit=recorder, cancel=recorder.token
    )
    assert all(event.previews == () for event in recorder.steps)


def test_cancel_stops_within_a_step_without_decoding(image_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    decodes = []
    original = AutoencoderKL.decode
    monkeypatch.setattr(AutoencoderKL, "decode", lambda self, *a, **k: decodes.append(1) or original(self, *a, **k))
    recorder = Recorder(cancel_after_step=1)

    with pytest.raises(Cancelled):
        image_engine.run(
            InpaintTask(random_image(64, 64), None, steps=8),
            (1, 2),
            previews=True,
            emit=recorder,
            cancel=recorder.token,
        )

    assert [event.step for event in recorder.steps] == [1]
    assert decodes == []
    assert len(run(image_engine, InpaintTask(random_image(64, 64), None, steps=STEPS)).images) == 1
    assert decodes == [1]


def test_cancel_from_another_thread(image_engine: Engine) -> None:
    token = CancelToken()
    first_step, cancelled = threading.Event(), threading.Event()
    steps: list[StepEvent] = []

    def canceller() -> None:
        first_step.wait(30)
        token.cancel()
        cancelled.set()

    def emit(event: object) -> None:
        if isinstance(event, StepEvent):
            steps.append(event)
            first_step.set()
            cancelled.wait(30)  # the job goes on only once the other thread has cancelled

    thread = threading.Thread(target=canceller)
    thread.start()
    with pytest.raises(Cancelled):
        image_engine.run(
            InpaintTask(random_image(64, 64), None, steps=8), (1,), previews=False, emit=emit, cancel=token
        )
    thread.join()

    assert len(steps) == 1
    assert len(run(image_engine, InpaintTask(random_image(64, 64), None, steps=STEPS), (1, 2)).images) == 2


def test_closed_engine_refuses_work(catalog: ModelCatalog) -> None:
    engine = load_on_cpu(catalog.resolve("", "image"))
    engine.close()
    with pytest.raises(EngineError, match="unloaded"):
        run(engine, InpaintTask(random_image(32, 32), None, steps=STEPS))


def test_running_out_of_gpu_memory_is_an_engine_error(image_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    def out_of_memory(*args: object, **kwargs: object) -> None:
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(image_module, "paint", out_of_memory)
    with pytest.raises(EngineError, match="Out of GPU memory for 3 candidates"):
        run(image_engine, InpaintTask(random_image(32, 32), None), seeds=(1, 2, 3))
