"""Runs inside real Krita (kritarunner) with the plugin as Krita's importer unpacked it, against a real daemon.

    PYTHONPATH=PYKRITA:/project kritarunner -s krita_check -f main ENDPOINT TOKEN

kritarunner always exits 0, so every check lands in /project/verdict.json; tests/hosts/test_krita.py
reads it. The plugin's own document adapter, controller and docker do the work; this file only
paints documents, presses buttons and compares pixels.
"""

from __future__ import annotations

import json
import math
import os
import struct
import sys
import time
import traceback
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any

VERDICT = Path("/project/verdict.json")
COMPILED = (".so", ".pyd", ".dylib", ".dll")


class Checks:
    def __init__(self) -> None:
        self.results: dict[str, dict[str, Any]] = {}

    def __call__(self, name: str, ok: bool, detail: object = "") -> bool:
        self.results[name] = {"ok": bool(ok), "detail": str(detail)}
        return bool(ok)


# ---------------------------------------------------------------- documents


def soft_blob(width: int, height: int, cx: float, cy: float, rx: float, ry: float) -> bytes:
    """An irregular selection: a wobbly ellipse with a soft 8-bit edge (Krita selections are grayscale)."""
    values = bytearray(width * height)
    for y in range(height):
        for x in range(width):
            dx, dy = (x - cx) / rx, (y - cy) / ry
            wobble = 0.12 * math.sin(5 * math.atan2(dy, dx))
            values[y * width + x] = max(0, min(255, round((1.0 - math.hypot(dx, dy) - wobble) * 500)))
    return bytes(values)


def paint_u8(node: Any, width: int, height: int) -> None:
    pixels = bytearray()
    for y in range(height):
        for x in range(width):
            ring = 255 if (x - width / 3) ** 2 + (y - height / 2) ** 2 < (width / 5) ** 2 else 0
            pixels += bytes(((x * 3) % 256, (y * 2) % 256, ring, 255))  # BGRA
    node.setPixelData(bytes(pixels), 0, 0, width, height)


def paint_stripes(node: Any, width: int, height: int) -> None:
    """Half-transparent stripes on a second layer, so the projection is a real composite."""
    pixels = bytearray()
    for y in range(height):
        for x in range(width):
            pixels += bytes((200, 40, 40, 128)) if (x + y) // 16 % 2 else bytes(4)
    node.setPixelData(bytes(pixels), 0, 0, width, height)


def paint_deep(node: Any, depth: str, width: int, height: int) -> None:
    """A gradient in the document's own channel layout (U16: BGRA; F16/F32: RGBA)."""
    values = []
    for y in range(height):
        for x in range(width):
            r, g, b = x / width, y / height, 0.3
            values += [b, g, r, 1.0] if depth == "U16" else [r, g, b, 1.0]
    if depth == "U16":
        data = array("H", (round(v * 65535) for v in values)).tobytes()
    elif depth == "F16":
        data = struct.pack(f"<{len(values)}e", *values)
    else:
        data = array("f", values).tobytes()
    node.setPixelData(data, 0, 0, width, height)


def select(doc: Any, mask: bytes) -> None:
    from krita import Selection

    selection = Selection()
    selection.setPixelData(mask, 0, 0, doc.width(), doc.height())
    doc.setSelection(selection)


def nodes(node: Any) -> list[Any]:
    found = []
    for child in node.childNodes():
        found += [child, *nodes(child)]
    return found


def names(doc: Any) -> list[str]:
    """The top-level layers, bottom up; masks (the global selection is one) left out."""
    return [n.name() for n in doc.rootNode().childNodes() if not n.type().endswith("mask")]


def top_layer(doc: Any) -> Any:
    return [n for n in doc.rootNode().childNodes() if not n.type().endswith("mask")][-1]


def has_preview(doc: Any) -> bool:
    from cocreate_krita.document import PREVIEW_LAYER

    return any(n.name() == PREVIEW_LAYER for n in nodes(doc.rootNode()))


def projection(doc: Any) -> bytes:
    doc.refreshProjection()
    return bytes(doc.pixelData(0, 0, doc.width(), doc.height()))


