"""Speed on the artist's own machine: float32 forced vs the automatic precision, and the session caches.

    python bench/speed.py [--rounds 3] [--home DIR] [--layouts] [--checks-only] [--side 256]

A real-size SD1.5-inpainting architecture with random weights (bench/overhead.build_real_arch,
made locally once under --home, painting at --side², 256² by default; 512² is SD1.5's own) serves
an inpaint of 8 steps with N = 1 and N = 4 candidates, end to end through daemons and the plugin client:
- one daemon with COCREATE_DTYPE=float32 and one choosing by itself, alternating, each round,
  both with COCREATE_ENCODE_CACHE_MB=0 so that precision alone differs;
- the same second turn at N = 1 (the picture, mask and prompt of the warm-up turn) on that
  automatic daemon and on a third, automatic with its session caches.
It prints the median of each and their ratio; first the relative error of one bfloat16 UNet step
and of a bfloat16 VAE decode against float32 (and with --layouts the time of one UNet step in
float32, bfloat16 and bfloat16 channels-last, and of a VAE decode in float32 and bfloat16).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from overhead import build_real_arch, picture

SIDE = 256  # the default; --side changes it
STEPS = 8
CANDIDATES = (1, 4)


def model_name(side: int) -> str:
    return f"sd15-inpaint-random-{side}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--home", type=Path, help="where the model is built and kept (default: a temporary folder)")
    parser.add_argument("--layouts", action="store_true", help="also time one UNet step per dtype and memory layout")
    parser.add_argument("--checks-only", action="store_true", help="only the precision checks, no daemons")
    parser.add_argument("--side", type=int, default=SIDE, help="picture side in pixels, a multiple of 8 (default 256)")
    args = parser.parse_args()
    if args.side <= 0 or args.side % 8:
        parser.error("--side must be a positive multiple of 8")
    side, model = args.side, model_name(args.side)
    home = args.home or Path(tempfile.mkdtemp(prefix="cocreate-speed-"))
    os.environ["COCREATE_HOME"] = str(home / "build")

    from core_server import config
    from core_server.models.catalog import ModelCatalog

    catalog = ModelCatalog(config.models_dir())
    if model not in {e.name for e in catalog.list()}:
        print("building the SD1.5-inpainting architecture with random weights…", flush=True)
        tiny = catalog.resolve("tiny-image", "image")
        catalog.add(model, build_real_arch(config.models_dir(), tiny.path, native_side=side))
    folder = catalog.resolve(model, "image").path
    unet_check(folder, side, args.layouts)
    vae_check(folder, side, args.layouts)
    if args.checks_only:
        return

    job = Job(model, side, *picture(side))
    uncached = {"COCREATE_ENCODE_CACHE_MB": "0"}
    with (
        daemon(home, "fp32", {**uncached, "COCREATE_DTYPE": "float32"}) as fp32,
        daemon(home, "auto", uncached) as auto,
        daemon(home, "cached", {}) as cached,
    ):
        for name, target in (("fp32", fp32), ("auto", auto), ("cached", cached)):
            turn(target, job, 1, steps=1)  # loads the model
            loaded = {m.name: m for m in target.client.model_status().loaded}[model]
            print(f"daemon {name:8} {loaded.device}/{loaded.dtype}", flush=True)
        times: dict[tuple[str, int], list[float]] = {}
        cached_times: list[float] = []
        for round_ in range(args.rounds):
            for n in CANDIDATES:
                for name, target in (("fp32", fp32), ("auto", auto)):
                    times.setdefault((name, n), []).append(turn(target, job, n))
            cached_times.append(turn(cached, job, 1))  # beside auto's N = 1, which encodes anew
            print(f"round {round_ + 1}/{args.rounds} done", flush=True)

    print(f"\n{side}², {STEPS} steps, end to end through the daemon, caches off, median of {args.rounds} rounds")
    print(f"{'N':>3} {'float32 s':>10} {'automatic s':>12} {'auto / fp32':>12}")
    for n in CANDIDATES:
        a, b = statistics.median(times[("fp32", n)]), statistics.median(times[("auto", n)])
        print(f"{n:>3} {a:>10.2f} {b:>12.2f} {b / a:>12.3f}")
    a, b = statistics.median(times[("auto", 1)]), statistics.median(cached_times)
    print(f"second turn, N=1, automatic: without caches {a:.2f} s, with {b:.2f} s, ratio {b / a:.3f}")


def unet_check(folder: Path, side: int, layouts: bool) -> None:
    import torch
    from diffusers import UNet2DConditionModel

    from core_server.engines.precision import step_error

    unet = UNet2DConditionModel.from_pretrained(folder, subfolder="unet")
    latent = (side // 8, side // 8)
    error = step_error(unet, torch.bfloat16, latent)
    print(f"one UNet step, batch 2, {side}²: bfloat16 vs float32 relative error {error:.4%}", flush=True)
    if not layouts:
        return
    generator = torch.Generator().manual_seed(0)
    sample = torch.randn(2, 9, *latent, generator=generator)
    context = torch.randn(2, 77, 768, generator=generator)
    variants = {
        "float32": (torch.float32, torch.contiguous_format),
        "float32 channels-last": (torch.float32, torch.channels_last),
        "bfloat16": (torch.bfloat16, torch.contiguous_format),
        "bfloat16 channels-last": (torch.bfloat16, torch.channels_last),
    }
    # One copy per dtype (a real-size UNet is 3.4 GB in float32), its memory format switched between
    # runs, outside the timing.
    copies = {torch.float32: unet, torch.bfloat16: copy.deepcopy(unet).to(torch.bfloat16)}
    took: dict[str, list[float]] = {name: [] for name in variants}
    with torch.inference_mode():
        for repeat in range(4):  # alternating, so the shared CPU's load falls on each alike; the first warms up
            for name, (dtype, layout) in variants.items():
                model = copies[dtype].to(memory_format=layout)
                inputs = sample.to(dtype).contiguous(memory_format=layout), context.to(dtype)
                start = time.perf_counter()
                model(inputs[0], 500, inputs[1])
                if repeat:
                    took[name].append(time.perf_counter() - start)
    for name, times in took.items():
        print(f"  {name:24} {statistics.median(times):6.2f} s per step (median of 3)", flush=True)


def vae_check(folder: Path, side: int, layouts: bool) -> None:
    import torch
    from diffusers import AutoencoderKL

    vae = AutoencoderKL.from_pretrained(folder, subfolder="vae")
    latents = torch.randn(1, 4, side // 8, side // 8, generator=torch.Generator().manual_seed(0))
    decoded: dict[torch.dtype, torch.Tensor] = {}
    took: dict[torch.dtype, list[float]] = {torch.float32: [], torch.bfloat16: []}
    copies = {dtype: copy.deepcopy(vae).to(dtype) for dtype in took}
    with torch.inference_mode():
        for _ in range(3 if layouts else 1):
            for dtype, model in copies.items():
                start = time.perf_counter()
                decoded[dtype] = model.decode(latents.to(dtype)).sample.float()
                took[dtype].append(time.perf_counter() - start)
    difference = decoded[torch.bfloat16] - decoded[torch.float32]
    error = float(difference.norm() / decoded[torch.float32].norm())
    levels = float(difference.abs().max() * 127.5)  # the decoder's [-1, 1] in 8-bit levels
    print(f"VAE decode, {side}²: bfloat16 vs float32 relative error {error:.4%}, up to {levels:.1f} of 255 levels")
    if layouts:
        for dtype, times in took.items():
            print(f"  VAE decode {dtype!s:16} {statistics.median(times[1:]):6.2f} s (median of 2)", flush=True)


@dataclass(frozen=True)
class Job:
    """What every turn paints: the model, and the picture and mask at side × side."""

    model: str
    side: int
    rgba: bytes
    alpha: bytes


@dataclass
class Target:
    client: Any  # cocreate_client.CocreateClient, imported once COCREATE_HOME is set
    session_id: str


@contextlib.contextmanager
def daemon(home: Path, name: str, env: dict[str, str]) -> Iterator[Target]:
    """A daemon with its own sessions, sharing the built model folder."""
    from cocreate_client import CocreateClient

    from core_server.launcher import launch

    own = home / name
    own.mkdir(parents=True, exist_ok=True)
    if not (own / "models").exists():
        (own / "models").symlink_to(home / "build" / "models")
    started = launch(["--socket", str(own / "d.sock")], {**os.environ, "COCREATE_HOME": str(own), **env}, 600)
    try:
        with CocreateClient(started.endpoint, timeout=3600) as client:
            yield Target(client, client.create_session("bench", name).id)
    finally:
        started.stop()


def turn(target: Target, job: Job, n: int, *, steps: int = STEPS, seed: int = 1234) -> float:
    """Seconds from sending one inpaint to holding its candidates."""
    from cocreate_client import Image, Mask
    from cocreate_client import tasks as requests

    request = requests.inpaint(
        Image(job.side, job.side, job.rgba),
        mask=Mask(job.side, job.side, job.alpha),
        session_id=target.session_id,
        prompt="a bench",
        steps=steps,
        candidates=n,
        seed=seed,
        model=job.model,
    )
    start = time.perf_counter()
    result = target.client.generate(request).wait(3600)
    assert result.ok, result.error
    return time.perf_counter() - start


if __name__ == "__main__":
    sys.exit(main())
