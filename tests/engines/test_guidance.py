"""Feedback reaches the engines: noise recipes for images, context and a logit bias for text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer

from core_server.engines.noise import initial_noise, plain
from core_server.engines.text_steering import logit_bias
from core_server.models import ModelCatalog
from core_server.service import steering
from core_server.tasks import (
    ContinueTextTask,
    Engine,
    GenerationResult,
    ImageSteering,
    InpaintTask,
    Task,
    TextSteering,
    TextureTask,
    VariantsTask,
)
from tests.engines.support import Recorder, disc_mask, pixels, random_image

STEPS = 4
TEXTURE = TextureTask(width=64, height=64, prompt="bricks", steps=STEPS)


def run(engine: Engine, task: Task, seeds: Sequence[int]) -> GenerationResult:
    recorder = Recorder()
    return engine.run(task, seeds, previews=False, emit=recorder, cancel=recorder.token)


def test_a_plain_recipe_is_exactly_the_seeds_noise() -> None:
    noise = initial_noise(plain([3, 4]), (4, 8, 8))
    again = initial_noise((((4, 1.0),), ((3, 1.0),)), (4, 8, 8))
    assert noise.shape == (2, 4, 8, 8)
    assert np.array_equal(noise[0].numpy(), again[1].numpy())


@pytest.mark.parametrize(
    "task",
    [TEXTURE, VariantsTask(random_image(64, 64), style_prompt="ink", strength=0.5, steps=STEPS)],
    ids=["strength 1", "strength 0.5"],
)
def test_plain_steering_equals_no_steering(image_engine: Engine, task: Task) -> None:
    """Both strengths take one code path: an explicit plain recipe changes nothing."""
    seeds = (5, 6)
    bare = run(image_engine, task, seeds)
    steered = run(image_engine, _steered(task, ImageSteering(noise=plain(seeds))), seeds)
    assert [i.data for i in bare.images] == [i.data for i in steered.images]


def test_steered_noise_draws_candidates_toward_the_liked_one(image_engine: Engine) -> None:
    liked = run(image_engine, TEXTURE, (1,)).images[0]
    seeds = (20, 21, 22, 23)
    fresh = run(image_engine, TEXTURE, seeds).images
    near = steering.steer_noise(seeds, [{1: 1.0}], [], exploration=0.1)
    assert near is not None
    close = run(image_engine, _steered(TEXTURE, near), seeds).images

    def distance(image: object) -> float:
        return float(np.abs(pixels(image).astype(float) - pixels(liked).astype(float)).mean())  # type: ignore[arg-type]

    assert max(distance(i) for i in close) < min(distance(i) for i in fresh)


def test_interpolation_ends_are_the_sources_bit_for_bit(image_engine: Engine) -> None:
    task = InpaintTask(random_image(64, 64), disc_mask(64, 64, 32, 32, 20), prompt="fox", steps=STEPS)
    sources = run(image_engine, task, (8, 9)).images
    path = steering.interpolate(plain((8, 9)), 5)
    walked = run(image_engine, _steered(task, path), (100, 101, 102, 103, 104)).images
    assert walked[0].data == sources[0].data and walked[-1].data == sources[1].data
    assert len({i.data for i in walked}) == 5


def test_text_steering_leans_toward_liked_tokens(text_engine: Engine, catalog: ModelCatalog) -> None:
    tokenizer = AutoTokenizer.from_pretrained(catalog.resolve("", "text").path)
    task = ContinueTextTask(before="Once upon a time", max_new_tokens=24)
    seeds = tuple(range(6))
    bare = run(text_engine, task, seeds).texts
    liked = "the sea, the water and the light at dawn"
    steer = TextSteering(examples=(liked,), avoid=tuple(bare), strength=1.0)
    steered = run(text_engine, replace(task, steering=steer), seeds).texts
    wanted = set(tokenizer(liked).input_ids)
    unwanted = {token for text in bare for token in tokenizer(text).input_ids} - wanted

    def share(texts: Sequence[str], tokens: set[int]) -> float:
        found = [token for text in texts for token in tokenizer(text).input_ids]
        return sum(token in tokens for token in found) / max(1, len(found))

    assert share(steered, wanted) > 2 * share(bare, wanted)
    assert share(steered, unwanted) < share(bare, unwanted)


def _steered(task: Task, steer: ImageSteering) -> Task:
    return replace(task, steering=steer)  # type: ignore[arg-type]


def test_a_turns_candidates_range_from_near_the_liked_noise_to_bold() -> None:
    liked = {1: 1.0}
    steered = steering.steer_noise((20, 21, 22, 23), [liked], [], exploration=0.0)
    assert steered is not None
    closeness = [dict(recipe).get(1, 0.0) for recipe in steered.noise]  # cosine to the liked noise
    assert closeness == sorted(closeness, reverse=True) and len(set(closeness)) == 4
    assert closeness[0] == pytest.approx(np.cos(steering.MIN_STEP * np.pi / 2))
    assert closeness[-1] > 0, "even the boldest keeps something of what was liked"
    assert steering.steer_noise((20, 21), [liked], [], exploration=1.0) is None


def test_a_token_of_an_accepted_passage_is_not_held_against_a_rejected_one(catalog: ModelCatalog) -> None:
    tokenizer = AutoTokenizer.from_pretrained(catalog.resolve("", "text").path)
    steer = TextSteering(examples=("the sea",), avoid=("the fox",), strength=1.0)
    bias = logit_bias(tokenizer, steer, len(tokenizer), torch.device("cpu"))
    assert bias is not None
    ids = {word: tokenizer(word, add_special_tokens=False).input_ids for word in ("the", " sea", " fox")}
    assert all(bias[i] > 0 for i in ids["the"] + ids[" sea"])
    assert all(bias[i] < 0 for i in set(ids[" fox"]) - set(ids["the"] + ids[" sea"]))
