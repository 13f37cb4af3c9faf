"""The config and tokenizer files a full single-file checkpoint needs, written locally, nothing fetched.

A single .safetensors checkpoint holds weights only; diffusers builds its pipeline from a folder of
configs and tokenizer files. For the families in WRITERS that folder is written here: every size (widths,
depths, channels) is read from the checkpoint's tensor shapes, the rest (schedulers, scaling factors, head
widths of 64) are the values Stability ships, and the CLIP tokenizers come from CLIP's BPE merges in
configs/ (MIT, OpenAI; OpenCLIP uses the same merges and pads with "!"). So `models add NAME file` needs no
--config and no network, and a miniature written in the same layout loads the same way as a real file.

What the shapes cannot tell, and how it is chosen:
- epsilon or v-prediction: `--prediction` when given; else a `v_pred` key in the file (ComfyUI and
  NoobAI mark v-prediction checkpoints so); else a sidecar `NAME.yaml` saying `parameterization: "v"`
  (the original configs, as A1111 reads them); else v-prediction for a 4-channel SD 2.x (2.0/2.1 768-v,
  the common ones: a 2.x-base file needs `--prediction epsilon`) and epsilon for everything else.

T5-XXL's tokenizer (SD 3.5 files holding T5, and Flux.1 / Chroma files holding their VAE and text encoders,
ComfyUI's all-in-one layout) is Google's T5 v1.1 vocabulary, shipped converted to `tokenizers` JSON in
configs/ (Apache-2.0; see configs/LICENSE.t5-tokenizer), so it loads with no sentencepiece package either.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
import tempfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core_server.engines.families.detect import Detected, Shapes, read_shapes
from core_server.tasks import EngineError

if TYPE_CHECKING:  # the catalog imports this module; flow_checkpoints needs nothing from here at run time
    from core_server.models.flow_checkpoints import TransformerCheckpoint

CLIP_BPE = Path(__file__).parent / "configs" / "bpe_simple_vocab_16e6.txt.gz"
T5_TOKENIZER = Path(__file__).parent / "configs" / "t5_v1_1_tokenizer.json.gz"
T5_EXTRA_IDS = 100  # T5's sentinel tokens <extra_id_0..99>, already in the shipped vocabulary
T5_MAX_LENGTH = 512
T5_MAX_DISTANCE = 128  # relative attention's reach: not in the weights, the same in every T5
CLIP_MERGES = 49152 - 256 - 2  # the merges CLIP uses of the file: its vocabulary is 49408 tokens
START, END = "<|startoftext|>", "<|endoftext|>"
OPEN_CLIP_PAD = "!"
HEAD_WIDTH = 64  # every Stable Diffusion attention head since 2.0 (and CLIP's) is 64 wide
SD1_HEADS = 8  # SD 1.x has 8 heads at every level instead
PREDICTIONS = {"epsilon": "epsilon", "eps": "epsilon", "v": "v_prediction", "v_prediction": "v_prediction"}
UNET, VAE = "model.diffusion_model.", "first_stage_model."
# The text encoders of each layout: (checkpoint prefix, HF layout or OpenCLIP's, has a projection).
CLIP_L_SD1 = "cond_stage_model.transformer."
OPEN_CLIP_SD2 = "cond_stage_model.model."
CLIP_L_SDXL, OPEN_CLIP_SDXL = "conditioner.embedders.0.transformer.", "conditioner.embedders.1.model."
OPEN_CLIP_REFINER = "conditioner.embedders.0.model."
CLIP_L_SD3, CLIP_G_SD3 = "text_encoders.clip_l.transformer.", "text_encoders.clip_g.transformer."
T5_XXL = "text_encoders.t5xxl.transformer."  # where ComfyUI keeps T5 in SD 3.5, Flux.1 and Chroma files
CLIP_L_COMFY = CLIP_L_SD3  # Flux.1's CLIP-L in ComfyUI's all-in-one files
# The last of SD 2.x's 24 OpenCLIP layers is never used (it reads the penultimate); diffusers drops it.
SD2_UNUSED_LAYER = 23

Files = dict[str, dict[str, Any]]  # relative path → JSON content
Tokenizers = dict[str, str]  # subfolder → CLIP, OPEN_CLIP or T5
CLIP, OPEN_CLIP, T5 = "clip", "open_clip", "t5"


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte → printable character table, in the order CLIP numbers its first 256 tokens."""
    kept = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    moved = [byte for byte in range(256) if byte not in kept]
    return {**{byte: chr(byte) for byte in kept}, **{byte: chr(256 + i) for i, byte in enumerate(moved)}}


