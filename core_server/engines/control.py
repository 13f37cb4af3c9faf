"""ControlNets beside an image engine: loaded on first use, run through the family's diffusers ControlNet
inpaint pipeline built on the engine's own components (from_pipe: no weights copied), with each control's
map cropped and scaled to the region paint() paints, as it crops and scales the picture."""

from __future__ import annotations

import inspect
import json
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import diffusers
import numpy as np
import torch
from diffusers import DiffusionPipeline

from core_server.engines import control_files, control_steering, flux_controls
from core_server.engines.control_maps import control_map
from core_server.engines.devices import memory_bytes
from core_server.engines.families.family import Family
from core_server.engines.paint import Region
from core_server.engines.pixels import image_array, resize
from core_server.models.control_models import CONTROL_PIPELINES, UNION_MODES
from core_server.tasks import Control, ControlModel, EngineError

MAX_LOADED = 4  # ControlNets kept beside the model; a fifth drops the least recently used
# Families whose ControlNets run side by side through engines.flux_controls (a mode per control and candidate).
FLUX_MULTI = {"flux"}


class ControlNets:
    """The ControlNets one image engine has loaded, by their weights' hash."""

    def __init__(self, family: Family) -> None:
        self.family = family
        self._loaded: OrderedDict[str, torch.nn.Module] = OrderedDict()  # by sha256, least recently used first

    @property
    def memory_bytes(self) -> int:
        return sum(memory_bytes(model) for model in self._loaded.values())

    def pipeline(self, pipe: DiffusionPipeline, controls: Sequence[Control]) -> DiffusionPipeline:
        """The family's ControlNet inpaint pipeline on `pipe`'s own parts, one ControlNet per control.

        Built afresh per job (it holds no weights of its own), so it always has the parts the engine's pipeline
        has now (an IP-Adapter's image encoder loaded since). Not diffusers' from_pipe: that casts every part to
        one dtype, undoing the precision layout (engines.precision) the engine loaded the model in."""
        models = [_model_of(control) for control in controls]
        name = pipeline_name(self.family, models)
        nets = [self._load(model, pipe) for model in models]
        if self.family.name in control_steering.STEERED:
            return control_steering.pipeline(pipe, self.family, nets)
        if self.family.name in FLUX_MULTI:
            nets = flux_controls.combined(nets, [model.name for model in models])
        pipeline_class = getattr(diffusers, name)
        modules, options = pipeline_class._get_signature_keys(pipeline_class)
        parts = {key: pipe.components.get(key) for key in modules}
        settings = {key: pipe.config[key] for key in options if key in pipe.config}
        controlled = pipeline_class(**{**parts, **settings, "controlnet": nets})
        controlled.set_progress_bar_config(disable=True)
        if self.family.prepare is not None:
            self.family.prepare(controlled)  # the same fix-ups as the engine's pipeline (its native size)
        return controlled

    def _load(self, model: ControlModel, pipe: DiffusionPipeline) -> torch.nn.Module:
        if model.sha256 in self._loaded:
            self._loaded.move_to_end(model.sha256)
            return self._loaded[model.sha256]
        denoiser = getattr(pipe, self.family.denoiser)
        path = Path(model.path)
        try:
            if path.is_file():  # one .safetensors file, its config written by the catalog
                net = control_files.load(path, Path(model.config), denoiser.dtype)
            else:
                class_name = json.loads((path / "config.json").read_text(encoding="utf-8"))["_class_name"]
                net = getattr(diffusers, class_name).from_pretrained(
                    path, local_files_only=True, use_safetensors=True, torch_dtype=denoiser.dtype
                )
        except (OSError, ValueError, KeyError, RuntimeError) as error:
            raise EngineError(f"Could not load the control model {model.name} from {path}: {error}") from error
        # Where the denoiser runs: with model CPU offload (engines.placement) it waits on the CPU between calls.
        net.to(pipe._execution_device).eval()
        if len(self._loaded) >= MAX_LOADED:
            self._loaded.popitem(last=False)
        self._loaded[model.sha256] = net
        return net

    def close(self) -> None:
        self._loaded.clear()


def conditioning(
    controls: Sequence[Control], family: Family, references: Mapping[str, Any]
) -> Callable[[Region], dict[str, Any]]:
    """The ControlNet options of a paint job: each map made once at the canvas's size, then for the region
    paint() chose cropped and scaled as the picture is. `references`: the job's reference options, refused
    when the ControlNet pipeline cannot take them."""
    pipeline_class = getattr(diffusers, pipeline_name(family, [_model_of(control) for control in controls]))
    accepted = inspect.signature(pipeline_class.__call__).parameters
    refused = [key for key in references if key not in accepted]
    if refused:
        raise EngineError(
            f"{family.title} models cannot follow references and controls at once; send one or the other."
        )
    # Flux's ControlNet pipeline has no negative prompt (its guidance is distilled): None drops it (paint).
    dropped = {"negative_prompt": None} if "negative_prompt" not in accepted else {}
    maps = [
        control_map(control.kind, image_array(control.image), control.derive, control.estimator) for control in controls
    ]
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
            **dropped,
            "control_image": images,
            "controlnet_conditioning_scale": [control.strength for control in controls],
            "control_guidance_start": [control.start for control in controls],
            "control_guidance_end": [control.end for control in controls],
        }
        if family.name in FLUX_MULTI:
            chosen["control_mode"] = flux_controls.modes(modes)
        elif all(mode is not None for mode in modes):
            chosen["control_mode"] = modes
        return chosen

    return options


def pipeline_name(family: Family, models: Sequence[ControlModel]) -> str:
    """The diffusers pipeline class that runs these ControlNets on a model of `family`."""
    union = {model.union for model in models}
    if len(union) > 1:
        raise EngineError("Union and single-kind ControlNets cannot run together; use one sort for all controls.")
    name = CONTROL_PIPELINES.get((family.name, union.pop()))
    if name is None:
        raise EngineError(f"{family.title} models take no controls in cocreate.")
    return name


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
