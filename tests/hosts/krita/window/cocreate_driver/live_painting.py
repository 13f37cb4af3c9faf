"""The live-painting scenario: Live on, strokes painted into the layer between updates, the newest result on
the live layer, Apply, Live off with nothing left behind."""

from __future__ import annotations

import time
from typing import Any

from . import (
    ActiveWatch,
    Steps,
    Verdict,
    Wait,
    docker,
    every_node,
    make_active,
    open_document,
    paint_layer,
    pause,
    select,
    set_fields,
    shown,
    tree,
)

LIVE_LAYER = "cocreate live"
BOX = (40, 40, 64, 64)  # the selection
CORNER = (136, 136, 16, 16)  # where it moves: its region is a smaller part of the canvas than BOX's
STROKES = 4


def live_layer(document: Any) -> Any:
    return next((n for n in every_node(document.rootNode()) if n.name() == LIVE_LAYER), None)


def dab(document: Any, node: Any, number: int) -> None:
    """A short horizontal stroke into the selection, as a brush leaves it."""
    x, y = BOX[0] + 4, BOX[1] + 6 + 9 * number
    node.setPixelData(bytes((30, 200, 40 * number % 256, 255)) * 48 * 3, x, y, 48, 3)
    document.refreshProjection()


def live_painting(verdict: Verdict) -> Steps:
    from cocreate_client.pixels import swap_red_blue
    from cocreate_krita.region import layer_pixels

    check = verdict.check
    document = open_document("live", 160, 160)
    yield Wait(lambda: shown(document), "the docker follows the new document")
    sketch = paint_layer(document, "Sketch", document.rootNode())
    yield from make_active(document, sketch)
    select(document, *BOX)
    panel = docker()
    set_fields("a watercolour lake", 1, 4)
    live_panel = panel.live_panel
    live_panel.toggle.click()
    live = live_panel.live
    check("Live mode starts", live is not None and live.active, live_panel.status.text())
    watch = ActiveWatch(document)
    yield Wait(lambda: live.stats.shown >= 1, "the first live update", 180, watch=watch)
    check("the first update shows on the live layer", live_layer(document) is not None, tree(document.rootNode()))
    settle = time.monotonic() + 1.0
    yield Wait(lambda: time.monotonic() >= settle, "a moment after the live layer came", watch=watch)
    check("the painter's layer stays active", watch.kept("Sketch"), watch)

    started, sent_before = time.monotonic(), live.stats.sent
    watch = ActiveWatch(document)
    for number in range(STROKES):  # a stroke every 0.5 s: faster than the updates come back on a busy CPU
        dab(document, sketch, number)
        until = time.monotonic() + 0.5
        yield Wait(lambda until=until: time.monotonic() >= until, "0.5 s", watch=watch)
    strokes_per_second = STROKES / (time.monotonic() - started)
    yield Wait(lambda: not live.updates and live.stats.sent > sent_before, "the last update", 240, watch=watch)
    check("the painter's layer stays active while updates show", watch.kept("Sketch"), watch)
    verdict.facts["live"] = {
        "strokes_per_second": round(strokes_per_second, 2),
        "sent": live.stats.sent,
        "shown": live.stats.shown,
        "stale_dropped": live.stats.stale_dropped,
        "latencies_s": [round(s, 2) for s in live.stats.latencies],
    }
    check("each stroke sent an update", live.stats.sent >= 1 + STROKES, verdict.facts["live"])
    result = live.shown
    check(
        "what shows is the newest update's result",
        result is not None and result.number == live.newest and result.turn_id == live.newest_turn,
        f"shown {result and result.number} newest {live.newest}",
    )
    layer = live_layer(document)
    if result is not None and layer is not None:
        box = result.placement.box
        expected = swap_red_blue(layer_pixels(result.image, result.placement.mask).rgba)
        check("the live layer holds that result", bytes(layer.pixelData(*box.as_tuple())) == expected)
    turns = {t.id: t.status for t in panel._client.get_session(live.session_id).turns}
    check("the newest live turn completed", turns.get(live.newest_turn) == "completed", turns)

    select(document, *CORNER)
    sent_before = live.stats.sent
    yield Wait(
        lambda: not live.updates and live.stats.sent > sent_before and live.shown is not None,
        "the update for the moved selection",
        240,
    )
    result, layer = live.shown, live_layer(document)
    if result is not None and layer is not None:
        box, width = result.placement.box, document.width()
        outside = bytearray(layer.pixelData(0, 0, width, document.height()))
        for y in range(box.y, box.y + box.height):
            outside[(y * width + box.x) * 4 : (y * width + box.x + box.width) * 4] = bytes(4 * box.width)
        check("where the selection moved from, the live layer holds nothing", not any(outside), box)

    live_panel.apply_button.click()
    layers = tree(document.rootNode())
    check("Apply makes the result a normal layer", any(n.startswith("live: ") for n in layers), layers)
    layer = live_layer(document)
    check(
        "Apply leaves the live layer empty, for the next update",
        layer is not None and not any(bytes(layer.pixelData(0, 0, document.width(), document.height()))),
        layers,
    )
    yield pause(1.0)

    live_panel.toggle.click()
    check("Live mode ends", not live.active and not live.updates, live_panel.status.text())

    def daemon_idle() -> bool:
        return not panel._client.model_status().running_job_id

    yield Wait(daemon_idle, "the daemon runs nothing for this document", 60)
    yield pause(1.0)
    check("after Live: no live layer", live_layer(document) is None, tree(document.rootNode()))
    check("after Live: no job runs", daemon_idle())
    check("after Live: nothing ticks", not live_panel._timer.isActive())
