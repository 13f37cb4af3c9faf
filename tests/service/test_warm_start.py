"""`serve --preload --keep-alive`: the default image model loads without a request, and goes again
once idle; ModelStatus says on which device and in which precision it ran."""

from __future__ import annotations

import time
from pathlib import Path

from cocreate_client import CocreateClient
from cocreate_client.pb import cocreate_pb2 as pb

from tests.support.daemon import running_daemon


def wait_until(client: CocreateClient, loaded: bool, timeout: float = 120.0) -> pb.ModelStatusResponse:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.model_status()
        if any(m.kind == "image" for m in status.loaded) == loaded:
            return status
        time.sleep(0.2)
    raise AssertionError(f"the image model was {'not ' if loaded else ''}loaded after {timeout} s")


def test_preload_then_unload_when_idle(tmp_path: Path) -> None:
    with (
        running_daemon(tmp_path, extra_args=("--preload", "--keep-alive", "2")) as daemon,
        CocreateClient(daemon.endpoint) as client,
    ):
        status = wait_until(client, loaded=True)  # no request asked for it
        model = next(m for m in status.loaded if m.kind == "image")
        assert model.is_default and model.device == status.device
        assert model.dtype in ("float32", "float16", "bfloat16 (vae float32)")
        wait_until(client, loaded=False, timeout=30)
    assert "unloading" in "".join(daemon.output) and "idle for 2 s" in "".join(daemon.output)
