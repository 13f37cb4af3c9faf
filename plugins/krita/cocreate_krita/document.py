"""The one module that touches a Krita document: selection, pixels, layers, annotations.

RGBA/U8 documents are read and written as they are (pixelData is BGRA there). Every other colour
model or depth (U16, F16, F32; Gray, CMYK, …) goes through Krita's own colour management: the
region is read from the projection as 8-bit sRGB (what the painter sees), and result and preview
layers are written in 8-bit sRGB and converted into the document's colour space by Krita.
"""

from __future__ import annotations

import contextlib
import os
import uuid

from cocreate_client.pixels import Image, Mask, swap_red_blue
from krita import Document, Krita, Node, Selection
from PyQt5.QtCore import QByteArray, QCoreApplication, QItemSelectionModel, Qt, QTimer
from PyQt5.QtGui import QImage
from PyQt5.QtWidgets import QAbstractItemView, QDockWidget

from .region import Box, DocumentError, Region, clip, context_box, is_empty

DOCUMENT_KEY = "cocreate/document-id"
PLACEMENTS = "cocreate/placements"
GUIDES = "cocreate/guides"
PREVIEW_LAYER = "cocreate preview"
WORKING_SPACE = ("RGBA", "U8", "sRGB-elle-V2-srgbtrc.icc")
LAYERS_PANEL, LAYER_LIST = "KisLayerBox", "listLayers"  # object names of Krita's Layers docker and its list
EMPTY_SELECTION = "The selection is empty: select the part to fill, or deselect to use the whole canvas."


