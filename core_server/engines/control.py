"""ControlNets beside an image engine: loaded on first use, run through the family's diffusers ControlNet
inpaint pipeline built on the engine's own components (from_pipe: no weights copied), with each control's
map cropped and scaled to the region paint() paints, as it crops and scales the picture."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import diffusers
import numpy as np
import torch
from diffusers import DiffusionPipeline

from core_server.engines.control_maps import control_map
from core_server.engines.devices import memory_bytes
from core_server.engines.families.family import Family
from core_server.engines.paint import Region
from core_server.engines.pixels import image_array, resize
from core_server.models.control_models import CONTROL_PIPELINES, UNION_MODES
from core_server.tasks import Control, ControlModel, EngineError

MAX_LOADED = 4  # ControlNets kept beside the model; a fifth drops the least recently used


class ControlNets:
    """The ControlNets one image engine has loaded, by weights, and the controlled pipeline last built."""

    def __init__(self, family: Family) -> None:
        self.family = family
        self._loaded: OrderedDict[str, torch.nn.Module] = OrderedDict()  # by sha256, least recently used first
        self._built: tuple[tuple[Any, ...], DiffusionPipeline] | None = None

    @property
    def memory_bytes(self) -> int:
        return sum(memory_bytes(model) for model in self._loaded.values())

    def pipeline(self, pipe: DiffusionPipeline, controls: Sequence[Control]) -> DiffusionPipeline:
        """The family's ControlNet inpaint pipeline sharing `pipe`'s parts, one ControlNet per control."""
        models = [_model_of(control) for control in controls]
        union = {model.union for model in models}
        if len(union) > 1:
            raise EngineError("Union and single-kind ControlNets cannot run together; use one sort for all controls.")
        name = CONTROL_PIPELINES.get((self.family.name, union.pop()))
        if name is None:
            raise EngineError(f"{self.family.title} models take no controls in cocreate.")
        key = (id(pipe), *(model.sha256 for model in models))
        if self._built is None or self._built[0] != key:
            nets = [self._load(model, pipe) for model in models]
            self._built = key, getattr(diffusers, name).from_pipe(pipe, controlnet=nets)
            self._built[1].set_progress_bar_config(disable=True)
        return self._built[1]

    def _load(self, model: ControlModel, pipe: DiffusionPipeline) -> torch.nn.Module:
        if model.sha256 in self._loaded:
            self._loaded.move_to_end(model.sha256)
            return self._loaded[model.sha256]
        denoiser = getattr(pipe, self.family.denoiser)
        path = Path(model.path)
        try:
            class_name = json.loads((path / "config.json").read_text(encoding="utf-8"))["_class_name"]
            net = getattr(diffusers, class_name).from_pretrained(
                path, local_files_only=True, use_safetensors=True, torch_dtype=denoiser.dtype
            )
        except (OSError, ValueError, KeyError, RuntimeError) as error:
            raise EngineError(f"Could not load the control model {model.name} from {path}: {error}") from error
        net.to(denoiser.device).eval()
        if len(self._loaded) >= MAX_LOADED:
            self._loaded.popitem(last=False)
            self._built = None
        self._loaded[model.sha256] = net
        return net

    def close(self) -> None:
        self._loaded.clear()
        self._built = None


def conditioning(controls: Sequence[Control], family: Family) -> Callable[[Region], dict[str, Any]]:
    """The ControlNet options of a paint job: each map made once at the canvas's size, then for the region
    paint() chose cropped and scaled as the picture is."""
    maps = [control_map(control.kind, image_array(control.image), control.derive) for control in controls]
    modes = [_mode(control, family) for control in controls]

    def options(region: Region) -> dict[str, Any]:
        left, top, right, bottom = region.box
        width, height = region.size
        images = [
            torch.from_numpy(np.ascontiguousarray(resize(m[top:bottom, left:right], width, height, **region.wrap)))
            .permute(2, 0, 1)[None]
            .float()
            / 255.0
            for m in maps
        ]
        chosen: dict[str, Any] = {
            "control_image": images,
            "controlnet_conditioning_scale": [control.strength for control in controls],
            "control_guidance_start": [control.start for control in controls],
            "control_guidance_end": [control.end for control in controls],
        }
        if all(mode is not None for mode in modes):
            chosen["control_mode"] = modes
        return chosen

    return options


def _model_of(control: Control) -> ControlModel:
    if control.model is None:
        raise EngineError(f"The {control.kind.value} control has no control model; the service resolves one.")
    return control.model


def _mode(control: Control, family: Family) -> int | None:
    """A union ControlNet's mode number for the control's kind; None for single-kind ControlNets."""
    model = _model_of(control)
    if not model.union:
        return None
    mode = UNION_MODES.get(family.name, {}).get(control.kind.value)
    if mode is None:
        raise EngineError(f"The union control model {model.name} has no mode for {control.kind.value} maps.")
    return mode
