"""A test driver inside the full Krita window: clicks the cocreate docker as a painter would.

Installed beside the cocreate plugin by tests/hosts/test_krita_window.py and started with Krita under
Xvfb. Everything runs from Krita's own main event loop: one QTimer advances each scenario, a
generator that yields what to wait for, so Krita can make layers active and run its own nested loops
as it does for a painter. Every check lands in /project/window-verdict.json (rewritten as it goes, so
a crash still leaves what was seen), which the test reads; `"finished": true` ends the run.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from krita import Extension, Krita, Node, Selection
from PyQt5.QtCore import Qt, QTimer
from PyQt5.QtWidgets import QApplication, QDockWidget, QWidget

PROJECT = Path("/project")
VERDICT = PROJECT / "window-verdict.json"
LOG = PROJECT / "krita.log"  # Krita's stderr, where its SAFE ASSERTs land
SCREENSHOT = PROJECT / "krita.png"
PREVIEW_LAYER = "cocreate preview"
TICK_MS = 20


@dataclass
class Wait:
    """What a scenario waits for; `watch` runs at every tick while it waits."""

    ready: Callable[[], bool]
    what: str
    timeout: float = 60.0
    watch: Callable[[], None] | None = None
    deadline: float = 0.0


Steps = Generator[Wait, None, None]


SHARED: dict[str, Any] = {}  # what one scenario leaves for the next


def pause(seconds: float) -> Wait:
    until = time.monotonic() + seconds
    return Wait(lambda: time.monotonic() >= until, f"{seconds} s")


@dataclass
class Verdict:
    scenarios: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    exceptions: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    current: str = ""
    finished: bool = False

    def begin(self, name: str) -> None:
        self.current = name
        self.scenarios[name] = {}
        self.write()

    def check(self, name: str, ok: bool, detail: object = "") -> bool:
        self.scenarios[self.current][name] = {"ok": bool(ok), "detail": str(detail)}
        self.write()
        return bool(ok)

    def write(self) -> None:
        document = {
            "scenarios": self.scenarios,
            "exceptions": self.exceptions,
            "facts": self.facts,
            "finished": self.finished,
        }
        VERDICT.write_text(json.dumps(document, indent=2))


class Runner:
    """Advances one scenario at a time from a QTimer on Krita's main loop; never re-entered."""

    def __init__(self, verdict: Verdict, scenarios: list[tuple[str, Callable[[Verdict], Steps]]]) -> None:
        self.verdict = verdict
        self.pending = list(scenarios)
        self.steps: Steps | None = None
        self.wait: Wait | None = None
        self.exceptions_before = 0
        self.busy = False
        self.started = 0.0
        self.timer = QTimer()
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self.tick)
        self.timer.start()

    def tick(self) -> None:
        if self.busy:  # Krita ran its event loop inside one of our calls
            return
        self.busy = True
        try:
            self.advance()
        except Exception:
            self.verdict.exceptions.append("driver: " + traceback.format_exc())
            self.end()
        finally:
            self.busy = False

    def advance(self) -> None:
        while True:
            if self.steps is None:
                if not self.pending:
                    self.timer.stop()
                    self.verdict.finished = True
                    self.verdict.write()
                    return
                name, scenario = self.pending.pop(0)
                self.verdict.begin(name)
                self.started = time.monotonic()
                self.exceptions_before = len(self.verdict.exceptions)
                self.steps = scenario(self.verdict)
                self.wait = None
            if self.wait is not None:
                if self.wait.watch is not None:
                    self.wait.watch()
                if not self.wait.ready():
                    if time.monotonic() < self.wait.deadline:
                        return
                    self.verdict.check(f"in time: {self.wait.what}", False, f"not within {self.wait.timeout} s")
                    self.end()
                    continue
                self.wait = None
            try:
                self.wait = next(self.steps)
                self.wait.deadline = time.monotonic() + self.wait.timeout
            except StopIteration:
                self.end()
            except Exception:
                self.verdict.check("the scenario ran to its end", False, traceback.format_exc())
                self.end()

    def end(self) -> None:
        if self.steps is not None and self.verdict.current:
            new = self.verdict.exceptions[self.exceptions_before :]
            self.verdict.check("no unhandled Python exception", not new, "\n".join(new))
            self.verdict.facts.setdefault("seconds", {})[self.verdict.current] = round(
                time.monotonic() - self.started, 1
            )
        self.steps, self.wait = None, None


