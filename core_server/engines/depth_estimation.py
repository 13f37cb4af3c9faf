"""Depth and normal control maps derived from a picture by a depth estimator (Depth Anything V2 through
transformers), loaded on first use and kept for the next map."""

from __future__ import annotations

import functools
import threading
from typing import Any

import numpy as np

NORMAL_FLATNESS = 2 * np.pi  # z of a normal against the depth's gradient: as the depth→normal preprocessors weigh it
_LOADING = threading.Lock()


def depth_map(estimator: str, rgba: np.ndarray) -> np.ndarray:
    """(H, W) float32 in [0, 1], near = bright as depth ControlNets read it, at the picture's size."""
    import torch

    processor, model = _loaded(estimator)
    alpha = rgba[..., 3:].astype(np.float32) / 255.0
    rgb = np.rint(rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)  # transparency over white
    with torch.inference_mode():
        output = model(**processor(images=rgb, return_tensors="pt"))
        depth = processor.post_process_depth_estimation(output, target_sizes=[rgb.shape[:2]])[0]["predicted_depth"]
    # Depth Anything predicts relative inverse depth (disparity): larger is nearer.
    depth = depth.float().numpy()
    low, high = float(depth.min()), float(depth.max())
    return ((depth - low) / max(high - low, 1e-6)).astype(np.float32)


def normal_map(depth: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 normals from a near-bright depth map, as NormalBae-style ControlNets read them."""
    dy, dx = np.gradient(depth * depth.shape[1])  # depth in pixels of the picture's width: slopes of a scene
    normal = np.stack([dx, dy, np.full_like(depth, NORMAL_FLATNESS)], axis=-1)
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    return np.rint(np.clip(normal * 127.5 + 127.5, 0, 255)).astype(np.uint8)


def _loaded(estimator: str) -> tuple[Any, Any]:
    with _LOADING:
        return _load(estimator)


@functools.lru_cache(maxsize=1)  # one estimator is ever in use; a different one replaces it
def _load(estimator: str) -> tuple[Any, Any]:
    from transformers import AutoImageProcessor, DepthAnythingForDepthEstimation

    processor = AutoImageProcessor.from_pretrained(estimator, local_files_only=True)
    model = DepthAnythingForDepthEstimation.from_pretrained(
        estimator, local_files_only=True, use_safetensors=True
    ).eval()
    return processor, model
