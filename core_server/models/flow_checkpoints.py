"""Single-file transformer checkpoints of the flow-matching families: recognised by tensor names and shapes.

A Flux.1, Flux.2, Z-Image, Qwen-Image or Chroma file holds the transformer only, in one of three layouts:
Black Forest Labs' original names (`double_blocks.0.img_attn.qkv.weight`; Z-Image's own `layers.0.attention.
qkv.weight`), the same behind ComfyUI's `model.diffusion_model.` prefix, or diffusers' names
(`transformer_blocks.0.attn.to_q.weight`). Quantized GGUF files use the same names. The transformer's
config is read off the shapes (widths, depths, head size, input channels, guidance embedding), so any size
— the tiny profile's included — loads offline with no config shipped or fetched. The VAE and text encoders
come from a diffusers folder of the same family (see `base` in load_pipeline()), or, in ComfyUI's all-in-one
Flux.1 / Chroma files, from the file itself (configs written by engines/families/single_file.py).
Reading names and shapes needs no torch.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Shapes = Mapping[str, tuple[int, ...]]

COMFY_PREFIX = "model.diffusion_model."
MAX_HEADER_BYTES = 100 << 20  # safetensors caps its JSON header at 100 MB
REAL_HEAD_DIM = 128  # every real checkpoint of these families; other sizes are miniatures


@dataclass(frozen=True)
class TransformerCheckpoint:
    family: str  # engines.families name: flux, flux-fill, flux2-klein, flux2-dev, z-image, qwen-image, chroma
    variant: str  # flux: dev | schnell | fill; the others: the family name
    layout: str  # bfl | comfyui | diffusers
    transformer_class: str  # diffusers class name
    config: dict[str, Any]  # its diffusers config, read off the shapes
    gguf: bool = False

    def describe(self) -> str:
        quantized = ", GGUF-quantized" if self.gguf else ""
        return f"{self.variant} transformer ({self.layout} layout{quantized})"


class UnknownCheckpoint(ValueError):
    """Not a transformer layout this module knows; the message names what was found."""


def tensor_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """{tensor name: shape} from a .safetensors header or a .gguf file, without reading the weights."""
    try:
        if path.suffix.lower() == ".gguf":
            from gguf import GGUFReader

            # ggml lists dimensions innermost first; torch outermost first.
            tensors = GGUFReader(path).tensors
            return {tensor.name: tuple(int(n) for n in reversed(tensor.shape)) for tensor in tensors}
        with path.open("rb") as file:
            (length,) = struct.unpack("<Q", file.read(8))
            if length > MAX_HEADER_BYTES:
                raise ValueError(f"a {length}-byte header")
            header = json.loads(file.read(length))
        return {name: tuple(info["shape"]) for name, info in header.items() if name != "__metadata__"}
    except (OSError, ValueError, KeyError, TypeError, AttributeError, struct.error) as error:
        raise UnknownCheckpoint(f"{path.name} is not a readable safetensors or GGUF file ({error}).") from error


def detect(shapes: Shapes, *, gguf: bool = False) -> TransformerCheckpoint | None:
    """The family, variant, layout and config of a transformer checkpoint; None if it is none of ours."""
    prefixed = any(name.startswith(COMFY_PREFIX) for name in shapes)
    if prefixed:
        shapes = {name.removeprefix(COMFY_PREFIX): shape for name, shape in shapes.items()}
    for recognise in RECOGNISERS:
        found = recognise(shapes)
        if found is not None:
            family, variant, layout, transformer_class, config = found
            if prefixed:
                layout = "comfyui"
            return TransformerCheckpoint(family, variant, layout, transformer_class, config, gguf)
    return None


def _count(shapes: Shapes, prefix: str) -> int:
    """How many numbered blocks `prefix`N. there are."""
    pattern = re.compile(re.escape(prefix) + r"(\d+)\.")
    numbers = {int(match.group(1)) for name in shapes if (match := pattern.match(name))}
    return max(numbers) + 1 if numbers else 0


def _rope_axes(head_dim: int, real: tuple[int, ...], miniature: tuple[int, ...]) -> tuple[int, ...]:
    """RoPE axes are not stored in weights: the family's own at the real head size; the tiny profile's split
    (`miniature`, in sixteenths of the head) otherwise."""
    if head_dim == REAL_HEAD_DIM:
        return real
    return tuple(head_dim * part // 16 for part in miniature)


FLUX_ROPE = ((16, 56, 56), (4, 4, 8))
FLUX2_ROPE = ((32, 32, 32, 32), (4, 4, 4, 4))
Z_IMAGE_ROPE = ((32, 48, 48), (8, 4, 4))
QWEN_ROPE = ((16, 56, 56), (8, 4, 4))


def flux_rope(head_dim: int) -> tuple[int, ...]:
    return _rope_axes(head_dim, *FLUX_ROPE)


def flux2_rope(head_dim: int) -> tuple[int, ...]:
    return _rope_axes(head_dim, *FLUX2_ROPE)


def z_image_rope(head_dim: int) -> tuple[int, ...]:
    return _rope_axes(head_dim, *Z_IMAGE_ROPE)


def qwen_rope(head_dim: int) -> tuple[int, ...]:
    return _rope_axes(head_dim, *QWEN_ROPE)


Found = tuple[str, str, str, str, dict[str, Any]]


def _flux_like(shapes: Shapes) -> Found | None:
    """Flux.1 and Chroma share the double/single-stream layout; Chroma has no pooled text vector."""
    if "double_blocks.0.img_attn.norm.key_norm.scale" in shapes:
        layout = "bfl"
        hidden, in_channels = shapes["img_in.weight"]
        joint = shapes["txt_in.weight"][1]
        head_dim = shapes["double_blocks.0.img_attn.norm.query_norm.scale"][0]
        out_channels = shapes["final_layer.linear.weight"][0]
        layers, single = _count(shapes, "double_blocks."), _count(shapes, "single_blocks.")
        pooled = shapes.get("vector_in.in_layer.weight", (0, 0))[1]
        guidance = "guidance_in.in_layer.weight" in shapes
        approximator = "distilled_guidance_layer.in_proj.weight" in shapes
        approximator_layers = _count(shapes, "distilled_guidance_layer.layers.")
    elif "transformer_blocks.0.attn.norm_added_q.weight" in shapes and "x_embedder.weight" in shapes:
        if "double_stream_modulation_img.linear.weight" in shapes:
            return None
        layout = "diffusers"
        hidden, in_channels = shapes["x_embedder.weight"]
        joint = shapes["context_embedder.weight"][1]
        head_dim = shapes["transformer_blocks.0.attn.norm_q.weight"][0]
        out_channels = shapes["proj_out.weight"][0]
        layers, single = _count(shapes, "transformer_blocks."), _count(shapes, "single_transformer_blocks.")
        pooled = shapes.get("time_text_embed.text_embedder.linear_1.weight", (0, 0))[1]
        guidance = "time_text_embed.guidance_embedder.linear_1.weight" in shapes
        approximator = "distilled_guidance_layer.in_proj.weight" in shapes
        approximator_layers = _count(shapes, "distilled_guidance_layer.layers.")
    else:
        return None
    common = {
        "patch_size": 1,
        "in_channels": in_channels,
        "out_channels": out_channels,
        "num_layers": layers,
        "num_single_layers": single,
        "attention_head_dim": head_dim,
        "num_attention_heads": hidden // head_dim,
        "joint_attention_dim": joint,
        "axes_dims_rope": flux_rope(head_dim),
    }
    if approximator:
        approximator_hidden, approximator_in = shapes["distilled_guidance_layer.in_proj.weight"]
        config = {
            **common,
            "approximator_num_channels": approximator_in,
            "approximator_hidden_dim": approximator_hidden,
            "approximator_layers": approximator_layers,
        }
        return "chroma", "chroma", layout, "ChromaTransformer2DModel", config
    # Fill takes latents, masked-image latents and the packed mask: more than twice the output channels.
    # Exactly twice is a Depth/Canny control model, which paints from a control image we do not make.
    if in_channels == 2 * out_channels:
        return None
    variant = "fill" if in_channels > 2 * out_channels else "dev" if guidance else "schnell"
    config = {**common, "pooled_projection_dim": pooled, "guidance_embeds": guidance}
    return "flux-fill" if variant == "fill" else "flux", variant, layout, "FluxTransformer2DModel", config


# Flux.2's tensors in each layout: (input, text input, output, timestep input, first q-norm, blocks, single blocks)
FLUX2_NAMES = {
    "bfl": (
        "img_in.weight",
        "txt_in.weight",
        "final_layer.linear.weight",
        "time_in.in_layer.weight",
        "double_blocks.0.img_attn.norm.query_norm.scale",
        "double_blocks.",
        "single_blocks.",
    ),
    "diffusers": (
        "x_embedder.weight",
        "context_embedder.weight",
        "proj_out.weight",
        "time_guidance_embed.timestep_embedder.linear_1.weight",
        "transformer_blocks.0.attn.norm_q.weight",
        "transformer_blocks.",
        "single_transformer_blocks.",
    ),
}


def _flux2(shapes: Shapes) -> Found | None:
    if "single_stream_modulation.lin.weight" in shapes:
        layout = "bfl"
    elif "single_stream_modulation.linear.weight" in shapes:
        layout = "diffusers"
    else:
        return None
    image_in, text_in, image_out, time_in, query_norm, blocks, single_blocks = FLUX2_NAMES[layout]
    hidden, in_channels = shapes[image_in]
    head_dim = shapes[query_norm][0]
    guidance = any(name.startswith(("guidance_in.", "time_guidance_embed.guidance_embedder.")) for name in shapes)
    config = {
        "patch_size": 1,
        "in_channels": in_channels,
        "out_channels": shapes[image_out][0],
        "num_layers": _count(shapes, blocks),
        "num_single_layers": _count(shapes, single_blocks),
        "attention_head_dim": head_dim,
        "num_attention_heads": hidden // head_dim,
        "joint_attention_dim": shapes[text_in][1],
        "timestep_guidance_channels": shapes[time_in][1],
        "axes_dims_rope": flux2_rope(head_dim),
        "guidance_embeds": guidance,
    }
    # Klein (4B, 9B) is distilled and takes no guidance; FLUX.2 [dev] embeds it (and has another text encoder).
    family = "flux2-dev" if guidance else "flux2-klein"
    return family, family, layout, "Flux2Transformer2DModel", config


def _z_image(shapes: Shapes) -> Found | None:
    if "layers.0.adaLN_modulation.0.weight" not in shapes or "cap_embedder.1.weight" not in shapes:
        return None
    if "layers.0.attention.qkv.weight" in shapes:
        layout, embedder, norm = "bfl", "x_embedder.weight", "layers.0.attention.q_norm.weight"
    else:
        layout, embedder, norm = "diffusers", "all_x_embedder.2-1.weight", "layers.0.attention.norm_q.weight"
    dim, patch_channels = shapes[embedder]
    head_dim = shapes[norm][0]
    config = {
        "all_patch_size": (2,),
        "all_f_patch_size": (1,),
        "in_channels": patch_channels // 4,
        "dim": dim,
        "n_layers": _count(shapes, "layers."),
        "n_refiner_layers": _count(shapes, "noise_refiner."),
        "n_heads": dim // head_dim,
        "n_kv_heads": dim // head_dim,
        "cap_feat_dim": shapes["cap_embedder.1.weight"][1],
        "axes_dims": list(z_image_rope(head_dim)),
        "axes_lens": [1024, 512, 512],
    }
    return "z-image", "z-image", layout, "ZImageTransformer2DModel", config


def _qwen_image(shapes: Shapes) -> Found | None:
    if not {"txt_norm.weight", "img_in.weight", "transformer_blocks.0.img_mod.1.weight"} <= shapes.keys():
        return None
    inner, in_channels = shapes["img_in.weight"]
    head_dim = shapes["transformer_blocks.0.attn.norm_q.weight"][0]
    config = {
        "patch_size": 2,
        "in_channels": in_channels,
        "out_channels": shapes["proj_out.weight"][0] // 4,
        "num_layers": _count(shapes, "transformer_blocks."),
        "attention_head_dim": head_dim,
        "num_attention_heads": inner // head_dim,
        "joint_attention_dim": shapes["txt_in.weight"][1],
        "axes_dims_rope": qwen_rope(head_dim),
    }
    return "qwen-image", "qwen-image", "diffusers", "QwenImageTransformer2DModel", config


RECOGNISERS: tuple[Callable[[Shapes], Found | None], ...] = (_flux2, _flux_like, _z_image, _qwen_image)


def describe_unknown(shapes: Shapes) -> str:
    """A short account of what a file holds, for the message that refuses it."""
    roots = sorted({name.removeprefix(COMFY_PREFIX).split(".")[0] for name in shapes})
    shown = ", ".join(roots[:8]) + (", …" if len(roots) > 8 else "")
    return f"{len(shapes)} tensors under {shown or 'nothing'}"


def load_transformer(path: Path, checkpoint: TransformerCheckpoint, dtype: Any, config_dir: Path) -> Any:
    """The diffusers transformer from the file, its config written to `config_dir` (a folder we own) first.

    GGUF files stay quantized in memory and are dequantized layer by layer as they run (diffusers' GGUF
    support); `dtype` is then the compute dtype.
    """
    import diffusers
    from diffusers import GGUFQuantizationConfig
    from diffusers.models.model_loading_utils import load_gguf_checkpoint

    model_class = getattr(diffusers, checkpoint.transformer_class)
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "config.json").write_text(
        json.dumps({"_class_name": model_class.__name__, **checkpoint.config}, indent=2)
    )
    tensors = load_gguf_checkpoint(str(path)) if checkpoint.gguf else _transformer_tensors(path)
    # diffusers' converters expect names without ComfyUI's prefix (and some would mangle them).
    state = {name.removeprefix(COMFY_PREFIX): tensor for name, tensor in tensors.items()}
    if _is_narrow_bfl(state, checkpoint):
        state = _convert_narrow_bfl(state, checkpoint)  # diffusers' layout: from_single_file takes it as it is
    options: dict[str, Any] = {"config": str(config_dir), "local_files_only": True, "torch_dtype": dtype}
    if checkpoint.gguf:
        options["quantization_config"] = GGUFQuantizationConfig(compute_dtype=dtype)
    return model_class.from_single_file(state, **options)


def _transformer_tensors(path: Path) -> dict[str, Any]:
    """The transformer's tensors of a .safetensors file: all of them, or those under ComfyUI's prefix (its
    all-in-one files hold the VAE and text encoders beside it, read on their own)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as file:
        names = list(file.keys())
        if any(name.startswith(COMFY_PREFIX) for name in names):
            names = [name for name in names if name.startswith(COMFY_PREFIX)]
        return {name: file.get_tensor(name) for name in names}


