"""Short names for well-known ControlNets on the Hub (`cocreate models pull sd15-depth`), and the hint a
refusal gives when a request asks for a control nothing installed serves."""

from __future__ import annotations

from dataclasses import dataclass

from core_server.models.control_models import QWEN_UNION_KINDS, Z_IMAGE_UNION_KINDS


@dataclass(frozen=True)
class CuratedControl:
    name: str
    repo: str
    family: str
    kinds: tuple[str, ...]
    licence: str = ""  # the Hub card's, said in the hint; `models pull` shows it again before downloading
    note: str = ""  # what else a person must know before pulling it


# README "Control": one per kind for SD 1.5, a union model each for SDXL and Flux.
CURATED_CONTROLS: tuple[CuratedControl, ...] = (
    CuratedControl("sd15-canny", "lllyasviel/control_v11p_sd15_canny", "sd15", ("canny",)),
    CuratedControl("sd15-scribble", "lllyasviel/control_v11p_sd15_scribble", "sd15", ("scribble",)),
    CuratedControl("sd15-lineart", "lllyasviel/control_v11p_sd15_lineart", "sd15", ("line_art",)),
    CuratedControl("sd15-softedge", "lllyasviel/control_v11p_sd15_softedge", "sd15", ("soft_edge",)),
    CuratedControl("sd15-depth", "lllyasviel/control_v11f1p_sd15_depth", "sd15", ("depth",)),
    CuratedControl("sd15-normal", "lllyasviel/control_v11p_sd15_normalbae", "sd15", ("normal",)),
    CuratedControl("sd15-pose", "lllyasviel/control_v11p_sd15_openpose", "sd15", ("pose",)),
    CuratedControl("sd15-seg", "lllyasviel/control_v11p_sd15_seg", "sd15", ("segmentation",)),
    CuratedControl("sd15-tile", "lllyasviel/control_v11f1e_sd15_tile", "sd15", ("tile",)),
    CuratedControl(
        "sdxl-union",
        "xinsir/controlnet-union-sdxl-1.0",
        "sdxl",
        ("pose", "depth", "soft_edge", "scribble", "canny", "line_art", "normal", "segmentation", "tile"),
    ),
    CuratedControl(
        "flux-union",
        "Shakker-Labs/FLUX.1-dev-ControlNet-Union-Pro",
        "flux",
        ("canny", "line_art", "scribble", "soft_edge", "tile", "depth", "pose"),
    ),
    # Stability's ControlNets for SD 3.5 (blur: the tile control of upscaling), and InstantX's union for Qwen-Image.
    *(
        CuratedControl(
            f"sd35-{name}",
            f"stabilityai/stable-diffusion-3.5-large-controlnet-{name}",
            "sd3",
            (kind,),
            "stabilityai-ai-community",
            "for SD 3.5 Large (8B) only",
        )
        for name, kind in (("canny", "canny"), ("depth", "depth"), ("blur", "tile"))
    ),
    CuratedControl(
        "qwen-image-union", "InstantX/Qwen-Image-ControlNet-Union", "qwen-image", QWEN_UNION_KINDS, "apache-2.0"
    ),
)
CURATED_CONTROLS_BY_NAME = {entry.name: entry for entry in CURATED_CONTROLS}


def curated_kinds(repo: str) -> tuple[str, ...]:
    """The kinds a known ControlNet repo serves (its name may not say: sd35-blur, a union without modes)."""
    return next((entry.kinds for entry in CURATED_CONTROLS if entry.repo == repo), ())


def pull_hint(family: str, kind: str) -> str:
    """What to run to get a `kind` control for `family`."""
    for entry in CURATED_CONTROLS:
        if entry.family == family and kind in entry.kinds:
            about = "; ".join(part for part in (entry.licence and f"licence {entry.licence}", entry.note) if part)
            return f"run `cocreate models pull {entry.name}` ({entry.repo}{about and f'; {about}'})."
    if family == "z-image" and kind in Z_IMAGE_UNION_KINDS:
        return (
            f"alibaba-pai/Z-Image-Turbo-Fun-Controlnet-Union-2.1 (licence apache-2.0) serves {kind} but ships as one "
            "file, not a diffusers folder: save it as one with diffusers' ZImageControlNetModel.from_single_file(FILE)"
            f".save_pretrained(FOLDER), then `cocreate models add NAME FOLDER --control {kind}`."
        )
    return (
        f"cocreate knows no {kind} ControlNet for {family or 'this model'} on the Hub; add a diffusers "
        f"ControlNet folder with `cocreate models add NAME FOLDER --control {kind}`."
    )
