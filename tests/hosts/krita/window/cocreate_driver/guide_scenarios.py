"""Scenarios of the "guides" set: another model family, control layers and references, Edit.

Imported by the driver's __init__ after its helpers are defined; run by tests/hosts/test_krita_guides.py.
What the daemon recorded is read back through the docker's own client (a blocking call: fine in a test).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from krita import Krita
from PyQt5.QtGui import QColor, QImage

from . import (
    PROJECT,
    Steps,
    Verdict,
    Wait,
    controller_of,
    docker,
    idle,
    make_active,
    open_document,
    paint_layer,
    phase,
    select,
    set_fields,
    shown,
    tree,
    window,
)

REFERENCE_FILE = PROJECT / "mood.png"


def turn_record(controller: Any) -> tuple[Any, dict[str, Any]]:
    """The daemon's record of the strip's turn, and its params."""
    detail = docker()._client.get_session(controller.session_id)
    turn = next(t for t in detail.turns if t.id == controller.strip.turn_id)
    return turn, json.loads(turn.params_json)


def pick_model(name: str) -> Wait:
    """Choose `name` in the docker's model list once the daemon's list has arrived."""
    panel = docker()

    def picked() -> bool:
        index = panel.model.findData(name)
        if index >= 0:
            panel.model.setCurrentIndex(index)
        return index >= 0

    return Wait(picked, f"the model list holds {name}")


def pixels_of(document: Any, nodes: list[Any]) -> dict[str, bytes]:
    width, height = document.width(), document.height()
    return {node.name(): bytes(node.pixelData(0, 0, width, height)) for node in nodes}


def finished_with(check: Callable[..., bool], controller: Any, count: int) -> bool:
    strip = controller.strip
    return check(
        f"{count} candidates come back",
        phase(controller) == "finished" and strip is not None and len(strip.choices) == count,
        f"{phase(controller)}: {controller.message}",
    )


def tiny_sdxl_fill(verdict: Verdict) -> Steps:
    """#15: fill a selection with the tiny SDXL model, picked in the docker's model list."""
    check = verdict.check
    document = open_document("sdxl", 256, 256)
    yield Wait(lambda: shown(document), "the docker follows the new document")
    panel, controller = docker(), controller_of(document)
    root = document.rootNode()
    background = root.childNodes()[0]
    yield idle(controller)
    yield pick_model("tiny-sdxl")
    select(document, 64, 72, 96, 80)
    before = pixels_of(document, [background])
    set_fields("a red door", 2, 3)
    panel.generate_button.click()
    yield Wait(lambda: not controller.running, "the candidates", 300)
    if finished_with(check, controller, 2):
        turn, params = turn_record(controller)
        check("the daemon painted them with tiny-sdxl", (turn.model, turn.task) == ("tiny-sdxl", "inpaint"), turn)
        verdict.facts["sdxl_painted"] = params.get("painted")
        panel.apply_button.click()
        yield idle(controller)
        check("Apply adds the result as a layer", tree(root) == ["Background", "a red door"], tree(root))
    check("the painter's layer is untouched", pixels_of(document, [background]) == before)
    panel.model.setCurrentIndex(0)


