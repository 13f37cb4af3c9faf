"""Where models run and in which precision: CUDA in float16 when there is a GPU, else the CPU in float32.

COCREATE_DEVICE (cpu | cuda) and COCREATE_DTYPE (float32 | float16 | bfloat16) override the choice.
"""

from __future__ import annotations

import os

import torch

from core_server.tasks import EngineError

DEVICE_ENV = "COCREATE_DEVICE"
DTYPE_ENV = "COCREATE_DTYPE"

DEVICES = ("cpu", "cuda")
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


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


def choose_dtype(device: torch.device) -> torch.dtype:
    name = os.environ.get(DTYPE_ENV, "").strip().lower()
    if not name:
        return torch.float16 if device.type == "cuda" else torch.float32
    if name not in DTYPES:
        raise EngineError(f"{DTYPE_ENV}={name!r} is not a dtype cocreate knows; use one of: {', '.join(DTYPES)}.")
    return DTYPES[name]


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
