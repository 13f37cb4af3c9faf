"""The table of image model families: one small module each, read by the catalog and the image engine.

To add a family: write a module beside these that builds a Family, list it in MODULES, and add its
single-file layouts to detect.LAYOUTS. Importing this package loads neither torch nor diffusers.
"""

from __future__ import annotations

import json
from pathlib import Path

from core_server.engines.families import (
    chroma,
    flux,
    flux2_dev,
    flux2_klein,
    flux_fill,
    flux_kontext,
    qwen_image,
    qwen_image_edit,
    sd3,
    sd15,
    sdxl,
    z_image,
)
from core_server.engines.families.family import Family
from core_server.tasks import EngineError

MODULES = (
    sd15,
    sdxl,
    sd3,
    flux,
    flux_fill,
    flux_kontext,
    flux2_klein,
    flux2_dev,
    z_image,
    qwen_image,
    qwen_image_edit,
    chroma,
)
FAMILIES: dict[str, Family] = {module.FAMILY.name: module.FAMILY for module in MODULES}


def family_named(name: str) -> Family:
    family = FAMILIES.get(name)
    if family is None:
        raise EngineError(f"cocreate knows no image model family {name!r}; it knows {', '.join(FAMILIES)}.")
    return family


def family_of_folder(folder: Path) -> Family | None:
    """The family of a diffusers folder, by the pipeline class its model_index.json names; None if none fits."""
    index = json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
    name = index.get("_class_name", "")
    return next((family for family in FAMILIES.values() if name in family.folder_classes), None)
