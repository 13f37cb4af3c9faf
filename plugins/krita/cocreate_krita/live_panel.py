"""The docker's live-painting row: a Live toggle, Apply live, and the Krita side of live.LivePainting.

While live mode is on, a QTimer ticks the LivePainting on Krita's main thread: it reads a fingerprint of
the painter's layer, sends an update once a stroke has settled, and shows the newest result on the
"cocreate live" layer. Leaving live mode (or switching document) cancels the update under way and
removes that layer.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from cocreate_client import CocreateClient
from krita import Document
from PyQt5.QtCore import QTimer
from PyQt5.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from .calls import Calls
from .controller import GenerationParams
from .document import KritaDocument
from .live import LivePainting
from .region import Box, Region, clip

LIVE_LAYER = "cocreate live"
TICK_MS = 100
MAX_FINGERPRINT_SIDE = 2048  # a larger selection is fingerprinted from a thumbnail of the layer
THUMBNAIL_SIDE = 512


class LiveDocument(KritaDocument):
    """A document as live painting sees it: its own preview layer, which is left out of what is sent."""

    preview_name = LIVE_LAYER

    def __init__(self, document: Document) -> None:
        super().__init__(document)
        self.document = document

    def fingerprint(self) -> Hashable:
        doc = self._doc
        selection = doc.selection()
        bounds = Box(0, 0, doc.width(), doc.height())
        if selection is not None:
            chosen = Box(selection.x(), selection.y(), selection.width(), selection.height())
            bounds = clip(chosen, doc.width(), doc.height()) or bounds
        node = self._active_layer()
        if node is None:
            return bounds
        if max(bounds.width, bounds.height) > MAX_FINGERPRINT_SIDE:
            thumbnail = node.thumbnail(THUMBNAIL_SIDE, THUMBNAIL_SIDE)
            pixels = bytes(thumbnail.constBits().asstring(thumbnail.sizeInBytes()))
        else:
            pixels = bytes(node.projectionPixelData(*bounds.as_tuple()))
        return bounds, node.uniqueId().toString(), hash(pixels)

    def read_region(self) -> Region:
        # The live layer is hidden while reading, so the model sees the painting, not its last answer.
        preview = self._preview
        if preview is None or self._shown is None or preview.parentNode() is None or not preview.visible():
            return super().read_region()
        preview.setVisible(False)
        self._doc.refreshProjection()
        try:
            return super().read_region()
        finally:
            preview.setVisible(True)
            self._doc.refreshProjection()


class LivePanel(QWidget):
    def __init__(
        self,
        document: Callable[[], Document | None],
        client: Callable[[], CocreateClient | None],
        calls: Calls,
        params: Callable[[], GenerationParams],
    ) -> None:
        super().__init__()
        self._document, self._client, self._calls, self._params = document, client, calls, params
        self.live: LivePainting | None = None  # the current (or last) live session, for tests
        self._canvas: LiveDocument | None = None
        self.toggle = QPushButton("Live")
        self.toggle.setCheckable(True)
        self.toggle.setToolTip("Repaint the selection (or canvas) after each stroke; the newest result shows live")
        self.apply_button = QPushButton("Apply live")
        self.apply_button.setToolTip("Keep the live result as a new layer")
        self.status = QLabel()
        self.status.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.toggle)
        row.addWidget(self.apply_button)
        layout = QVBoxLayout()
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.status)
        self.setLayout(layout)
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        self.toggle.toggled.connect(self._toggled)
        self.apply_button.clicked.connect(self._apply)
        self._refresh()

    @property
    def active(self) -> bool:
        return self.live is not None and self.live.active

    def _toggled(self, on: bool) -> None:
        if on:
            self._start()
        else:
            self._stop()

    def _start(self) -> None:
        document, client = self._document(), self._client()
        if document is None or client is None:
            self.toggle.setChecked(False)
            self.status.setText("Open a document (and reach the daemon) to paint live.")
            return
        self._canvas = LiveDocument(document)
        self.live = LivePainting(self._canvas, client, self._calls, self._params, self._refresh)
        self.live.start()
        self._timer.start()

    def _stop(self) -> None:
        self._timer.stop()
        if self.live is not None and self.live.active:
            self.live.stop()
        self._refresh()

    def _apply(self) -> None:
        if self.live is not None:
            self.live.apply()

    def _tick(self) -> None:
        canvas = self._canvas
        if canvas is None or self._document() != canvas.document:  # another document: live mode ends
            self.toggle.setChecked(False)
            return
        if self.live is not None:
            self.live.tick()

    def _refresh(self) -> None:
        live = self.live
        self.status.setText(live.message if live is not None else "")
        self.status.setVisible(bool(self.status.text()))
        self.apply_button.setEnabled(live is not None and live.active and live.shown is not None)