def write_clip_tokenizer(folder: Path, pad: str = END) -> None:
    """vocab.json, merges.txt and the settings of CLIP's tokenizer, as diffusers' SD repos ship them
    (pad "!" for OpenCLIP's, as SD 2.x and SDXL's second encoder pad)."""
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
        "pad_token": pad,
        "model_max_length": 77,
        "do_lower_case": True,
        "tokenizer_class": "CLIPTokenizer",
    }
    _json(folder / "tokenizer_config.json", settings)


def write_t5_tokenizer(folder: Path) -> None:
    """T5 v1.1's tokenizer (32,100 tokens: pad 0, eos 1, unk 2, sentinels last) as diffusers' repos ship it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tokenizer.json").write_bytes(gzip.decompress(T5_TOKENIZER.read_bytes()))
    settings = {
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "extra_ids": T5_EXTRA_IDS,
        "model_max_length": T5_MAX_LENGTH,
        "tokenizer_class": "T5Tokenizer",
    }
    _json(folder / "tokenizer_config.json", settings)


def write_tokenizer(folder: Path, kind: str) -> None:
    """The tokenizer of `kind` (CLIP, OPEN_CLIP or T5) in `folder`."""
    if kind == T5:
        write_t5_tokenizer(folder)
    else:
        write_clip_tokenizer(folder, OPEN_CLIP_PAD if kind == OPEN_CLIP else END)


def _json(path: Path, content: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=2), encoding="utf-8")


def _indices(shapes: Shapes, pattern: str) -> list[int]:
    """The distinct numbers `(\\d+)` stands for in the names matching `pattern`, sorted."""
    compiled = re.compile(pattern)
    return sorted({int(match[1]) for name in shapes if (match := compiled.match(name))})


def _heads(width: int) -> int:
    return max(1, width // HEAD_WIDTH)


# ---------------------------------------------------------------- parts, sized from the shapes


def _unet(shapes: Shapes, found: Detected, sample_size: int, **known: Any) -> dict[str, Any]:
    """An original (LDM) UNet's diffusers config: levels, widths and attention depth from input_blocks."""
    levels: list[dict[str, Any]] = [{"resnets": 0, "width": 0, "depth": 0}]
    for block in _indices(shapes, re.escape(UNET) + r"input_blocks\.(\d+)\.")[1:]:
        here = f"{UNET}input_blocks.{block}."
        if here + "0.op.weight" in shapes:  # a downsampler closes the level
            levels.append({"resnets": 0, "width": 0, "depth": 0})
            continue
        levels[-1]["resnets"] += 1
        levels[-1]["width"] = shapes[here + "0.out_layers.3.weight"][0]
        levels[-1]["depth"] = len(_indices(shapes, re.escape(here) + r"1\.transformer_blocks\.(\d+)\."))
    attended = [level["depth"] > 0 for level in levels]
    widths = [level["width"] for level in levels]
    proj_in = next(shape for name, shape in shapes.items() if name.endswith(".1.proj_in.weight"))
    cross = next(shape for name, shape in shapes.items() if name.endswith("transformer_blocks.0.attn2.to_k.weight"))
    sd1 = found.variant.startswith("SD 1")
    config = {
        "_class_name": "UNet2DConditionModel",
        "sample_size": sample_size,
        "in_channels": shapes[UNET + "input_blocks.0.0.weight"][1],
        "out_channels": shapes[UNET + "out.2.weight"][0],
        "block_out_channels": widths,
        "layers_per_block": levels[0]["resnets"],
        "down_block_types": ["CrossAttnDownBlock2D" if a else "DownBlock2D" for a in attended],
        "up_block_types": ["CrossAttnUpBlock2D" if a else "UpBlock2D" for a in reversed(attended)],
        "transformer_layers_per_block": [max(1, level["depth"]) for level in levels],
        # diffusers calls the head count attention_head_dim in its UNet configs.
        "attention_head_dim": SD1_HEADS if sd1 else [_heads(width) for width in widths],
        "use_linear_projection": len(proj_in) == 2,
        "cross_attention_dim": cross[1],
        **known,
    }
    if UNET + "label_emb.0.0.weight" in shapes:  # SDXL: pooled text and size conditions feed the time embedding
        config.update(_size_conditions(shapes, found))
    return config


