"""Depth estimators: transformers depth-estimation folders (Depth Anything V2) that derive a depth control map
from an ordinary picture. What one is, the short name that pulls the real one, and the tiny random-weight one
tests build locally. No torch at import."""

from __future__ import annotations

import json
from pathlib import Path

ESTIMATOR_CLASSES = ("DepthAnythingForDepthEstimation",)
PULL_NAME = "depth-anything-v2-small"
REPO = "depth-anything/Depth-Anything-V2-Small-hf"  # licence apache-2.0
PULL_HINT = f"run `cocreate models pull {PULL_NAME}` ({REPO}, licence apache-2.0)"
TINY_SIDE = 56  # px the tiny estimator sees a picture at: a multiple of its 14 px patches, quick on a CPU


def is_depth_estimator(folder: Path) -> bool:
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(config, dict):
        return False
    named = any(name in ESTIMATOR_CLASSES for name in config.get("architectures") or ())
    return named or config.get("model_type") == "depth_anything"


def build_tiny(folder: Path) -> None:
    """A random-weight Depth Anything (a 4-layer DINOv2 backbone of width 32) with its image processor, saved as
    the Hub's folders are and loaded through the same from_pretrained path."""
    import torch
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config, DPTImageProcessorPil

    from core_server.models import tiny

    torch.manual_seed(tiny.SEED)
    backbone = Dinov2Config(
        hidden_size=32,
        num_hidden_layers=4,
        num_attention_heads=2,
        intermediate_size=64,
        image_size=TINY_SIDE,
        patch_size=14,
        out_features=["stage1", "stage2", "stage3", "stage4"],
        reshape_hidden_states=False,
    )
    config = DepthAnythingConfig(
        backbone_config=backbone,
        reassemble_hidden_size=32,
        patch_size=14,
        neck_hidden_sizes=[8, 16, 32, 32],
        fusion_hidden_size=16,
        head_hidden_size=8,
        depth_estimation_type="relative",
    )
    model = DepthAnythingForDepthEstimation(config)
    # transformers starts the convolutions at std 0.02, which stacked flatten the depth to ~1e-8; PyTorch's own
    # initialisation keeps a picture's structure through the neck and head, as trained weights do.
    for module in model.modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            module.reset_parameters()
    model.save_pretrained(folder, safe_serialization=True)
    # The real repo's processor, at the tiny size: keep the aspect, a multiple of the patch, ImageNet statistics.
    DPTImageProcessorPil(
        size={"height": TINY_SIDE, "width": TINY_SIDE},
        keep_aspect_ratio=True,
        ensure_multiple_of=14,
        resample=3,
        image_mean=[0.485, 0.456, 0.406],
        image_std=[0.229, 0.224, 0.225],
    ).save_pretrained(folder)
