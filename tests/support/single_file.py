"""A single-file SD1.x checkpoint (the original Stable Diffusion tensor names, one .safetensors) written
from a diffusers folder: what artists download, made locally from random-weight pipelines (the tiny
profile, bench/overhead.build_real_arch's real-size one), so tests and benches load that kind of file
with no download.

    python -m tests.support.single_file FOLDER OUT.safetensors [--dtype float16] [--check]

Only the renaming is done here; diffusers' own single-file loader reads the result back, and
`check` compares every tensor with the folder's.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from pathlib import Path

import torch

UNET, VAE, TEXT = "model.diffusion_model.", "first_stage_model.", "cond_stage_model.transformer."

# A ResNet block's layers: diffusers name -> original name, the same in the UNet and the VAE but for the shortcut.
UNET_RESNET = {
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "time_emb_proj": "emb_layers.1",
    "conv_shortcut": "skip_connection",
}
UNET_TOP = {
    "time_embedding.linear_1": "time_embed.0",
    "time_embedding.linear_2": "time_embed.2",
    "conv_in": "input_blocks.0.0",
    "conv_norm_out": "out.0",
    "conv_out": "out.2",
}
VAE_ATTENTION = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}


def unet_name(name: str, attended_up_blocks: set[str]) -> str:
    """'down_blocks.1.resnets.0.conv1.weight' -> 'input_blocks.4.0.in_layers.2.weight' (2 layers a block, as
    SD1.x has). An up block's upsampler follows its attention layers, if it has them (`attended_up_blocks`)."""
    for ours, theirs in UNET_TOP.items():
        if name.startswith(ours + "."):
            return theirs + name[len(ours) :]
    rules: list[tuple[str, Callable[[re.Match[str]], str]]] = [
        (r"down_blocks\.(\d)\.resnets\.(\d)\.", lambda m: f"input_blocks.{3 * int(m[1]) + int(m[2]) + 1}.0."),
        (r"down_blocks\.(\d)\.attentions\.(\d)\.", lambda m: f"input_blocks.{3 * int(m[1]) + int(m[2]) + 1}.1."),
        (r"down_blocks\.(\d)\.downsamplers\.0\.conv\.", lambda m: f"input_blocks.{3 * int(m[1]) + 3}.0.op."),
        (r"mid_block\.resnets\.(\d)\.", lambda m: f"middle_block.{2 * int(m[1])}."),
        (r"mid_block\.attentions\.0\.", lambda m: "middle_block.1."),
        (r"up_blocks\.(\d)\.resnets\.(\d)\.", lambda m: f"output_blocks.{3 * int(m[1]) + int(m[2])}.0."),
        (r"up_blocks\.(\d)\.attentions\.(\d)\.", lambda m: f"output_blocks.{3 * int(m[1]) + int(m[2])}.1."),
        (
            r"up_blocks\.(\d)\.upsamplers\.0\.",
            lambda m: f"output_blocks.{3 * int(m[1]) + 2}.{2 if m[1] in attended_up_blocks else 1}.",
        ),
    ]
    for pattern, replace in rules:
        match = re.match(pattern, name)
        if match:
            rest = name[match.end() :]
            if "resnets" in pattern:
                layer, _, tail = rest.partition(".")
                rest = f"{UNET_RESNET[layer]}.{tail}"
            return replace(match) + rest
    raise KeyError(f"no original name for UNet tensor {name}")


def vae_name(name: str, levels: int) -> str:
    """'decoder.up_blocks.0.resnets.1.conv1.weight' -> 'decoder.up.3.block.1.conv1.weight' (4 levels)."""
    name = name.replace("conv_norm_out", "norm_out").replace("conv_shortcut", "nin_shortcut")
    name = re.sub(r"encoder\.down_blocks\.(\d)\.resnets\.(\d)\.", r"encoder.down.\1.block.\2.", name)
    name = re.sub(r"encoder\.down_blocks\.(\d)\.downsamplers\.0\.", r"encoder.down.\1.downsample.", name)

    # The decoder's up blocks are numbered from the other end.
    def up(kind: str) -> Callable[[re.Match[str]], str]:
        return lambda m: f"decoder.up.{levels - 1 - int(m[1])}.{kind}."

    name = re.sub(r"decoder\.up_blocks\.(\d)\.resnets\.", up("block"), name)
    name = re.sub(r"decoder\.up_blocks\.(\d)\.upsamplers\.0\.", up("upsample"), name)
    name = re.sub(r"mid_block\.resnets\.(\d)\.", lambda m: f"mid.block_{int(m[1]) + 1}.", name)
    if "mid_block.attentions.0." in name:
        name = name.replace("mid_block.attentions.0.", "mid.attn_1.")
        for ours, theirs in VAE_ATTENTION.items():
            name = name.replace(f"attn_1.{ours}.", f"attn_1.{theirs}.")
    return name


