"""The cocreate docker: a compact panel over a DocumentController.

Read top to bottom: the prompt, Generate, strength; the candidates as a grid of the selected region
(the chosen one outlined) with Apply, Discard and the steering buttons; the history as a tree of
thumbnails. Seldom-changed settings fold away under "More settings". The whole panel scrolls, so it
never forces Krita's window taller than the screen.

Nothing here waits on the daemon. Clicks start work and return; a QTimer runs only while something is
under way and pumps the controllers, which take in the client's events and finished calls.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from cocreate_client import CocreateClient
from cocreate_client.pixels import Image
from krita import DockWidget, Document, Krita
from PyQt5.QtCore import QRect, QSize, Qt, QTimer
from PyQt5.QtGui import QFont, QIcon, QImage, QPixmap
from PyQt5.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .calls import Calls
from .controller import DocumentController, GenerationParams, Phase, Strip
from .document import KritaDocument
from .guide_panel import EditRow, GuidePanel
from .guides import DocumentGuides
from .history import Branch, as_tree
from .live_panel import LivePanel
from .region import Box, mask_bounds

PUMP_MS = 50
HISTORY_ICON = 40
SETTINGS = "cocreate"
DEFAULT_MODEL = "(default)"
NO_LORA = "(none)"
CLIENT_TIMEOUT = 30.0  # seconds a blocking call (on the worker thread) may wait for the daemon
MIN_TILE = 88  # the smallest candidate thumbnail; the grid adds columns as the docker widens
TURN_ROLE = Qt.UserRole

log = logging.getLogger(__name__)


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
        self._pumping_now = False
        self._lora_to_pick = ""  # a LoRA just learned: chosen once the model list holds it
        self._picked_from: list[object] = []  # the trainings whose LoRA was already picked
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
                canvas = KritaDocument(document)
                found = DocumentController(canvas, self._client, self._calls, self._refresh, DocumentGuides(canvas))
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
        self.retry_button = QPushButton("Retry")
        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("What to paint into the selection (or its style, for Variants)")
        self.prompt.setFixedHeight(self.prompt.fontMetrics().lineSpacing() * 3 + 12)
        self.generate_button = QPushButton("Generate")
        font = QFont(self.generate_button.font())
        font.setBold(True)
        self.generate_button.setFont(font)
        self.generate_button.setMinimumHeight(32)
        self.generate_button.setToolTip("Fill the selection (or the whole canvas) with new candidates")
        self.variants_button = QPushButton("Variants")
        self.variants_button.setToolTip("Repaint the selection in the prompt's style, keeping its shapes")
        self.cancel_button = QPushButton("Cancel")
        self.edit_row = EditRow()
        self.guides = GuidePanel(lambda: self.controller, self._refresh)
        self.guides.setVisible(False)
        self.guides_toggle = _fold_button("Control layers and references", self.guides)
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(6)
        self.strength = _percent_slider(100)
        self.strength_label = QLabel()
        self.strength.valueChanged.connect(lambda value: self.strength_label.setText(f"Strength {value} %"))
        self.strength.valueChanged.emit(self.strength.value())
        self.live_panel = LivePanel(self._documents, self._live_client, self._calls, lambda: self._params("inpaint"))

        self.strip = CandidateGrid()
        self.apply_button = QPushButton("Apply")
        self.apply_button.setToolTip("Add the outlined candidate as a new layer above your layer")
        self.discard_button = QPushButton("Discard")
        self.more_button = QPushButton("More like this")
        self.less_button = QPushButton("Less like this")
        self.between_button = QPushButton("In between")
        self.between_button.setToolTip("Ctrl+click two candidates: new ones walk from the first to the second")

        self.history = QTreeWidget()
        self.history.setHeaderHidden(True)
        self.history.setIconSize(QSize(HISTORY_ICON, HISTORY_ICON))
        self.history.setMinimumHeight(HISTORY_ICON * 2 + 8)
        self.history.setIndentation(12)
        self.start_fresh_button = QPushButton("Start fresh")
        self.start_fresh_button.setToolTip("The next generation starts a new branch instead of continuing this one")
        self.lora_name = QLineEdit()
        self.lora_name.setPlaceholderText("my-style")
        self.personalize_button = QPushButton("Learn my style")
        self.personalize_button.setToolTip(
            "Train a personal LoRA on the pictures you applied in this document; then pick it under LoRA"
        )

        # Folded away: settings a painter changes now and then.
        self.negative_prompt = QLineEdit()
        self.negative_prompt.setPlaceholderText("What to avoid")
        self.variant_strength = _percent_slider(60)
        self.candidates = QSpinBox()
        self.candidates.setRange(1, 16)
        self.candidates.setValue(4)
        self.model = QComboBox()
        self.model.addItem(DEFAULT_MODEL, "")
        self.lora = QComboBox()
        self.lora.addItem(NO_LORA, "")
        self.lora.setToolTip("A personal LoRA (cocreate personalize) applied to the image model")
        self.steps = QSpinBox()
        self.steps.setRange(0, 1000)
        self.steps.setSpecialValueText("model default")
        self.fixed_seed = QCheckBox("Fixed seed")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.fixed_seed.toggled.connect(self.seed.setEnabled)
        self.seed.setEnabled(False)
        self.endpoint = QLineEdit(Krita.instance().readSetting(SETTINGS, "endpoint", ""))
        self.endpoint.setPlaceholderText("default: the local cocreate socket")
        for combo in (self.model, self.lora):
            combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(8)

        more = QFormLayout()
        more.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        more.addRow("Avoid", self.negative_prompt)
        more.addRow("Candidates", self.candidates)
        more.addRow("Model", self.model)
        more.addRow("LoRA", self.lora)
        more.addRow("Steps", self.steps)
        more.addRow(self.fixed_seed, self.seed)
        more.addRow("Variation", self.variant_strength)
        more.addRow("Daemon", self.endpoint)
        self.settings = QWidget()
        self.settings.setLayout(more)
        self.settings.setVisible(False)
        self.settings_toggle = _fold_button("More settings", self.settings)

        layout = QVBoxLayout()
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addLayout(_row(self.status, self.retry_button, stretch=0))
        layout.addWidget(self.prompt)
        layout.addLayout(_row(self.generate_button, self.variants_button, self.cancel_button, stretch=0))
        layout.addWidget(self.edit_row)
        layout.addWidget(self.progress)
        layout.addLayout(_row(self.strength_label, self.strength, stretch=1))
        layout.addWidget(self.live_panel)
        layout.addWidget(self.settings_toggle)
        layout.addWidget(self.settings)
        layout.addWidget(self.guides_toggle)
        layout.addWidget(self.guides)
        layout.addWidget(_rule())
        layout.addWidget(self.strip)
        layout.addLayout(_row(self.apply_button, self.discard_button))
        layout.addLayout(_row(self.more_button, self.less_button, self.between_button))
        layout.addWidget(_rule())
        layout.addWidget(QLabel("History"))
        layout.addWidget(self.history, 1)
        layout.addWidget(self.start_fresh_button)
        layout.addLayout(_row(self.lora_name, self.personalize_button, stretch=0))
        body = QWidget()
        body.setLayout(layout)
        scroll = QScrollArea()
        scroll.setWidget(body)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setWidget(scroll)

        self.generate_button.clicked.connect(lambda: self._generate("inpaint"))
        self.variants_button.clicked.connect(lambda: self._generate("variants"))
        self.edit_row.button.clicked.connect(lambda: self._generate("edit"))
        self.more_button.clicked.connect(lambda: self._steer("more_like"))
        self.less_button.clicked.connect(lambda: self._steer("less_like"))
        self.between_button.clicked.connect(lambda: self._steer("interpolate"))
        self.cancel_button.clicked.connect(lambda: self._act(DocumentController.cancel))
        self.apply_button.clicked.connect(lambda: self._act(DocumentController.apply))
        self.discard_button.clicked.connect(lambda: self._act(DocumentController.discard))
        self.start_fresh_button.clicked.connect(lambda: self._act(DocumentController.start_fresh))
        self.personalize_button.clicked.connect(self._personalize)
        self.strip.currentRowChanged.connect(self._select)
        self.strip.itemSelectionChanged.connect(self._show_picked)
        self.history.itemClicked.connect(self._choose_turn)
        self.retry_button.clicked.connect(self._retry)

    # ------------------------------------------------------------ actions

    def _params(self, task: str) -> GenerationParams:
        variants = task == "variants"
        return GenerationParams(
            task=task if task in ("variants", "edit") else "inpaint",  # type: ignore[arg-type]
            prompt=self.edit_row.instruction.text() if task == "edit" else self.prompt.toPlainText(),
            negative_prompt=self.negative_prompt.text(),
            strength=(self.variant_strength if variants else self.strength).value() / 100,
            candidates=self.candidates.value(),
            model=self.model.currentData() or "",
            lora=self.lora.currentData() or "",
            seed=self.seed.value() if self.fixed_seed.isChecked() else None,
            steps=self.steps.value(),
        )

    def _generate(self, task: str) -> None:
        params = self._params(task)
        self._act(lambda controller: controller.generate(params))

    def _steer(self, how: str) -> None:
        """A new turn from the shown one, steered by the picked candidates."""
        if self.controller is None or self.controller.strip is None:
            return
        choices = self.controller.strip.choices
        rows = sorted(self.strip.row(item) for item in self.strip.selectedItems())
        picked = [choices[row].candidate_id for row in rows if row < len(choices)]
        params = self._params(self.controller.strip.task)
        self._act(lambda controller: controller.steer(params, how, picked))

    def _personalize(self) -> None:
        controller = self.controller
        if controller is None:
            return
        if controller.learning:
            self._act(DocumentController.stop_learning)
            return
        name, model = self.lora_name.text() or self.lora_name.placeholderText(), self.model.currentData() or ""
        self._act(lambda controller: controller.personalize(name, model))

    def _act(self, action: Callable[[DocumentController], object]) -> None:
        if self.controller is not None:
            action(self.controller)
        self._wake()

    def _select(self, row: int) -> None:
        if self.controller is not None and row >= 0 and row != self.controller.selected:
            self._act(lambda controller: controller.select(row))

    def _choose_turn(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        if self.controller is None:
            return
        turn = self.controller.choose_turn(item.data(0, TURN_ROLE))
        if turn is not None:
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

    def _live_client(self) -> CocreateClient | None:
        return self._client if self._ensure_client() else None

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
        # A daemon that does not answer is reported by the history load; the lists just stay as they were.
        self._calls.submit(
            lambda: [(m.kind, m.name) for m in client.list_models() if m.kind in ("image", "lora")],
            self._models_loaded,
            lambda _: None,
        )

    def _models_loaded(self, models: list[tuple[str, str]]) -> None:
        _fill(self.model, DEFAULT_MODEL, [name for kind, name in models if kind == "image"])
        _fill(self.lora, NO_LORA, [name for kind, name in models if kind == "lora"])
        if self._lora_to_pick and self.lora.findData(self._lora_to_pick) >= 0:
            self.lora.setCurrentIndex(self.lora.findData(self._lora_to_pick))
            self._lora_to_pick = ""

    # ------------------------------------------------------------ the pump

    def _wake(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def _tick(self) -> None:
        # Krita runs its event loop inside some calls (inserting a layer), so this timer can fire
        # while a pump is still under way: that tick is skipped, the next one comes 50 ms later.
        if self._pumping_now:
            return
        self._pumping_now = True
        try:
            try:
                self._calls.pump()
            except Exception:
                log.exception("cocreate: pumping the calls failed")
            for _, controller in list(self._controllers):
                try:
                    controller.pump()
                except Exception as error:  # one document's fault never stops the others' jobs
                    log.exception("cocreate: pumping a document failed")
                    controller.report(error)
        finally:
            self._pumping_now = False
        if not self._calls.busy and not any(c.busy for _, c in self._controllers):
            self._timer.stop()

    @property
    def pumping(self) -> bool:
        return self._timer.isActive()

    # ------------------------------------------------------------ showing the state

    def _refresh(self) -> None:
        controller = self.controller
        self.guides.show_marks(controller)
        if controller is None:
            self.status.setText(self._problem or "Open a document to co-create in it.")
            for widget in (
                self.generate_button,
                self.variants_button,
                self.edit_row.button,
                self.cancel_button,
                self.apply_button,
                self.more_button,
                self.less_button,
                self.between_button,
            ):
                widget.setEnabled(False)
            return
        running = controller.running
        self.status.setText(controller.message)
        self.generate_button.setEnabled(not running)
        self.variants_button.setEnabled(not running)
        self.edit_row.button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        chosen = not running and controller.selected_choice is not None
        self.apply_button.setEnabled(chosen)
        self.discard_button.setEnabled(controller.strip is not None)
        self.more_button.setEnabled(chosen)
        self.less_button.setEnabled(chosen)
        self._show_picked()
        self.retry_button.setText("Retry" if controller.phase is Phase.failed else "Reconnect")
        self.retry_button.setVisible(controller.phase is Phase.failed or not controller.history)
        step, total = controller.progress
        self.progress.setRange(0, total or 1)
        self.progress.setValue(step if running else (total or 1) if controller.phase is Phase.finished else 0)
        self.start_fresh_button.setEnabled(bool(controller.branch_from))
        self.personalize_button.setText("Stop learning" if controller.learning else "Learn my style")
        training = controller.training
        if training is not None and training.lora and all(training is not t for t in self._picked_from):
            self._picked_from.append(training)
            self._lora_to_pick = training.lora
            self._load_models()
        self._show_strip(controller)
        self._show_history(controller)

    def _show_picked(self) -> None:
        """In between needs two picked (Ctrl+click) candidates; re-syncing the grid here would undo a click."""
        running = self.controller is not None and self.controller.running
        self.between_button.setEnabled(not running and len(self.strip.selectedItems()) == 2)

    def _show_strip(self, controller: DocumentController) -> None:
        strip = controller.strip
        # The strip object itself (not its id, which may be reused) and what its icons are made from.
        shown = (strip, [(c.image, c.thumbnail) for c in strip.choices] if strip else [])
        if self._shown_strip is None or shown[0] is not self._shown_strip[0] or shown[1] != self._shown_strip[1]:
            self._shown_strip = shown
            self.strip.blockSignals(True)
            self.strip.clear()
            for choice in strip.choices if strip else []:
                picture = choice.image or choice.thumbnail
                item = QListWidgetItem(_icon(picture, _selected_part(strip, picture)), f"#{choice.index + 1}")
                item.setToolTip(f"seed {choice.seed}" + (f" · {choice.decision}" if choice.decision else ""))
                self.strip.addItem(item)
            self.strip.blockSignals(False)
            self.strip.fit()
        if strip is not None and self.strip.currentRow() != controller.selected:
            self.strip.blockSignals(True)
            self.strip.setCurrentRow(controller.selected)
            self.strip.blockSignals(False)

    def _show_history(self, controller: DocumentController) -> None:
        if controller.history is self._shown_history:
            return
        self._shown_history = controller.history
        self.history.clear()

        def add(branch: Branch, parent: QTreeWidget | QTreeWidgetItem) -> None:
            turn = branch.turn
            first = next((c.thumbnail for c in turn.candidates if c.decision == "accepted"), None)
            first = first or (turn.candidates[0].thumbnail if turn.candidates else None)
            item = QTreeWidgetItem(parent, [f"{branch.number}. {turn.prompt or turn.task} — {turn.decision}"])
            item.setIcon(0, _icon(first))
            item.setToolTip(0, f"{turn.task}: {turn.prompt or '(no prompt)'} · {len(turn.candidates)} candidates")
            item.setData(0, TURN_ROLE, turn.turn_id)
            for child in branch.children:
                add(child, item)

        for root in as_tree(controller.history):
            add(root, self.history)
        self.history.expandAll()


class CandidateGrid(QListWidget):
    """Candidates as a grid of thumbnails that grows with the docker; the chosen one is outlined."""

    def __init__(self) -> None:
        super().__init__()
        self.setViewMode(QListView.IconMode)
        self.setFlow(QListView.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.Adjust)
        self.setMovement(QListView.Static)
        self.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.setSpacing(4)
        self.setStyleSheet(
            "QListWidget::item { border: 3px solid transparent; border-radius: 3px; }"
            "QListWidget::item:selected { border: 3px solid palette(highlight); background: transparent; }"
        )
        self.fit()

    def resizeEvent(self, event: object) -> None:
        super().resizeEvent(event)  # type: ignore[arg-type]
        self.fit()

    def fit(self) -> None:
        """Tiles as wide as the docker allows (at least MIN_TILE); tall enough to show every one without scrolling."""
        border = 8  # the outline, both sides
        width = max(self.viewport().width() - 2 * border, MIN_TILE + border)  # Qt wraps a row that fills it exactly
        columns = max(1, min(4, width // (MIN_TILE + border)))
        cell = width // columns
        tile = cell - border - 2 * self.spacing()
        label = self.fontMetrics().height()
        self.setIconSize(QSize(tile, tile))
        self.setGridSize(QSize(cell, tile + label + border + 2 * self.spacing()))  # exactly `columns` a row
        rows = max(1, -(-self.count() // columns))
        self.setFixedHeight(rows * self.gridSize().height() + 2 * self.frameWidth() + 4)


def _selected_part(strip: Strip | None, picture: Image | None) -> QRect | None:
    """The selection's bounds within a candidate (region-sized, or a thumbnail scaled from it)."""
    if strip is None or picture is None or strip.placement is None or strip.placement.mask is None:
        return None
    box: Box = strip.placement.box
    bounds = mask_bounds(strip.placement.mask)
    if bounds is None:
        return None
    sx, sy = picture.width / box.width, picture.height / box.height
    return QRect(
        int(bounds.x * sx), int(bounds.y * sy), max(1, round(bounds.width * sx)), max(1, round(bounds.height * sy))
    )


