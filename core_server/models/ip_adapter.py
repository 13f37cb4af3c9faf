"""IP-Adapter folders: an image encoder (a CLIPVisionModelWithProjection folder called image_encoder) and the
adapter's weights in one .safetensors file beside it, as h94/IP-Adapter lays them out. Reading one needs no
torch: the catalog calls these to tell an adapter folder and the family it fits."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ENCODER_FOLDER = "image_encoder"
# The UNet's cross-attention width, read from the adapter's key projections, names the family it was trained for.
FAMILY_OF_WIDTH = {
    768: "sd15",  # SD 1.x
    1024: "sd15",  # SD 2.x (the same family table entry)
    2048: "sdxl",
    32: "sd15",  # the tiny profile's SD 1.5 UNet
    64: "sdxl",  # the tiny profile's SDXL UNet
}


@dataclass(frozen=True)
class AdapterFiles:
    encoder: Path  # a transformers folder: config.json + model.safetensors
    weights: Path  # image_proj.* and ip_adapter.* tensors


def adapter_files(folder: Path) -> AdapterFiles | None:
    """The encoder and weights of the IP-Adapter in `folder`, or None when it holds none."""
    # At the top or one folder down (h94/IP-Adapter: models/image_encoder, sdxl_models/ip-adapter_sdxl….safetensors).
    encoders = sorted(
        path.parent for depth in ("", "*/") for path in folder.glob(f"{depth}{ENCODER_FOLDER}/config.json")
    )
    weights = sorted(
        path for depth in ("", "*/") for path in folder.glob(f"{depth}*.safetensors") if _is_ip_adapter(path)
    )
    if not encoders or not weights:
        return None
    return AdapterFiles(encoders[0], weights[0])


def family_of(folder: Path) -> str:
    """The family the adapter in `folder` fits, "" when its width is none cocreate knows."""
    files = adapter_files(folder)
    if files is None:
        return ""
    from safetensors import safe_open

    with safe_open(str(files.weights), framework="numpy") as weights:
        keys = list(weights.keys())
        key = next((key for key in keys if key.endswith("to_k_ip.weight")), None)
        width = weights.get_slice(key).get_shape()[1] if key else 0
    return FAMILY_OF_WIDTH.get(width, "")


def _is_ip_adapter(file: Path) -> bool:
    from safetensors import safe_open

    try:
        with safe_open(str(file), framework="numpy") as weights:
            keys = list(weights.keys())
    except Exception:  # safetensors raises its own error types for a damaged header: not an adapter
        return False
    return any(key.startswith("image_proj.") for key in keys) and any(key.startswith("ip_adapter.") for key in keys)
