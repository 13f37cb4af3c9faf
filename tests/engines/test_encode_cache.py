"""The session caches: a prompt's encoding and a picture's VAE encoding are reused, bounded, and never
change what a job makes."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from core_server.engines import encode_cache
from core_server.engines.encode_cache import CACHE_ENV, TensorCache, budget_from_env
from core_server.engines.image import ImageEngine
from core_server.tasks import EngineError, InpaintTask, Seamless, TextureTask
from tests.engines.support import Recorder, disc_mask, pixels, random_image


def run(engine: ImageEngine, task: InpaintTask | TextureTask) -> list[np.ndarray]:
    recorder = Recorder()
    result = engine.run(task, (7, 8), previews=False, emit=recorder, cancel=recorder.token)
    return [pixels(image) for image in result.images]


def counts(engine: ImageEngine) -> tuple[int, int]:
    assert engine.encode_cache is not None
    return engine.encode_cache.hits, engine.encode_cache.misses


def test_the_next_turn_reuses_both_encodings_and_makes_the_same_pictures(image_engine: ImageEngine) -> None:
    task = InpaintTask(random_image(64, 64, seed=11), disc_mask(64, 64, 30, 30, 10), prompt="a cache", steps=2)
    hits, misses = counts(image_engine)
    first = run(image_engine, task)
    # A miss each: the prompt (with its negative) and the masked copy (at strength 1 the picture is not encoded).
    assert counts(image_engine) == (hits, misses + 2)
    again = run(image_engine, task)
    assert counts(image_engine) == (hits + 2, misses + 2)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))


def test_a_new_prompt_or_mask_reencodes_only_what_changed(image_engine: ImageEngine) -> None:
    image, mask = random_image(64, 64, seed=12), disc_mask(64, 64, 30, 30, 10)
    run(image_engine, InpaintTask(image, mask, prompt="one", steps=2))
    hits, misses = counts(image_engine)
    run(image_engine, InpaintTask(image, mask, prompt="two", steps=2))
    assert counts(image_engine) == (hits + 1, misses + 1)  # the masked copy hit, the prompt missed
    run(image_engine, InpaintTask(image, disc_mask(64, 64, 20, 40, 8), prompt="two", steps=2))
    assert counts(image_engine) == (hits + 2, misses + 2)  # the prompt hit, the new masked copy missed


@contextlib.contextmanager
def pictures_encoded(engine: ImageEngine) -> Iterator[list[int]]:
    """How many pictures go through the VAE encoder inside the block (a cache hit sends none)."""
    seen: list[int] = []
    hook = engine._pipe.vae.encoder.register_forward_pre_hook(  # type: ignore[union-attr]
        lambda module, args: seen.append(args[0].shape[0])
    )
    try:
        yield seen
    finally:
        hook.remove()


def test_strength_one_on_an_inpainting_unet_encodes_only_the_masked_copy(image_engine: ImageEngine) -> None:
    image, mask = random_image(64, 64, seed=14), disc_mask(64, 64, 30, 30, 10)
    assert image_engine._pipe.unet.config.in_channels == 9  # type: ignore[union-attr]
    with pictures_encoded(image_engine) as seen:
        run(image_engine, InpaintTask(image, mask, prompt="skip", steps=2))
    assert sum(seen) == 1  # the picture's own latents would go unused: pure noise replaces them
    with pictures_encoded(image_engine) as seen:
        run(image_engine, InpaintTask(image, mask, prompt="skip", steps=4, strength=0.5))
    assert sum(seen) == 1  # below strength 1 the picture is needed too; its masked copy comes from the cache


def test_tiling_is_part_of_the_picture_key(image_engine: ImageEngine) -> None:
    image = random_image(64, 64, seed=13)
    run(image_engine, TextureTask(64, 64, prompt="tiles", image=image, mask=disc_mask(64, 64, 30, 30, 9), steps=2))
    hits, misses = counts(image_engine)
    tiled = TextureTask(
        64, 64, prompt="tiles", image=image, mask=disc_mask(64, 64, 30, 30, 9), seamless=Seamless.X, steps=2
    )
    run(image_engine, tiled)
    assert counts(image_engine) == (hits + 1, misses + 1)  # same prompt; the masked copy encodes anew when wrapping


def test_the_cache_is_bounded_and_drops_the_least_recently_used() -> None:
    cache = TensorCache(budget=3 * 400)
    for key in "abc":
        cache.put(key, (torch.zeros(100),))  # 400 bytes each
    assert cache.get("a") is not None  # a is now the most recent
    cache.put("d", (torch.zeros(100),))
    assert cache.get("b") is None and cache.get("a") is not None and cache.get("d") is not None
    cache.put("huge", (torch.zeros(1000),))  # larger than the whole budget: not kept
    assert cache.get("huge") is None and cache.get("c") is not None


def test_the_budget_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, "0.5")
    assert budget_from_env() == 2**19
    monkeypatch.setenv(CACHE_ENV, "0")
    assert encode_cache.install(object(), budget_from_env()) is None  # type: ignore[arg-type]
    monkeypatch.setenv(CACHE_ENV, "lots")
    with pytest.raises(EngineError, match="MiB"):
        budget_from_env()
