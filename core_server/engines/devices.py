"""Where models run and in which precision: CUDA in float16 when there is a GPU, else the CPU in bfloat16
where the processor computes it natively (AVX512-BF16 or AMX), else float32.

COCREATE_DEVICE (cpu | cuda) and COCREATE_DTYPE (float32 | float16 | bfloat16) override the choice.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import torch

from core_server.tasks import EngineError

DEVICE_ENV = "COCREATE_DEVICE"
DTYPE_ENV = "COCREATE_DTYPE"

DEVICES = ("cpu", "cuda")
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
# x86 flags for bfloat16 arithmetic in hardware. Without them PyTorch emulates bfloat16 on the CPU,
# which is slower than float32, so only these count.
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def choose_device() -> torch.device:
    name = os.environ.get(DEVICE_ENV, "").strip().lower()
    if not name:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name not in DEVICES:
        raise EngineError(f"{DEVICE_ENV}={name!r} is not a device cocreate knows; use one of: {', '.join(DEVICES)}.")
    if name == "cuda" and not torch.cuda.is_available():
        raise EngineError(
            f"{DEVICE_ENV}=cuda, but this PyTorch sees no CUDA GPU; "
            f"install a CUDA build of torch or unset {DEVICE_ENV}."
        )
    return torch.device(name)


def choose_dtype(device: torch.device, gpu_default: str = "float16") -> torch.dtype:
    """`gpu_default`: what a model family runs in on CUDA (float16, or bfloat16 for models that overflow it)."""
    name = os.environ.get(DTYPE_ENV, "").strip().lower()
    if not name:
        if device.type == "cuda":
            return DTYPES[gpu_default]
        return torch.bfloat16 if cpu_has_native_bf16() else torch.float32
    if name not in DTYPES:
        raise EngineError(f"{DTYPE_ENV}={name!r} is not a dtype cocreate knows; use one of: {', '.join(DTYPES)}.")
    return DTYPES[name]


@cache
def cpu_has_native_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether the processor has bfloat16 instructions; read from Linux's cpuinfo, False where there is none."""
    try:
        lines = cpuinfo.read_text().splitlines()
    except OSError:
        return False
    flags = next((line.split(":", 1)[1].split() for line in lines if line.startswith("flags")), [])
    return not NATIVE_BF16_FLAGS.isdisjoint(flags)


def dtype_name(dtype: torch.dtype) -> str:
    """'float16' for torch.float16, as the proto reports it."""
    return str(dtype).removeprefix("torch.")


def memory_bytes(*modules: torch.nn.Module) -> int:
    """Bytes held by the modules' parameters and buffers: what unloading them gives back."""
    return sum(
        tensor.numel() * tensor.element_size()
        for module in modules
        for tensor in (*module.parameters(), *module.buffers())
    )
