"""Tiny random-weight single-file checkpoints in the original (Stability / ComfyUI) layouts of SD 2.x, SDXL
and SD 3.5 (with or without T5-XXL), and ComfyUI's all-in-one Flux.1 and Chroma files (transformer, VAE and
text encoders in one): what artists download, at a few MB, so `models add` without --config is tested the
way real files load (diffusers' own converters read them back).

    python -m tests.support.original_checkpoints sdxl OUT.safetensors

Each builder makes the diffusers modules at tiny widths and renames their tensors the other way round.
The text encoders keep CLIP's real 49408-token vocabulary, so the tokenizer written for the file fits.
CLIP ViT-L and OpenCLIP get different widths (32, 48) as in real files, where diffusers tells them apart so.
T5 keeps T5-XXL's 32,128 embedding rows, so the shipped T5 v1.1 tokenizer's ids fit it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import torch

from core_server.models.tiny_flow import TEXT_WIDTH
from tests.support.single_file import hf_clip, original_unet, original_vae

VOCAB, CLIP_L_WIDTH, OPEN_CLIP_WIDTH = 49408, 32, 48
# T5-XXL's embedding rows (the tokenizer's 32,100 ids rounded up); the width the tiny Flux.1 and Chroma attend to
T5_VOCAB, T5_WIDTH = 32128, 2 * TEXT_WIDTH
T5_XXL, FLOW_VAE, COMFY_DENOISER = "text_encoders.t5xxl.transformer.", "vae.", "model.diffusion_model."
FLOW_LATENT_CHANNELS = 16
SEED = 0


def clip(width: int, *, projection: bool, act: str = "quick_gelu") -> dict[str, torch.Tensor]:
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    config = CLIPTextConfig(
        vocab_size=VOCAB,
        hidden_size=width,
        intermediate_size=2 * width,
        num_hidden_layers=2,
        num_attention_heads=1,
        max_position_embeddings=77,
        projection_dim=width,
        hidden_act=act,
        bos_token_id=VOCAB - 2,
        eos_token_id=VOCAB - 1,
    )
    torch.manual_seed(SEED)
    model = (CLIPTextModelWithProjection if projection else CLIPTextModel)(config)
    return {k: v for k, v in model.state_dict().items() if not k.endswith("position_ids")}


def open_clip(prefix: str, width: int = OPEN_CLIP_WIDTH) -> dict[str, torch.Tensor]:
    """OpenCLIP's names: one in_proj for q, k and v, resblocks, ln_final, a text_projection matrix."""
    hf = hf_clip(clip(width, projection=True, act="gelu"), "")
    tops = {
        "text_model.embeddings.token_embedding.weight": "token_embedding.weight",
        "text_model.embeddings.position_embedding.weight": "positional_embedding",
        "text_model.final_layer_norm.weight": "ln_final.weight",
        "text_model.final_layer_norm.bias": "ln_final.bias",
    }
    tensors = {prefix + theirs: hf.pop(ours) for ours, theirs in tops.items()}
    tensors[prefix + "text_projection"] = hf.pop("text_projection.weight").T.contiguous()
    layers = sorted({int(k.split(".")[3]) for k in hf})
    for layer in layers:
        ours, theirs = f"text_model.encoder.layers.{layer}.", f"{prefix}transformer.resblocks.{layer}."
        for kind in ("weight", "bias"):
            qkv = [hf.pop(f"{ours}self_attn.{p}_proj.{kind}") for p in "qkv"]
            tensors[f"{theirs}attn.in_proj_{kind}"] = torch.cat(qkv)
            for a, b in (("self_attn.out_proj", "attn.out_proj"), ("layer_norm1", "ln_1"), ("layer_norm2", "ln_2")):
                tensors[f"{theirs}{b}.{kind}"] = hf.pop(f"{ours}{a}.{kind}")
            tensors[f"{theirs}mlp.c_fc.{kind}"] = hf.pop(f"{ours}mlp.fc1.{kind}")
            tensors[f"{theirs}mlp.c_proj.{kind}"] = hf.pop(f"{ours}mlp.fc2.{kind}")
    assert not hf, f"left unnamed: {sorted(hf)}"
    return tensors