def _icon(image: Image | None, part: QRect | None = None) -> QIcon:
    if image is None:
        return QIcon()
    qimage = QImage(image.rgba, image.width, image.height, image.width * 4, QImage.Format_RGBA8888)
    if part is not None:
        qimage = qimage.copy(part)
    pixmap = QPixmap.fromImage(qimage)
    icon = QIcon(pixmap)
    icon.addPixmap(pixmap, QIcon.Selected)  # outlined when chosen, never dimmed
    return icon


def _fill(combo: QComboBox, default: str, names: list[str]) -> None:
    current = combo.currentData() or ""
    combo.clear()
    combo.addItem(default, "")
    for name in names:
        combo.addItem(name, name)
    combo.setCurrentIndex(max(0, combo.findData(current)))


def _percent_slider(value: int) -> QSlider:
    slider = QSlider(Qt.Horizontal)
    slider.setRange(5, 100)
    slider.setSingleStep(5)
    slider.setPageStep(10)
    slider.setValue(value)
    return slider


def _fold_button(title: str, content: QWidget) -> QToolButton:
    button = QToolButton()
    button.setText(title)
    button.setCheckable(True)
    button.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
    button.setArrowType(Qt.RightArrow)
    button.setAutoRaise(True)

    def toggled(shown: bool) -> None:
        button.setArrowType(Qt.DownArrow if shown else Qt.RightArrow)
        content.setVisible(shown)

    button.toggled.connect(toggled)
    return button


def _rule() -> QFrame:
    line = QFrame()
    line.setFrameShape(QFrame.HLine)
    line.setFrameShadow(QFrame.Sunken)
    return line


def _row(*widgets: QWidget, stretch: int | None = None) -> QHBoxLayout:
    """Widgets side by side; the one at index `stretch` takes the spare width (else all share it)."""
    row = QHBoxLayout()
    for number, widget in enumerate(widgets):
        row.addWidget(widget, 1 if number == stretch else 0)
    return row
