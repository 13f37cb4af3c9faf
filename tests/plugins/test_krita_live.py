"""The Krita plugin's live painting against a real daemon (tiny profile), with an in-memory document
driven as the live panel's timer would: strokes in, the newest update shown, stale ones dropped."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Hashable
from pathlib import Path

import pytest
from cocreate_client import CocreateClient
from cocreate_client.pixels import Image, Mask

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "krita"))

from cocreate_krita.calls import Calls
from cocreate_krita.controller import GenerationParams
from cocreate_krita.live import DEBOUNCE_S, LivePainting
from cocreate_krita.region import layer_pixels

from .test_krita_controller import SIDE, MemoryCanvas, client, daemon, painted  # noqa: F401 (fixtures)


class LiveMemoryCanvas(MemoryCanvas):
    preview_made = False

    def make_preview(self, above: str = "") -> None:
        self.preview_made = True

    def clear_preview(self) -> None:
        self.preview = None

    def fingerprint(self) -> Hashable:
        return hash((self.picture.rgba, self.selection.alpha if self.selection else b""))

    def paint_stroke(self, number: int) -> None:
        """A horizontal dab across the middle, a different colour and row each time."""
        pixels = bytearray(self.picture.rgba)
        y = 20 + (5 * number) % (SIDE - 40)
        for x in range(SIDE // 4, 3 * SIDE // 4):
            pixels[(y * SIDE + x) * 4 : (y * SIDE + x) * 4 + 3] = bytes((250, (40 * number) % 256, 30))
        self.picture = Image(SIDE, SIDE, bytes(pixels))


def centre_square() -> Mask:
    inside = range(SIDE // 4, 3 * SIDE // 4)
    return Mask(SIDE, SIDE, bytes(255 if x in inside and y in inside else 0 for y in range(SIDE) for x in range(SIDE)))


def run_until(live: LivePainting, done: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, live.message
        live.tick()
        time.sleep(0.01)


def test_strokes_send_updates_and_only_the_newest_is_shown(client: CocreateClient) -> None:  # noqa: F811
    canvas = LiveMemoryCanvas(painted(), centre_square())
    params = GenerationParams(prompt="a lake at dusk", steps=12)
    live = LivePainting(canvas, client, Calls(), lambda: params)
    live.start()
    run_until(live, lambda: live.stats.sent == 1)
    for number in range(1, 5):  # strokes faster than updates come back: each update replaces the one before
        canvas.paint_stroke(number)
        run_until(live, lambda number=number: live.stats.sent == number + 1)
    run_until(live, lambda: not live.updates)
    assert live.stats.sent == 5
    assert live.shown is not None and live.shown.number == 5, "the last update's result is what shows"
    assert canvas.preview is not None
    assert canvas.preview[1] == layer_pixels(live.shown.image, live.shown.placement.mask)
    turn = next(t for t in client.get_session(live.session_id).turns if t.id == live.shown.turn_id)
    assert turn.status == "completed"
    assert live.stats.shown + live.stats.stale_dropped <= live.stats.sent
    live.apply()
    assert canvas.preview is None and len(canvas.layers) == 1 and canvas.layers[0][0].startswith("live: ")
    canvas.paint_stroke(9)
    run_until(live, lambda: live.stats.sent == 6)
    live.stop()
    assert canvas.preview is None and not live.updates
    live.tick()
    time.sleep(DEBOUNCE_S * 2)
    live.tick()
    assert live.stats.sent == 6, "nothing is sent after leaving live mode"


def test_results_of_replaced_updates_are_never_shown(client: CocreateClient, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """Sent as ordinary requests, every update runs to its end: those a newer update replaced are dropped."""
    from cocreate_krita import live as live_module

    class PlainRequests:
        @staticmethod
        def live(request: object) -> object:
            return request

    monkeypatch.setattr(live_module, "tasks", PlainRequests)
    canvas = LiveMemoryCanvas(painted(), centre_square())
    params = GenerationParams(prompt="plain", steps=20)  # longer than the debounce: replaced before they end
    live = LivePainting(canvas, client, Calls(), lambda: params)
    shown_numbers: list[int] = []
    live.start()
    run_until(live, lambda: live.stats.sent == 1)
    for number in range(1, 4):
        canvas.paint_stroke(number)
        run_until(live, lambda number=number: live.stats.sent == number + 1)
    while live.updates:
        live.tick()
        if live.shown is not None and (not shown_numbers or shown_numbers[-1] != live.shown.number):
            shown_numbers.append(live.shown.number)
        time.sleep(0.01)
    assert live.stats.stale_dropped >= 1, "the earlier updates' results came and were dropped"
    assert shown_numbers[-1] == 4 and shown_numbers == sorted(shown_numbers), shown_numbers
    live.stop()