def changed_outside(before: bytes, after: bytes, mask: bytes, bpp: int) -> int:
    return sum(
        1 for i, m in enumerate(mask) if m == 0 and before[i * bpp : (i + 1) * bpp] != after[i * bpp : (i + 1) * bpp]
    )


def changed_inside(before: bytes, after: bytes, mask: bytes, bpp: int) -> int:
    return sum(1 for i, m in enumerate(mask) if m and before[i * bpp : (i + 1) * bpp] != after[i * bpp : (i + 1) * bpp])


# ---------------------------------------------------------------- driving the plugin


def pump(
    controller: Any, until: Callable[[], bool], timeout: float = 240.0, watch: Callable[[], None] | None = None
) -> float:
    """Pump as the docker's timer does; returns the slowest pump (seconds)."""
    slowest, deadline = 0.0, time.monotonic() + timeout
    while not until() and time.monotonic() < deadline:
        started = time.perf_counter()
        controller.pump()
        slowest = max(slowest, time.perf_counter() - started)
        if watch is not None:
            watch()
        time.sleep(0.01)
    return slowest


def spin(until: Callable[[], bool], timeout: float = 240.0) -> float:
    """Run Qt's event loop (the docker's QTimer does the pumping) until `until()`; returns the longest
    gap between two ticks of a 20 ms timer, i.e. the longest the main thread was not free."""
    from PyQt5.QtCore import QEventLoop, QTimer

    loop, timer = QEventLoop(), QTimer()
    deadline, last, longest = time.monotonic() + timeout, [time.monotonic()], [0.0]

    def tick() -> None:
        now = time.monotonic()
        longest[0] = max(longest[0], now - last[0])
        last[0] = now
        if until() or now > deadline:
            loop.quit()

    timer.setInterval(20)
    timer.timeout.connect(tick)
    timer.start()
    loop.exec_()
    timer.stop()
    return longest[0]


