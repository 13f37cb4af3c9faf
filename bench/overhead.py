"""What the daemon costs: the same inpaint called in process vs through the daemon and the plugin client.

    python bench/overhead.py                       # tiny profile, 64², 4 steps, 3 candidates
    python bench/overhead.py --real-arch --size 512 --steps 20 --candidates 1
                                                   # SD1.5-inpainting architecture, random weights

Both paths run the same model files with the same seeds, alternating, in one run; the
medians and their ratio are printed. --real-arch builds a full-size SD1.5-inpainting pipeline
(860M-parameter UNet, CLIP ViT-L/14 text encoder, the SD VAE) with random weights once under
the bench's home; it is meant for a GPU machine but runs (slowly) on a CPU.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

SEED = 1234


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


def picture(side: int) -> tuple[bytes, bytes]:
    rgba = bytearray()
    mask = bytearray()
    for y in range(side):
        for x in range(side):
            rgba += bytes((x * 255 // side, y * 255 // side, 128, 255))
            mask.append(255 if (x - side / 2) ** 2 + (y - side / 2) ** 2 < (side / 3) ** 2 else 0)
    return bytes(rgba), bytes(mask)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--candidates", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--real-arch", action="store_true", help="a real-size SD1.5-inpainting UNet, random weights")
    parser.add_argument("--home", type=Path, help="COCREATE_HOME for the bench (default: a temporary folder)")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="cocreate-bench-"))
    os.environ["COCREATE_HOME"] = str(home)

    from cocreate_client import CocreateClient, Image, Mask
    from cocreate_client import tasks as requests

    from core_server import config
    from core_server.engines import load_engine
    from core_server.launcher import launch
    from core_server.models.catalog import ModelCatalog
    from core_server.tasks import CancelToken, InpaintTask, RGBAImage
    from core_server.tasks import Mask as TaskMask

    catalog = ModelCatalog(config.models_dir())
    model = "tiny-image"
    if args.real_arch:
        tiny = catalog.resolve("tiny-image", "image")
        model = "sd15-inpaint-random"
        if model not in {e.name for e in catalog.list()}:
            print("building the SD1.5-inpainting architecture with random weights…", flush=True)
            catalog.add(model, build_real_arch(config.models_dir(), tiny.path))
    entry = catalog.resolve(model, "image")
    rgba, alpha = picture(args.size)
    seeds = tuple(SEED + i for i in range(args.candidates))

    engine = load_engine(entry)
    print(
        f"model {model} on {engine.device}/{engine.dtype}; {args.size}², {args.steps} steps, {args.candidates} "
        f"candidates, median of {args.repeat}",
        flush=True,
    )
    task = InpaintTask(
        RGBAImage(args.size, args.size, rgba), TaskMask(args.size, args.size, alpha), prompt="a bench", steps=args.steps
    )

    def direct() -> bytes:
        result = engine.run(task, seeds, previews=True, emit=lambda event: None, cancel=CancelToken())
        return result.images[0].data

    daemon = launch(["--socket", str(home / "bench.sock")])
    try:
        with CocreateClient(daemon.endpoint, timeout=3600) as client:
            session = client.create_session("bench", "overhead")
            request = requests.inpaint(
                Image(args.size, args.size, rgba),
                mask=Mask(args.size, args.size, alpha),
                session_id=session.id,
                prompt="a bench",
                steps=args.steps,
                candidates=args.candidates,
                seed=SEED,
                previews=True,
                model=model,
            )

            def through_daemon() -> bytes:
                result = client.generate(request).wait(3600)
                assert result.ok, result.error
                image = result.candidates[0].image
                assert image is not None
                return image.rgba

            same = direct() == through_daemon()  # also the warm-up of both paths
            in_process, via_daemon = [], []
            for _ in range(args.repeat):
                for run, times in ((direct, in_process), (through_daemon, via_daemon)):
                    start = time.perf_counter()
                    run()
                    times.append(time.perf_counter() - start)
    finally:
        daemon.stop()
    a, b = statistics.median(in_process), statistics.median(via_daemon)
    print(f"in process        {a * 1e3:9.1f} ms")
    print(f"daemon + client   {b * 1e3:9.1f} ms")
    print(f"ratio             {b / a:9.3f}   (same pixels both ways: {same})")


if __name__ == "__main__":
    main()
