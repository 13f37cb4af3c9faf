"""The image families at real size with random weights: seconds per step, memory.

    python bench/families.py [--family flux ...] [--side 1024] [--full] [--repeat 2] [--sizes-only]
                              [--precision both|default|fp8]

The UNet families (SD 1.5, SDXL) and SD 3.5 medium's MMDiT fit a CPU machine whole: they are always timed at
full depth, at --side² (give 512 for SD 1.5's native size). For the other flow-matching transformers:

For each family the transformer is built from its real published config (written below; no download) in
the daemon's compute dtype, with random weights, and one denoising step (one transformer forward of one
candidate, as the pipelines call it) is timed at --side² (the families' native 1024² by default), in the
default precision and with the fp8 placement (engines.placement: weights stored in float8, cast up layer
by layer), side by side in one run.

The full depth needs 8 GB (Flux.2 Klein 4B) to 41 GB (Qwen-Image 20B) in bfloat16; where that does not
fit (every CPU machine we have), the bench builds the real width with one block of each kind, then with
two of one kind at a time, and extrapolates linearly to the real depth: per step = t(1, 1) + sum over
kinds of (real count - 1) x (t(that kind at 2) - t(1, 1)). It says which. Weight memory is exact for the full model
(parameters counted on the meta device); peak memory is measured while the built model runs, the weights
as stored included (CUDA: peak allocated; CPU: the process's peak RSS over what it held before the build,
the peak restarted through Linux's /proc/self/clear_refs; a second run in the same process may count
memory the allocator kept from the first: `--precision fp8` alone gives fp8's clean figure). The load
average is printed with each family: on a shared CPU the seconds are only as good as the machine was quiet.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

GIB = 1 << 30
TEXT_TOKENS = 512  # what the pipelines pad prompts to (Flux, Chroma); Qwen/Z-Image use the prompt's length


@dataclass(frozen=True)
class Spec:
    title: str
    model_class: str
    config: dict[str, Any]
    depth_keys: tuple[str, ...]  # config keys that count blocks
    inputs: Callable[[Any, int, torch.dtype], dict[str, Any]]  # (model, latent side, dtype) → forward kwargs


def _ids(height: int, width: int, axes: int) -> torch.Tensor:
    ids = torch.zeros(height, width, axes)
    ids[..., 1] = torch.arange(height)[:, None]
    ids[..., 2] = torch.arange(width)[None, :]
    return ids.reshape(height * width, axes)


def _flux_inputs(model: Any, side: int, dtype: torch.dtype) -> dict[str, Any]:
    config, cells = model.config, side // 2
    inputs = {
        "hidden_states": torch.randn(1, cells * cells, config.in_channels, dtype=dtype),
        "encoder_hidden_states": torch.randn(1, TEXT_TOKENS, config.joint_attention_dim, dtype=dtype),
        "timestep": torch.tensor([0.5]),
        "img_ids": _ids(cells, cells, 3),
        "txt_ids": torch.zeros(TEXT_TOKENS, 3),
        "return_dict": False,
    }
    if "pooled_projection_dim" in config:
        inputs["pooled_projections"] = torch.randn(1, config.pooled_projection_dim, dtype=dtype)
        inputs["guidance"] = torch.tensor([3.5]) if config.guidance_embeds else None
    return inputs


def _flux2_inputs(model: Any, side: int, dtype: torch.dtype) -> dict[str, Any]:
    config, cells = model.config, side // 2
    return {
        "hidden_states": torch.randn(1, cells * cells, config.in_channels, dtype=dtype),
        "encoder_hidden_states": torch.randn(1, TEXT_TOKENS, config.joint_attention_dim, dtype=dtype),
        "timestep": torch.tensor([0.5]),
        "img_ids": _ids(cells, cells, 4)[None],
        "txt_ids": torch.zeros(1, TEXT_TOKENS, 4),
        "guidance": torch.tensor([4.0]) if config.guidance_embeds else None,
        "return_dict": False,
    }


def _z_image_inputs(model: Any, side: int, dtype: torch.dtype) -> dict[str, Any]:
    config = model.config
    return {
        "x": [torch.randn(config.in_channels, 1, side, side, dtype=dtype)],
        "t": torch.tensor([0.5]),
        "cap_feats": [torch.randn(TEXT_TOKENS // 4, config.cap_feat_dim, dtype=dtype)],
        "return_dict": False,
    }


def _qwen_inputs(model: Any, side: int, dtype: torch.dtype) -> dict[str, Any]:
    config, cells = model.config, side // 2
    text = TEXT_TOKENS // 4
    return {
        "hidden_states": torch.randn(1, cells * cells, config.in_channels, dtype=dtype),
        "encoder_hidden_states": torch.randn(1, text, config.joint_attention_dim, dtype=dtype),
        "encoder_hidden_states_mask": torch.ones(1, text, dtype=torch.long),
        "timestep": torch.tensor([0.5]),
        "img_shapes": [[(1, cells, cells)]],
        "return_dict": False,
    }


def _sd3_inputs(model: Any, side: int, dtype: torch.dtype) -> dict[str, Any]:
    config = model.config
    return {
        "hidden_states": torch.randn(1, config.in_channels, side, side, dtype=dtype),
        # CLIP's 77 tokens, then T5's 256 (the pipeline's max_sequence_length)
        "encoder_hidden_states": torch.randn(1, 77 + 256, config.joint_attention_dim, dtype=dtype),
        "pooled_projections": torch.randn(1, config.pooled_projection_dim, dtype=dtype),
        "timestep": torch.tensor([500.0]),
        "return_dict": False,
    }


def _unet_inputs(model: Any, side: int, dtype: torch.dtype) -> dict[str, Any]:
    config = model.config
    inputs = {
        "sample": torch.randn(1, config.in_channels, side, side, dtype=dtype),
        "timestep": torch.tensor([500]),
        "encoder_hidden_states": torch.randn(1, 77, config.cross_attention_dim, dtype=dtype),
        "return_dict": False,
    }
    if config.addition_embed_type == "text_time":  # SDXL: the pooled text and six size conditions
        pooled = config.projection_class_embeddings_input_dim - 6 * config.addition_time_embed_dim
        inputs["added_cond_kwargs"] = {
            "text_embeds": torch.randn(1, pooled, dtype=dtype),
            "time_ids": torch.tensor([[8.0 * side, 8.0 * side, 0, 0, 8.0 * side, 8.0 * side]], dtype=dtype),
        }
    return inputs


# The published UNet and transformer configs (their config.json files), as diffusers 0.42 reads them.
SPECS = {
    "sd15": Spec(
        "Stable Diffusion 1.5 UNet 0.86B",
        "UNet2DConditionModel",
        {"cross_attention_dim": 768, "attention_head_dim": 8},  # the class defaults are SD 1.x's otherwise
        (),
        _unet_inputs,
    ),
    "sdxl": Spec(
        "Stable Diffusion XL UNet 2.6B",
        "UNet2DConditionModel",
        {
            "block_out_channels": (320, 640, 1280),
            "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
            "up_block_types": ("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
            "transformer_layers_per_block": (1, 2, 10),
            "attention_head_dim": (5, 10, 20),
            "cross_attention_dim": 2048,
            "use_linear_projection": True,
            "addition_embed_type": "text_time",
            "addition_time_embed_dim": 256,
            "projection_class_embeddings_input_dim": 2816,
        },
        (),
        _unet_inputs,
    ),
    "sd35-medium": Spec(
        "Stable Diffusion 3.5 medium MMDiT 2.5B",
        "SD3Transformer2DModel",
        {
            "sample_size": 128,
            "num_layers": 24,
            "num_attention_heads": 24,
            "caption_projection_dim": 1536,
            "pos_embed_max_size": 384,
            "dual_attention_layers": tuple(range(13)),
            "qk_norm": "rms_norm",
        },
        (),
        _sd3_inputs,
    ),
    "flux": Spec(
        "Flux.1 [dev] 12B",
        "FluxTransformer2DModel",
        {"guidance_embeds": True},  # the class defaults are Flux.1's
        ("num_layers", "num_single_layers"),
        _flux_inputs,
    ),
    "flux2-klein": Spec(
        "Flux.2 [klein] 4B",
        "Flux2Transformer2DModel",
        {
            "num_layers": 5,
            "num_single_layers": 20,
            "num_attention_heads": 24,
            "joint_attention_dim": 7680,
            "guidance_embeds": False,
        },
        ("num_layers", "num_single_layers"),
        _flux2_inputs,
    ),
    "flux2-dev": Spec(
        "FLUX.2 [dev] 32B",
        "Flux2Transformer2DModel",
        {},  # the class defaults are [dev]'s
        ("num_layers", "num_single_layers"),
        _flux2_inputs,
    ),
    "z-image": Spec(
        "Z-Image Turbo 6B", "ZImageTransformer2DModel", {}, ("n_layers", "n_refiner_layers"), _z_image_inputs
    ),
    "qwen-image": Spec("Qwen-Image 20B", "QwenImageTransformer2DModel", {}, ("num_layers",), _qwen_inputs),
    "chroma": Spec(
        "Chroma1-HD 8.9B", "ChromaTransformer2DModel", {}, ("num_layers", "num_single_layers"), _flux_inputs
    ),
}


def model_class(spec: Spec) -> Any:
    import diffusers

    return getattr(diffusers, spec.model_class)


def full_depth(spec: Spec) -> dict[str, int]:
    with torch.device("meta"):
        model = model_class(spec)(**spec.config)
    return {key: int(model.config[key]) for key in spec.depth_keys}


def parameter_count(spec: Spec) -> int:
    with torch.device("meta"):
        model = model_class(spec)(**spec.config)
    return sum(parameter.numel() for parameter in model.parameters())


CLEAR_REFS, STATUS = Path("/proc/self/clear_refs"), Path("/proc/self/status")


def _status_bytes(field: str) -> int:
    line = next(line for line in STATUS.read_text().splitlines() if line.startswith(field + ":"))
    return int(line.split()[1]) * 1024


def reset_peak(device: torch.device) -> int:
    """Start a new peak; returns what the process holds now (CPU) or 0 (CUDA, whose peak counts from zero)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return 0
    try:
        CLEAR_REFS.write_text("5")  # Linux: the peak RSS (VmHWM) starts again from the current RSS
        return _status_bytes("VmRSS")
    except OSError:  # no /proc: the peak since the process began, over what it had reached before
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def peak_bytes(device: torch.device) -> int:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    try:
        return _status_bytes("VmHWM")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def load_average() -> str:
    return "load average " + ", ".join(f"{load:.2f}" for load in os.getloadavg())