def _size_conditions(shapes: Shapes, found: Detected) -> dict[str, Any]:
    """SDXL's label_emb takes the pooled text and 6 sizes (the refiner: 5, with an aesthetic score)."""
    conditions, pooled_from = (5, OPEN_CLIP_REFINER) if found.variant == "refiner" else (6, OPEN_CLIP_SDXL)
    combined = shapes[UNET + "label_emb.0.0.weight"][1]
    pooled = shapes[pooled_from + "text_projection"][1]
    return {
        "addition_embed_type": "text_time",
        "addition_time_embed_dim": (combined - pooled) // conditions,
        "projection_class_embeddings_input_dim": combined,
    }


def _vae(shapes: Shapes, prefix: str = VAE, **known: Any) -> dict[str, Any]:
    levels = _indices(shapes, re.escape(prefix) + r"encoder\.down\.(\d+)\.")
    widths = [shapes[f"{prefix}encoder.down.{level}.block.0.conv1.weight"][0] for level in levels]
    return {
        "_class_name": "AutoencoderKL",
        "in_channels": shapes[prefix + "encoder.conv_in.weight"][1],
        "out_channels": shapes[prefix + "decoder.conv_out.weight"][0],
        "latent_channels": shapes[prefix + "encoder.conv_out.weight"][0] // 2,  # a mean and a log-variance each
        "block_out_channels": widths,
        "down_block_types": ["DownEncoderBlock2D"] * len(widths),
        "up_block_types": ["UpDecoderBlock2D"] * len(widths),
        "layers_per_block": len(_indices(shapes, re.escape(prefix) + r"encoder\.down\.0\.block\.(\d+)\.")),
        "norm_num_groups": min(32, widths[0]),  # 32 in every real VAE; fewer only where the widths are tiny
        "use_quant_conv": prefix + "quant_conv.weight" in shapes,
        "use_post_quant_conv": prefix + "post_quant_conv.weight" in shapes,
        **known,
    }


def _clip(shapes: Shapes, prefix: str, *, projection: bool) -> dict[str, Any]:
    """A CLIP text encoder's config, from the HF layout (…text_model.…) or OpenCLIP's (…transformer.resblocks.…)."""
    open_clip = prefix + "token_embedding.weight" in shapes
    if open_clip:
        vocab, width = shapes[prefix + "token_embedding.weight"]
        positions = shapes[prefix + "positional_embedding"][0]
        layers = _indices(shapes, re.escape(prefix) + r"transformer\.resblocks\.(\d+)\.")
        if prefix == OPEN_CLIP_SD2:
            layers = [layer for layer in layers if layer != SD2_UNUSED_LAYER]
        inner = shapes[f"{prefix}transformer.resblocks.0.mlp.c_fc.weight"][0]
        projected = shapes.get(prefix + "text_projection", (width, width))[1]
    else:
        text = prefix + "text_model."
        vocab, width = shapes[text + "embeddings.token_embedding.weight"]
        positions = shapes[text + "embeddings.position_embedding.weight"][0]
        layers = _indices(shapes, re.escape(text) + r"encoder\.layers\.(\d+)\.")
        inner = shapes[text + "encoder.layers.0.mlp.fc1.weight"][0]
        projected = shapes.get(prefix + "text_projection.weight", (width, width))[0]
    return {
        "architectures": ["CLIPTextModelWithProjection" if projection else "CLIPTextModel"],
        "model_type": "clip_text_model",
        "vocab_size": vocab,
        "hidden_size": width,
        "intermediate_size": inner,
        "num_hidden_layers": len(layers),
        "num_attention_heads": _heads(width),
        "max_position_embeddings": positions,
        # OpenAI's CLIP ViT-L was trained with quick GELU, OpenCLIP's models with GELU.
        "hidden_act": "gelu" if open_clip or prefix == CLIP_G_SD3 else "quick_gelu",
        "projection_dim": projected,
        "bos_token_id": vocab - 2,
        "eos_token_id": vocab - 1,
        "pad_token_id": 1,
    }


