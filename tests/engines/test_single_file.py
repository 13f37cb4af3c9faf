"""Single-file checkpoints load straight into each part's dtype: the tiny profile written as one float16
file in the original tensor names comes back with every tensor as the folder has it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from diffusers import StableDiffusionInpaintPipeline

from core_server.engines import precision, single_file
from core_server.engines.families import family_named
from core_server.engines.image import load_pipeline
from core_server.models import ModelCatalog
from tests.support.single_file import write


@pytest.fixture(scope="module")
def checkpoint(catalog: ModelCatalog, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = catalog.resolve("", "image").path
    return write(folder, tmp_path_factory.mktemp("single") / "tiny.safetensors", torch.float16), folder


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_each_part_loads_in_its_own_dtype_with_the_folders_weights(
    checkpoint: tuple[Path, Path], dtype: torch.dtype
) -> None:
    path, folder = checkpoint
    layout = precision.Layout.for_dtype(dtype)
    sd15 = family_named("sd15")
    # The helper itself: the family table's detection does not know the tiny UNet's block layout.
    pipe = single_file.load_pipeline(
        StableDiffusionInpaintPipeline, path, folder, layout.loading_dtypes(), **sd15.load_options
    )
    reference = load_pipeline(folder, sd15, None, precision.Layout.for_dtype(torch.float32))
    for part, wanted in (("unet", layout.compute), ("text_encoder", layout.compute), ("vae", layout.vae)):
        loaded = getattr(pipe, part).state_dict()
        for name, tensor in getattr(reference, part).state_dict().items():
            if not tensor.is_floating_point():
                continue
            assert loaded[name].dtype == wanted, f"{part}.{name}"
            # float16 in the file: the folder's float32 rounded to float16, then to the part's dtype.
            assert torch.equal(loaded[name], tensor.to(torch.float16).to(wanted)), f"{part}.{name}"


def test_reading_holds_a_chunk_of_the_file_at_a_time(
    checkpoint: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = checkpoint
    opened = []
    real_open = single_file.safe_open

    def counting_open(*args: object, **kwargs: object) -> object:
        opened.append(args)
        return real_open(*args, **kwargs)

    monkeypatch.setattr(single_file, "safe_open", counting_open)
    monkeypatch.setattr(single_file, "CHUNK_BYTES", path.stat().st_size // 4)
    tensors = single_file.read_checkpoint(path, lambda name: torch.bfloat16)
    assert len(opened) >= 1 + 4  # the names, then one map per chunk
    assert {t.dtype for t in tensors.values() if t.is_floating_point()} == {torch.bfloat16}
