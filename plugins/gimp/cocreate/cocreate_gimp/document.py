"""The only module that reads or changes a GIMP image: pixels through GEGL, layers, undo, progress.

Pixels leave and enter GIMP as 8-bit RGBA ("R'G'B'A u8"); babl converts from and to whatever the image
holds, so grayscale and 16/32-bit images work unchanged: the model sees 8 bits, and candidates become
layers of the image's own kind and precision.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

from cocreate_client.pixels import Image, Mask
from gi.repository import Gegl, Gimp

from .candidates import PARASITE, Tag
from .geometry import Rect, Sides
from .plans import Layer, PlanError

RGBA8 = "R'G'B'A u8"
MASK8 = "Y u8"  # selections are linear coverage, one byte per pixel
DOCUMENT_PARASITE = "cocreate-document"  # a stable id saved with the XCF, so sessions follow the file


def _rect(rect: Rect) -> Gegl.Rectangle:
    return Gegl.Rectangle.new(rect.x, rect.y, rect.width, rect.height)


class GimpDocument:
    """One GIMP image, as planning reads it (plans.Picture) and applying changes it (apply.Canvas)."""

    def __init__(self, image: Gimp.Image) -> None:
        if image.get_base_type() == Gimp.ImageBaseType.INDEXED:
            raise PlanError(
                "cocreate paints in RGB and grayscale images; convert this indexed image first (Image ▸ Mode ▸ RGB)."
            )
        self._image = image

    # ------------------------------------------------------------ reading (plans.Picture)

    @property
    def width(self) -> int:
        return self._image.get_width()

    @property
    def height(self) -> int:
        return self._image.get_height()

    def visible(self, rect: Rect) -> Image:
        # A layer made from the projection, never inserted: what the person sees, read once and dropped.
        merged = Gimp.Layer.new_from_visible(self._image, self._image, "cocreate context")
        try:
            data = merged.get_buffer().get(_rect(rect), 1.0, RGBA8, Gegl.AbyssPolicy.CLAMP)
        finally:
            merged.delete()
        return Image(rect.width, rect.height, bytes(data))

    def selection_bounds(self) -> Rect | None:
        _, non_empty, x1, y1, x2, y2 = Gimp.Selection.bounds(self._image)
        return Rect.from_edges(x1, y1, x2, y2) if non_empty else None

    def selection(self, rect: Rect) -> Mask:
        buffer = self._image.get_selection().get_buffer()
        return Mask(rect.width, rect.height, bytes(buffer.get(_rect(rect), 1.0, MASK8, Gegl.AbyssPolicy.NONE)))

    def layer_pixels(self, drawable: object) -> tuple[Image, tuple[int, int]]:
        """A drawable's own pixels and its offsets on the canvas."""
        assert isinstance(drawable, Gimp.Drawable)
        width, height = drawable.get_width(), drawable.get_height()
        data = drawable.get_buffer().get(Gegl.Rectangle.new(0, 0, width, height), 1.0, RGBA8, Gegl.AbyssPolicy.NONE)
        _, x, y = drawable.get_offsets()
        return Image(width, height, bytes(data)), (x, y)

    def layer_area(self, layer: object, rect: Rect) -> Image:
        """A layer's pixels inside `rect` of the canvas (a control image), transparent where the layer has none."""
        assert isinstance(layer, Gimp.Drawable)
        _, x, y = layer.get_offsets()
        inside = Gegl.Rectangle.new(rect.x - x, rect.y - y, rect.width, rect.height)
        data = layer.get_buffer().get(inside, 1.0, RGBA8, Gegl.AbyssPolicy.NONE)
        return Image(rect.width, rect.height, bytes(data))

    def layers_area(self, layers: list[Gimp.Layer]) -> Rect:
        """Where the layers lie on the canvas, together."""
        area = None
        for layer in layers:
            _, x, y = layer.get_offsets()
            rect = Rect(x, y, layer.get_width(), layer.get_height())
            area = rect if area is None else area.union(rect)
        assert area is not None
        return area.intersection(Rect(0, 0, self.width, self.height))

    def layers_alpha(self, layers: list[Gimp.Layer], rect: Rect) -> Mask:
        """Where any of the layers paints inside `rect`: the largest of their alphas, one byte per pixel."""
        alpha = bytearray(rect.width * rect.height)
        for layer in layers:
            pixels, (x, y) = self.layer_pixels(layer)
            own = pixels.rgba[3::4]
            part = Rect(x, y, pixels.width, pixels.height).intersection(rect)
            for row in range(part.y, part.bottom):
                start = (row - y) * pixels.width + part.x - x
                at = (row - rect.y) * rect.width + part.x - rect.x
                alpha[at : at + part.width] = bytes(
                    map(max, alpha[at : at + part.width], own[start : start + part.width])
                )
        return Mask(rect.width, rect.height, bytes(alpha))

    @contextlib.contextmanager
    def hidden(self, layers: list[Gimp.Layer]) -> Iterator[None]:
        """The layers hidden for a moment (to read what lies below them), outside the undo history."""
        shown = [layer for layer in layers if layer.get_visible()]
        self._image.undo_freeze()
        try:
            for layer in shown:
                layer.set_visible(False)
            yield
        finally:
            for layer in shown:
                layer.set_visible(True)
            self._image.undo_thaw()

    def document_id(self) -> str:
        """This image's cocreate id, made and attached (saved with the XCF, not an undo step) on first use."""
        parasite = self._image.get_parasite(DOCUMENT_PARASITE)
        if parasite is not None:
            return bytes(parasite.get_data()).decode("ascii")
        key = uuid.uuid4().hex
        self._image.attach_parasite(Gimp.Parasite.new(DOCUMENT_PARASITE, Gimp.PARASITE_PERSISTENT, key.encode()))
        return key

    def name(self) -> str:
        return self._image.get_name()

    # ------------------------------------------------------------ changing (apply.Canvas)

    def begin(self) -> None:
        self._image.undo_group_start()

    def grow(self, sides: Sides) -> None:
        width, height = sides.around(self.width, self.height)
        # Layers keep their size and move with the canvas: their pixels stay where they were in the picture.
        self._image.resize(width, height, sides.left, sides.top)

    def add_layer(self, name: str, layer: Layer, *, visible: bool, rank: int, above: object, tag: Tag) -> None:
        image, pixels = self._image, layer.image
        kind = (
            Gimp.ImageType.GRAYA_IMAGE
            if image.get_base_type() == Gimp.ImageBaseType.GRAY
            else Gimp.ImageType.RGBA_IMAGE
        )
        new = Gimp.Layer.new(image, name, pixels.width, pixels.height, kind, 100.0, Gimp.LayerMode.NORMAL)
        if isinstance(above, Gimp.Layer):
            # The job's layers placed so far sit right above `above`: `rank` of them go above this one.
            position = image.get_item_position(above)
            siblings = _children(image, above.get_parent())
            placed = 0
            while placed < position and _same_job(siblings[position - placed - 1], tag):
                placed += 1
            image.insert_layer(new, above.get_parent(), position - placed + rank)
        else:
            image.insert_layer(new, None, rank)
        buffer = new.get_buffer()
        buffer.set(Gegl.Rectangle.new(0, 0, pixels.width, pixels.height), RGBA8, pixels.rgba)
        buffer.flush()
        new.set_offsets(layer.x, layer.y)
        new.set_visible(visible)
        new.attach_parasite(Gimp.Parasite.new(PARASITE, Gimp.PARASITE_PERSISTENT, tag.encode()))
        new.update(0, 0, pixels.width, pixels.height)

    def end(self) -> None:
        self._image.undo_group_end()
        Gimp.displays_flush()


