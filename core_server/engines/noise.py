"""Initial noise from recipes (sum of weight * N(0, 1) drawn from each seed), handed to the pipeline.

Every image candidate starts from its recipe's noise, steered or not, so a plain candidate, its replay and
an interpolation ending on it all take one code path and come out bit-identical.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator, Sequence

import torch
from diffusers import StableDiffusionInpaintPipeline

from core_server.tasks import NoiseRecipe


def plain(seeds: Sequence[int]) -> tuple[NoiseRecipe, ...]:
    """Each seed's own noise: what a request without feedback gets."""
    return tuple(((seed, 1.0),) for seed in seeds)


def initial_noise(recipes: Sequence[NoiseRecipe], shape: tuple[int, ...]) -> torch.Tensor:
    """(len(recipes), *shape) float32 on the CPU; a draw per seed from a CPU generator, as diffusers draws it,
    so a seed means the same noise on every device."""
    draws: dict[int, torch.Tensor] = {}
    rows = []
    for recipe in recipes:
        if not recipe:
            raise ValueError("a noise recipe needs at least one (seed, weight) pair")
        row: torch.Tensor | None = None
        for seed, weight in recipe:
            if seed not in draws:
                draws[seed] = torch.randn((1, *shape), generator=torch.Generator().manual_seed(seed))
            term = draws[seed] * weight  # 1.0 * x is x: a plain recipe is exactly its seed's draw
            row = term if row is None else row + term
        assert row is not None
        rows.append(row)
    return torch.cat(rows)


@contextlib.contextmanager
def given_noise(pipe: StableDiffusionInpaintPipeline, noise: torch.Tensor) -> Iterator[None]:
    """Within the block, the pipeline starts from `noise` where it would draw its own from the generators.

    diffusers' prepare_latents takes `latents` only as pure noise (it skips mixing in the image at strength
    below 1), so its own result is kept and only the noise is swapped, with the same two formulas it uses.
    """
    original = pipe.prepare_latents
    signature = inspect.signature(original)

    def prepare(*args: object, **kwargs: object) -> tuple[torch.Tensor, ...]:
        asked = signature.bind(*args, **kwargs)
        asked.apply_defaults()
        given = asked.arguments
        _, _, image_latents = original(**{**given, "latents": None, "return_noise": True, "return_image_latents": True})
        ours = noise.to(given["device"], given["dtype"])  # type: ignore[arg-type]
        if given["is_strength_max"]:
            latents = ours * pipe.scheduler.init_noise_sigma
        else:
            latents = pipe.scheduler.add_noise(image_latents, ours, given["timestep"])
        outputs: tuple[torch.Tensor, ...] = (latents,)
        if given["return_noise"]:
            outputs += (ours,)
        if given["return_image_latents"]:
            outputs += (image_latents,)
        return outputs

    pipe.prepare_latents = prepare  # type: ignore[method-assign]
    try:
        yield
    finally:
        del pipe.prepare_latents  # the instance attribute goes; the class method shows again
