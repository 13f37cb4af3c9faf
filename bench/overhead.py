"""What the daemon costs: a plain diffusers inpaint call in process vs the same inpaint through the daemon.

    python bench/overhead.py                       # tiny profile, 64², 4 steps, 3 candidates
    python bench/overhead.py --real-arch --rounds 3
                                                   # SD1.5-inpainting, single-file, 256², 8 steps, 1 candidate

Per precision (--dtypes; "auto" is the daemon's own choice, bfloat16 where the CPU has it) one daemon
runs beside a StableDiffusionInpaintPipeline in this process, loaded from the same file in the same
per-part dtypes, and each round calls both, in alternating order, so the shared machine's load falls
on both alike. The direct call is diffusers' own: picture and mask in, denoised picture out, run on a
worker thread as the daemon's jobs are. The daemon
gets the request through the plugin client with previews on, its encode caches off (a repeated request
would otherwise skip work the direct call does), and sends back the composited candidate. Printed per
precision: the medians, the median of the per-round ratios, and the daemon's own per-stage seconds
from Done (what a regression names).

--real-arch builds the real-size SD1.5-inpainting architecture (860M-parameter UNet, CLIP ViT-L/14 text
encoder, the SD VAE) with random weights once under --home and writes it as one 2.1 GB float16
single-file checkpoint (tests/support/single_file.py), the kind artists download; no download happens.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support, when run as a script

SEED = 1234
REAL_MODEL = "sd15-inpaint-random"  # the single-file checkpoint's catalog name
REAL_SIDE = 256  # its config paints at 256², the CPU case (the weights are the same at any size)
GUIDANCE = 7.5


def build_real_arch(models_dir: Path, tokenizer_from: Path, native_side: int = 512) -> Path:
    """An SD1.5-inpainting-shaped pipeline with random weights (no download), saved as safetensors.

    `native_side` is the resolution the engine paints at (the UNet's sample size × 8); the weights
    are the same at any."""
    import torch
    from diffusers import AutoencoderKL, StableDiffusionInpaintPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    folder = models_dir / ("sd15-inpaint-random" if native_side == 512 else f"sd15-inpaint-random-{native_side}")
    if (folder / "model_index.json").exists():
        return folder
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=native_side // 8,
        in_channels=9,
        out_channels=4,
        layers_per_block=2,
        block_out_channels=(320, 640, 1280, 1280),
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=768,
        attention_head_dim=8,
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        block_out_channels=(128, 256, 512, 512),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=4,
        layers_per_block=2,
        sample_size=512,
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            hidden_size=768,
            intermediate_size=3072,
            num_attention_heads=12,
            num_hidden_layers=12,
            max_position_embeddings=77,
            vocab_size=49408,
            projection_dim=768,
            hidden_act="quick_gelu",
        )
    )
    tokenizer = CLIPTokenizer.from_pretrained(tokenizer_from / "tokenizer", model_max_length=77)
    scheduler_cls = StableDiffusionInpaintPipeline.from_pretrained(tokenizer_from).scheduler
    pipe = StableDiffusionInpaintPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler_cls,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def real_checkpoint() -> tuple[Path, Path]:
    """The real-size single-file checkpoint and the diffusers folder describing it, built once under
    COCREATE_HOME's models folder."""
    from core_server import config
    from core_server.models.catalog import ModelCatalog
    from tests.support.single_file import write

    models = config.models_dir()
    tiny = ModelCatalog(models).resolve("tiny-image", "image")
    if not (models / f"{REAL_MODEL}.safetensors").exists():
        print("building the SD1.5-inpainting architecture with random weights…", flush=True)
    folder = build_real_arch(models, tiny.path, native_side=REAL_SIDE)
    return write(folder, models / f"{REAL_MODEL}.safetensors"), folder


def picture(side: int) -> tuple[bytes, bytes]:
    rgba = bytearray()
    mask = bytearray()
    for y in range(side):
        for x in range(side):
            rgba += bytes((x * 255 // side, y * 255 // side, 128, 255))
            mask.append(255 if (x - side / 2) ** 2 + (y - side / 2) ** 2 < (side / 3) ** 2 else 0)
    return bytes(rgba), bytes(mask)


def direct_call(
    pipe: Any, side: int, rgba: bytes, alpha: bytes, steps: int, seeds: tuple[int, ...]
) -> Callable[[], Any]:
    """diffusers' own inpaint call on the picture, as a script using diffusers would make it."""
    import torch
    from PIL import Image as PILImage

    image = PILImage.frombytes("RGBA", (side, side), rgba).convert("RGB")
    mask = PILImage.frombytes("L", (side, side), alpha)

    def pipe_call() -> Any:
        return pipe(
            prompt="a bench",
            image=image,
            mask_image=mask,
            height=side,
            width=side,
            num_inference_steps=steps,
            guidance_scale=GUIDANCE,
            num_images_per_prompt=len(seeds),
            generator=[torch.Generator().manual_seed(seed) for seed in seeds],
            output_type="np",
        ).images

    def call() -> Any:
        # On a worker thread, as the daemon runs its jobs: on this 2-core CPU the same torch work ran slower on
        # the main thread (one real-size UNet step in float32: 8.5 s there, 5.4 s on a thread), which flattered
        # the daemon.
        with ThreadPoolExecutor(1) as thread:
            return thread.submit(pipe_call).result()

    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real-arch", action="store_true", help="the real-size SD1.5-inpainting checkpoint")
    parser.add_argument("--size", type=int, help="picture side (default 64, --real-arch 256)")
    parser.add_argument("--steps", type=int, help="default 4, --real-arch 8")
    parser.add_argument("--candidates", type=int, help="default 3, --real-arch 1")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dtypes", nargs="+", default=["float32", "auto"], help="float32, bfloat16, auto...")
    parser.add_argument("--home", type=Path, help="COCREATE_HOME for the bench (default: a temporary folder)")
    args = parser.parse_args()
    size = args.size or (REAL_SIDE if args.real_arch else 64)
    steps = args.steps or (8 if args.real_arch else 4)
    candidates = args.candidates or (1 if args.real_arch else 3)
    home = args.home or Path(tempfile.mkdtemp(prefix="cocreate-bench-"))
    os.environ["COCREATE_HOME"] = str(home)

    import torch

    from core_server import config
    from core_server.engines import precision
    from core_server.engines.devices import choose_dtype
    from core_server.engines.families import family_named
    from core_server.engines.image import load_pipeline
    from core_server.models.catalog import ModelCatalog

    catalog = ModelCatalog(config.models_dir())
    if args.real_arch:
        model = REAL_MODEL
        checkpoint, folder = real_checkpoint()
        if model not in {e.name for e in catalog.list()}:
            catalog.add(model, checkpoint, config=folder)
    else:
        model = "tiny-image"
    entry = catalog.resolve(model, "image")
    rgba, alpha = picture(size)
    seeds = tuple(SEED + i for i in range(candidates))
    print(f"{model}: {size}², {steps} steps, {candidates} candidate(s), guidance {GUIDANCE}, {args.rounds} rounds")

    for dtype in args.dtypes:
        env = {"COCREATE_ENCODE_CACHE_MB": "0"} | ({} if dtype == "auto" else {"COCREATE_DTYPE": dtype})
        layout_dtype = choose_dtype(torch.device("cpu")) if dtype == "auto" else getattr(torch, dtype)
        with daemon_client(home, dtype, env) as (client, session):
            through_daemon = daemon_call(client, session, model, size, rgba, alpha, steps, candidates)
            # Warm-ups, one step each: the model loads, and each side meets the shapes once.
            daemon_call(client, session, model, size, rgba, alpha, 1, candidates)()
            loaded = {m.name: m for m in client.model_status().loaded}[model]
            layout = precision.Layout.for_dtype(layout_dtype)
            pipe = load_pipeline(entry.path, family_named(entry.family), entry.config, layout)
            pipe.set_progress_bar_config(disable=True)
            direct = direct_call(pipe, size, rgba, alpha, steps, seeds)
            direct_call(pipe, size, rgba, alpha, 1, seeds)()
            times: dict[str, list[float]] = {"direct": [], "daemon": []}
            stages: list[dict[str, float]] = []
            for round_ in range(args.rounds):
                order = ("direct", "daemon") if round_ % 2 == 0 else ("daemon", "direct")
                for name in order:
                    start = time.perf_counter()
                    done = direct() if name == "direct" else through_daemon()
                    times[name].append(time.perf_counter() - start)
                    if name == "daemon":
                        stages.append({"round trip": times[name][-1], **dict(done.stages)})
            del pipe, direct
            gc.collect()
        report(dtype, loaded, times, stages)


def daemon_client(home: Path, name: str, env: dict[str, str]) -> Any:
    """A daemon with this environment, and a client session on it."""
    import contextlib

    from cocreate_client import CocreateClient

    from core_server.launcher import launch

    @contextlib.contextmanager
    def running() -> Any:
        started = launch(["--socket", str(home / f"{name}.sock")], {**os.environ, **env}, 600)
        try:
            with CocreateClient(started.endpoint, timeout=3600) as client:
                yield client, client.create_session("bench", f"overhead-{name}").id
        finally:
            started.stop()

    return running()


def daemon_call(
    client: Any, session: str, model: str, side: int, rgba: bytes, alpha: bytes, steps: int, candidates: int
) -> Callable[[], Any]:
    """One inpaint through the plugin client, previews on; returns the job's Done event."""
    from cocreate_client import Done, Image, Mask
    from cocreate_client import tasks as requests

    request = requests.inpaint(
        Image(side, side, rgba),
        mask=Mask(side, side, alpha),
        session_id=session,
        prompt="a bench",
        steps=steps,
        guidance=GUIDANCE,
        candidates=candidates,
        seed=SEED,
        previews=True,
        model=model,
    )

    def call() -> Any:
        job = client.generate(request)
        result = job.wait(3600)
        assert result.ok, result.error
        return next(event for event in job.poll() if isinstance(event, Done))

    return call


def report(dtype: str, loaded: Any, times: dict[str, list[float]], stages: list[dict[str, float]]) -> None:
    direct, daemon = statistics.median(times["direct"]), statistics.median(times["daemon"])
    ratios = [b / a for a, b in zip(times["direct"], times["daemon"], strict=True)]
    print(
        f"\n{dtype} (daemon: {loaded.dtype}; its load took {loaded.load_seconds:.1f} s, peak resident memory "
        f"{loaded.load_peak_rss_bytes / 2**30:.2f} GiB for {loaded.memory_bytes / 2**30:.2f} GiB of weights)"
    )

    def each(values: list[float]) -> str:
        return " ".join(f"{value:.3f}" for value in values)

    print(f"  direct diffusers call  {direct:8.2f} s   rounds: {each(times['direct'])}")
    print(f"  daemon + client        {daemon:8.2f} s   rounds: {each(times['daemon'])}")
    print(f"  daemon / direct        {statistics.median(ratios):8.3f}     rounds: {each(ratios)}")
    print("  the daemon's job by stage (median s over rounds):")
    for name in stages[0]:
        print(f"    {name:20} {statistics.median(s.get(name, 0.0) for s in stages):8.3f}")


if __name__ == "__main__":
    main()