def control_layers_and_references(verdict: Verdict) -> Steps:
    """A scribble layer marked as a control, a layer and a file as references; Generate sends them, the daemon
    records them, candidates come back and no layer changes; the marks survive saving and reopening."""
    check = verdict.check
    document = open_document("guides", 192, 192)
    yield Wait(lambda: shown(document), "the docker follows the new document")
    panel, controller = docker(), controller_of(document)
    guides = panel.guides
    root = document.rootNode()
    background = root.childNodes()[0]
    lines, style = paint_layer(document, "Lines", root), paint_layer(document, "Style", root)
    for guide in (lines, style):
        guide.setVisible(False)  # guides, not part of the picture
    yield idle(controller)
    panel.guides_toggle.setChecked(True)
    yield from make_active(document, lines)
    guides.control_kind.setCurrentIndex(guides.control_kind.findData("scribble"))
    guides.control_strength.setValue(80)
    guides.use_control.click()
    yield from make_active(document, style)
    guides.use_reference.click()
    mood = QImage(24, 16, QImage.Format_RGBA8888)
    mood.fill(QColor(40, 90, 200))
    mood.save(str(REFERENCE_FILE))
    guides.add_file(str(REFERENCE_FILE))
    labels = [guides.controls.item(i).text() for i in range(guides.controls.count())]
    references = [guides.references.item(i).text() for i in range(guides.references.count())]
    check("the control layer is listed", labels == ["Lines · Scribble · 80%"], labels)
    check("both references are listed", references == ["Style · Style · 60%", "mood.png · Style · 60%"], references)
    check("the marks are kept in the document", "cocreate/guides" in document.annotationTypes())

    yield from make_active(document, background)
    select(document, 48, 48, 64, 64)
    layers, before = tree(root), pixels_of(document, [background, lines, style])
    set_fields("a red door", 2, 3)
    panel.generate_button.click()
    yield Wait(lambda: not controller.running, "the candidates", 300)
    verdict.facts["guided_message"] = controller.message
    if finished_with(check, controller, 2):
        _turn, params = turn_record(controller)
        verdict.facts["guided_params"] = {k: params.get(k) for k in ("controls", "references")}
        controls = params.get("controls") or []
        check("the daemon records the control", [c.get("kind") for c in controls] == ["scribble"], controls)
        check("the daemon records both references", len(params.get("references") or []) == 2, params)
    check("no layer changed", pixels_of(document, [background, lines, style]) == before)
    check("the guide layers stay hidden", not lines.visible() and not style.visible())
    shown_layers = [name for name in tree(root) if name != "cocreate preview"]
    check("no layer was added or removed by sending", shown_layers == layers, tree(root))

    path = str(PROJECT / "guides.kra")
    Krita.instance().setBatchmode(True)  # no dialogs while saving
    try:
        saved = document.saveAs(path)
    finally:
        Krita.instance().setBatchmode(False)
    check("the document is saved", saved)
    reopened = Krita.instance().openDocument(path)
    window().addView(reopened)
    yield Wait(lambda: shown(reopened), "the docker follows the reopened document")
    again = controller_of(reopened)
    marks = again.guides.marks if again is not None and again.guides is not None else None
    names = [again.canvas.layer_name(m.layer_id) for m in marks.controls] if marks else []
    check("the control layer is still marked after reopening, and found", names == ["Lines"], names)
    check("the references are too", marks is not None and len(marks.references) == 2, marks)


def edit_with_an_instruction(verdict: Verdict) -> Steps:
    """Edit: an instruction for the selection, with a model that takes instructions."""
    check = verdict.check
    document = open_document("edit", 160, 160)
    yield Wait(lambda: shown(document), "the docker follows the new document")
    panel, controller = docker(), controller_of(document)
    root = document.rootNode()
    yield idle(controller)
    yield pick_model("tiny-flux2-klein")
    select(document, 40, 40, 64, 64)
    before = pixels_of(document, [root.childNodes()[0]])
    set_fields("", 1, 2)
    panel.edit_row.instruction.setText("make it night")
    panel.edit_row.button.click()
    yield Wait(lambda: not controller.running, "the edit", 300)
    verdict.facts["edit_message"] = controller.message
    if finished_with(check, controller, 1):
        turn, params = turn_record(controller)
        check("the daemon ran an edit", turn.task == "edit" and params.get("instruction") == "make it night", params)
        panel.apply_button.click()
        yield idle(controller)
        check("Apply adds the edit as a layer", tree(root) == ["Background", "edit: make it night"], tree(root))
    check("the picture's layer is untouched", pixels_of(document, [root.childNodes()[0]]) == before)
    panel.model.setCurrentIndex(0)


GUIDE_SCENARIOS = [
    ("tiny SDXL fill", tiny_sdxl_fill),
    ("control layers and references", control_layers_and_references),
    ("edit", edit_with_an_instruction),
]