def t5_xxl(width: int = T5_WIDTH) -> dict[str, torch.Tensor]:
    """T5 v1.1's layout (gated GELU, relative attention in the first block) under ComfyUI's names, which keep
    the embedding once, as shared.weight."""
    from transformers import T5Config, T5EncoderModel

    config = T5Config(
        vocab_size=T5_VOCAB,
        d_model=width,
        d_kv=8,
        d_ff=2 * width,
        num_layers=2,
        num_heads=2,
        feed_forward_proj="gated-gelu",
    )
    torch.manual_seed(SEED)
    state = T5EncoderModel(config).state_dict()
    return {T5_XXL + k: v for k, v in state.items() if k != "encoder.embed_tokens.weight"}


def flow_vae() -> dict[str, torch.Tensor]:
    """Flux.1's VAE (16 channels, no quant convs) in the original names, under ComfyUI's vae. prefix."""
    original = vae(FLOW_LATENT_CHANNELS, use_quant_conv=False, use_post_quant_conv=False)
    return {FLOW_VAE + k.split(".", 1)[1]: v for k, v in original.items()}


def flux_all_in_one() -> dict[str, torch.Tensor]:
    """ComfyUI's Flux.1 [dev] checkpoint: the transformer in BFL names, the VAE, CLIP-L and T5-XXL inside."""
    from core_server.models.tiny_flow import flux_transformer

    return {
        **{COMFY_DENOISER + k: v for k, v in flux_bfl(flux_transformer().state_dict()).items()},
        **flow_vae(),
        **hf_clip(clip(CLIP_L_WIDTH, projection=False), "text_encoders.clip_l.transformer."),
        **t5_xxl(),
    }


def chroma_all_in_one() -> dict[str, torch.Tensor]:
    """Chroma with its VAE and T5-XXL in one file (the transformer in diffusers' names behind ComfyUI's prefix)."""
    from core_server.models.tiny_flow import chroma_transformer

    transformer = chroma_transformer().state_dict()
    return {**{COMFY_DENOISER + k: v for k, v in transformer.items()}, **flow_vae(), **t5_xxl()}


def unet(in_channels: int, cross: int, *, sdxl: bool, pooled: int = 0, sizes: int = 6) -> dict[str, torch.Tensor]:
    from diffusers import UNet2DConditionModel

    torch.manual_seed(SEED)
    options = dict(
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 2),
        projection_class_embeddings_input_dim=sizes * 8 + pooled,
    )
    model = UNet2DConditionModel(
        sample_size=16,
        in_channels=in_channels,
        out_channels=4,
        block_out_channels=(32, 64),
        layers_per_block=2,
        # SDXL's first level has no attention; SD 1.x/2.x attend at every level but the last.
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D") if sdxl else ("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D") if sdxl else ("UpBlock2D", "CrossAttnUpBlock2D"),
        attention_head_dim=(1, 1),
        use_linear_projection=True,
        cross_attention_dim=cross,
        **(options if sdxl else {}),
    )
    return original_unet(model.state_dict())


def vae(latent_channels: int = 4, **options: object) -> dict[str, torch.Tensor]:
    from core_server.models import tiny

    return original_vae(tiny.vae(latent_channels, **options).state_dict())


def sd2(in_channels: int = 4) -> dict[str, torch.Tensor]:
    return {**unet(in_channels, OPEN_CLIP_WIDTH, sdxl=False), **vae(), **open_clip("cond_stage_model.model.")}


