"""The docker's Guides section: control layers and reference images of the shown document, and Edit.

"Use layer as control" marks the painter's active layer as a control of the chosen kind, strength and step
span; "Use layer as reference" and "Add file…" add a reference. The lists show what every Generate, Variants
and Edit sends; Remove unmarks. The instruction field and its Edit button ask the daemon to change the
selection (or the canvas) as the instruction says. Nothing here reads pixels: the controller does at Generate.
"""

from __future__ import annotations

from collections.abc import Callable

from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from .controller import DocumentController
from .guides import CONTROL_KINDS, REFERENCE_KINDS, DocumentGuides
from .region import DocumentError

IMAGE_FILES = "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff)"


class EditRow(QWidget):
    """An instruction and its Edit button, shown under Generate."""

    def __init__(self) -> None:
        super().__init__()
        self.instruction = QLineEdit()
        self.instruction.setPlaceholderText("Edit: what to change, as in “make it night”")
        self.button = QPushButton("Edit")
        self.button.setToolTip("Change the selection (or the whole canvas) as the instruction says")
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.instruction, 1)
        row.addWidget(self.button)
        self.setLayout(row)


class GuidePanel(QWidget):
    def __init__(self, controller: Callable[[], DocumentController | None], changed: Callable[[], None]) -> None:
        """`controller` gives the shown document's controller; `changed` asks the docker to show the state."""
        super().__init__()
        self._controller = controller
        self._changed = changed
        self.control_kind = _combo(CONTROL_KINDS)
        self.control_strength = _slider(100, 200)
        self.control_start = _fraction(0.0)
        self.control_end = _fraction(1.0)
        self.control_derive = QCheckBox("From the picture")
        self.control_derive.setToolTip(
            "The layer is an ordinary picture: the daemon makes the edges, depth or pose from it"
        )
        self.use_control = QPushButton("Use layer as control")
        self.use_control.setToolTip("The active layer's lines, edges, depth or pose guide every generation")
        self.controls = QListWidget()
        self.remove_control = QPushButton("Remove")
        self.reference_kind = _combo(REFERENCE_KINDS)
        self.reference_strength = _slider(60, 100)
        self.use_reference = QPushButton("Use layer as reference")
        self.add_reference_file = QPushButton("Add file…")
        self.references = QListWidget()
        self.remove_reference = QPushButton("Remove")
        for listing in (self.controls, self.references):
            listing.setMaximumHeight(listing.fontMetrics().lineSpacing() * 4 + 8)

        span = QHBoxLayout()
        span.addWidget(self.control_start)
        span.addWidget(self.control_end)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        form.addRow("Control", self.control_kind)
        form.addRow("Strength", self.control_strength)
        form.addRow("Steps", span)
        form.addRow("", self.control_derive)
        layout = QVBoxLayout()
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addWidget(self.use_control)
        layout.addWidget(self.controls)
        layout.addWidget(self.remove_control, 0, Qt.AlignRight)
        references = QFormLayout()
        references.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        references.addRow("Reference", self.reference_kind)
        references.addRow("Strength", self.reference_strength)
        layout.addLayout(references)
        buttons = QHBoxLayout()
        buttons.addWidget(self.use_reference)
        buttons.addWidget(self.add_reference_file)
        layout.addLayout(buttons)
        layout.addWidget(self.references)
        layout.addWidget(self.remove_reference, 0, Qt.AlignRight)
        self.setLayout(layout)

        self.use_control.clicked.connect(self._use_control)
        self.use_reference.clicked.connect(self._use_reference)
        self.add_reference_file.clicked.connect(self._pick_file)
        self.remove_control.clicked.connect(lambda: self._act(lambda g: g.remove_control(self.controls.currentRow())))
        self.remove_reference.clicked.connect(
            lambda: self._act(lambda g: g.remove_reference(self.references.currentRow()))
        )

    # ------------------------------------------------------------ actions

    def _use_control(self) -> None:
        start, end = self.control_start.value(), self.control_end.value()
        kind, strength = self.control_kind.currentData(), self.control_strength.value() / 100
        derive = self.control_derive.isChecked()

        def mark(guides: DocumentGuides) -> None:
            guides.mark_control(self._active_layer(), kind, strength, start, max(end, start + 0.05), derive)

        self._act(mark)

    def _use_reference(self) -> None:
        kind, strength = self.reference_kind.currentData(), self.reference_strength.value() / 100
        self._act(lambda guides: guides.add_reference_layer(self._active_layer(), kind, strength))

    def _pick_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Reference image", "", IMAGE_FILES)
        if path:
            self.add_file(path)

    def add_file(self, path: str) -> None:
        kind, strength = self.reference_kind.currentData(), self.reference_strength.value() / 100
        self._act(lambda guides: guides.add_reference_file(path, kind, strength))

    def _active_layer(self) -> str:
        controller = self._controller()
        return controller.canvas.anchor() if controller is not None else ""

    def _act(self, action: Callable[[DocumentGuides], None]) -> None:
        controller = self._controller()
        if controller is None or controller.guides is None:
            return
        try:
            action(controller.guides)
        except DocumentError as error:
            controller.report(error)
        self.show_marks(controller)
        self._changed()

    # ------------------------------------------------------------ showing

    def show_marks(self, controller: DocumentController | None) -> None:
        """The shown document's marks in the two lists."""
        guides = controller.guides if controller is not None else None
        marks = guides.marks if guides is not None else None
        _fill(self.controls, [m.label for m in marks.controls] if marks else [])
        _fill(self.references, [m.label for m in marks.references] if marks else [])
        for widget in (self.use_control, self.use_reference, self.add_reference_file):
            widget.setEnabled(guides is not None)
        self.remove_control.setEnabled(self.controls.count() > 0)
        self.remove_reference.setEnabled(self.references.count() > 0)


def _fill(listing: QListWidget, labels: list[str]) -> None:
    if [listing.item(i).text() for i in range(listing.count())] != labels:
        row = listing.currentRow()
        listing.clear()
        listing.addItems(labels)
        listing.setCurrentRow(min(max(row, 0), len(labels) - 1))


def _combo(kinds: tuple[tuple[str, str], ...]) -> QComboBox:
    combo = QComboBox()
    for kind, label in kinds:
        combo.addItem(label, kind)
    return combo


def _slider(value: int, maximum: int) -> QSlider:
    slider = QSlider(Qt.Horizontal)
    slider.setRange(5, maximum)
    slider.setSingleStep(5)
    slider.setPageStep(10)
    slider.setValue(value)
    slider.setToolTip(f"{value} %")
    slider.valueChanged.connect(lambda now: slider.setToolTip(f"{now} %"))
    return slider


def _fraction(value: float) -> QDoubleSpinBox:
    """A step fraction: the control applies from the start box's fraction of the steps to the end box's."""
    box = QDoubleSpinBox()
    box.setRange(0.0, 1.0)
    box.setSingleStep(0.05)
    box.setDecimals(2)
    box.setValue(value)
    return box
