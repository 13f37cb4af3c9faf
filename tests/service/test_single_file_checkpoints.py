"""Single-file checkpoints added with `cocreate models add NAME FILE` and no --config, then painting through the
real daemon (previews first, kept pixels identical): full SD 2.x, SDXL and SD 3.5 files (with T5-XXL too) in
the original layout, ComfyUI's all-in-one Flux.1 and Chroma files (VAE, CLIP-L, T5-XXL inside), and a Flux.1
transformer in Black Forest Labs' names (its other parts from the tiny Flux)."""

from __future__ import annotations

from pathlib import Path

import pytest
from safetensors.torch import load_file, save_file

from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc
from tests.service.test_cli import cocreate
from tests.service.test_families import candidates, generate
from tests.support.daemon import Daemon
from tests.support.original_checkpoints import T5_XXL, flux_bfl, write

from .images import disc, gradient

IMAGE, MASK = gradient(), disc()


def flux_in_bfl_names(home: Path, out: Path) -> Path:
    folder = next((home / "models" / "tiny").glob("v*/tiny-flux"))
    save_file(flux_bfl(load_file(folder / "transformer" / "diffusion_pytorch_model.safetensors")), out)
    return out


@pytest.mark.parametrize(
    ("kind", "family"),
    [
        ("sd2", "sd15"),
        ("sdxl-inpainting", "sdxl"),
        ("sd3", "sd3"),
        ("sd3-t5", "sd3"),
        ("flux-bfl", "flux"),
        ("flux-all-in-one", "flux"),
        ("chroma-all-in-one", "chroma"),
    ],
)
def test_an_added_checkpoint_paints_through_the_daemon(
    daemon: Daemon, stub: pb_grpc.CocreateStub, session_id: str, tmp_path: Path, kind: str, family: str
) -> None:
    assert daemon.home is not None
    out = tmp_path / f"{kind}.safetensors"
    checkpoint = flux_in_bfl_names(daemon.home, out) if kind == "flux-bfl" else write(kind, out)
    added = cocreate("models", "add", f"file-{kind}", str(checkpoint), home=daemon.home)
    assert added.returncode == 0, added.stdout + added.stderr
    listed = {m.name: m.family for m in stub.ListModels(pb.ListModelsRequest()).models}
    assert listed[f"file-{kind}"] == family
    task = pb.InpaintTask(image=IMAGE, mask=MASK, prompt="a red apple", steps=2)
    events = generate(stub, session_id, model=f"file-{kind}", candidates=2, seed=3, previews=True, inpaint=task)
    kinds = [e.WhichOneof("event") for e in events]
    assert kinds[-1] == "done" and events[-1].done.status == pb.JOB_COMPLETED
    assert "progress" in kinds[: kinds.index("candidate")]
    kept = [i for i, alpha in enumerate(MASK.alpha) if alpha == 0]
    for candidate in candidates(events):
        assert all(candidate.image.rgba[4 * i : 4 * i + 4] == IMAGE.rgba[4 * i : 4 * i + 4] for i in kept)


def test_an_all_in_one_file_with_a_broken_t5_is_refused_clearly(daemon: Daemon, tmp_path: Path) -> None:
    assert daemon.home is not None
    whole = load_file(write("flux-all-in-one", tmp_path / "flux.safetensors"))
    broken = tmp_path / "broken.safetensors"
    save_file({k: v for k, v in whole.items() if not k.startswith(T5_XXL + "encoder.block.0.")}, broken)
    refused = cocreate("models", "add", "file-broken", str(broken), home=daemon.home)
    said = refused.stderr + refused.stdout
    assert refused.returncode != 0 and "Traceback" not in said
    assert "lacks tensors their configs are read from" in said and "--config" in said
