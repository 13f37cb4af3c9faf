"""The cocreate docker: fields, buttons, the candidate strip and the history, over a DocumentController.

Nothing here waits on the daemon. Clicks start work and return; a QTimer runs only while something is
under way and pumps the controllers, which take in the client's events and finished calls.
"""

from __future__ import annotations

from collections.abc import Callable

from cocreate_client import CocreateClient
from cocreate_client.pixels import Image
from krita import DockWidget, Document, Krita
from PyQt5.QtCore import QSize, Qt, QTimer
from PyQt5.QtGui import QIcon, QImage, QPixmap
from PyQt5.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from .calls import Calls
from .controller import DocumentController, GenerationParams, Phase
from .document import KritaDocument

PUMP_MS = 50
ICON = 72
SETTINGS = "cocreate"
DEFAULT_MODEL = "(default)"
CLIENT_TIMEOUT = 30.0  # seconds a blocking call (on the worker thread) may wait for the daemon


class CocreateDocker(DockWidget):
    def __init__(
        self,
        documents: Callable[[], Document | None] | None = None,
        client: CocreateClient | None = None,
    ) -> None:
        """`documents` gives the document to work on (default: Krita's active one); `client` the daemon's."""
        super().__init__()
        self.setWindowTitle("cocreate")
        self._documents = documents or (lambda: Krita.instance().activeDocument())
        self._client = client
        self._calls = Calls()
        self._controllers: list[tuple[Document, DocumentController]] = []
        self.controller: DocumentController | None = None
        self._shown_strip: tuple[object, list[tuple[Image | None, Image | None]]] | None = None
        self._shown_history: object = None
        self._problem = ""  # why there is no client: a malformed endpoint
        self._timer = QTimer(self)
        self._timer.setInterval(PUMP_MS)
        self._timer.timeout.connect(self._tick)
        self._build()
        self._refresh()

    # ------------------------------------------------------------ Krita's calls

    def canvasChanged(self, canvas: object) -> None:  # Krita's name
        self.follow_document()

    def follow_document(self) -> None:
        """Work on the current document, keeping each document's state while others are shown."""
        document = self._documents()
        open_documents = Krita.instance().documents()
        for entry in [e for e in self._controllers if e[0] not in open_documents and e[0] != document]:
            entry[1].close(document_open=False)
            self._controllers.remove(entry)
        if document is None:
            self.controller = None
        else:
            found = next((c for d, c in self._controllers if d == document), None)
            if found is None and self._ensure_client():
                assert self._client is not None
                found = DocumentController(KritaDocument(document), self._client, self._calls, self._refresh)
                self._controllers.append((document, found))
                found.refresh_history()
                self._load_models()
            self.controller = found
        self._refresh()
        self._wake()

    # ------------------------------------------------------------ layout

    def _build(self) -> None:
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("What to paint into the selection")
        self.prompt.setFixedHeight(56)
        self.negative_prompt = QLineEdit()
        self.negative_prompt.setPlaceholderText("What to avoid")
        self.strength = _fraction(1.0)
        self.candidates = QSpinBox()
        self.candidates.setRange(1, 16)
        self.candidates.setValue(4)
        self.model = QComboBox()
        self.model.addItem(DEFAULT_MODEL, "")
        self.steps = QSpinBox()
        self.steps.setRange(0, 150)
        self.steps.setSpecialValueText("model default")
        self.fixed_seed = QCheckBox("Fixed seed")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.fixed_seed.toggled.connect(self.seed.setEnabled)
        self.seed.setEnabled(False)
        self.generate_button = QPushButton("Generate")
        self.cancel_button = QPushButton("Cancel")
        self.progress = QProgressBar()
        self.strip = QListWidget()
        self.strip.setViewMode(QListView.IconMode)
        self.strip.setFlow(QListView.LeftToRight)
        self.strip.setWrapping(False)
        self.strip.setIconSize(QSize(ICON, ICON))
        self.strip.setFixedHeight(ICON + 36)
        self.apply_button = QPushButton("Apply")
        self.discard_button = QPushButton("Discard")
        self.style_prompt = QLineEdit()
        self.style_prompt.setPlaceholderText("Style, e.g. watercolour")
        self.variant_strength = _fraction(0.6)
        self.variants_button = QPushButton("Variants")
        self.history = QListWidget()
        self.history.setIconSize(QSize(40, 40))
        self.start_fresh_button = QPushButton("Start fresh")
        self.endpoint = QLineEdit(Krita.instance().readSetting(SETTINGS, "endpoint", ""))
        self.endpoint.setPlaceholderText("default: the local cocreate socket")
        self.retry_button = QPushButton("Retry")

        fill = QFormLayout()
        fill.addRow("Prompt", self.prompt)
        fill.addRow("Negative", self.negative_prompt)
        fill.addRow("Strength", self.strength)
        fill.addRow("Candidates", self.candidates)
        fill.addRow("Model", self.model)
        fill.addRow("Steps", self.steps)
        fill.addRow(self.fixed_seed, self.seed)
        variants = QFormLayout()
        variants.addRow("Style", self.style_prompt)
        variants.addRow("Strength", self.variant_strength)
        variants.addRow(self.variants_button)
        history = QVBoxLayout()
        history.addWidget(self.history)
        history.addWidget(self.start_fresh_button)
        connection = QHBoxLayout()
        connection.addWidget(self.endpoint)
        connection.addWidget(self.retry_button)

        layout = QVBoxLayout()
        layout.addWidget(self.status)
        layout.addLayout(fill)
        layout.addLayout(_row(self.generate_button, self.cancel_button))
        layout.addWidget(self.progress)
        layout.addWidget(self.strip)
        layout.addLayout(_row(self.apply_button, self.discard_button))
        layout.addWidget(_group("Variants of the selection", variants))
        layout.addWidget(_group("History", history))
        layout.addLayout(connection)
        body = QWidget()
        body.setLayout(layout)
        self.setWidget(body)

        self.generate_button.clicked.connect(lambda: self._generate("inpaint"))
        self.variants_button.clicked.connect(lambda: self._generate("variants"))
        self.cancel_button.clicked.connect(lambda: self._act(DocumentController.cancel))
        self.apply_button.clicked.connect(lambda: self._act(DocumentController.apply))
        self.discard_button.clicked.connect(lambda: self._act(DocumentController.discard))
        self.start_fresh_button.clicked.connect(lambda: self._act(DocumentController.start_fresh))
        self.strip.currentRowChanged.connect(self._select)
        self.history.itemClicked.connect(self._choose_turn)
        self.retry_button.clicked.connect(self._retry)

    # ------------------------------------------------------------ actions

    def _generate(self, task: str) -> None:
        variants = task == "variants"
        params = GenerationParams(
            task="variants" if variants else "inpaint",
            prompt=self.style_prompt.text() if variants else self.prompt.toPlainText(),
            negative_prompt=self.negative_prompt.text(),
            strength=(self.variant_strength if variants else self.strength).value(),
            candidates=self.candidates.value(),
            model=self.model.currentData() or "",
            seed=self.seed.value() if self.fixed_seed.isChecked() else None,
            steps=self.steps.value(),
        )
        self._act(lambda controller: controller.generate(params))

    def _act(self, action: Callable[[DocumentController], object]) -> None:
        if self.controller is not None:
            action(self.controller)
        self._wake()

    def _select(self, row: int) -> None:
        if self.controller is not None and row >= 0 and row != self.controller.selected:
            self._act(lambda controller: controller.select(row))

    def _choose_turn(self, item: QListWidgetItem) -> None:
        if self.controller is None:
            return
        turn = self.controller.choose_turn(item.data(Qt.UserRole))
        if turn is not None:
            if turn.task == "variants":
                self.style_prompt.setText(turn.prompt)
            else:
                self.prompt.setPlainText(turn.prompt)
            self.negative_prompt.setText(str(turn.params.get("negative_prompt", "")))
        self._wake()

    def _retry(self) -> None:
        endpoint = self.endpoint.text().strip()
        if self._client is None or endpoint != Krita.instance().readSetting(SETTINGS, "endpoint", ""):
            Krita.instance().writeSetting(SETTINGS, "endpoint", endpoint)
            self._replace_client()
        if self.controller is None:
            self.follow_document()
        else:
            self._act(DocumentController.retry)
            self._load_models()

    # ------------------------------------------------------------ the daemon

    def _ensure_client(self) -> bool:
        if self._client is None:
            try:
                self._client = CocreateClient(
                    self.endpoint.text().strip() or None, timeout=CLIENT_TIMEOUT, client_name="krita"
                )
            except ValueError as error:  # a malformed endpoint
                self._problem = str(error)
                return False
        self._problem = ""
        return True

    def _replace_client(self) -> None:
        """A new endpoint: every document starts over with a client for it."""
        for _, controller in self._controllers:
            controller.close()
        self._controllers.clear()
        self.controller = None
        if self._client is not None:
            self._client.close()
            self._client = None

    def _load_models(self) -> None:
        client = self._client
        if client is None:
            return
        # A daemon that does not answer is reported by the history load; the list just stays as it was.
        self._calls.submit(
            lambda: [m.name for m in client.list_models() if m.kind == "image"], self._models_loaded, lambda _: None
        )

    def _models_loaded(self, names: list[str]) -> None:
        current = self.model.currentData() or ""
        self.model.clear()
        self.model.addItem(DEFAULT_MODEL, "")
        for name in names:
            self.model.addItem(name, name)
        self.model.setCurrentIndex(max(0, self.model.findData(current)))

    # ------------------------------------------------------------ the pump

    def _wake(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def _tick(self) -> None:
        self._calls.pump()
        for _, controller in self._controllers:
            controller.pump()
        if not self._calls.busy and not any(c.busy for _, c in self._controllers):
            self._timer.stop()

    @property
    def pumping(self) -> bool:
        return self._timer.isActive()

    # ------------------------------------------------------------ showing the state

    def _refresh(self) -> None:
        controller = self.controller
        if controller is None:
            self.status.setText(self._problem or "Open a document to co-create in it.")
            for widget in (self.generate_button, self.variants_button, self.cancel_button, self.apply_button):
                widget.setEnabled(False)
            return
        running = controller.running
        self.status.setText(controller.message)
        self.generate_button.setEnabled(not running)
        self.variants_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.apply_button.setEnabled(not running and controller.selected_choice is not None)
        self.discard_button.setEnabled(controller.strip is not None)
        self.retry_button.setText("Retry" if controller.phase is Phase.failed else "Reconnect")
        step, total = controller.progress
        self.progress.setRange(0, total or 1)
        self.progress.setValue(step if running else (total or 1) if controller.phase is Phase.finished else 0)
        self.start_fresh_button.setEnabled(bool(controller.branch_from))
        self._show_strip(controller)
        self._show_history(controller)

    def _show_strip(self, controller: DocumentController) -> None:
        strip = controller.strip
        # The strip object itself (not its id, which may be reused) and what its icons are made from.
        shown = (strip, [(c.image, c.thumbnail) for c in strip.choices] if strip else [])
        if self._shown_strip is None or shown[0] is not self._shown_strip[0] or shown[1] != self._shown_strip[1]:
            self._shown_strip = shown
            self.strip.blockSignals(True)
            self.strip.clear()
            for choice in strip.choices if strip else []:
                item = QListWidgetItem(_icon(choice.image or choice.thumbnail), f"#{choice.index + 1}")
                item.setToolTip(f"seed {choice.seed}")
                self.strip.addItem(item)
            self.strip.blockSignals(False)
        if strip is not None and self.strip.currentRow() != controller.selected:
            self.strip.blockSignals(True)
            self.strip.setCurrentRow(controller.selected)
            self.strip.blockSignals(False)

    def _show_history(self, controller: DocumentController) -> None:
        if controller.history is self._shown_history:
            return
        self._shown_history = controller.history
        self.history.clear()
        for number, turn in enumerate(controller.history, 1):
            first = turn.candidates[0].thumbnail if turn.candidates else None
            label = f"{number}. {turn.task}: {turn.prompt or '(no prompt)'} — {turn.decision}"
            item = QListWidgetItem(_icon(first), label)
            item.setData(Qt.UserRole, turn.turn_id)
            self.history.addItem(item)


def _icon(image: Image | None) -> QIcon:
    if image is None:
        return QIcon()
    qimage = QImage(image.rgba, image.width, image.height, image.width * 4, QImage.Format_RGBA8888)
    return QIcon(QPixmap.fromImage(qimage).scaled(ICON, ICON, Qt.KeepAspectRatio, Qt.SmoothTransformation))


def _fraction(value: float) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(0.05, 1.0)
    box.setSingleStep(0.05)
    box.setValue(value)
    return box


def _row(*widgets: QWidget) -> QHBoxLayout:
    row = QHBoxLayout()
    for widget in widgets:
        row.addWidget(widget)
    return row


def _group(title: str, layout: QVBoxLayout | QFormLayout) -> QGroupBox:
    group = QGroupBox(title)
    group.setLayout(layout)
    return group