def _children(image: Gimp.Image, parent: Gimp.Layer | None) -> list[Gimp.Layer]:
    return list(parent.get_children() if parent is not None else image.get_layers())


def _same_job(layer: Gimp.Layer, tag: Tag) -> bool:
    other = candidate_tag(layer)
    return other is not None and other.group == tag.group


# ------------------------------------------------------------ candidate layers (Keep This Candidate)


def candidate_tag(drawable: Gimp.Drawable) -> Tag | None:
    """The candidate a layer holds; None for any other drawable."""
    if not isinstance(drawable, Gimp.Layer):
        return None
    parasite = drawable.get_parasite(PARASITE)
    return None if parasite is None else Tag.decode(bytes(parasite.get_data()))


def candidate_layers(image: Gimp.Image) -> list[tuple[Gimp.Layer, Tag]]:
    """Every candidate layer of the image, inside layer groups too, top first."""
    found: list[tuple[Gimp.Layer, Tag]] = []
    pending = list(image.get_layers())
    while pending:
        layer = pending.pop(0)
        tag = candidate_tag(layer)
        if tag is not None:
            found.append((layer, tag))
        if layer.is_group():
            pending[:0] = list(layer.get_children())
    return found


def keep_layer(image: Gimp.Image, kept: Gimp.Layer, siblings: list[Gimp.Layer]) -> None:
    """One undo step: the siblings leave the image, and the kept layer (and the groups holding it) are shown."""
    image.undo_group_start()
    try:
        for sibling in siblings:
            image.remove_layer(sibling)
        item: Gimp.Item | None = kept
        while item is not None:
            item.set_visible(True)
            item = item.get_parent()
    finally:
        image.undo_group_end()
        Gimp.displays_flush()


class GimpProgress:
    """GIMP's progress bar: the image window's status bar, or a GimpUi.ProgressBar in a dialog when one is open."""

    def __init__(self, message: str) -> None:
        Gimp.progress_init(message)

    def text(self, message: str) -> None:
        Gimp.progress_set_text(message)

    def fraction(self, value: float) -> None:
        Gimp.progress_update(value)

    def end(self) -> None:
        Gimp.progress_end()
