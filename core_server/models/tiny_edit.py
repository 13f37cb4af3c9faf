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


def _rename_pipeline(folder: Path, class_name: str, **parts: list[str]) -> None:
    index_file = folder / "model_index.json"
    index = json.loads(index_file.read_text(encoding="utf-8"))
    index["_class_name"] = class_name
    index.update(parts)
    index_file.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def build_qwen_image_edit(folder: Path) -> None:
    """Qwen-Image-Edit holds Qwen-Image's parts plus the processor that shows its Qwen2.5-VL text encoder the
    picture; saved as the real repository lays it out (a `processor` folder of Qwen2VLProcessor files)."""
    from transformers import AutoTokenizer
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    tiny_flow.build_qwen_image(folder)
    processor = folder / "processor"
    # Qwen2-VL's patching (14 px patches merged 2×2); at most 4×4 merged cells, so the picture costs 16 tokens.
    Qwen2VLImageProcessorPil(min_pixels=56 * 56, max_pixels=112 * 112).save_pretrained(processor)
    AutoTokenizer.from_pretrained(folder / "tokenizer", local_files_only=True).save_pretrained(processor)
    _rename_pipeline(folder, "QwenImageEditPipeline", processor=["transformers", "Qwen2VLProcessor"])
