"""Single-file ControlNets added with `cocreate models add NAME file.safetensors` (no --config, no network)
steer a generate through a real daemon of its own (the ControlNets added here would be picked by other tests'
requests): each layout on its family's tiny model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core_server.models import ModelCatalog
from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc
from tests.service.conftest import channel_for
from tests.service.test_cli import cocreate
from tests.support.control_files import LAYOUTS, write
from tests.support.daemon import Daemon, running_daemon

from .test_controls import control, inpaint

IMAGE_MODELS = {"sd15": "tiny-image", "sdxl": "tiny-sdxl", "flux": "tiny-flux"}


@pytest.fixture(scope="module")
def file_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with running_daemon(tmp_path_factory.mktemp("control-files")) as daemon:
        yield daemon


@pytest.fixture(scope="module")
def file_stub(file_daemon: Daemon) -> Iterator[pb_grpc.CocreateStub]:
    with channel_for(file_daemon) as channel:
        yield pb_grpc.CocreateStub(channel)


def test_the_cli_adds_an_original_sd15_controlnet_file(file_daemon: Daemon, tmp_path: Path) -> None:
    assert file_daemon.home is not None
    file = write("sd15-original", file_daemon.home, tmp_path / "control_v11f1p_sd15_depth_fp16.safetensors")
    added = cocreate("models", "add", "depth-file", str(file), home=file_daemon.home)
    assert added.returncode == 0, added.stdout + added.stderr
    refused = cocreate(
        "models", "add", "mystery-file", str(file.rename(tmp_path / "weights.safetensors")), home=file_daemon.home
    )
    assert refused.returncode != 0 and "--control KIND" in refused.stdout + refused.stderr


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_each_layout_steers_a_generate(
    file_daemon: Daemon, file_stub: pb_grpc.CocreateStub, tmp_path: Path, layout: str
) -> None:
    assert file_daemon.home is not None
    family = LAYOUTS[layout][0]
    file = write(layout, file_daemon.home, tmp_path / f"{layout}.safetensors")
    ModelCatalog(file_daemon.home / "models").add(f"file-{layout}", file, controls=["depth"])
    session = file_stub.CreateSession(pb.CreateSessionRequest(host="test", document_id=layout)).id
    model = IMAGE_MODELS[family]
    plain = list(file_stub.Generate(inpaint(session, model=model, exploration=1.0), timeout=300))
    request = inpaint(session, control(pb.CONTROL_DEPTH, model=f"file-{layout}"), model=model, exploration=1.0)
    steered = list(file_stub.Generate(request, timeout=300))
    assert steered[-1].done.status == pb.JOB_COMPLETED, steered[-1].done
    [before] = [e.candidate.image.rgba for e in plain if e.HasField("candidate")]
    [after] = [e.candidate.image.rgba for e in steered if e.HasField("candidate")]
    assert after != before
