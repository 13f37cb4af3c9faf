"""Single-file ControlNets added with no --config: each layout told from its tensor names, its config written
from the shapes, and the model loaded offline holding exactly the tensors of the tiny ControlNet it was saved
from; XLabs, damaged and unknown files refused naming what was found."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from core_server.engines import control_files
from core_server.models import CatalogError, ModelCatalog
from tests.support.control_files import LAYOUTS, tensors_of, write

EXPECTED = {  # layout → (family, union, the kinds it is registered for when added as NAME-depth)
    "sd15-original": ("sd15", False, ("depth",)),
    "sd15-diffusers": ("sd15", False, ("depth",)),
    "sdxl-union-diffusers": ("sdxl", True, None),
    "flux-union-diffusers": ("flux", True, None),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_each_layout_is_recognised_and_loads_offline(catalog: ModelCatalog, tmp_path: Path, layout: str) -> None:
    home = catalog.models_dir.parent
    file = write(layout, home, tmp_path / f"{layout}.safetensors")
    entry = catalog.add(f"file-{layout}-depth", file)
    family, union, kinds = EXPECTED[layout]
    assert (entry.kind, entry.family, entry.union, entry.path) == ("control", family, union, file)
    assert entry.controls == kinds if kinds else len(entry.controls) > 3
    assert entry.config is not None and (entry.config / "config.json").is_file()
    model = control_files.load(file, entry.config, torch.float32)
    source = tensors_of(home, family)
    loaded = model.state_dict()
    assert set(loaded) == set(source)
    assert all(torch.equal(loaded[name], source[name]) for name in source)
    catalog.remove(entry.name)


def test_the_kind_comes_from_the_flag_or_the_name_else_it_is_asked_for(catalog: ModelCatalog, tmp_path: Path) -> None:
    file = write("sd15-diffusers", catalog.models_dir.parent, tmp_path / "my_controlnet.safetensors")
    assert catalog.add("file-scribble", file).controls == ("scribble",)
    assert catalog.add("file-plain-flagged", file, controls=["line_art"]).controls == ("line_art",)
    with pytest.raises(
        CatalogError, match="neither its name nor its config says what map it reads; add it with --control"
    ):
        catalog.add("file-plain", file)
    for name in ("file-scribble", "file-plain-flagged"):
        catalog.remove(name)


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("flux-xlabs", "is an XLabs Flux ControlNet; diffusers cannot convert"),
        ("cut", "looks like a diffusers ControlNet, but lacks tensors its config is read from"),
        (b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all", "is not a readable .safetensors file"),
        ("strange", "is in no layout cocreate knows: 1 tensors, mostly under strange.tensor"),
    ],
)
def test_damaged_and_unknown_files_are_refused_naming_what_was_found(
    catalog: ModelCatalog, tmp_path: Path, content: str | bytes, says: str
) -> None:
    file = tmp_path / "control.safetensors"
    if isinstance(content, bytes):
        file.write_bytes(content)
    elif content == "cut":
        from safetensors.torch import save_file

        kept = {
            k: v for k, v in tensors_of(catalog.models_dir.parent, "sd15").items() if not k.startswith("down_blocks")
        }
        save_file(kept, str(file))
    elif content == "strange":
        from safetensors.torch import save_file

        save_file({"strange.tensor": torch.zeros(2)}, str(file))
    else:
        write(content, catalog.models_dir.parent, file)
    with pytest.raises(CatalogError, match=says):
        catalog.add("file-refused", file)
