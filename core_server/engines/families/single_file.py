"""The config and tokenizer files a full single-file checkpoint needs, written locally, nothing fetched.

A single .safetensors checkpoint holds weights only; diffusers builds its pipeline from a folder of
configs and tokenizer files. For the families listed in WRITERS that folder is written here from
known values and CLIP's BPE merges shipped in configs/ (MIT, OpenAI), so `models add NAME file`
needs no --config and no network. Other families need --config (or their files in the HF cache).
"""

from __future__ import annotations

import gzip
import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core_server.engines.families.detect import Detected

CLIP_BPE = Path(__file__).parent / "configs" / "bpe_simple_vocab_16e6.txt.gz"
CLIP_MERGES = 49152 - 256 - 2  # the merges CLIP uses of the file: its vocabulary is 49408 tokens
START, END = "<|startoftext|>", "<|endoftext|>"


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte → printable character table, in the order CLIP numbers its first 256 tokens."""
    kept = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    moved = [byte for byte in range(256) if byte not in kept]
    return {**{byte: chr(byte) for byte in kept}, **{byte: chr(256 + i) for i, byte in enumerate(moved)}}


def write_clip_tokenizer(folder: Path) -> None:
    """vocab.json, merges.txt and the settings of CLIP's tokenizer, as diffusers' SD repos ship them."""
    lines = gzip.decompress(CLIP_BPE.read_bytes()).decode("utf-8").split("\n")[1 : CLIP_MERGES + 1]
    merges = [tuple(line.split()) for line in lines]
    letters = list(_bytes_to_unicode().values())
    tokens = [*letters, *(letter + "</w>" for letter in letters), *("".join(merge) for merge in merges), START, END]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({token: i for i, token in enumerate(tokens)}), encoding="utf-8")
    (folder / "merges.txt").write_text(
        "#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n", encoding="utf-8"
    )
    settings = {
        "bos_token": START,
        "eos_token": END,
        "unk_token": END,
        "pad_token": END,
        "model_max_length": 77,
        "do_lower_case": True,
        "tokenizer_class": "CLIPTokenizer",
    }
    _json(folder / "tokenizer_config.json", settings)


def _json(path: Path, content: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=2), encoding="utf-8")


def _sd15(folder: Path, found: Detected) -> None:
    """Stable Diffusion 1.x (the 512² models and their inpainting versions)."""
    inpainting = "inpainting" in found.variant
    _json(
        folder / "model_index.json",
        {
            "_class_name": "StableDiffusionInpaintPipeline" if inpainting else "StableDiffusionPipeline",
            "scheduler": ["diffusers", "PNDMScheduler"],
            "text_encoder": ["transformers", "CLIPTextModel"],
            "tokenizer": ["transformers", "CLIPTokenizer"],
            "unet": ["diffusers", "UNet2DConditionModel"],
            "vae": ["diffusers", "AutoencoderKL"],
            "safety_checker": [None, None],
            "feature_extractor": [None, None],
        },
    )
    _json(
        folder / "scheduler" / "scheduler_config.json",
        {
            "_class_name": "PNDMScheduler",
            "beta_start": 0.00085,
            "beta_end": 0.012,
            "beta_schedule": "scaled_linear",
            "num_train_timesteps": 1000,
            "set_alpha_to_one": False,
            "skip_prk_steps": True,
            "steps_offset": 1,
        },
    )
    _json(
        folder / "unet" / "config.json",
        {
            "_class_name": "UNet2DConditionModel",
            "sample_size": 64,
            "in_channels": 9 if inpainting else 4,
            "out_channels": 4,
            "block_out_channels": [320, 640, 1280, 1280],
            "layers_per_block": 2,
            "down_block_types": ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
            "up_block_types": ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3,
            "attention_head_dim": 8,
            "cross_attention_dim": 768,
        },
    )
    _json(
        folder / "vae" / "config.json",
        {
            "_class_name": "AutoencoderKL",
            "sample_size": 512,
            "in_channels": 3,
            "out_channels": 3,
            "latent_channels": 4,
            "block_out_channels": [128, 256, 512, 512],
            "down_block_types": ["DownEncoderBlock2D"] * 4,
            "up_block_types": ["UpDecoderBlock2D"] * 4,
            "layers_per_block": 2,
            "scaling_factor": 0.18215,
        },
    )
    _json(
        folder / "text_encoder" / "config.json",
        {
            "architectures": ["CLIPTextModel"],
            "model_type": "clip_text_model",
            "vocab_size": 49408,
            "hidden_size": 768,
            "intermediate_size": 3072,
            "num_hidden_layers": 12,
            "num_attention_heads": 12,
            "max_position_embeddings": 77,
            "hidden_act": "quick_gelu",
            "projection_dim": 768,
            "bos_token_id": 0,
            "eos_token_id": 2,
            "pad_token_id": 1,
        },
    )
    write_clip_tokenizer(folder / "tokenizer")


# What can be written per family (and variant): the rest need --config.
WRITERS: dict[str, Callable[[Path, Detected], None]] = {"sd15": _sd15}


def config_folder(root: Path, found: Detected) -> Path | None:
    """The folder describing `found`'s pipeline under root (written on first use), or None when this
    family's files are not shipped. SD 2.x (768², v-prediction, OpenCLIP) is not among them yet."""
    writer = WRITERS.get(found.family)
    if writer is None or not found.complete or found.variant.startswith("SD 2"):
        return None
    folder = root / f"{found.family}-{found.variant.replace(' ', '-').replace('.', '') or 'base'}"
    if not (folder / "model_index.json").is_file():
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=root))
        writer(staging, found)
        try:
            staging.rename(folder)
        except OSError:  # another process wrote it first: the same files
            shutil.rmtree(staging, ignore_errors=True)
    return folder