def _t5(shapes: Shapes, prefix: str = T5_XXL) -> dict[str, Any]:
    """A T5 encoder's config (T5-XXL v1.1 in every real file: gated GELU, 64 heads of 64, 32 buckets)."""
    vocab, width = shapes[prefix + "shared.weight"]
    attention, feed_forward = f"{prefix}encoder.block.0.layer.0.SelfAttention.", f"{prefix}encoder.block.0.layer.1."
    buckets, heads = shapes[attention + "relative_attention_bias.weight"]
    gated = feed_forward + "DenseReluDense.wi_0.weight" in shapes  # v1.1; the original T5 has one wi
    return {
        "architectures": ["T5EncoderModel"],
        "model_type": "t5",
        "vocab_size": vocab,  # 32,128 rows in real files: the tokenizer's 32,100 rounded up
        "d_model": width,
        "d_kv": shapes[attention + "q.weight"][0] // heads,
        "d_ff": shapes[feed_forward + ("DenseReluDense.wi_0.weight" if gated else "DenseReluDense.wi.weight")][0],
        "num_layers": len(_indices(shapes, re.escape(prefix) + r"encoder\.block\.(\d+)\.")),
        "num_heads": heads,
        "relative_attention_num_buckets": buckets,
        "relative_attention_max_distance": T5_MAX_DISTANCE,
        "feed_forward_proj": "gated-gelu" if gated else "relu",
        "layer_norm_epsilon": 1e-6,
        "tie_word_embeddings": False,
        "pad_token_id": 0,
        "eos_token_id": 1,
        "decoder_start_token_id": 0,
    }


def _sd3_transformer(shapes: Shapes) -> dict[str, Any]:
    """SD 3/3.5's MMDiT: depth, width, the 3.5 extras (qk norm, dual attention) from the joint blocks."""
    prefix = next(p for p in (UNET, "") if p + "x_embedder.proj.weight" in shapes)
    width, channels, patch, _ = shapes[prefix + "x_embedder.proj.weight"]
    blocks = _indices(shapes, re.escape(prefix) + r"joint_blocks\.(\d+)\.")
    dual = _indices(shapes, re.escape(prefix) + r"joint_blocks\.(\d+)\.x_block\.attn2\.qkv\.weight")
    positions = shapes[prefix + "pos_embed"][1]
    return {
        "_class_name": "SD3Transformer2DModel",
        "sample_size": 128,
        "patch_size": patch,
        "in_channels": channels,
        "out_channels": shapes[prefix + "final_layer.linear.weight"][0] // (patch * patch),
        "num_layers": len(blocks),
        "attention_head_dim": width // _heads(width),
        "num_attention_heads": _heads(width),
        "joint_attention_dim": shapes[prefix + "context_embedder.weight"][1],
        "caption_projection_dim": shapes[prefix + "context_embedder.weight"][0],
        "pooled_projection_dim": shapes[prefix + "y_embedder.mlp.0.weight"][1],
        "pos_embed_max_size": round(positions**0.5),
        "dual_attention_layers": dual,
        "qk_norm": "rms_norm" if any(".attn.ln_q." in name for name in shapes) else None,
    }


# ---------------------------------------------------------------- families


def prediction_of(checkpoint: Path, shapes: Shapes, found: Detected, asked: str | None) -> str:
    """'epsilon' or 'v_prediction' for a UNet checkpoint (see the module's docstring for the order)."""
    if asked is not None:
        if asked not in PREDICTIONS:
            raise EngineError(f"--prediction takes epsilon or v, not {asked!r}.")
        return PREDICTIONS[asked]
    if "v_pred" in shapes:
        return "v_prediction"
    sidecar = checkpoint.with_suffix(".yaml")
    if sidecar.is_file():
        said = re.search(r"parameterization:\s*[\"']?(\w+)", sidecar.read_text(encoding="utf-8", errors="replace"))
        if said:
            return PREDICTIONS.get(said[1], "epsilon")
    sd2_plain = found.variant == "SD 2.x"
    return "v_prediction" if sd2_plain else "epsilon"


def _ddpm_betas(prediction: str) -> dict[str, Any]:
    """The noise schedule every Stable Diffusion UNet was trained on."""
    return {
        "beta_start": 0.00085,
        "beta_end": 0.012,
        "beta_schedule": "scaled_linear",
        "num_train_timesteps": 1000,
        "steps_offset": 1,
        "prediction_type": prediction,
    }


