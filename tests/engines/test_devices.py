"""Device and dtype choice, and their environment overrides."""

from __future__ import annotations

import pytest
import torch

from core_server.engines.devices import (
    DEVICE_ENV,
    DTYPE_ENV,
    choose_device,
    choose_dtype,
    cpu_has_native_bf16,
    dtype_name,
    memory_bytes,
)
from core_server.engines.families import FAMILIES
from core_server.tasks import EngineError


@pytest.fixture(autouse=True)
def no_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DEVICE_ENV, raising=False)
    monkeypatch.delenv(DTYPE_ENV, raising=False)


def test_defaults_follow_the_hardware() -> None:
    device = choose_device()
    assert device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert choose_dtype(torch.device("cpu")) == (torch.bfloat16 if cpu_has_native_bf16() else torch.float32)
    assert choose_dtype(torch.device("cuda")) == torch.float16
    # A family that overflows float16 (SD 3.5) runs in bfloat16 on a GPU; the CPU rule stays.
    assert choose_dtype(torch.device("cuda"), FAMILIES["sd3"].gpu_dtype) == torch.bfloat16
    assert choose_dtype(torch.device("cpu"), "bfloat16") == choose_dtype(torch.device("cpu"))


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DEVICE_ENV, "CPU")
    monkeypatch.setenv(DTYPE_ENV, "bfloat16")
    assert choose_device() == torch.device("cpu")
    assert choose_dtype(torch.device("cpu")) == torch.bfloat16


@pytest.mark.parametrize(("name", "value"), [(DEVICE_ENV, "tpu"), (DTYPE_ENV, "int8")])
def test_unknown_values_list_the_choices(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(EngineError, match="use one of"):
        choose_dtype(choose_device())


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_asking_for_a_missing_gpu_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DEVICE_ENV, "cuda")
    with pytest.raises(EngineError, match="sees no CUDA GPU"):
        choose_device()


def test_names_and_sizes() -> None:
    assert dtype_name(torch.bfloat16) == "bfloat16"
    layer = torch.nn.BatchNorm1d(4)  # 8 parameters and 9 buffer values (one is an int64 counter)
    assert memory_bytes(layer) == 8 * 4 + 8 * 4 + 8