# ---------------------------------------------------------------- Krita


def window() -> Any:
    return Krita.instance().activeWindow()


def docker() -> Any:
    """The cocreate docker of the main window (the plugin's own Python object)."""
    found = [d for d in window().qwindow().findChildren(QDockWidget) if type(d).__name__ == "CocreateDocker"]
    return found[0] if found else None


def controller_of(document: Any) -> Any:
    return next((c for d, c in docker()._controllers if d == document), None)


def shown(document: Any) -> bool:
    """The docker works on `document` now."""
    current = docker().controller
    return current is not None and current is controller_of(document)


def open_document(name: str, width: int, height: int) -> Any:
    document = Krita.instance().createDocument(width, height, name, "RGBA", "U8", "", 72.0)
    window().addView(document)
    paint_picture(document.rootNode().childNodes()[0], width, height)
    document.refreshProjection()
    return document


def show_document(document: Any) -> None:
    view = next(v for v in window().views() if v.document() == document)
    window().showView(view)
    view.setVisible()


def paint_picture(node: Any, width: int, height: int) -> None:
    """A sky, a hill and a sun in BGRA: something a screenshot can be read by."""
    pixels = bytearray()
    for y in range(height):
        for x in range(width):
            if (x - width * 0.7) ** 2 + (y - height * 0.3) ** 2 < (width * 0.12) ** 2:
                pixels += bytes((40, 200, 250, 255))
            elif y > height * 0.65 - 20 * ((x / width) - 0.5) ** 2 * 4:
                pixels += bytes((60, 140 + y % 40, 50, 255))
            else:
                pixels += bytes((235, 180 - y * 100 // height, 110, 255))
    node.setPixelData(bytes(pixels), 0, 0, width, height)


def paint_stripes(node: Any, width: int, height: int) -> None:
    pixels = bytearray()
    for y in range(height):
        for x in range(width):
            pixels += bytes((200, 40, 40, 128)) if (x + y) // 16 % 2 else bytes(4)
    node.setPixelData(bytes(pixels), 0, 0, width, height)


def paint_layer(document: Any, name: str, parent: Any) -> Any:
    node = document.createNode(name, "paintlayer")
    parent.addChildNode(node, None)
    paint_stripes(node, document.width(), document.height())
    return node


def select(document: Any, x: int, y: int, width: int, height: int) -> None:
    selection = Selection()
    selection.select(x, y, width, height, 255)
    document.setSelection(selection)


def tree(node: Any) -> list[str]:
    """Layer names bottom up; a group as `Name[child,child]`; masks (the global selection) left out."""
    names = []
    for child in node.childNodes():
        if child.type().endswith("mask"):
            continue
        names.append(f"{child.name()}[{','.join(tree(child))}]" if child.type() == "grouplayer" else child.name())
    return names


def every_node(node: Any) -> Iterator[Any]:
    for child in node.childNodes():
        yield child
        yield from every_node(child)


def has_preview(document: Any) -> bool:
    return any(n.name() == PREVIEW_LAYER for n in every_node(document.rootNode()))


def active_name(document: Any) -> str:
    node = document.activeNode()
    return node.name() if node is not None else ""


def set_fields(prompt: str, candidates: int, steps: int) -> None:
    panel = docker()
    panel.prompt.setPlainText(prompt)
    panel.candidates.setValue(candidates)
    panel.steps.setValue(steps)


def phase(controller: Any) -> str:
    return controller.phase.value


def log_size() -> int:
    return LOG.stat().st_size if LOG.exists() else 0


def log_since(offset: int) -> str:
    with LOG.open("rb") as log:
        log.seek(offset)
        return log.read().decode(errors="replace")


class ActiveWatch:
    """Samples the active layer at every tick while a job runs. Krita activates an inserted layer and the
    plugin gives the painter's layer back within a few milliseconds; a painter could paint on the preview
    only if it stayed active across two samples (20 ms apart)."""

    def __init__(self, document: Any) -> None:
        self.document = document
        self.seen: list[str] = []

    def __call__(self) -> None:
        self.seen.append(active_name(self.document))

    def kept(self, painter: str) -> bool:
        stolen = [a for a, b in zip(self.seen, self.seen[1:], strict=False) if a == b != painter]
        return bool(self.seen) and self.seen[-1] == painter and not stolen

    def __str__(self) -> str:
        others = sorted(set(self.seen))
        runs = [(i, name) for i, name in enumerate(self.seen) if i == 0 or self.seen[i - 1] != name]
        return f"{len(self.seen)} samples, the last {self.seen[-3:]}, seen: {others}, changes at {runs}"


def make_active(document: Any, node: Any) -> Steps:
    """As a painter clicks a layer. Krita activates each added layer itself once its Layers panel holds
    it, so a layer just added takes over again a moment later: wait for that first, then choose."""
    yield pause(0.5)

    def chosen() -> bool:
        if active_name(document) == node.name():
            return True
        document.setActiveNode(node)
        return False

    yield Wait(chosen, f"{node.name()} is active")


def idle(controller: Any) -> Wait:
    return Wait(lambda: not controller.busy, "the docker is idle")


def usable_afterwards(check: Callable[..., bool], document: Any, label: str) -> Steps:
    """Generate is enabled and a new generation runs to its candidates."""
    panel, controller = docker(), controller_of(document)
    check(f"{label}: Generate is enabled again", panel.generate_button.isEnabled(), panel.status.text())
    set_fields("a small boat", 1, 2)
    panel.generate_button.click()
    yield Wait(lambda: not controller.running, f"{label}: a new generation")
    check(
        f"{label}: a new generation runs to its candidates",
        phase(controller) == "finished" and panel.strip.count() == 1,
        f"{phase(controller)}: {panel.status.text()}",
    )


# ---------------------------------------------------------------- scenarios


def start(verdict: Verdict) -> Steps:
    yield Wait(lambda: window() is not None and window().qwindow().isVisible(), "Krita's main window", 180)
    yield Wait(lambda: docker() is not None, "the cocreate docker", 60)

    def record(kind: type[BaseException], error: BaseException, trace: Any) -> None:
        # Recorded and printed only: Krita's own hook opens a modal dialog, which would stop the run.
        text = "".join(traceback.format_exception(kind, error, trace))
        verdict.exceptions.append(text)
        verdict.write()
        print(text, file=sys.stderr, flush=True)

    sys.excepthook = record
    panel = docker()
    if not panel.isVisible():  # a new docker starts hidden: Settings ▸ Dockers ▸ cocreate shows it
        panel.toggleViewAction().trigger()
    yield Wait(lambda: panel.isVisible(), "the docker shows", 30)
    area = window().qwindow().dockWidgetArea(panel)
    verdict.check("the docker is docked at the right", not panel.isFloating() and area == Qt.RightDockWidgetArea, area)


def active_layer(verdict: Verdict) -> Steps:
    check = verdict.check
    document = open_document("active layer", 256, 256)
    yield Wait(lambda: shown(document), "the docker follows the new document")
    root = document.rootNode()
    background = root.childNodes()[0]
    strokes = paint_layer(document, "Strokes", root)
    yield from make_active(document, background)
    select(document, 96, 96, 64, 64)
    controller = controller_of(document)
    yield idle(controller)
    set_fields("a red door", 2, 6)
    docker().generate_button.click()
    yield Wait(lambda: has_preview(document) or not controller.running, "the first preview")
    check("a preview layer shows while it runs", has_preview(document), controller.message)
    watch = ActiveWatch(document)
    yield Wait(lambda: not controller.running, "the candidates", 120, watch=watch)
    check("the painter's layer stays active while the preview shows", watch.kept("Background"), watch)
    check("the job finished", phase(controller) == "finished", controller.message)
    yield from make_active(document, strokes)  # the painter moves on before applying
    offset = log_size()
    docker().apply_button.click()
    yield idle(controller)
    yield pause(0.5)
    layers = tree(root)
    check(
        "Apply puts the result above the layer active at Generate",
        layers == ["Background", "a red door", "Strokes"],
        layers,
    )
    check("no preview layer after Apply", not has_preview(document))
    asserts = [line for line in log_since(offset).splitlines() if "SAFE ASSERT" in line]
    check("Apply makes Krita assert nothing", not asserts, "\n".join(asserts))


def inside_group(verdict: Verdict) -> Steps:
    check = verdict.check
    document = open_document("group", 192, 192)
    yield Wait(lambda: shown(document), "the docker follows the new document")
    root = document.rootNode()
    group = document.createGroupLayer("Group")
    root.addChildNode(group, None)
    inner = paint_layer(document, "Inner", group)
    paint_layer(document, "Above", group)
    paint_layer(document, "Top", root)
    yield from make_active(document, inner)
    select(document, 40, 40, 48, 48)
    controller = controller_of(document)
    yield idle(controller)
    set_fields("moss", 1, 6)
    docker().generate_button.click()
    watch = ActiveWatch(document)
    yield Wait(lambda: not controller.running, "the candidates", 120, watch=watch)
    check("the job finished", phase(controller) == "finished", controller.message)
    check("the layer in the group stays active", watch.kept("Inner"), watch)
    docker().apply_button.click()
    yield idle(controller)
    layers = tree(root)
    check(
        "Apply puts the result above the active layer, inside its group",
        layers == ["Background", "Group[Inner,moss,Above]", "Top"],
        layers,
    )


def cancel_every_phase(verdict: Verdict) -> Steps:
    check = verdict.check
    document = open_document("cancel", 128, 128)
    yield Wait(lambda: shown(document), "the docker follows the new document")
    controller = controller_of(document)
    panel = docker()
    yield idle(controller)
    select(document, 32, 32, 48, 48)
    emptied = document.selection()
    emptied.clear()
    document.setSelection(emptied)
    panel.generate_button.click()
    check(
        "an empty selection is called empty",
        panel.status.text().startswith("The selection is empty"),
        panel.status.text(),
    )
    select(document, 32, 32, 48, 48)
    layers = tree(document.rootNode())

    def settled(label: str) -> None:
        check(f"{label}: the job ends cancelled", phase(controller) == "cancelled", controller.message)
        check(f"{label}: the docker says so", panel.status.text() == "Cancelled.", panel.status.text())
        check(f"{label}: Generate is enabled", panel.generate_button.isEnabled())
        check(
            f"{label}: no preview layer, nothing added",
            not has_preview(document) and tree(document.rootNode()) == layers,
            tree(document.rootNode()),
        )

    # Before the daemon accepted the job: in the same tick as Generate.
    set_fields("never", 2, 200)
    panel.generate_button.click()
    panel.cancel_button.click()
    yield Wait(lambda: not controller.busy, "before accepted: the cancel", 60)
    settled("before accepted")

    # While the first preview layer is inserted: Krita runs its event loop inside that call, and a
    # Cancel click handled there removes the layer being inserted.
    inserting = Node.__dict__["addChildNode"]  # the method itself, so that restoring it binds again
    armed = [True]

    def insert_and_click_cancel(parent: Any, child: Any, above: Any) -> bool:
        inserted = inserting.__get__(parent, Node)(child, above)
        if armed[0] and child.name() == PREVIEW_LAYER:
            armed[0] = False
            panel.cancel_button.click()
        return inserted

    Node.addChildNode = insert_and_click_cancel
    try:
        panel.generate_button.click()
        yield Wait(lambda: not armed[0] or not controller.running, "inserting the first preview", 60)
    finally:
        Node.addChildNode = inserting
    check("while the preview is inserted: Cancel was clicked inside the insertion", not armed[0])
    yield Wait(lambda: not controller.busy, "while the preview is inserted: the cancel", 60)
    settled("while the preview is inserted")

    # Mid-steps.
    panel.generate_button.click()
    yield Wait(lambda: controller.progress[0] >= 3 or not controller.running, "step 3")
    panel.cancel_button.click()
    check("mid-steps: the preview goes at once", not has_preview(document))
    yield Wait(lambda: not controller.busy, "mid-steps: the cancel", 60)
    settled("mid-steps")

    # After the job is done but before the docker took in its end (the main thread was busy).
    set_fields("late", 1, 2)
    panel.generate_button.click()
    yield Wait(lambda: controller._job is not None, "after done: the job")
    panel._timer.stop()
    yield Wait(lambda: controller._job is None or controller._job.done, "after done: the daemon's Done")
    panel.cancel_button.click()
    yield Wait(lambda: not controller.busy, "after done: the docker settles", 60)
    check(
        "after done: the docker settles, not stuck cancelling",
        not controller.running and panel.status.text() != "Cancelling…",
        f"{phase(controller)}: {panel.status.text()}",
    )
    check(
        "after done: what it shows matches the canvas",
        has_preview(document) == (controller.strip is not None and bool(controller.strip.choices)),
        f"preview={has_preview(document)} strip={controller.strip}",
    )
    yield from usable_afterwards(check, document, "afterwards")


def two_documents(verdict: Verdict) -> Steps:
    check = verdict.check
    first = open_document("first", 128, 128)
    second = open_document("second", 128, 128)
    panel = docker()
    show_document(first)
    yield Wait(lambda: shown(first), "the docker follows the first document")
    select(first, 16, 16, 64, 64)
    one = controller_of(first)
    yield idle(one)
    set_fields("first", 2, 8)
    panel.generate_button.click()
    show_document(second)
    yield Wait(lambda: shown(second), "the docker follows the second document")
    select(second, 48, 48, 64, 64)
    two = controller_of(second)
    yield idle(two)
    check("the first document's job runs on", one.running, one.message)
    check("the second document can generate meanwhile", panel.generate_button.isEnabled())
    set_fields("second", 1, 200)
    panel.generate_button.click()
    yield Wait(lambda: two.phase.value in ("queued", "running") or not two.running, "the second document's job", 120)
    panel.cancel_button.click()  # cancelling here leaves the first document's job alone
    yield Wait(lambda: not two.running, "the second document's cancel")
    set_fields("second", 1, 3)
    panel.generate_button.click()
    yield Wait(lambda: not one.running and not two.running, "both documents' candidates", 240)
    check("the first document got its 2 candidates", phase(one) == "finished" and len(one.strip.choices) == 2)
    check("the second document got its candidate", phase(two) == "finished" and len(two.strip.choices) == 1)
    check("the docker shows the second document's candidates", panel.strip.count() == 1, panel.strip.count())
    show_document(first)
    yield Wait(lambda: shown(first), "back to the first document")
    check("back on the first, its candidates show", panel.strip.count() == 2, panel.strip.count())
    panel.apply_button.click()
    yield idle(one)
    check(
        "Apply lands on the first document", tree(first.rootNode()) == ["Background", "first"], tree(first.rootNode())
    )
    layers = [name for name in tree(second.rootNode()) if name != PREVIEW_LAYER]  # its candidate still shows
    check("the second document gets no layer", layers == ["Background"], tree(second.rootNode()))


def layout_and_screenshot(verdict: Verdict) -> Steps:
    """Candidates showing in Krita's default layout: measure what the docker takes, then a screenshot."""
    check = verdict.check
    main = window().qwindow()
    main.setGeometry(QApplication.primaryScreen().availableGeometry())  # maximised, as a painter has it
    document = open_document("landscape", 320, 240)
    SHARED["landscape"] = document
    yield Wait(lambda: shown(document), "the docker follows the new document")
    select(document, 150, 40, 110, 90)
    controller = controller_of(document)
    panel = docker()
    yield idle(controller)
    set_fields("a hot air balloon", 4, 3)
    panel.generate_button.click()
    yield Wait(lambda: not controller.busy, "the candidates", 180)
    check("4 candidates show", panel.strip.count() == 4, controller.message)
    panel.strip.setCurrentRow(1)
    yield idle(controller)
    yield pause(1.5)  # let Krita lay out and paint
    screen = QApplication.primaryScreen().geometry()
    frame = main.frameGeometry()
    status_bar = main.statusBar()
    status_bottom = status_bar.mapToGlobal(status_bar.rect().bottomLeft()).y()
    layers = next((d for d in main.findChildren(QDockWidget) if d.objectName() == "KisLayerBox"), None)
    body: QWidget = panel.widget()
    facts = {
        "screen": [screen.width(), screen.height()],
        "window": [frame.width(), frame.height()],
        "docker_minimum_height": panel.minimumSizeHint().height(),
        "docker_height": panel.height(),
        "docker_width": panel.width(),
        "docker_body_minimum_height": body.minimumSizeHint().height(),
        "layers_height": layers.height() if layers is not None and layers.isVisible() else None,
        "status_bar_bottom": status_bottom,
    }
    verdict.facts["layout"] = facts
    check("Krita's window fits the screen", frame.height() <= screen.height(), facts)
    check("Krita's status bar is on screen", status_bar.isVisible() and status_bottom <= screen.height(), facts)
    check("the docker's minimum height fits what it is given", facts["docker_minimum_height"] <= panel.height(), facts)
    check("the Layers panel keeps room", layers is not None and layers.height() >= 150, facts)
    # For the picture, the painter drags the docker taller, as one does to compare candidates.
    main.resizeDocks([panel], [int(screen.height() * 0.62)], Qt.Vertical)
    panel.widget().ensureWidgetVisible(panel.strip, 0, 0)  # scrolled to the candidates
    yield pause(1.5)
    QApplication.primaryScreen().grabWindow(0).save(str(SCREENSHOT))
    check("a screenshot was taken", SCREENSHOT.exists())


def steering_and_history(verdict: Verdict) -> Steps:
    """On the landscape's candidates: More like this, In between two, and the history as a tree."""
    check = verdict.check
    document = SHARED["landscape"]
    controller, panel = controller_of(document), docker()
    yield idle(controller)
    shown_turn = controller.strip.turn_id
    set_fields("a hot air balloon", 2, 2)
    panel.strip.setCurrentRow(0)
    panel.more_button.click()

    # The history reloads in the background after the job: wait for the grown turn rather than the first idle tick.
    def grown_turn() -> Any:
        return next((t for t in controller.history if t.parent_id == shown_turn), None)

    yield Wait(lambda: not controller.busy and grown_turn() is not None, "more like this", 120)
    grown = grown_turn()
    check(
        "More like this grows a new turn from the shown one",
        phase(controller) == "finished" and grown is not None and grown.parent_id == shown_turn,
        f"{controller.message} parent {grown and grown.parent_id} shown {shown_turn} turns {len(controller.history)}",
    )
    panel.strip.item(0).setSelected(True)
    panel.strip.item(1).setSelected(True)
    check("two picked candidates enable In between", panel.between_button.isEnabled())
    ends = [c.image for c in controller.strip.choices]
    panel.between_button.click()
    yield Wait(lambda: not controller.busy, "in between", 120)
    walk = controller.strip
    check(
        "In between walks from one picked candidate to the other",
        phase(controller) == "finished" and [walk.choices[0].image, walk.choices[-1].image] == ends,
        f"{controller.message}: {len(walk.choices)} candidates",
    )
    check("the walk shows in the grid", panel.strip.count() == 3, panel.strip.count())
    items = panel.history.topLevelItemCount()
    nested = sum(panel.history.topLevelItem(i).childCount() for i in range(items))
    check("the history is a tree: grown turns sit under their turn", nested > 0, f"{items} roots, {nested} nested")
    check("the LoRA list starts with none", panel.lora.itemText(0) == "(none)", panel.lora.itemText(0))


SCENARIOS: list[tuple[str, Callable[[Verdict], Steps]]] = [
    ("start", start),
    ("layout and screenshot", layout_and_screenshot),
    ("steering and history", steering_and_history),
    ("active layer", active_layer),
    ("inside a group", inside_group),
    ("cancel at every phase", cancel_every_phase),
    ("two documents", two_documents),
]

# Which scenarios a run drives: the test writes the set's name to /project/window-scenarios (default: SCENARIOS).
from .guide_scenarios import GUIDE_SCENARIOS  # noqa: E402  (it uses the helpers above)
from .live_painting import live_painting  # noqa: E402

SCENARIO_SETS = {
    "window": SCENARIOS,
    "guides": [("start", start), *GUIDE_SCENARIOS],
    "live": [("start", start), ("live painting", live_painting)],
}
CHOSEN = PROJECT / "window-scenarios"


class Driver(Extension):
    def __init__(self, parent: Any) -> None:
        super().__init__(parent)
        self.runner: Runner | None = None

    def setup(self) -> None:
        chosen = CHOSEN.read_text().strip() if CHOSEN.exists() else "window"
        self.runner = Runner(Verdict(), SCENARIO_SETS[chosen])

    def createActions(self, window: Any) -> None:
        pass


Krita.instance().addExtension(Driver(Krita.instance()))
