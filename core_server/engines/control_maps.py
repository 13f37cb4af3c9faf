"""Control maps from what a host sends, with no model weights: a layer as it is, or a map derived from a
picture (canny, scribble, line art, soft edge). ControlNets read white structure on black.

Depth, normal, pose and segmentation maps come ready-made (Blender renders depth and normals); depth and normal
maps are derived from a photo by a depth estimator (engines.depth_estimation) when one is installed, and the
service refuses the rest before a job starts (service.controls).
"""

from __future__ import annotations

import numpy as np
from skimage import feature, filters, morphology

from core_server.engines import depth_estimation
from core_server.tasks import ControlKind, EngineError

# Kinds drawn as strokes: a layer is turned into white strokes on black; `derive` traces them from a picture.
STROKES = (ControlKind.SCRIBBLE, ControlKind.LINE_ART, ControlKind.SOFT_EDGE, ControlKind.CANNY)
CANNY_SIGMA = 1.4  # smoothing before the gradient: ignores pixel noise, keeps the edges a person would draw
SCRIBBLE_WIDTH = 2  # px a derived scribble's edges are thickened by: scribbles are drawn with a broad brush
LINE_ART_SIGMA = 2.0  # how far a pixel is compared with its surroundings to tell a dark line
SOFT_EDGE_SIGMA = 2.0  # how far a derived soft edge spreads


def control_map(kind: ControlKind, rgba: np.ndarray, derive: bool, estimator: str = "") -> np.ndarray:
    """(H, W, 3) uint8 map for a ControlNet of `kind` from an (H, W, 4) uint8 RGBA picture; `estimator`: the
    depth estimator's folder that derives a depth or normal map."""
    if derive and estimator and kind in (ControlKind.DEPTH, ControlKind.NORMAL):
        depth = depth_estimation.depth_map(estimator, rgba)
        if kind is ControlKind.NORMAL:
            return depth_estimation.normal_map(depth)
        return np.repeat(_to_byte(depth)[..., None], 3, axis=-1)
    if kind in STROKES:
        strokes = _derived(kind, _gray(rgba)) if derive else layer_strokes(rgba)
        return np.repeat(strokes[..., None], 3, axis=-1)
    if derive and kind is not ControlKind.TILE:
        raise EngineError(f"A {kind.value} map cannot be derived without a model; send the map itself.")
    # Ready-made maps (and the tile control's picture) as they look; transparent parts read as "nothing": black.
    alpha = rgba[..., 3:].astype(np.float32) / 255.0
    return np.rint(rgba[..., :3] * alpha).astype(np.uint8)


def layer_strokes(rgba: np.ndarray) -> np.ndarray:
    """(H, W) uint8 white-on-black strokes from a layer as a person draws it: strokes on a transparent layer
    (whatever their colour), dark strokes on a light opaque one, or a map already white on black."""
    alpha = rgba[..., 3]
    if alpha.min() < 255:
        return alpha.copy()
    luminance = _gray(rgba)
    return 255 - luminance if luminance.mean() > 127 else luminance


def _derived(kind: ControlKind, gray: np.ndarray) -> np.ndarray:
    picture = gray.astype(np.float64) / 255.0
    if kind is ControlKind.CANNY:
        edges = feature.canny(picture, sigma=CANNY_SIGMA)
    elif kind is ControlKind.SCRIBBLE:
        edges = morphology.dilation(feature.canny(picture, sigma=2 * CANNY_SIGMA), morphology.disk(SCRIBBLE_WIDTH))
    elif kind is ControlKind.LINE_ART:
        # A line is darker than what surrounds it.
        darker = filters.gaussian(picture, sigma=LINE_ART_SIGMA) - picture
        return _to_byte(darker / max(float(darker.max()), 1e-6))
    else:  # soft edge: the gradient's strength, spread out
        spread = filters.gaussian(filters.sobel(picture), sigma=SOFT_EDGE_SIGMA)
        return _to_byte(spread / max(float(spread.max()), 1e-6))
    return np.where(edges, 255, 0).astype(np.uint8)


def _gray(rgba: np.ndarray) -> np.ndarray:
    """Luminance (Rec. 601) of the picture over white, where a sketch's paper would be."""
    alpha = rgba[..., 3:].astype(np.float32) / 255.0
    rgb = rgba[..., :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
    return np.rint(rgb @ np.array([0.299, 0.587, 0.114], np.float32)).astype(np.uint8)


def _to_byte(values: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(values, 0.0, 1.0) * 255.0).astype(np.uint8)
