"""What a ControlNet folder is: its family and the control kinds it serves, read from its config.json (and
its name, since a single-kind ControlNet's config does not say what it was trained on). No torch."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from core_server.tasks import ControlKind

ALL_KINDS = tuple(kind.value for kind in ControlKind)
# Union models pick the kind per call by a mode number; these are the modes their cards list.
# xinsir/controlnet-union-sdxl-1.0 (diffusers ControlNetUnionModel: control_mode indexes its task list)
SDXL_UNION_MODES = {
    "pose": 0,
    "depth": 1,
    "soft_edge": 2,
    "scribble": 2,
    "canny": 3,
    "line_art": 3,
    "normal": 4,
    "segmentation": 5,
    "tile": 6,
}
# InstantX/FLUX.1-dev-Controlnet-Union and Shakker-Labs/FLUX.1-dev-ControlNet-Union-Pro
FLUX_UNION_MODES = {"canny": 0, "line_art": 0, "scribble": 0, "soft_edge": 0, "tile": 1, "depth": 2, "pose": 4}
UNION_MODES = {"sdxl": SDXL_UNION_MODES, "flux": FLUX_UNION_MODES}
# Union models that tell the kind from the map itself (no mode): the kinds their cards list.
QWEN_UNION_KINDS = ("canny", "soft_edge", "depth", "pose")  # InstantX/Qwen-Image-ControlNet-Union
Z_IMAGE_UNION_KINDS = ("canny", "soft_edge", "depth", "pose", "line_art")  # alibaba-pai's Fun Union: HED, MLSD
# Words in a model's name (lllyasviel/control_v11p_sd15_lineart, diffusers/controlnet-depth-sdxl-1.0 ...).
_NAMED_KINDS = (
    ("scribble", r"scribble|sketch"),
    ("line_art", r"line_?art|lineart|line-art|mlsd"),
    ("soft_edge", r"soft_?edge|softedge|hed|pidi"),
    ("canny", r"canny|edge"),
    ("depth", r"depth|zoe|midas"),
    ("normal", r"normal"),
    ("pose", r"pose"),
    ("segmentation", r"seg"),
    ("tile", r"tile"),
)
# (family, union) → the diffusers ControlNet inpaint pipeline that runs it; a family not here takes no controls.
CONTROL_PIPELINES = {
    ("sd15", False): "StableDiffusionControlNetInpaintPipeline",
    ("sdxl", False): "StableDiffusionXLControlNetInpaintPipeline",
    ("sdxl", True): "StableDiffusionXLControlNetUnionInpaintPipeline",
    ("flux", False): "FluxControlNetInpaintPipeline",
    ("flux", True): "FluxControlNetInpaintPipeline",
    # Their diffusers ControlNet pipelines paint no masked region at a strength: the family's own inpaint
    # pipeline runs with the ControlNets steering its transformer (engines.control_steering).
    ("sd3", False): "StableDiffusion3InpaintPipeline",
    ("qwen-image", False): "QwenImageInpaintPipeline",
    ("z-image", False): "ZImageInpaintPipeline",
}
CONTROL_FAMILIES = tuple(dict.fromkeys(family for family, _ in CONTROL_PIPELINES))
CONTROL_CLASSES = (
    "ControlNetModel",
    "ControlNetUnionModel",
    "FluxControlNetModel",
    "SD3ControlNetModel",
    "QwenImageControlNetModel",
    "ZImageControlNetModel",
)


@dataclass(frozen=True)
class ControlNetInfo:
    family: str  # engines.families name; "" when the config fits none cocreate knows
    kinds: tuple[str, ...]  # ControlKind values; () when neither the config nor the name says
    union: bool  # picks its kind per call by a mode number


def read_config(folder: Path) -> dict | None:
    """The ControlNet config of a diffusers folder, or None when the folder holds no ControlNet."""
    file = folder / "config.json"
    if not file.is_file():
        return None
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return config if isinstance(config, dict) and config.get("_class_name") in CONTROL_CLASSES else None


def inspect(folder: Path, config: dict, name: str = "", asked: tuple[str, ...] = ()) -> ControlNetInfo:
    """The family and kinds of the ControlNet in `folder`; `asked` (the user's word) wins over the name."""
    family = _family(config)
    union = config["_class_name"] == "ControlNetUnionModel" or bool(config.get("num_mode"))
    if asked:
        kinds = asked
    elif union:
        kinds = tuple(UNION_MODES.get(family, dict.fromkeys(ALL_KINDS)))
    else:
        kinds = kinds_in_name(f"{name} {folder.name}")
    return ControlNetInfo(family, kinds, union)


def kinds_in_name(text: str) -> tuple[str, ...]:
    text = text.lower()
    for kind, pattern in _NAMED_KINDS:
        if re.search(pattern, text):
            return (kind,)
    return ()


def _family(config: dict) -> str:
    name = config["_class_name"]
    if name == "ControlNetUnionModel":
        return "sdxl"
    if name == "ControlNetModel":
        # SDXL's UNet adds time and size embeddings; SD 1.x (768) and 2.x (1024) cross-attend to CLIP alone.
        return "sdxl" if config.get("addition_embed_type") == "text_time" else "sd15"
    return {
        "FluxControlNetModel": "flux",
        "SD3ControlNetModel": "sd3",
        "QwenImageControlNetModel": "qwen-image",
        "ZImageControlNetModel": "z-image",
    }[name]