# diffusers' Flux.1 and Chroma converters cut each single block's fused linear1 (q, k, v and the MLP's input)
# at the real width: 3072, with an MLP 4× as wide.
REAL_FLUX_WIDTH, REAL_FLUX_MLP = 3072, 4 * 3072
NARROW_CONVERTERS = {
    "FluxTransformer2DModel": "convert_flux_transformer_checkpoint_to_diffusers",
    "ChromaTransformer2DModel": "convert_chroma_transformer_checkpoint_to_diffusers",
}
FUSED_SINGLE = re.compile(r"single_blocks\.(\d+)\.linear1\.(weight|bias)")


def _is_narrow_bfl(state: Mapping[str, Any], checkpoint: TransformerCheckpoint) -> bool:
    if checkpoint.gguf or checkpoint.transformer_class not in NARROW_CONVERTERS:
        return False
    width = checkpoint.config["attention_head_dim"] * checkpoint.config["num_attention_heads"]
    return "double_blocks.0.img_attn.qkv.weight" in state and width != REAL_FLUX_WIDTH


def _convert_narrow_bfl(state: dict[str, Any], checkpoint: TransformerCheckpoint) -> dict[str, Any]:
    """A Flux.1/Chroma BFL state dict of another width (a miniature, a pruned model) in diffusers' names:
    diffusers' own converter runs with each fused linear1 stood in by a free view of the real width (rows of
    zeros that take no memory), then the real tensors are cut at this width."""
    import torch
    from diffusers.loaders import single_file_utils

    width = checkpoint.config["attention_head_dim"] * checkpoint.config["num_attention_heads"]
    fused = [(match, state[name]) for name in state if (match := FUSED_SINGLE.fullmatch(name))]
    real_rows = 3 * REAL_FLUX_WIDTH + REAL_FLUX_MLP
    stand_ins = {match.string: t.new_zeros(1, *t.shape[1:]).expand(real_rows, *t.shape[1:]) for match, t in fused}
    convert = getattr(single_file_utils, NARROW_CONVERTERS[checkpoint.transformer_class])
    converted = convert({**state, **stand_ins})
    for match, tensor in fused:
        block, kind = match.groups()
        pieces = torch.split(tensor, (width, width, width, tensor.shape[0] - 3 * width))
        for part, piece in zip(("attn.to_q", "attn.to_k", "attn.to_v", "proj_mlp"), pieces, strict=True):
            converted[f"single_transformer_blocks.{block}.{part}.{kind}"] = piece.contiguous()
    return converted