class KritaDocument:
    preview_name = PREVIEW_LAYER  # the temporary layer results show on

    def __init__(self, document: Document) -> None:
        self._doc = document
        self._preview: Node | None = None
        self._painter: Node | None = None  # the layer the painter had active when the preview came
        self._shown: Box | None = None  # where the preview layer holds a picture
        self._activations: QItemSelectionModel | None = None  # the Layers panel's list, watched while it exists

    @property
    def key(self) -> str:
        """A random id saved in the document, so its session is found again after reopening it."""
        key = self._annotation(DOCUMENT_KEY).decode()
        if not key:
            key = uuid.uuid4().hex
            self._doc.setAnnotation(DOCUMENT_KEY, "cocreate session key", QByteArray(key.encode()))
        return key

    @property
    def name(self) -> str:
        return self._doc.name() or os.path.basename(self._doc.fileName()) or "Untitled"

    @property
    def native(self) -> bool:
        """Pixels can be exchanged as they are, with no colour conversion."""
        return (self._doc.colorModel(), self._doc.colorDepth()) == WORKING_SPACE[:2]

    # ------------------------------------------------------------ reading

    def read_region(self) -> Region:
        doc = self._doc
        doc.waitForDone()  # strokes still running would leave the projection behind
        width, height = doc.width(), doc.height()
        selection: Selection | None = doc.selection()
        if selection is None:
            box, mask = Box(0, 0, width, height), None
        elif selection.width() <= 0 or selection.height() <= 0:  # Krita's bounds of an empty selection
            raise DocumentError(EMPTY_SELECTION)
        else:
            bounds = clip(Box(selection.x(), selection.y(), selection.width(), selection.height()), width, height)
            if bounds is None:
                raise DocumentError(
                    "The selection lies outside the canvas: select part of the picture, or deselect to use all of it."
                )
            box = context_box(bounds, width, height)
            mask = Mask(box.width, box.height, bytes(selection.pixelData(*box.as_tuple())))
            if is_empty(mask):
                raise DocumentError(EMPTY_SELECTION)
        return Region(box, self._read_pixels(box), mask)

    def _read_pixels(self, box: Box) -> Image:
        if self.native:
            return Image(box.width, box.height, swap_red_blue(bytes(self._doc.pixelData(*box.as_tuple()))))
        # projection() is the merged image converted to 8-bit sRGB by Krita's colour management.
        projection = self._doc.projection(*box.as_tuple()).convertToFormat(QImage.Format_RGBA8888)
        return Image(box.width, box.height, _qimage_bytes(projection))

    def scaled(self, picture: Image, width: int, height: int) -> Image:
        if (picture.width, picture.height) == (width, height):
            return picture
        source = QImage(picture.rgba, picture.width, picture.height, picture.width * 4, QImage.Format_RGBA8888)
        result = source.scaled(width, height, Qt.IgnoreAspectRatio, Qt.SmoothTransformation)
        return Image(width, height, _qimage_bytes(result.convertToFormat(QImage.Format_RGBA8888)))

    # ------------------------------------------------------------ layers

    def anchor(self) -> str:
        """The painter's layer now (its unique id): results go above it, in its group; "" when none."""
        node = self._active_layer()
        return node.uniqueId().toString() if node is not None else ""

    def make_preview(self, above: str = "") -> None:
        """The preview layer, empty, made now instead of with the first picture. Live painting makes it when the
        painter turns Live on, so that no layer is inserted (and made active by Krita) while they paint."""
        if self._current_preview() is None:
            self._create_preview(above)

    def show_preview(self, box: Box, pixels: Image, above: str = "") -> None:
        preview = self._current_preview() or self._create_preview(above)
        if preview is None:
            return
        if self._shown not in (None, box):  # what the last picture covered outside this one must not stay
            self._blank(preview, self._shown)
        preview.setPixelData(swap_red_blue(pixels.rgba), *box.as_tuple())
        self._shown = box
        _refresh(preview)
        self._keep_painter_active()

    def clear_preview(self) -> None:
        """The preview layer stays, showing nothing."""
        preview = self._current_preview()
        if preview is not None and self._shown is not None:
            self._blank(preview, self._shown)
            _refresh(preview)
        self._shown = None

    def remove_preview(self) -> None:
        self._unwatch_activations()
        preview, self._preview, self._shown = self._preview, None, None
        if preview is not None and preview.parentNode() is not None:
            painter_was_on_it = self._is_same(self._doc.activeNode(), preview)
            preview.remove()
            if painter_was_on_it:
                self._restore_painter()
        self._painter = None

    def _current_preview(self) -> Node | None:
        if self._preview is not None and self._preview.parentNode() is None:  # the painter deleted it
            self._unwatch_activations()
            self._preview, self._shown = None, None
        return self._preview

    def _create_preview(self, above: str) -> Node | None:
        """Insert the preview layer and give the painter's layer back; None when a Cancel removed it meanwhile."""
        self._painter = self._doc.activeNode()
        preview = self._preview = self._doc.createNode(self.preview_name, "paintlayer")
        self._shown = None
        # Krita makes every inserted layer active, through events it delivers inside the insertion (it runs its
        # event loop there) or up to a moment later: each activation is answered as it happens.
        self._watch_activations()
        self._insert(preview, above)
        if self._preview is not preview:  # a Cancel handled inside the insertion removed it
            if preview.parentNode() is not None:
                preview.remove()
            return None
        if not self.native:
            preview.setColorSpace(*WORKING_SPACE)  # a temporary layer: no need to convert back
            self._doc.waitForDone()
        self._keep_painter_active()
        return preview

    def _blank(self, preview: Node, box: Box) -> None:
        preview.setPixelData(bytes(4 * box.width * box.height), *box.as_tuple())  # the preview is always 8-bit RGBA

    def add_layer(self, name: str, box: Box, pixels: Image, above: str = "") -> None:
        # Not made active here: Krita activates every added layer itself once its UI holds it, and
        # activating it before that makes Krita assert ("shape", kis_node_manager.cpp:164).
        node = self._doc.createNode(name, "paintlayer")
        bgra = swap_red_blue(pixels.rgba)
        if self.native:
            node.setPixelData(bgra, *box.as_tuple())  # before inserting, so no refresh is needed
            self._insert(node, above)
        else:
            self._insert(node, above)
            node.setColorSpace(*WORKING_SPACE)
            self._doc.waitForDone()
            node.setPixelData(bgra, *box.as_tuple())
            node.setColorSpace(self._doc.colorModel(), self._doc.colorDepth(), self._doc.colorProfile())
            self._doc.waitForDone()
            _refresh(node)

    def _insert(self, node: Node, above: str) -> None:
        """Above the layer `above` names (else the active one), in its group; the top of the stack when none."""
        anchor = self._find(above) or self._active_layer()
        parent = anchor.parentNode() if anchor is not None else self._doc.rootNode()
        parent.addChildNode(node, anchor)

    def _keep_painter_active(self) -> None:
        """Krita makes every inserted layer active; the painter keeps painting on their own layer instead."""
        active = self._doc.activeNode()
        if self._is_same(active, self._preview):
            self._restore_painter()
        elif active is not None:
            self._painter = active  # the painter chose another layer meanwhile

    def _watch_activations(self) -> None:
        """Hear of every change of the active layer: the Layers panel's list follows it at once."""
        if self._activations is None:
            self._activations = _layer_list_selection()
            if self._activations is not None:
                self._activations.currentChanged.connect(self._activated)

    def _unwatch_activations(self) -> None:
        watched, self._activations = self._activations, None
        if watched is not None:
            with contextlib.suppress(TypeError, RuntimeError):  # the panel went away with its window
                watched.currentChanged.disconnect(self._activated)

    def _activated(self, *_: object) -> None:
        if self._doc not in Krita.instance().documents():  # closed with its preview: nothing left to keep
            self._unwatch_activations()
            return
        # Heard inside Krita's activation, before its other parts (the tools) have: the painter's layer is given
        # back right after it, before any input event or timer runs.
        QTimer.singleShot(0, self._keep_painter_active)

    def _restore_painter(self) -> None:
        painter = self._painter
        if painter is not None and painter.parentNode() is not None:
            self._doc.setActiveNode(painter)
            # Krita carries the activation out through posted events: deliver them now, so the painter's
            # layer is active before anything else runs (a stroke, a busy machine's next timer).
            QCoreApplication.sendPostedEvents()

    def _find(self, unique_id: str) -> Node | None:
        if not unique_id:
            return None
        pending = list(self._doc.rootNode().childNodes())
        while pending:
            node = pending.pop()
            if node.uniqueId().toString() == unique_id:
                return node
            pending += node.childNodes()
        return None

    def _active_layer(self) -> Node | None:
        node = self._doc.activeNode()
        while node is not None and _is_mask(node):  # a mask's layer is its parent
            node = node.parentNode()
        if node is None or node.parentNode() is None or self._is_same(node, self._preview):
            # The global selection is a mask at the top of the stack: skip it, and masks in general.
            layers = [
                n for n in self._doc.rootNode().childNodes() if not _is_mask(n) and not self._is_same(n, self._preview)
            ]
            node = layers[-1] if layers else None
        return node

    @staticmethod
    def _is_same(node: Node | None, other: Node | None) -> bool:
        return node is not None and other is not None and node.uniqueId() == other.uniqueId()

    # ------------------------------------------------------------ guides (guides.GuideCanvas): read, never changed

    def layer_name(self, layer_id: str) -> str | None:
        node = self._find(layer_id)
        return node.name() if node is not None else None

    def layer_area(self, layer_id: str, box: Box) -> Image:
        node = self._find(layer_id)
        if node is None:
            raise DocumentError("A control layer is gone: mark another one.")
        if (node.colorModel(), node.colorDepth()) != WORKING_SPACE[:2]:
            raise DocumentError(
                f"The layer “{node.name()}” is not RGBA 8-bit: convert it (Layer ▸ Convert) to use it as a guide."
            )
        return Image(box.width, box.height, swap_red_blue(bytes(node.projectionPixelData(*box.as_tuple()))))

    def layer_image(self, layer_id: str) -> Image | None:
        node = self._find(layer_id)
        bounds = node.bounds() if node is not None else None
        if bounds is None or bounds.isEmpty():
            return None
        return self.layer_area(layer_id, Box(bounds.x(), bounds.y(), bounds.width(), bounds.height()))

    def file_image(self, path: str) -> Image:
        picture = QImage(path)
        if picture.isNull():
            raise DocumentError(f"Cannot read the image file {path}: choose a PNG, JPEG or WebP picture.")
        picture = picture.convertToFormat(QImage.Format_RGBA8888)
        return Image(picture.width(), picture.height(), _qimage_bytes(picture))

    def load_guides(self) -> bytes:
        return self._annotation(GUIDES)

    def save_guides(self, data: bytes) -> None:
        self._doc.setAnnotation(GUIDES, "cocreate: control layers and references", QByteArray(data))

    # ------------------------------------------------------------ annotations

    def load_placements(self) -> bytes:
        return self._annotation(PLACEMENTS)

    def save_placements(self, data: bytes) -> None:
        self._doc.setAnnotation(PLACEMENTS, "cocreate: where each turn's results belong", QByteArray(data))

    def _annotation(self, kind: str) -> bytes:
        return bytes(self._doc.annotation(kind)) if kind in self._doc.annotationTypes() else b""


def _layer_list_selection() -> QItemSelectionModel | None:
    """The selection of the Layers panel's list, whose current row Krita sets whenever it makes a layer active;
    None where there is no such panel."""
    window = Krita.instance().activeWindow()
    panel = window.qwindow().findChild(QDockWidget, LAYERS_PANEL) if window is not None else None
    layers = panel.findChild(QAbstractItemView, LAYER_LIST) if panel is not None else None
    return layers.selectionModel() if layers is not None else None


def _qimage_bytes(image: QImage) -> bytes:
    """The pixels of a 32-bit QImage, whose rows are never padded."""
    pointer = image.constBits()
    pointer.setsize(image.sizeInBytes())
    return bytes(pointer)


def _is_mask(node: Node) -> bool:
    return node.type().endswith("mask")


def _refresh(node: Node) -> None:
    # Re-setting the blending mode redraws just this layer; refreshProjection() would redo the whole image.
    node.setBlendingMode(node.blendingMode())
