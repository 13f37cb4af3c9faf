"""Where the canvas grows and which part of the picture the daemon sees: pure arithmetic on rectangles."""

from __future__ import annotations

import math
from dataclasses import dataclass

# The daemon refuses images larger than this on a side (core_server.config.MAX_SIDE).
MAX_SIDE = 8192
# GIMP's own limit on an image side (GIMP_MAX_IMAGE_SIZE).
GIMP_MAX_SIDE = 524288
# Context sent around the area to paint: this share of its longest side, at least MIN_CONTEXT px. It is at
# least what the daemon crops itself (half the side, 32 px), so the crop changes nothing the model sees.
CONTEXT_SHARE = 0.5
MIN_CONTEXT = 64

# Where the old picture sits in the grown canvas: (x, y) as a share of the free space on its left and top.
ANCHORS: dict[str, tuple[float, float]] = {
    "top-left": (0.0, 0.0),
    "top": (0.5, 0.0),
    "top-right": (1.0, 0.0),
    "left": (0.0, 0.5),
    "center": (0.5, 0.5),
    "right": (1.0, 0.5),
    "bottom-left": (0.0, 1.0),
    "bottom": (0.5, 1.0),
    "bottom-right": (1.0, 1.0),
}


class GeometryError(ValueError):
    """Sizes that cannot be expanded or painted; the message says what to change."""


@dataclass(frozen=True)
class Rect:
    x: int
    y: int
    width: int
    height: int

    @property
    def right(self) -> int:
        return self.x + self.width

    @property
    def bottom(self) -> int:
        return self.y + self.height

    @property
    def empty(self) -> bool:
        return self.width <= 0 or self.height <= 0

    @staticmethod
    def from_edges(left: int, top: int, right: int, bottom: int) -> Rect:
        return Rect(left, top, right - left, bottom - top)

    def moved(self, dx: int, dy: int) -> Rect:
        return Rect(self.x + dx, self.y + dy, self.width, self.height)

    def intersection(self, other: Rect) -> Rect:
        return Rect.from_edges(
            max(self.x, other.x), max(self.y, other.y), min(self.right, other.right), min(self.bottom, other.bottom)
        )

    def union(self, other: Rect) -> Rect:
        return Rect.from_edges(
            min(self.x, other.x), min(self.y, other.y), max(self.right, other.right), max(self.bottom, other.bottom)
        )

    def grown(self, margin: int) -> Rect:
        return Rect(self.x - margin, self.y - margin, self.width + 2 * margin, self.height + 2 * margin)


@dataclass(frozen=True)
class Sides:
    """Pixels added on each side of the canvas."""

    left: int = 0
    top: int = 0
    right: int = 0
    bottom: int = 0

    def __post_init__(self) -> None:
        if min(self.left, self.top, self.right, self.bottom) < 0:
            raise GeometryError("Expand only adds pixels: left, top, right and bottom must be 0 or more.")

    @property
    def any(self) -> bool:
        return any((self.left, self.top, self.right, self.bottom))

    def around(self, width: int, height: int) -> tuple[int, int]:
        """The size of a width × height picture grown by these sides."""
        return width + self.left + self.right, height + self.top + self.bottom


def to_size(width: int, height: int, target_width: int, target_height: int, anchor: str) -> Sides:
    """The sides that grow width × height to the target size, the old picture placed by `anchor`."""
    if anchor not in ANCHORS:
        raise GeometryError(f"anchor must be one of {', '.join(ANCHORS)}, not {anchor!r}.")
    if target_width < width or target_height < height:
        raise GeometryError(
            f"The target {target_width}×{target_height} is smaller than the image ({width}×{height}); "
            "Expand only grows the canvas (Image ▸ Canvas Size crops)."
        )
    share_x, share_y = ANCHORS[anchor]
    free_x, free_y = target_width - width, target_height - height
    left, top = math.floor(free_x * share_x), math.floor(free_y * share_y)
    return Sides(left, top, free_x - left, free_y - top)


def to_aspect(width: int, height: int, aspect_width: int, aspect_height: int, anchor: str) -> Sides:
    """The sides of the smallest canvas with the aspect ratio aspect_width:aspect_height that holds the picture."""
    if aspect_width < 1 or aspect_height < 1:
        raise GeometryError(f"The aspect ratio {aspect_width}:{aspect_height} needs two positive numbers, as 16:9.")
    if width * aspect_height >= height * aspect_width:  # wide enough already: add rows
        return to_size(width, height, width, math.ceil(width * aspect_height / aspect_width), anchor)
    return to_size(width, height, math.ceil(height * aspect_width / aspect_height), height, anchor)


def check_growth(width: int, height: int, sides: Sides) -> None:
    if not sides.any:
        raise GeometryError("Nothing to expand: add pixels on at least one side, or pick a larger size or aspect.")
    grown_width, grown_height = sides.around(width, height)
    if max(grown_width, grown_height) > GIMP_MAX_SIDE:
        raise GeometryError(f"GIMP images are at most {GIMP_MAX_SIDE} px on a side; expand less.")


def context_margin(area: Rect) -> int:
    return max(MIN_CONTEXT, math.ceil(CONTEXT_SHARE * max(area.width, area.height)))


def with_context(area: Rect, bounds: Rect) -> Rect:
    """`area` with the context the model needs around it, inside `bounds`."""
    return area.grown(context_margin(area)).intersection(bounds)


def check_sendable(region: Rect, what: str) -> None:
    if max(region.width, region.height) > MAX_SIDE:
        raise GeometryError(
            f"{what} is {region.width}×{region.height} px with its context; cocreate paints at most {MAX_SIDE} px "
            "on a side. Work on a smaller area, or in several steps."
        )


@dataclass(frozen=True)
class ExpandRegion:
    """What an Expand sends and where its answer goes.

    `source` is the part of the old picture the daemon sees (old-picture coordinates); the daemon answers
    with `source` grown by the same sides, and that answer's top-left corner lands at `placed` on the grown
    canvas. Growing only some sides sends only the band of the picture next to them.
    """

    source: Rect
    placed: tuple[int, int]


def expand_region(width: int, height: int, sides: Sides, feather: int) -> ExpandRegion:
    check_growth(width, height, sides)
    grown_width, grown_height = sides.around(width, height)
    canvas = Rect(0, 0, grown_width, grown_height)
    old = Rect(sides.left, sides.top, width, height)
    # The area the model paints: each new strip with the seam band next to it.
    strips = [
        Rect(0, 0, sides.left + feather, grown_height) if sides.left else None,
        Rect(0, 0, grown_width, sides.top + feather) if sides.top else None,
        Rect.from_edges(old.right - feather, 0, grown_width, grown_height) if sides.right else None,
        Rect.from_edges(0, old.bottom - feather, grown_width, grown_height) if sides.bottom else None,
    ]
    painted = Rect(0, 0, 0, 0)
    for strip in strips:
        if strip is not None:
            painted = strip if painted.empty else painted.union(strip)
    # Every grown side's strip spans the canvas, so the context reaches each grown edge of the old picture and
    # the answer (the source grown by all sides) lines up with the canvas.
    source = with_context(painted.intersection(canvas), canvas).intersection(old).moved(-sides.left, -sides.top)
    check_sendable(Rect(0, 0, *sides.around(source.width, source.height)), "The area to expand")
    return ExpandRegion(source=source, placed=(source.x, source.y))