def detect_file(path: Path) -> TransformerCheckpoint | None:
    """detect() on a .safetensors or .gguf file; None when it is no transformer of ours (a GGUF text model)."""
    return detect(tensor_shapes(path), gguf=path.suffix.lower() == ".gguf")


def load_pipeline(pipeline_class: Any, path: Path, base: Path, dtype: Any, options: dict[str, Any]) -> Any:
    """The family's pipeline with its transformer from the single file `path` and every other part (VAE,
    text encoders, tokenizers, scheduler) from `base`, a diffusers folder of the same family; or, where `base`
    holds configs alone (written for an all-in-one file), the VAE and text encoders from the file too."""
    import tempfile

    checkpoint = detect_file(path)
    if checkpoint is None:
        raise UnknownCheckpoint(
            f"{path.name} is no flow-matching transformer ({describe_unknown(tensor_shapes(path))})."
        )
    with tempfile.TemporaryDirectory(prefix="cocreate-transformer-") as config_dir:
        transformer = load_transformer(path, checkpoint, dtype, Path(config_dir))
    if not any((base / "vae").glob("*.safetensors")):
        from core_server.engines import single_file

        dtypes = options.get("dtype") if isinstance(options.get("dtype"), dict) else {"default": dtype}
        return single_file.load_pipeline(pipeline_class, path, base, dtypes, transformer=transformer, **options)
    return pipeline_class.from_pretrained(base, transformer=transformer, **options)