def fill_u8(check: Checks, client: Any) -> tuple[Any, Any]:
    """A painted RGBA/U8 document, a soft irregular selection touching the top edge: generate, apply."""
    from cocreate_krita.calls import Calls
    from cocreate_krita.controller import DocumentController, GenerationParams, Phase
    from cocreate_krita.document import KritaDocument
    from krita import Krita

    width = height = 192
    doc = Krita.instance().createDocument(width, height, "fill", "RGBA", "U8", "", 72.0)
    background = doc.rootNode().childNodes()[0]
    paint_u8(background, width, height)
    stripes = doc.createNode("Paint", "paintlayer")
    doc.rootNode().addChildNode(stripes, None)
    paint_stripes(stripes, width, height)
    mask = soft_blob(width, height, 120, 10, 50, 40)
    select(doc, mask)
    mask = bytes(doc.selection().pixelData(0, 0, width, height))  # as Krita holds it
    check("u8: the selection is soft and irregular", len(set(mask)) > 10 and 0 < mask.count(255) < len(mask) // 2)
    layers_before = {n.name(): bytes(n.pixelData(0, 0, width, height)) for n in doc.rootNode().childNodes()}
    before = projection(doc)

    controller = DocumentController(KritaDocument(doc), client, Calls())
    seen = {"preview": False}
    controller.generate(GenerationParams(prompt="a glass apple", candidates=3, seed=5, steps=8))

    def watch() -> None:
        seen["preview"] |= controller.running and has_preview(doc)

    slowest = pump(controller, lambda: not controller.busy, watch=watch)
    strip = controller.strip
    check("u8: the job finished", controller.phase is Phase.finished, controller.message)
    check("u8: 3 candidates came back", strip is not None and len(strip.choices) == 3, strip and len(strip.choices))
    check("u8: a step preview layer showed while it ran", seen["preview"] and controller.previews_shown > 0, seen)
    check("u8: pumps stay short", slowest < 0.5, f"{slowest * 1000:.0f} ms")
    box = strip.placement.box if strip and strip.placement else None
    check("u8: the region is the selection's context, clipped at the top edge", box is not None and box.y == 0, box)

    controller.select(2)
    controller.apply()
    pump(controller, lambda: not controller.busy)
    after_names = names(doc)
    check(
        "u8: apply adds one layer, named after the prompt, above the active one",
        after_names == ["Background", "Paint", "a glass apple"],
        after_names,
    )
    check("u8: no preview layer after apply", not has_preview(doc))
    check(
        "u8: the original layers are untouched",
        all(
            bytes(n.pixelData(0, 0, width, height)) == layers_before[n.name()]
            for n in doc.rootNode().childNodes()
            if n.name() in layers_before
        ),
    )
    after = projection(doc)
    outside = changed_outside(before, after, mask, 4)
    check("u8: every pixel outside the selection is unchanged", outside == 0, f"{outside} changed")
    check("u8: the selection was painted", changed_inside(before, after, mask, 4) > 100)
    layer = top_layer(doc)
    pixels = bytes(layer.pixelData(0, 0, width, height))
    check(
        "u8: the new layer is transparent outside the selection",
        all(pixels[i * 4 + 3] == 0 for i, m in enumerate(mask) if m == 0),
    )
    decisions = [t.decision for t in controller.history]
    check("u8: apply reached the daemon as feedback", decisions[-1:] == ["accepted"], decisions)
    return doc, controller


def cancel_leaves_no_preview(check: Checks, client: Any, doc: Any) -> None:
    from cocreate_krita.calls import Calls
    from cocreate_krita.controller import DocumentController, GenerationParams, Phase
    from cocreate_krita.document import KritaDocument

    controller = DocumentController(KritaDocument(doc), client, Calls())
    layers = names(doc)
    controller.generate(GenerationParams(prompt="never finished", candidates=2, steps=200))
    pump(controller, lambda: has_preview(doc) or not controller.busy)
    check("cancel: the preview layer was there", has_preview(doc), controller.message)
    controller.cancel()
    check("cancel: the preview layer goes at once", not has_preview(doc))
    pump(controller, lambda: not controller.busy)
    check("cancel: the job ended cancelled", controller.phase is Phase.cancelled, controller.message)
    check(
        "cancel: no preview layer is left behind, nothing added",
        not has_preview(doc) and names(doc) == layers,
        names(doc),
    )


def history(check: Checks, client: Any, doc: Any, first: Any) -> None:
    """A fresh controller on the same document: re-apply from history, branch, variants, discard."""
    from cocreate_krita.calls import Calls
    from cocreate_krita.controller import DocumentController, GenerationParams, Phase
    from cocreate_krita.document import KritaDocument

    controller = DocumentController(KritaDocument(doc), client, Calls())
    controller.refresh_history()
    pump(controller, lambda: not controller.busy)
    turn_id = first.history[0].turn_id
    listed = [(t.turn_id, bool(t.candidates and t.candidates[0].thumbnail)) for t in controller.history]
    check("history: the document's turns are listed with thumbnails", listed[:1] == [(turn_id, True)], listed)
    applied = bytes(top_layer(doc).pixelData(0, 0, doc.width(), doc.height()))
    controller.choose_turn(turn_id)
    controller.select(2)
    controller.apply()  # GetCandidate, then the placement saved in the document
    pump(controller, lambda: not controller.busy)
    again = bytes(top_layer(doc).pixelData(0, 0, doc.width(), doc.height()))
    check(
        "history: re-applying the same candidate gives the same layer",
        again == applied and len(names(doc)) == 4,
        names(doc),
    )

    controller.generate(GenerationParams(prompt="a second try", candidates=1, steps=4))
    pump(controller, lambda: not controller.busy)
    branched = controller.history[-1]
    check("history: a generation from a chosen turn branches from it", branched.parent_id == turn_id, branched)

    controller.generate(GenerationParams(task="variants", prompt="ink wash", strength=0.5, candidates=2, steps=6))
    pump(controller, lambda: not controller.busy)
    check(
        "variants: two variants of the selection",
        controller.phase is Phase.finished and len(controller.strip.choices) == 2,
    )
    controller.discard()
    pump(controller, lambda: not controller.busy)
    last = controller.history[-1]
    check(
        "variants: discard reaches the daemon as rejected", (last.task, last.decision) == ("variants", "rejected"), last
    )
    check("discard: no preview layer, no new layer", not has_preview(doc) and len(names(doc)) == 4, names(doc))


def deep_document(check: Checks, client: Any, depth: str) -> None:
    """U16, F16 and F32 documents: read through Krita's colour management, written back in the document's depth."""
    from cocreate_krita.calls import Calls
    from cocreate_krita.controller import DocumentController, GenerationParams, Phase
    from cocreate_krita.document import KritaDocument
    from krita import Krita
    from PyQt5.QtGui import QImage

    width = height = 96
    doc = Krita.instance().createDocument(width, height, depth, "RGBA", depth, "", 72.0)
    paint_deep(doc.rootNode().childNodes()[0], depth, width, height)
    select(doc, soft_blob(width, height, 40, 60, 30, 22))
    mask = bytes(doc.selection().pixelData(0, 0, width, height))
    bpp = {"U16": 8, "F16": 8, "F32": 16}[depth]
    before = projection(doc)
    controller = DocumentController(KritaDocument(doc), client, Calls())
    controller.generate(GenerationParams(prompt="deep", candidates=2, seed=1, steps=4))
    pump(controller, lambda: not controller.busy)
    strip = controller.strip
    ok = controller.phase is Phase.finished and strip is not None and len(strip.choices) == 2
    check(f"{depth}: generated", ok, controller.message)
    if not ok:
        return
    controller.apply()
    pump(controller, lambda: not controller.busy)
    layer = top_layer(doc)
    check(f"{depth}: the new layer is in the document's depth", (layer.colorDepth(), layer.name()) == (depth, "deep"))
    after = projection(doc)
    outside = changed_outside(before, after, mask, bpp)
    check(f"{depth}: every pixel outside the selection is unchanged, in {depth}", outside == 0, f"{outside} changed")
    # Where the selection is full, the candidate covers the picture: what Krita shows in 8-bit sRGB is the candidate.
    box, chosen = strip.placement.box, strip.choices[0].image
    shown = doc.projection(box.x, box.y, box.width, box.height).convertToFormat(QImage.Format_RGBA8888)
    pointer = shown.constBits()
    pointer.setsize(shown.sizeInBytes())
    seen = bytes(pointer)
    worst = 0
    for row in range(box.height):
        for col in range(box.width):
            if mask[(box.y + row) * width + box.x + col] == 255:
                i = (row * box.width + col) * 4
                worst = max(worst, *(abs(seen[i + c] - chosen.rgba[i + c]) for c in range(3)))
    check(f"{depth}: the candidate shows as painted (8-bit sRGB, within 1)", worst <= 1, f"largest difference {worst}")


def docker_flow(check: Checks, client: Any) -> None:
    """The docker itself under offscreen Qt: Generate → candidates → Apply, Cancel, and no daemon."""
    from cocreate_client import CocreateClient
    from cocreate_krita.controller import Phase
    from cocreate_krita.docker import CocreateDocker
    from krita import Krita

    width = height = 96
    doc = Krita.instance().createDocument(width, height, "docker", "RGBA", "U8", "", 72.0)
    paint_u8(doc.rootNode().childNodes()[0], width, height)
    docker = CocreateDocker(documents=lambda: doc, client=client)
    docker.canvasChanged(None)
    controller = docker.controller
    check("docker: built, following the document", controller is not None and docker.widget() is not None)
    spin(lambda: not controller.busy)  # the history load at start
    docker.prompt.setPlainText("a lighthouse")
    docker.candidates.setValue(2)
    docker.steps.setValue(4)
    docker.fixed_seed.setChecked(True)
    docker.seed.setValue(9)
    docker.generate_button.click()
    check("docker: Generate starts the timer", docker.pumping and controller.running)
    longest = spin(lambda: controller.phase is Phase.finished or controller.phase is Phase.failed)
    check(
        "docker: candidates reach the strip",
        docker.strip.count() == 2,
        f"{docker.strip.count()} ({controller.message})",
    )
    check("docker: the main thread stayed free", longest < 1.0, f"longest gap {longest * 1000:.0f} ms")
    check(
        "docker: no selection means the whole canvas",
        controller.strip.placement.box.as_tuple() == (0, 0, width, height),
    )
    docker.strip.setCurrentRow(1)
    check("docker: choosing a thumbnail selects it", controller.selected == 1)
    docker.apply_button.click()
    spin(lambda: not docker.pumping)
    check("docker: Apply adds the layer", names(doc) == ["Background", "a lighthouse"], names(doc))
    check(
        "docker: the history lists the turn",
        docker.history.topLevelItemCount() == 1 and "accepted" in docker.history.topLevelItem(0).text(0),
        docker.history.topLevelItemCount() and docker.history.topLevelItem(0).text(0),
    )
    check("docker: the timer stops when idle", not docker.pumping)
    models = [docker.model.itemData(i) for i in range(docker.model.count())]
    check("docker: the model list comes from the daemon", "tiny-image" in models, models)
    turn_id = controller.history[0].turn_id
    docker.prompt.setPlainText("")
    docker.history.itemClicked.emit(docker.history.topLevelItem(0), 0)
    spin(lambda: not docker.pumping)
    chosen = (controller.branch_from == turn_id, docker.strip.count(), docker.prompt.toPlainText())
    check(
        "docker: choosing a turn shows its candidates, refills the prompt, branches from it",
        chosen == (True, 2, "a lighthouse"),
        chosen,
    )

    docker.steps.setValue(200)
    docker.generate_button.click()
    spin(lambda: has_preview(doc) or not controller.running)
    docker.cancel_button.click()
    spin(lambda: not controller.busy)
    check(
        "docker: Cancel leaves no preview layer",
        controller.phase is Phase.cancelled and not has_preview(doc),
        controller.message,
    )

    with CocreateClient("127.0.0.1:1", timeout=5) as nobody:
        offline = CocreateDocker(documents=lambda: doc, client=nobody)
        offline.canvasChanged(None)
        spin(lambda: not offline.controller.busy, timeout=60)  # its history load fails first
        offline.generate_button.click()
        longest = spin(lambda: not offline.controller.busy, timeout=60)
        status = offline.status.text()
        check(
            "no daemon: a clear message and Retry",
            "No cocreate daemon answers" in status and offline.retry_button.text() == "Retry",
            status,
        )
        check("no daemon: Krita stays responsive", longest < 1.0, f"longest gap {longest * 1000:.0f} ms")
        offline.retry_button.click()
        longest = spin(lambda: not offline.controller.busy, timeout=60)
        check(
            "no daemon: Retry tries again and says so again",
            offline.controller.phase is Phase.failed and "No cocreate daemon answers" in offline.status.text(),
            offline.status.text(),
        )
        offline.endpoint.setText("no-such-endpoint")
        offline.retry_button.click()
        check(
            "a malformed endpoint is explained",
            "expected unix:/abs/path" in offline.status.text(),
            offline.status.text(),
        )


def run(endpoint: str, token: str, check: Checks) -> None:
    import cocreate_krita

    plugin = Path(cocreate_krita.__file__).parent  # importing it put its vendored client on sys.path
    import cocreate_client
    from cocreate_client import CocreateClient

    check(
        "the plugin is the one Krita's importer unpacked", "/pykrita/cocreate_krita/" in cocreate_krita.__file__, plugin
    )
    check(
        "the client is the one inside the plugin",
        str(plugin / "vendor") in cocreate_client.__file__,
        cocreate_client.__file__,
    )
    compiled = [str(p) for p in plugin.rglob("*") if p.name.endswith(COMPILED)]
    check("the installed plugin holds no compiled modules", compiled == [], compiled)
    check("grpc (compiled) is not loaded", "grpc" not in sys.modules)
    with CocreateClient(endpoint, token=token, timeout=60) as client:
        doc, first = fill_u8(check, client)
        cancel_leaves_no_preview(check, client, doc)
        history(check, client, doc, first)
        for depth in ("U16", "F16", "F32"):
            deep_document(check, client, depth)
        docker_flow(check, client)


def main(args: list[str]) -> None:
    endpoint, token = args[0], args[1]
    check = Checks()
    verdict: dict[str, Any] = {"python": sys.version.split()[0]}
    try:
        from krita import Krita

        verdict["krita"] = Krita.instance().version()
        run(endpoint, token, check)
    except Exception:
        verdict["exception"] = traceback.format_exc()
    verdict["checks"] = check.results
    VERDICT.write_text(json.dumps(verdict, indent=2))
    os.sync()
