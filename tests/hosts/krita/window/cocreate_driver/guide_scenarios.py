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


def guide_layers(document: Any, *names: str) -> list[Any]:
    """Striped layers that guide rather than show: hidden, as a painter keeps them."""
    layers = [paint_layer(document, name, document.rootNode()) for name in names]
    for layer in layers:
        layer.setVisible(False)
    return layers


def mark_reference_file(panel: Any) -> None:
    mood = QImage(24, 16, QImage.Format_RGBA8888)
    mood.fill(QColor(40, 90, 200))
    mood.save(str(REFERENCE_FILE))
    panel.guides.add_file(str(REFERENCE_FILE))


def listed(listing: Any) -> list[str]:
    return [listing.item(i).text() for i in range(listing.count())]


def generate_with_guides(verdict: Verdict, document: Any, guides: list[Any], count: int) -> Steps:
    """Generate on a selection; the layers before and after, and the daemon's record of the turn in the facts."""
    check = verdict.check
    panel, controller = docker(), controller_of(document)
    root = document.rootNode()
    background = root.childNodes()[0]
    yield from make_active(document, background)
    select(document, 48, 48, 64, 64)
    layers, before = tree(root), pixels_of(document, [background, *guides])
    set_fields("a red door", count, 3)
    panel.generate_button.click()
    yield Wait(lambda: not controller.running, "the candidates", 300)
    verdict.facts.setdefault("guided", {})[verdict.current] = controller.message
    if finished_with(check, controller, count):
        _turn, params = turn_record(controller)
        verdict.facts["guided_params"] = {key: params.get(key) for key in ("controls", "references")}
        SHARED_PARAMS[verdict.current] = params
    check("no layer changed", pixels_of(document, [background, *guides]) == before)
    check("the guide layers stay hidden", not any(layer.visible() for layer in guides))
    shown_layers = [name for name in tree(root) if name != "cocreate preview"]
    check("no layer was added or removed by sending", shown_layers == layers, tree(root))


SHARED_PARAMS: dict[str, dict[str, Any]] = {}


def reopened_marks(verdict: Verdict, document: Any, name: str) -> Steps:
    """Save the document as `name`.kra and open it again: the marks found, their layers too."""
    path = str(PROJECT / f"{name}.kra")
    Krita.instance().setBatchmode(True)  # no dialogs while saving
    try:
        saved = document.saveAs(path)
    finally:
        Krita.instance().setBatchmode(False)
    verdict.check("the document is saved", saved)
    reopened = Krita.instance().openDocument(path)
    window().addView(reopened)
    yield Wait(lambda: shown(reopened), "the docker follows the reopened document")
    again = controller_of(reopened)
    marks = again.guides.marks if again is not None and again.guides is not None else None

    def found(mark: Any) -> str | None:
        return again.canvas.layer_name(mark.layer_id) if mark.layer_id else mark.path

    SHARED_PARAMS[f"{name} reopened"] = {
        "controls": [found(mark) for mark in marks.controls] if marks else None,
        "references": [found(mark) for mark in marks.references] if marks else None,
    }


def references(verdict: Verdict) -> Steps:
    """A layer and a file as references: listed, kept in the document, sent with Generate and recorded by the
    daemon; candidates come back, no layer changes; the marks survive saving and reopening."""
    check = verdict.check
    document = open_document("references", 192, 192)
    yield Wait(lambda: shown(document), "the docker follows the new document")
    panel, controller = docker(), controller_of(document)
    (style,) = guide_layers(document, "Style")
    yield idle(controller)
    panel.guides_toggle.setChecked(True)
    yield from make_active(document, style)
    panel.guides.reference_strength.setValue(50)
    panel.guides.use_reference.click()
    mark_reference_file(panel)
    labels = listed(panel.guides.references)
    check("both references are listed", labels == ["Style · Style · 50%", "mood.png · Style · 50%"], labels)
    check("the marks are kept in the document", "cocreate/guides" in document.annotationTypes())
    yield from generate_with_guides(verdict, document, [style], 2)
    recorded = SHARED_PARAMS.get(verdict.current, {}).get("references") or []
    check("the daemon records both references", len(recorded) == 2, recorded)
    yield from reopened_marks(verdict, document, "references")
    found = SHARED_PARAMS["references reopened"]
    check(
        "after reopening, the references are marked and found",
        found["references"] == ["Style", str(REFERENCE_FILE)],
        found,
    )


def control_layer_and_reference(verdict: Verdict) -> Steps:
    """A scribble layer marked as a control and a layer as reference: sent, recorded, candidates back, layers
    untouched; the control mark survives saving and reopening."""
    check = verdict.check
    document = open_document("control", 192, 192)
    yield Wait(lambda: shown(document), "the docker follows the new document")
    panel, controller = docker(), controller_of(document)
    guides = panel.guides
    lines, style = guide_layers(document, "Lines", "Style")
    yield idle(controller)
    panel.guides_toggle.setChecked(True)
    yield from make_active(document, lines)
    guides.control_kind.setCurrentIndex(guides.control_kind.findData("scribble"))
    guides.control_strength.setValue(80)
    guides.use_control.click()
    yield from make_active(document, style)
    guides.use_reference.click()
    check("the control layer is listed", listed(guides.controls) == ["Lines · Scribble · 80%"], listed(guides.controls))
    yield from generate_with_guides(verdict, document, [lines, style], 2)
    params = SHARED_PARAMS.get(verdict.current, {})
    controls = params.get("controls") or []
    check("the daemon records the control", [c.get("kind") for c in controls] == ["scribble"], controls)
    check("the daemon records the reference", len(params.get("references") or []) == 1, params.get("references"))
    yield from reopened_marks(verdict, document, "control")
    found = SHARED_PARAMS["control reopened"]
    check("after reopening, the control layer is marked and found", found["controls"] == ["Lines"], found)


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
    ("references", references),
    ("control layer and reference", control_layer_and_reference),
    ("edit", edit_with_an_instruction),
]