def time_step(
    spec: Spec,
    depth: dict[str, int] | None,
    side: int,
    dtype: torch.dtype,
    device: torch.device,
    fp8: bool,
    repeat: int,
) -> tuple[float, int]:
    """Median seconds of one forward, and the peak memory growth it caused."""
    before = reset_peak(device)
    torch.manual_seed(0)
    # Built where it runs, in its dtype: a 20B model made in float32 on the CPU first would take minutes.
    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = model_class(spec)(**{**spec.config, **(depth or {})}).eval()
    finally:
        torch.set_default_dtype(default)
    if fp8:
        model.enable_layerwise_casting(storage_dtype=torch.float8_e4m3fn, compute_dtype=dtype)
    reset_peak(device)  # the peak of running: the weights as stored, not the build's (made in `dtype` first)
    latent_side = side // 8
    inputs = {
        key: value.to(device) if isinstance(value, torch.Tensor) else value
        for key, value in spec.inputs(model, latent_side, dtype).items()
    }
    if "x" in inputs:
        inputs["x"] = [tensor.to(device) for tensor in inputs["x"]]
        inputs["cap_feats"] = [tensor.to(device) for tensor in inputs["cap_feats"]]
    times = []
    with torch.inference_mode():
        for _ in range(repeat + 1 if repeat else 1):  # the first is a warm-up, unless it is the only one
            started = time.perf_counter()
            model(**inputs)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            times.append(time.perf_counter() - started)
    peak = peak_bytes(device) - before
    del model, inputs
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    times = sorted(times[1:] or times)
    return times[len(times) // 2], peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", action="append", choices=sorted(SPECS), help="default: all")
    parser.add_argument("--side", type=int, default=1024, help="picture side in px (default 1024, native)")
    parser.add_argument("--full", action="store_true", help="build the full depth (a GPU with room for it)")
    parser.add_argument(
        "--repeat", type=int, default=2, help="timed steps after a warm-up one (0: one step, warm-up included)"
    )
    parser.add_argument("--sizes-only", action="store_true", help="parameters and weight memory only, no timing")
    parser.add_argument(
        "--precision",
        choices=("both", "default", "fp8"),
        default="both",
        help="the compute dtype, fp8 weights, or both side by side (default; the daemon stores no fp8 on the CPU)",
    )
    args = parser.parse_args()

    from core_server.engines.devices import choose_device, choose_dtype, dtype_name

    device = choose_device()
    dtype = choose_dtype(device)
    if device.type == "cuda":
        dtype = torch.bfloat16  # float16 overflows in these transformers; bfloat16 is what they ship in
    print(f"device {device}, compute dtype {dtype_name(dtype)}, {args.side}² px, one candidate per step")
    print(f"threads {torch.get_num_threads()}, {load_average()}")
    for name in args.family or list(SPECS):
        spec = SPECS[name]
        params = parameter_count(spec)
        real = full_depth(spec)
        print(
            f"{spec.title}: {params / 1e9:.2f} B parameters, weights {params * 2 / GIB:.1f} GiB in bfloat16, "
            f"{params / GIB:.1f} GiB in fp8; depth {real}"
        )
        chosen = {"both": (False, True), "default": (False,), "fp8": (True,)}[args.precision]
        for fp8 in () if args.sizes_only else chosen:
            label = "fp8 weights" if fp8 else dtype_name(dtype)
            if args.full or not spec.depth_keys:
                seconds, peak = time_step(spec, None, args.side, dtype, device, fp8, args.repeat)
                print(f"  {label:>12}: {seconds:.3f} s/step, peak {peak / GIB:.2f} GiB (full depth)")
                continue
            # Every kind of block at one, then one kind at two: a slope per kind, summed up to the real depth.
            base_depth = dict.fromkeys(spec.depth_keys, 1)
            base, peak = time_step(spec, base_depth, args.side, dtype, device, fp8, args.repeat)
            estimate = base
            for key in spec.depth_keys:
                seconds, _ = time_step(spec, {**base_depth, key: 2}, args.side, dtype, device, fp8, args.repeat)
                if seconds <= base:
                    print(f"  {label:>12}: {base:.3f} s at one block of each kind; timing noise exceeds a block's cost")
                    break
                estimate += (real[key] - 1) * (seconds - base)
            else:
                print(
                    f"  {label:>12}: {estimate:.2f} s/step extrapolated ({base:.3f} s at one block of each kind), "
                    f"peak {peak / GIB:.2f} GiB at one block of each kind"
                )
        print(f"  ({load_average()})")


if __name__ == "__main__":
    main()