def _sd(shapes: Shapes, found: Detected, prediction: str) -> tuple[Files, Tokenizers]:
    """Stable Diffusion 1.x (CLIP ViT-L) and 2.x (OpenCLIP ViT-H, 768² for the v-prediction ones)."""
    inpainting = "inpainting" in found.variant
    sd2 = found.variant.startswith("SD 2")
    files: Files = {
        "model_index.json": {
            "_class_name": "StableDiffusionInpaintPipeline" if inpainting else "StableDiffusionPipeline",
            "scheduler": ["diffusers", "PNDMScheduler"],
            "text_encoder": ["transformers", "CLIPTextModel"],
            "tokenizer": ["transformers", "CLIPTokenizer"],
            "unet": ["diffusers", "UNet2DConditionModel"],
            "vae": ["diffusers", "AutoencoderKL"],
            "safety_checker": [None, None],
            "feature_extractor": [None, None],
        },
        "scheduler/scheduler_config.json": {
            "_class_name": "PNDMScheduler",
            **_ddpm_betas(prediction),
            "set_alpha_to_one": False,
            "skip_prk_steps": True,
        },
        "unet/config.json": _unet(
            shapes,
            found,
            96 if prediction == "v_prediction" else 64,
            # SD 2.x's 768 model attends in float32 (its float16 attention overflows).
            upcast_attention=sd2 and prediction == "v_prediction",
        ),
        "vae/config.json": _vae(shapes, sample_size=512, scaling_factor=0.18215),
        "text_encoder/config.json": _clip(shapes, OPEN_CLIP_SD2 if sd2 else CLIP_L_SD1, projection=False),
    }
    return files, {"tokenizer": OPEN_CLIP if sd2 else CLIP}


def _sdxl(shapes: Shapes, found: Detected, prediction: str) -> tuple[Files, Tokenizers]:
    """SDXL base (plain or 9-channel inpainting: CLIP ViT-L + OpenCLIP bigG) and refiner (bigG alone)."""
    refiner = found.variant == "refiner"
    pipeline = {"inpainting": "StableDiffusionXLInpaintPipeline", "refiner": "StableDiffusionXLImg2ImgPipeline"}
    index: dict[str, Any] = {
        "_class_name": pipeline.get(found.variant, "StableDiffusionXLPipeline"),
        "scheduler": ["diffusers", "EulerDiscreteScheduler"],
        "text_encoder": [None, None] if refiner else ["transformers", "CLIPTextModel"],
        "tokenizer": [None, None] if refiner else ["transformers", "CLIPTokenizer"],
        "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"],
        "tokenizer_2": ["transformers", "CLIPTokenizer"],
        "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"],
        "image_encoder": [None, None],
        "feature_extractor": [None, None],
        "force_zeros_for_empty_prompt": not refiner,
        "requires_aesthetics_score": refiner,
    }
    files: Files = {
        "model_index.json": index,
        "scheduler/scheduler_config.json": {
            "_class_name": "EulerDiscreteScheduler",
            **_ddpm_betas(prediction),
            "timestep_spacing": "leading",
        },
        "unet/config.json": _unet(shapes, found, 128),
        # The SDXL VAE overflows float16; diffusers decodes in float32 when force_upcast says so.
        "vae/config.json": _vae(shapes, sample_size=1024, scaling_factor=0.13025, force_upcast=True),
        "text_encoder_2/config.json": _clip(shapes, OPEN_CLIP_REFINER if refiner else OPEN_CLIP_SDXL, projection=True),
    }
    tokenizers = {"tokenizer_2": OPEN_CLIP}
    if not refiner:
        files["text_encoder/config.json"] = _clip(shapes, CLIP_L_SDXL, projection=False)
        tokenizers["tokenizer"] = CLIP
    return files, tokenizers


