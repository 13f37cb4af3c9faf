"""Tiny random-weight models of the families that edit by instruction (Flux.1 Kontext, Qwen-Image-Edit),
built on this machine from the parts of their base families' tiny models (models.tiny_flow)."""

from __future__ import annotations

import json
from pathlib import Path

from core_server.models import tiny_flow


def build_flux_kontext(folder: Path) -> None:
    """Kontext's pipeline holds exactly Flux.1's parts; only the class that runs them differs."""
    tiny_flow.build_flux(folder)
    _rename_pipeline(folder, "FluxKontextInpaintPipeline")


def _rename_pipeline(folder: Path, class_name: str) -> None:
    index_file = folder / "model_index.json"
    index = json.loads(index_file.read_text(encoding="utf-8"))
    index["_class_name"] = class_name
    index_file.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n", encoding="utf-8")
