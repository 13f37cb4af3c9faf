"""Short names for well-known ControlNets on the Hub (`cocreate models pull sd15-depth`), and the hint a
refusal gives when a request asks for a control nothing installed serves."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CuratedControl:
    name: str
    repo: str
    family: str
    kinds: tuple[str, ...]


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
)
CURATED_CONTROLS_BY_NAME = {entry.name: entry for entry in CURATED_CONTROLS}


def pull_hint(family: str, kind: str) -> str:
    """What to run to get a `kind` control for `family`."""
    for entry in CURATED_CONTROLS:
        if entry.family == family and kind in entry.kinds:
            return f"run `cocreate models pull {entry.name}` ({entry.repo})."
    return (
        f"cocreate knows no {kind} ControlNet for {family or 'this model'} on the Hub; add a diffusers "
        f"ControlNet folder with `cocreate models add NAME FOLDER --control {kind}`."
    )