def sdxl(in_channels: int = 4) -> dict[str, torch.Tensor]:
    return {
        **unet(in_channels, CLIP_L_WIDTH + OPEN_CLIP_WIDTH, sdxl=True, pooled=OPEN_CLIP_WIDTH),
        **vae(),
        **hf_clip(clip(CLIP_L_WIDTH, projection=False), "conditioner.embedders.0.transformer."),
        **open_clip("conditioner.embedders.1.model."),
    }


def sdxl_refiner() -> dict[str, torch.Tensor]:
    """OpenCLIP bigG alone (where the base keeps CLIP ViT-L), 5 size conditions: 4 sizes and a score."""
    return {
        **unet(4, OPEN_CLIP_WIDTH, sdxl=True, pooled=OPEN_CLIP_WIDTH, sizes=5),
        **vae(),
        **open_clip("conditioner.embedders.0.model."),
    }


def sd3(*, t5: bool = False) -> dict[str, torch.Tensor]:
    """SD 3.5 medium's shape of MMDiT (qk norm, a dual-attention first block), CLIP-L and -G inside."""
    from diffusers import SD3Transformer2DModel

    torch.manual_seed(SEED)
    transformer = SD3Transformer2DModel(
        sample_size=16,
        patch_size=2,
        in_channels=16,
        out_channels=16,
        num_layers=2,
        attention_head_dim=32,
        num_attention_heads=1,
        joint_attention_dim=CLIP_L_WIDTH + OPEN_CLIP_WIDTH,
        caption_projection_dim=32,
        pooled_projection_dim=CLIP_L_WIDTH + OPEN_CLIP_WIDTH,
        pos_embed_max_size=32,
        dual_attention_layers=(0,),
        qk_norm="rms_norm",
    )
    clip_l = {k: v for k, v in clip(CLIP_L_WIDTH, projection=True).items() if not k.startswith("text_projection")}
    tensors = {
        **original_mmdit(transformer.state_dict(), transformer.config.num_layers),
        **vae(16, use_quant_conv=False, use_post_quant_conv=False),
        **hf_clip(clip_l, "text_encoders.clip_l.transformer."),
        **hf_clip(clip(OPEN_CLIP_WIDTH, projection=True, act="gelu"), "text_encoders.clip_g.transformer."),
    }
    if t5:  # SD3 concatenates T5's tokens after the CLIP ones, at the transformer's joint width
        tensors.update(t5_xxl(CLIP_L_WIDTH + OPEN_CLIP_WIDTH))
    return tensors


def _swap_halves(tensor: torch.Tensor) -> torch.Tensor:
    shift, scale = tensor.chunk(2, dim=0)
    return torch.cat([scale, shift])