def _sd3(shapes: Shapes, found: Detected, prediction: str) -> tuple[Files, Tokenizers]:
    """SD 3 / 3.5 medium and large with their two CLIP encoders inside, and T5-XXL where the file holds it."""
    t5 = T5_XXL + "shared.weight" in shapes
    if CLIP_L_SD3 + "text_model.embeddings.token_embedding.weight" not in shapes:
        raise EngineError(
            "This Stable Diffusion 3.5 file holds no CLIP text encoders (the bare transformer ComfyUI saves); "
            "add it again with --config naming a diffusers folder of SD 3.5 to take them from."
        )
    files: Files = {
        "model_index.json": {
            "_class_name": "StableDiffusion3Pipeline",
            "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
            "transformer": ["diffusers", "SD3Transformer2DModel"],
            "vae": ["diffusers", "AutoencoderKL"],
            "text_encoder": ["transformers", "CLIPTextModelWithProjection"],
            "tokenizer": ["transformers", "CLIPTokenizer"],
            "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"],
            "tokenizer_2": ["transformers", "CLIPTokenizer"],
            "text_encoder_3": ["transformers", "T5EncoderModel"] if t5 else [None, None],
            "tokenizer_3": ["transformers", "T5TokenizerFast"] if t5 else [None, None],
            "image_encoder": [None, None],
            "feature_extractor": [None, None],
        },
        "scheduler/scheduler_config.json": {
            "_class_name": "FlowMatchEulerDiscreteScheduler",
            "num_train_timesteps": 1000,
            "shift": 3.0,
        },
        "transformer/config.json": _sd3_transformer(shapes),
        "vae/config.json": _vae(shapes, sample_size=1024, scaling_factor=1.5305, shift_factor=0.0609),
        "text_encoder/config.json": _clip(shapes, CLIP_L_SD3, projection=True),
        "text_encoder_2/config.json": _clip(shapes, CLIP_G_SD3, projection=True),
    }
    # SD3's CLIP-L has no projection in the file: diffusers puts an identity there, as wide as the encoder.
    files["text_encoder/config.json"]["projection_dim"] = files["text_encoder/config.json"]["hidden_size"]
    tokenizers = {"tokenizer": CLIP, "tokenizer_2": OPEN_CLIP}
    if t5:
        files["text_encoder_3/config.json"] = _t5(shapes)
        tokenizers["tokenizer_3"] = T5
    return files, tokenizers


# ---------------------------------------------------------------- ComfyUI's all-in-one flow files

FLOW_VAE_PREFIXES = ("vae.", VAE)  # ComfyUI saves Flux's VAE under vae.; older tools under first_stage_model.
# family → (pipeline, its T5 part, its CLIP-L part or None)
FLOW_PARTS = {
    "flux": ("FluxPipeline", "text_encoder_2", "text_encoder"),
    "flux-fill": ("FluxFillPipeline", "text_encoder_2", "text_encoder"),
    "chroma": ("ChromaPipeline", "text_encoder", None),
}
TOKENIZER_OF = {"text_encoder": "tokenizer", "text_encoder_2": "tokenizer_2"}


def _flow_scheduler(variant: str) -> dict[str, Any]:
    """What Black Forest Labs ship: [schnell] samples unshifted; [dev], Fill and Chroma shift by image size."""
    if variant == "schnell":
        return {"_class_name": "FlowMatchEulerDiscreteScheduler", "num_train_timesteps": 1000, "shift": 1.0}
    return {
        "_class_name": "FlowMatchEulerDiscreteScheduler",
        "num_train_timesteps": 1000,
        "shift": 3.0,
        "use_dynamic_shifting": True,
        "base_shift": 0.5,
        "max_shift": 1.15,
        "base_image_seq_len": 256,
        "max_image_seq_len": 4096,
    }


