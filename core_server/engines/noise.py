"""Initial noise from recipes (sum of weight * N(0, 1) drawn from each seed), handed to the pipeline.

Every image candidate starts from its recipe's noise, steered or not, so a plain candidate, its replay and
an interpolation ending on it all take one code path and come out bit-identical.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any

import torch
from diffusers import DiffusionPipeline

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
def given_noise(pipe: DiffusionPipeline, recipes: Sequence[NoiseRecipe]) -> Iterator[None]:
    """Within the block, the pipeline starts from the recipes' noise, and encodes pictures without sampling.

    Every diffusers pipeline draws its initial noise with its module's `randn_tensor(shape, generator=...)`
    and encodes pictures with its module's `retrieve_latents`. Those two names are replaced once per
    pipeline module by versions that defer to the job running on this thread, so whatever shape a family's
    latents have (4 or 16 channels, packed or not), the noise is the recipes' and each candidate depends on
    its own seeds alone. Other threads, and calls outside the block, get diffusers' own behaviour.
    """
    _redirect(_drawing_module(type(pipe)))
    _job.recipes = tuple(recipes)
    try:
        yield
    finally:
        _job.recipes = None


_job = threading.local()


def also_drawn_in(module: ModuleType) -> None:
    """Another pipeline module whose draws follow the running job's recipes: for a pipeline of ours that hands
    some calls to a second diffusers pipeline (engines.qwen_image_edit)."""
    _redirect(module)


def _drawing_module(pipeline_class: type) -> ModuleType:
    """The module whose randn_tensor the pipeline's code calls: its own, or for a pipeline of ours built on
    a diffusers one (FLUX.2 [dev]'s inpainting), the nearest base's that has one."""
    modules = (sys.modules[cls.__module__] for cls in pipeline_class.__mro__)
    return next(module for module in modules if hasattr(module, "randn_tensor"))


def _redirect(module: ModuleType) -> None:
    with _REDIRECT_LOCK:
        if getattr(module, "_cocreate_noise", False):
            return
        draw, retrieve = module.randn_tensor, getattr(module, "retrieve_latents", None)

        def randn_tensor(shape: Any, *args: Any, **kwargs: Any) -> torch.Tensor:
            recipes = getattr(_job, "recipes", None)
            if recipes is None or len(shape) < 2 or shape[0] != len(recipes):
                return draw(shape, *args, **kwargs)
            # The same draw diffusers makes from a CPU generator per candidate, so a plain recipe is its seed's noise.
            noise = initial_noise(recipes, tuple(shape[1:]))
            return noise.to(kwargs.get("device"), kwargs.get("dtype"))

        module.randn_tensor = randn_tensor
        if retrieve is not None:

            def retrieve_latents(encoder_output: Any, generator: Any = None, sample_mode: str = "sample") -> Any:
                # The distribution's mode: the same latents for every candidate, whatever its generator.
                if getattr(_job, "recipes", None) is not None and sample_mode == "sample":
                    sample_mode = "argmax"
                return retrieve(encoder_output, generator, sample_mode)

            module.retrieve_latents = retrieve_latents
        module._cocreate_noise = True


_REDIRECT_LOCK = threading.Lock()