def original_mmdit(state: dict[str, torch.Tensor], layers: int) -> dict[str, torch.Tensor]:
    """SD3Transformer2DModel's tensors under Stability's MMDiT names (the inverse of diffusers' converter)."""
    s = dict(state)
    out: dict[str, torch.Tensor] = {}
    tops = {
        "pos_embed.pos_embed": "pos_embed",
        "pos_embed.proj.": "x_embedder.proj.",
        "time_text_embed.timestep_embedder.linear_1.": "t_embedder.mlp.0.",
        "time_text_embed.timestep_embedder.linear_2.": "t_embedder.mlp.2.",
        "time_text_embed.text_embedder.linear_1.": "y_embedder.mlp.0.",
        "time_text_embed.text_embedder.linear_2.": "y_embedder.mlp.2.",
        "context_embedder.": "context_embedder.",
        "proj_out.": "final_layer.linear.",
    }
    for ours, theirs in tops.items():
        for k in [k for k in s if k.startswith(ours)]:
            out[theirs + k[len(ours) :]] = s.pop(k)
    for kind in ("weight", "bias"):
        out[f"final_layer.adaLN_modulation.1.{kind}"] = _swap_halves(s.pop(f"norm_out.linear.{kind}"))
    for i in range(layers):
        ours, x, c = f"transformer_blocks.{i}.", f"joint_blocks.{i}.x_block.", f"joint_blocks.{i}.context_block."
        last = i == layers - 1
        for kind in ("weight", "bias"):
            out[f"{x}attn.qkv.{kind}"] = torch.cat([s.pop(f"{ours}attn.to_{p}.{kind}") for p in "qkv"])
            out[f"{c}attn.qkv.{kind}"] = torch.cat([s.pop(f"{ours}attn.add_{p}_proj.{kind}") for p in "qkv"])
            out[f"{x}attn.proj.{kind}"] = s.pop(f"{ours}attn.to_out.0.{kind}")
            out[f"{x}adaLN_modulation.1.{kind}"] = s.pop(f"{ours}norm1.linear.{kind}")
            context_norm = s.pop(f"{ours}norm1_context.linear.{kind}")
            out[f"{c}adaLN_modulation.1.{kind}"] = _swap_halves(context_norm) if last else context_norm
            out[f"{x}mlp.fc1.{kind}"] = s.pop(f"{ours}ff.net.0.proj.{kind}")
            out[f"{x}mlp.fc2.{kind}"] = s.pop(f"{ours}ff.net.2.{kind}")
            if not last:
                out[f"{c}attn.proj.{kind}"] = s.pop(f"{ours}attn.to_add_out.{kind}")
                out[f"{c}mlp.fc1.{kind}"] = s.pop(f"{ours}ff_context.net.0.proj.{kind}")
                out[f"{c}mlp.fc2.{kind}"] = s.pop(f"{ours}ff_context.net.2.{kind}")
            if f"{ours}attn2.to_q.{kind}" in s:
                out[f"{x}attn2.qkv.{kind}"] = torch.cat([s.pop(f"{ours}attn2.to_{p}.{kind}") for p in "qkv"])
                out[f"{x}attn2.proj.{kind}"] = s.pop(f"{ours}attn2.to_out.0.{kind}")
        for a, b in (("norm_q", f"{x}attn.ln_q"), ("norm_k", f"{x}attn.ln_k")):
            out[f"{b}.weight"] = s.pop(f"{ours}attn.{a}.weight")
        for a, b in (("norm_added_q", f"{c}attn.ln_q"), ("norm_added_k", f"{c}attn.ln_k")):
            out[f"{b}.weight"] = s.pop(f"{ours}attn.{a}.weight")
        for a, b in (("norm_q", f"{x}attn2.ln_q"), ("norm_k", f"{x}attn2.ln_k")):
            if f"{ours}attn2.{a}.weight" in s:
                out[f"{b}.weight"] = s.pop(f"{ours}attn2.{a}.weight")
    assert not s, f"left unnamed: {sorted(s)}"
    return {"model.diffusion_model." + k: v for k, v in out.items()}


KINDS = ("weight", "bias")
FLUX_TOPS = {
    "time_text_embed.timestep_embedder.linear_1.": "time_in.in_layer.",
    "time_text_embed.timestep_embedder.linear_2.": "time_in.out_layer.",
    "time_text_embed.text_embedder.linear_1.": "vector_in.in_layer.",
    "time_text_embed.text_embedder.linear_2.": "vector_in.out_layer.",
    "time_text_embed.guidance_embedder.linear_1.": "guidance_in.in_layer.",
    "time_text_embed.guidance_embedder.linear_2.": "guidance_in.out_layer.",
    "context_embedder.": "txt_in.",
    "x_embedder.": "img_in.",
    "proj_out.": "final_layer.linear.",
}
FLUX_DOUBLE = {
    "norm1.linear.": "img_mod.lin.",
    "norm1_context.linear.": "txt_mod.lin.",
    "attn.norm_q.weight": "img_attn.norm.query_norm.scale",
    "attn.norm_k.weight": "img_attn.norm.key_norm.scale",
    "attn.norm_added_q.weight": "txt_attn.norm.query_norm.scale",
    "attn.norm_added_k.weight": "txt_attn.norm.key_norm.scale",
    "attn.to_out.0.": "img_attn.proj.",
    "attn.to_add_out.": "txt_attn.proj.",
    "ff.net.0.proj.": "img_mlp.0.",
    "ff.net.2.": "img_mlp.2.",
    "ff_context.net.0.proj.": "txt_mlp.0.",
    "ff_context.net.2.": "txt_mlp.2.",
}
FLUX_SINGLE = {
    "norm.linear.": "modulation.lin.",
    "attn.norm_q.weight": "norm.query_norm.scale",
    "attn.norm_k.weight": "norm.key_norm.scale",
    "proj_out.": "linear2.",
}