def _flow(shapes: Shapes, flow: TransformerCheckpoint) -> tuple[Files, Tokenizers] | None:
    """Flux.1 (CLIP-L and T5-XXL) or Chroma (T5-XXL alone) with the VAE, all in one file."""
    pipeline, t5_part, clip_part = FLOW_PARTS[flow.family]
    vae = next((prefix for prefix in FLOW_VAE_PREFIXES if prefix + "encoder.conv_in.weight" in shapes), None)
    has_clip = CLIP_L_COMFY + "text_model.embeddings.token_embedding.weight" in shapes
    if vae is None or T5_XXL + "shared.weight" not in shapes or (clip_part is not None and not has_clip):
        return None
    index: dict[str, Any] = {
        "_class_name": pipeline,
        "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
        "transformer": ["diffusers", flow.transformer_class],
        "vae": ["diffusers", "AutoencoderKL"],
        t5_part: ["transformers", "T5EncoderModel"],
        TOKENIZER_OF[t5_part]: ["transformers", "T5TokenizerFast"],
        "image_encoder": [None, None],
        "feature_extractor": [None, None],
    }
    files: Files = {
        "model_index.json": index,
        "scheduler/scheduler_config.json": _flow_scheduler(flow.variant),
        "transformer/config.json": {"_class_name": flow.transformer_class, **flow.config},
        # Flux.1's VAE (Chroma's too): 16 channels, its own shift and scale, upcast in float16.
        "vae/config.json": _vae(
            shapes, vae, sample_size=1024, scaling_factor=0.3611, shift_factor=0.1159, force_upcast=True
        ),
        f"{t5_part}/config.json": _t5(shapes),
    }
    tokenizers = {TOKENIZER_OF[t5_part]: T5}
    if clip_part is not None:
        index[clip_part] = ["transformers", "CLIPTextModel"]
        index[TOKENIZER_OF[clip_part]] = ["transformers", "CLIPTokenizer"]
        files[f"{clip_part}/config.json"] = _clip(shapes, CLIP_L_COMFY, projection=False)
        tokenizers[TOKENIZER_OF[clip_part]] = CLIP
    return files, tokenizers


# What can be written per family: the rest need --config.
WRITERS: dict[str, Callable[[Shapes, Detected, str], tuple[Files, Tokenizers]]] = {
    "sd15": _sd,
    "sdxl": _sdxl,
    "sd3": _sd3,
}


def config_folder(root: Path, found: Detected, checkpoint: Path, prediction: str | None = None) -> Path | None:
    """The folder describing `checkpoint`'s pipeline under root (written on first use; the same sizes share
    one), or None when this family's files are not written here. EngineError for what cannot be written."""
    writer = WRITERS.get(found.family)
    if writer is None or not found.complete:
        return None
    shapes = read_shapes(checkpoint)
    if found.family == "sd3" and prediction is not None:
        raise EngineError("Stable Diffusion 3.5 is a flow-matching model: it takes no --prediction.")
    try:
        files, tokenizers = writer(shapes, found, prediction_of(checkpoint, shapes, found, prediction))
    except (KeyError, StopIteration, IndexError, ValueError) as error:
        raise EngineError(
            f"{checkpoint.name} looks like a {found.describe()}, but lacks tensors its config is read from "
            f"({error}); add it with --config naming a diffusers folder of the same family."
        ) from error
    return _written(root, found.family, files, tokenizers)


def flow_config_folder(root: Path, checkpoint: Path, flow: TransformerCheckpoint) -> Path | None:
    """The folder describing an all-in-one Flux.1 / Chroma file (written under root on first use), or None when
    the file does not hold its VAE and every text encoder its family takes (a transformer alone, a GGUF)."""
    if flow.gguf or flow.family not in FLOW_PARTS:
        return None
    shapes = read_shapes(checkpoint)
    try:
        written = _flow(shapes, flow)
    except (KeyError, StopIteration, IndexError, ValueError) as error:
        raise EngineError(
            f"{checkpoint.name} holds a {flow.describe()} with a VAE and text encoders, but lacks tensors their "
            f"configs are read from ({error}); add it with --config naming a diffusers folder of the same family."
        ) from error
    return None if written is None else _written(root, flow.family, *written)


def _written(root: Path, family: str, files: Files, tokenizers: Tokenizers) -> Path:
    """root/FAMILY-HASH holding `files` and `tokenizers`: written once, shared by every file of the same sizes."""
    # diffusers reads its own version from model_index.json (to warn about old inpainting configs).
    files["model_index.json"]["_diffusers_version"] = metadata.version("diffusers")
    described = json.dumps([files, tokenizers], sort_keys=True).encode()
    folder = root / f"{family}-{hashlib.sha256(described).hexdigest()[:16]}"
    if not (folder / "model_index.json").is_file():
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=root))
        for name, content in files.items():
            _json(staging / name, content)
        for subfolder, kind in tokenizers.items():
            write_tokenizer(staging / subfolder, kind)
        try:
            staging.rename(folder)
        except OSError:  # another process wrote it first: the same files
            shutil.rmtree(staging, ignore_errors=True)
    return folder
