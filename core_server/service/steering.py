"""Feedback as plain numbers: noise recipes steered toward liked and away from disliked candidates,
interpolation paths between candidates, and the text context that accepted passages make.

No torch here. A recipe is a weight per seed, and the noise it stands for is the weighted sum of the
seeds' N(0, 1) draws; independent high-dimensional draws are nearly orthogonal unit directions, so dot
products, norms and spherical interpolation are computed on the weights alone, and the engine only sums.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..tasks import ImageSteering, NoiseRecipe, TextSteering

Recipe = dict[int, float]

DEFAULT_EXPLORATION = 0.3
# At exploration 0 the nearest candidate still turns this share of a right angle away from the liked
# noise, so the candidates of one turn differ; at exploration 1 each is its seed's own noise.
MIN_STEP = 0.15
# The candidates of a turn range from that nearest one to bolder departures, this share of the rest of
# the way to fresh noise: the artist's pick says how far to go as well as where.
SPREAD = 0.5
REPULSION = 0.5  # how far from the disliked noise, at exploration 0
DECAY = 0.5  # each older liked (or disliked) candidate weighs half as much as the next
MAX_TERMS = 64  # a recipe keeps its largest weights; the rest is noise already
MIN_WEIGHT = 1e-3
MAX_EXAMPLES = 3  # accepted passages given to the text model as context
MAX_AVOID = 8  # rejected texts whose tokens are discouraged


# ---------------------------------------------------------------- images


def steer_noise(
    seeds: Sequence[int], liked: Sequence[Recipe], disliked: Sequence[Recipe], exploration: float
) -> ImageSteering | None:
    """One recipe per seed around the liked noise and away from the disliked; None when nothing steers."""
    if exploration >= 1 or not (liked or disliked):
        return None
    center = _decayed(liked)
    away = _decayed(disliked)
    if center is not None and away is not None:
        # Disliked candidates were drawn around the liked ones too: push only along what they do not share.
        away = _normalised(_combine((1.0, away), (-_dot(away, center), center)))
    nearest = MIN_STEP + (1 - MIN_STEP) * exploration
    farthest = nearest + (1 - nearest) * SPREAD
    recipes = []
    for i, seed in enumerate(seeds):
        share = nearest + (farthest - nearest) * i / max(1, len(seeds) - 1)
        step = share * math.pi / 2
        fresh = {seed: 1.0}
        mixed = fresh if center is None else _combine((math.cos(step), center), (math.sin(step), fresh))
        if away is not None:
            mixed = _combine((1.0, mixed), (-REPULSION * (1 - exploration), away))
        recipes.append(_frozen(_normalised(mixed) or fresh))
    return ImageSteering(noise=tuple(recipes))


def interpolate(sources: Sequence[NoiseRecipe], count: int) -> ImageSteering:
    """`count` recipes along the spherical path through `sources`, the first and last exactly the ends."""
    if len(sources) < 2 or count < len(sources):
        raise ValueError(f"interpolating {len(sources)} candidates needs at least {max(2, len(sources))} points")
    segments = len(sources) - 1
    points = []
    for k in range(count):
        position = k * segments / (count - 1)
        j = min(int(position), segments - 1)
        points.append(_slerp(sources[j], sources[j + 1], position - j))
    return ImageSteering(noise=tuple(points))


def recipe_of(params: dict[str, Any], index: int, seed: int) -> NoiseRecipe:
    """The noise a stored candidate started from: its turn's recorded recipe, else its seed's own."""
    noise = (params.get("steering") or {}).get("noise")
    if noise and index < len(noise):
        return tuple((int(s), float(w)) for s, w in noise[index])
    return ((seed, 1.0),)


def _slerp(a: NoiseRecipe, b: NoiseRecipe, t: float) -> NoiseRecipe:
    if t == 0:
        return a  # as recorded: the same noise, bit for bit
    if t == 1:
        return b
    ua, ub = _normalised(dict(a)), _normalised(dict(b))
    assert ua is not None and ub is not None
    angle = math.acos(max(-1.0, min(1.0, _dot(ua, ub))))
    if math.sin(angle) < 1e-6:
        return _frozen(_normalised(_combine((1 - t, ua), (t, ub))) or ua)
    wa, wb = math.sin((1 - t) * angle) / math.sin(angle), math.sin(t * angle) / math.sin(angle)
    return _frozen(_combine((wa, ua), (wb, ub)))


def _decayed(recipes: Sequence[Recipe]) -> Recipe | None:
    if not recipes:
        return None
    newest = len(recipes) - 1
    return _normalised(_combine(*((DECAY ** (newest - i), r) for i, r in enumerate(recipes))))


def _combine(*terms: tuple[float, Recipe]) -> Recipe:
    total: Recipe = {}
    for factor, recipe in terms:
        for seed, weight in recipe.items():
            total[seed] = total.get(seed, 0.0) + factor * weight
    return total


def _dot(a: Recipe, b: Recipe) -> float:
    return sum(weight * b.get(seed, 0.0) for seed, weight in a.items())


def _normalised(recipe: Recipe) -> Recipe | None:
    norm = math.sqrt(_dot(recipe, recipe))
    return {seed: weight / norm for seed, weight in recipe.items()} if norm > 1e-9 else None


def _frozen(recipe: Recipe) -> NoiseRecipe:
    """Sorted by seed, the smallest weights dropped and the rest rescaled to unit norm."""
    kept = sorted(recipe.items(), key=lambda item: -abs(item[1]))[:MAX_TERMS]
    kept = [(seed, weight) for seed, weight in kept if abs(weight) >= MIN_WEIGHT]
    norm = math.sqrt(sum(weight * weight for _, weight in kept))
    return tuple(sorted((seed, weight / norm) for seed, weight in kept))


# ---------------------------------------------------------------- text


def steer_text(liked: Sequence[str], disliked: Sequence[str], exploration: float) -> TextSteering | None:
    """The newest accepted passages as context and the newest rejected texts to avoid."""
    examples = tuple(text for text in liked if text.strip())[-MAX_EXAMPLES:]
    avoid = tuple(text for text in disliked if text.strip())[-MAX_AVOID:]
    if exploration >= 1 or not (examples or avoid):
        return None
    return TextSteering(examples=examples, avoid=avoid, strength=1 - exploration)


# ---------------------------------------------------------------- records


def to_json(steering: ImageSteering | TextSteering) -> dict[str, Any]:
    if isinstance(steering, ImageSteering):
        return {"noise": [[[seed, weight] for seed, weight in recipe] for recipe in steering.noise]}
    return {"examples": list(steering.examples), "avoid": list(steering.avoid), "strength": steering.strength}


def from_json(record: dict[str, Any] | None) -> ImageSteering | TextSteering | None:
    """What a turn recorded, as the engine got it (JSON keeps floats exactly)."""
    if not record:
        return None
    if "noise" in record:
        return ImageSteering(noise=tuple(tuple((int(s), float(w)) for s, w in r) for r in record["noise"]))
    return TextSteering(
        examples=tuple(record["examples"]), avoid=tuple(record["avoid"]), strength=float(record["strength"])
    )