def _rename(s: dict[str, torch.Tensor], ours: str, theirs: str, table: dict[str, str]) -> dict[str, torch.Tensor]:
    return {
        theirs + b + k[len(ours + a) :]: s.pop(k)
        for a, b in table.items()
        for k in [k for k in s if k.startswith(ours + a)]
    }


def flux_bfl(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A diffusers FluxTransformer2DModel's tensors under Black Forest Labs' names (fused q/k/v, a fused
    linear1 in the single blocks, shift before scale in the final norm)."""
    s = dict(state)
    out = {f"final_layer.adaLN_modulation.1.{kind}": _swap_halves(s.pop(f"norm_out.linear.{kind}")) for kind in KINDS}
    out.update(_rename(s, "", "", FLUX_TOPS))
    for i in sorted({int(k.split(".")[1]) for k in state if k.startswith("transformer_blocks.")}):
        ours, theirs = f"transformer_blocks.{i}.", f"double_blocks.{i}."
        for kind in KINDS:
            out[f"{theirs}img_attn.qkv.{kind}"] = torch.cat([s.pop(f"{ours}attn.to_{p}.{kind}") for p in "qkv"])
            out[f"{theirs}txt_attn.qkv.{kind}"] = torch.cat([s.pop(f"{ours}attn.add_{p}_proj.{kind}") for p in "qkv"])
        out.update(_rename(s, ours, theirs, FLUX_DOUBLE))
    for i in sorted({int(k.split(".")[1]) for k in state if k.startswith("single_transformer_blocks.")}):
        ours, theirs = f"single_transformer_blocks.{i}.", f"single_blocks.{i}."
        for kind in KINDS:
            parts = [s.pop(f"{ours}attn.to_{p}.{kind}") for p in "qkv"] + [s.pop(f"{ours}proj_mlp.{kind}")]
            out[f"{theirs}linear1.{kind}"] = torch.cat(parts)
        out.update(_rename(s, ours, theirs, FLUX_SINGLE))
    assert not s, f"left unnamed: {sorted(s)}"
    return out


BUILDERS: dict[str, Callable[[], dict[str, torch.Tensor]]] = {
    "sd2": sd2,
    "sd2-inpainting": lambda: sd2(9),
    "sdxl": sdxl,
    "sdxl-inpainting": lambda: sdxl(9),
    "sdxl-refiner": sdxl_refiner,
    "sd3": sd3,
    "sd3-t5": lambda: sd3(t5=True),
    "flux-all-in-one": flux_all_in_one,
    "chroma-all-in-one": chroma_all_in_one,
}


def write(kind: str, out: Path, dtype: torch.dtype = torch.float16) -> Path:
    """A tiny checkpoint of `kind` (a key of BUILDERS) at `out`, kept if it is there already."""
    from safetensors.torch import save_file

    if not out.exists():
        tensors = {k: v.to(dtype).contiguous() for k, v in BUILDERS[kind]().items()}
        staging = out.with_suffix(".partial")
        save_file(tensors, str(staging))
        staging.replace(out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=sorted(BUILDERS))
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    print(write(args.kind, args.out))


if __name__ == "__main__":
    main()
