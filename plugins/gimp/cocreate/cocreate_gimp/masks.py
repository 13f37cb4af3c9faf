"""Which pixels of a candidate a new layer keeps, as masks of one byte per pixel (0 or 255).

The daemon returns whole canvases whose pixels outside its mask are copies of what it was sent. A layer
keeps only the pixels the daemon may have painted, transparent elsewhere, so it shows the same picture
without hiding the layers below it.
"""

from __future__ import annotations

from cocreate_client.pixels import Image, Mask, mask_bounds

from .geometry import Rect, Sides

_PAINTED = bytes([0] + [255] * 255)  # any nonzero mask value: the daemon may have changed the pixel


def seam_mask(width: int, height: int, old: Rect, sides: Sides, feather: int) -> Mask:
    """An expanded canvas's painted area: everything outside `old`, and the `feather` px inside each grown edge.

    `old` is where the picture sent sits in the width × height answer; only edges on grown sides have a seam.
    """
    left = min(feather, old.width) if sides.left else 0
    right = min(feather, old.width) if sides.right else 0
    top = min(feather, old.height) if sides.top else 0
    bottom = min(feather, old.height) if sides.bottom else 0
    full = b"\xff" * width
    inner = old.width - left - right
    # An old row away from the top and bottom seams: new area, left seam, untouched middle, right seam, new area.
    kept_row = b"\xff" * (old.x + left) + b"\x00" * max(0, inner) + b"\xff" * (width - old.right + right)
    rows = []
    for y in range(height):
        inside = old.y + top <= y < old.bottom - bottom
        rows.append(kept_row if inside and inner > 0 else full)
    return Mask(width, height, b"".join(rows))


def keep_painted(image: Image, mask: Mask) -> Image:
    """`image` with every pixel the mask leaves at 0 made fully transparent."""
    if (mask.width, mask.height) != (image.width, image.height):
        raise ValueError(f"mask {mask.width}×{mask.height} does not match image {image.width}×{image.height}")
    size = image.width * image.height
    # Big integers as byte vectors: one AND over all alpha bytes runs in C.
    alpha = bytes(image.rgba[3::4])
    kept = int.from_bytes(alpha, "little") & int.from_bytes(mask.alpha.translate(_PAINTED), "little")
    return with_alpha(image, kept.to_bytes(size, "little"))


def with_alpha(image: Image, alpha: bytes) -> Image:
    """`image` with its alpha channel replaced by `alpha` (one byte per pixel)."""
    if len(alpha) != image.width * image.height:
        raise ValueError(f"{len(alpha)} alpha bytes for a {image.width}×{image.height} image")
    rgba = bytearray(image.rgba)
    rgba[3::4] = alpha
    return Image(image.width, image.height, bytes(rgba))


def bounding_box(mask: Mask) -> Rect | None:
    """The smallest rectangle holding every nonzero pixel of the mask; None when there is none."""
    bounds = mask_bounds(mask)
    return Rect(*bounds) if bounds else None