def original_state_dict(folder: Path, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    def part(subfolder: str) -> dict[str, torch.Tensor]:
        return load_file(next((folder / subfolder).glob("*.safetensors")))

    tensors = {**original_unet(part("unet")), **original_vae(part("vae")), **hf_clip(part("text_encoder"), TEXT)}
    return {k: v.to(dtype).contiguous() for k, v in tensors.items()}


def original_unet(unet: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A diffusers UNet2DConditionModel's tensors under their original names (SDXL's size embedding too)."""
    attended = {k.split(".")[1] for k in unet if k.startswith("up_blocks.") and ".attentions." in k}
    sizes = {"add_embedding.linear_1.": "label_emb.0.0.", "add_embedding.linear_2.": "label_emb.0.2."}
    renamed = {}
    for k, v in unet.items():
        size = next((theirs for ours, theirs in sizes.items() if k.startswith(ours)), None)
        renamed[UNET + (size + k.rpartition(".")[2] if size else unet_name(k, attended))] = v
    return renamed


def original_vae(vae: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    levels = len({k.split(".")[2] for k in vae if k.startswith("decoder.up_blocks.")})
    tensors = {}
    for k, v in vae.items():
        name = vae_name(k, levels)
        # The original VAE's attention projections are 1×1 convolutions.
        is_projection = re.search(r"attn_1\.(q|k|v|proj_out)\.weight$", name)
        tensors[VAE + name] = v[:, :, None, None] if is_projection else v
    return tensors


def hf_clip(text_encoder: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """Newer transformers save CLIPTextModel without its text_model. prefix; checkpoints keep it."""
    return {prefix + re.sub(r"^(?!text_model\.|text_projection)", "text_model.", k): v for k, v in text_encoder.items()}


def write(folder: Path, out: Path, dtype: torch.dtype = torch.float16) -> Path:
    """The folder's pipeline as one checkpoint at `out` (kept if it is there already)."""
    from safetensors.torch import save_file

    if not out.exists():
        staging = out.with_suffix(".partial")
        save_file(original_state_dict(folder, dtype), str(staging))
        staging.replace(out)
    return out


def check(folder: Path, checkpoint: Path, dtype: torch.dtype) -> None:
    """Load the checkpoint with diffusers' own single-file loader; every tensor must equal the folder's,
    both rounded to the checkpoint's `dtype`."""
    from diffusers import StableDiffusionInpaintPipeline

    single = StableDiffusionInpaintPipeline.from_single_file(
        str(checkpoint), config=str(folder), local_files_only=True, safety_checker=None, requires_safety_checker=False
    )
    reference = StableDiffusionInpaintPipeline.from_pretrained(folder, local_files_only=True, safety_checker=None)
    for part in ("unet", "vae", "text_encoder"):
        theirs = getattr(single, part).state_dict()
        for name, tensor in getattr(reference, part).state_dict().items():
            if name.endswith("position_ids"):
                continue
            if not torch.equal(theirs[name].to(dtype), tensor.to(dtype)):
                raise AssertionError(f"{part}.{name} differs after the round trip")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--dtype", default="float16", choices=["float16", "bfloat16", "float32"])
    parser.add_argument("--check", action="store_true", help="load it back with diffusers and compare every tensor")
    args = parser.parse_args()
    write(args.folder, args.out, getattr(torch, args.dtype))
    if args.check:
        check(args.folder, args.out, getattr(torch, args.dtype))
        print("every tensor matches")
    print(args.out)


if __name__ == "__main__":
    main()
