"""The Krita plugin's controller against a real daemon (tiny profile), with an in-memory document.

The same controller runs inside real Krita in tests/hosts/test_krita.py; here it is driven as the
docker's timer would, which makes daemon outages and restarts cheap to stage.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cocreate_client import CocreateClient
from cocreate_client.pixels import Image, Mask, crop, crop_mask

from tests.support.daemon import Daemon, running_daemon, start_daemon

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "krita"))

from cocreate_krita.calls import Calls
from cocreate_krita.controller import DocumentController, GenerationParams, Phase
from cocreate_krita.region import Box, DocumentError, Region, clip, context_box, is_empty

SIDE = 96
# A pump only draws what already arrived; waiting on the network would take seconds (the client's
# timeouts). The margin is for drawing previews in pure Python on a busy shared CPU.
PUMP_BUDGET_S = 0.25


class MemoryCanvas:
    """A document in memory: one picture, an optional 8-bit selection, layers and a preview."""

    def __init__(self, picture: Image, selection: Mask | None) -> None:
        self.picture = picture
        self.selection = selection
        self.layers: list[tuple[str, Box, Image]] = []
        self.active_layer = "painter's layer"
        self.placed_above: list[str] = []
        self.preview: tuple[Box, Image] | None = None
        self.placements = b""
        self.key = "memory-" + str(id(self))
        self.name = "memory"

    def read_region(self) -> Region:
        width, height = self.picture.width, self.picture.height
        if self.selection is None:
            return Region(Box(0, 0, width, height), self.picture, None)
        rows = [y for y in range(height) if any(self.selection.alpha[y * width : (y + 1) * width])]
        cols = [x for x in range(width) if any(self.selection.alpha[x::width])]
        bounds = (
            clip(Box(cols[0], rows[0], cols[-1] + 1 - cols[0], rows[-1] + 1 - rows[0]), width, height) if rows else None
        )
        if bounds is None:
            raise DocumentError("The selection is empty.")
        box = context_box(bounds, width, height)
        mask = crop_mask(self.selection, *box.as_tuple())
        assert not is_empty(mask)
        return Region(box, crop(self.picture, *box.as_tuple()), mask)

    def scaled(self, picture: Image, width: int, height: int) -> Image:
        rows = []
        for y in range(height):
            source = picture.rgba[(y * picture.height // height) * picture.width * 4 :]
            rows.append(b"".join(source[(x * picture.width // width) * 4 :][:4] for x in range(width)))
        return Image(width, height, b"".join(rows))

    def anchor(self) -> str:
        return self.active_layer

    def show_preview(self, box: Box, pixels: Image, above: str = "") -> None:
        assert (pixels.width, pixels.height) == (box.width, box.height)
        self.preview = (box, pixels)

    def remove_preview(self) -> None:
        self.preview = None

    def add_layer(self, name: str, box: Box, pixels: Image, above: str = "") -> None:
        self.layers.append((name, box, pixels))
        self.placed_above.append(above)

    def load_placements(self) -> bytes:
        return self.placements

    def save_placements(self, data: bytes) -> None:
        self.placements = data


def painted(side: int = SIDE) -> Image:
    return Image(side, side, bytes(v for y in range(side) for x in range(side) for v in (x * 2, y * 2, 90, 255)))


def soft_blob_at_edge(side: int = SIDE) -> Mask:
    """An irregular soft selection that runs off the left edge."""
    values = bytearray()
    for y in range(side):
        for x in range(side):
            inside = ((x / 30) ** 2 + ((y - 40) / 18) ** 2) ** 0.5 + 0.15 * ((x * 7 + y * 3) % 5) / 5
            values.append(max(0, min(255, round((1.0 - inside) * 600))))
    return Mask(side, side, bytes(values))


def pump_until(controller: DocumentController, done: Callable[[], bool], timeout: float = 120.0) -> float:
    """Pump as the docker's timer does until `done()`; returns the slowest pump in seconds."""
    slowest, deadline = 0.0, time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"stuck in {controller.phase}: {controller.message}"
        assert controller.phase is not Phase.failed, controller.message
        started = time.perf_counter()
        controller.pump()
        slowest = max(slowest, time.perf_counter() - started)
        time.sleep(0.005)
    return slowest


def settled(controller: DocumentController) -> Callable[[], bool]:
    return lambda: not controller.busy


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with running_daemon(tmp_path_factory.mktemp("krita-controller") / "home") as running:
        yield running


@pytest.fixture
def client(daemon: Daemon) -> Iterator[CocreateClient]:
    with CocreateClient(daemon.endpoint, timeout=30) as connected:
        yield connected


def controller_for(canvas: MemoryCanvas, client: CocreateClient) -> DocumentController:
    return DocumentController(canvas, client, Calls())


def test_fill_a_soft_selection_at_the_edge_then_apply(client: CocreateClient) -> None:
    canvas = MemoryCanvas(painted(), soft_blob_at_edge())
    controller = controller_for(canvas, client)
    previews: list[object] = []
    controller.on_change = lambda: previews.append(canvas.preview) if controller.running and canvas.preview else None
    controller.generate(GenerationParams(prompt="a red fox", candidates=3, seed=11, steps=6))
    slowest = pump_until(controller, settled(controller))

    assert controller.phase is Phase.finished, controller.message
    assert controller.previews_shown > 0 and previews, "no step preview reached the preview layer"
    strip = controller.strip
    assert strip is not None and strip.placement is not None
    assert [c.index for c in strip.choices] == [0, 1, 2]
    box, mask = strip.placement.box, strip.placement.mask
    assert box.x == 0 and mask is not None  # the selection touches the left edge
    original = crop(canvas.picture, *box.as_tuple())
    for choice in strip.choices:
        assert choice.image is not None and (choice.image.width, choice.image.height) == (box.width, box.height)
        kept = [
            choice.image.rgba[i * 4 : i * 4 + 4] == original.rgba[i * 4 : i * 4 + 4]
            for i, m in enumerate(mask.alpha)
            if m == 0
        ]
        assert all(kept), "the daemon changed pixels outside the selection"
    assert canvas.preview is not None  # the chosen candidate, shown for comparison

    canvas.active_layer = "another layer"  # the painter moved on before applying
    controller.select(1)
    controller.apply()
    pump_until(controller, settled(controller))
    assert canvas.preview is None
    assert canvas.placed_above == ["painter's layer"], "the result goes above the layer active at Generate"
    [(name, layer_box, layer)] = canvas.layers
    assert (name, layer_box) == ("a red fox", box)
    chosen = strip.choices[1].image
    assert chosen is not None
    for i, m in enumerate(mask.alpha):
        expected = b"\0\0\0\0" if m == 0 else chosen.rgba[i * 4 : i * 4 + 4]
        assert layer.rgba[i * 4 : i * 4 + 4] == expected
    turn = controller.history[-1]
    assert turn.turn_id == strip.turn_id and turn.decision == "accepted"
    assert [c.decision for c in turn.candidates] == ["", "accepted", ""]
    assert slowest < PUMP_BUDGET_S, f"a pump took {slowest * 1000:.0f} ms"


def test_cancel_removes_the_preview(client: CocreateClient) -> None:
    canvas = MemoryCanvas(painted(), soft_blob_at_edge())
    controller = controller_for(canvas, client)
    controller.generate(GenerationParams(prompt="slow", candidates=2, steps=200))
    pump_until(controller, lambda: canvas.preview is not None)
    controller.cancel()
    assert canvas.preview is None
    pump_until(controller, settled(controller))
    assert controller.phase is Phase.cancelled and canvas.preview is None and controller.strip is None


def test_history_reapply_and_branch(client: CocreateClient) -> None:
    canvas = MemoryCanvas(painted(), soft_blob_at_edge())
    controller = controller_for(canvas, client)
    controller.generate(GenerationParams(prompt="first", candidates=2, seed=3, steps=4))
    pump_until(controller, settled(controller))
    first = controller.strip
    assert first is not None and first.choices[0].image is not None
    controller.discard()
    pump_until(controller, settled(controller))
    assert controller.history[-1].decision == "rejected"

    # A new document controller (Krita restarted, say) finds the turn through the session and the saved placements.
    again = controller_for(canvas, client)
    again.refresh_history()
    pump_until(again, settled(again))
    assert [t.turn_id for t in again.history] == [first.turn_id]
    turn = again.choose_turn(first.turn_id)
    assert turn is not None and turn.prompt == "first" and again.branch_from == first.turn_id
    assert again.strip is not None and again.strip.choices[0].image is None  # only thumbnails so far
    again.apply()  # fetches the candidate with GetCandidate, then applies it
    pump_until(again, settled(again))
    [(_, box, _)] = canvas.layers
    assert first.placement is not None and box == first.placement.box
    assert again.strip.choices[0].image == first.choices[0].image

    again.generate(GenerationParams(prompt="second", candidates=1, steps=4))
    pump_until(again, settled(again))
    branched = again.history[-1]
    assert branched.parent_id == first.turn_id and branched.prompt == "second"


def test_variants_of_the_selection(client: CocreateClient) -> None:
    canvas = MemoryCanvas(painted(), soft_blob_at_edge())
    controller = controller_for(canvas, client)
    controller.generate(GenerationParams(task="variants", prompt="ink wash", strength=0.5, candidates=2, steps=6))
    pump_until(controller, settled(controller))
    assert controller.phase is Phase.finished and controller.strip and len(controller.strip.choices) == 2
    controller.apply()
    assert canvas.layers[0][0] == "ink wash (variant)"
    pump_until(controller, settled(controller))
    assert controller.history[-1].task == "variants"


def test_no_selection_uses_the_whole_canvas_and_an_empty_one_is_refused(client: CocreateClient) -> None:
    canvas = MemoryCanvas(painted(48), None)
    controller = controller_for(canvas, client)
    controller.generate(GenerationParams(prompt="everything", candidates=1, steps=3))
    pump_until(controller, settled(controller))
    assert controller.strip and controller.strip.placement and controller.strip.placement.box == Box(0, 0, 48, 48)

    canvas.selection = Mask(48, 48, bytes(48 * 48))
    controller.generate(GenerationParams(prompt="nothing"))
    assert controller.phase is Phase.failed and "empty" in controller.message


def test_no_daemon_then_retry(tmp_path: Path) -> None:
    home = tmp_path / "home"
    socket = home / "cocreate.sock"
    canvas = MemoryCanvas(painted(48), soft_blob_at_edge(48))
    with CocreateClient(f"unix:{socket}", timeout=30) as client:
        controller = controller_for(canvas, client)
        controller.generate(GenerationParams(prompt="anyone there", candidates=1, steps=3))
        slowest = pump_until(controller, settled(controller), timeout=30)
        assert controller.phase is Phase.failed
        assert "No cocreate daemon answers" in controller.message and "Retry" in controller.message
        assert slowest < PUMP_BUDGET_S and canvas.preview is None
        with running_daemon(home):
            controller.retry()
            pump_until(controller, settled(controller))
        assert controller.phase is Phase.finished, controller.message


@pytest.mark.parametrize("ending", ["stop", "kill"])
def test_daemon_restart_mid_job(tmp_path: Path, ending: str) -> None:
    home = tmp_path / "home"
    canvas = MemoryCanvas(painted(), soft_blob_at_edge())
    first = start_daemon(home)
    with CocreateClient(first.endpoint, timeout=30) as client:
        controller = controller_for(canvas, client)
        try:
            controller.generate(GenerationParams(prompt="interrupted", candidates=2, steps=200))
            pump_until(controller, lambda: canvas.preview is not None)
        finally:
            first.stop() if ending == "stop" else first.kill()
        slowest = pump_until(controller, settled(controller), timeout=30)
        assert controller.phase is Phase.failed and "Retry" in controller.message
        assert canvas.preview is None and slowest < PUMP_BUDGET_S
        with running_daemon(home):  # the same home and socket: the session is still there
            controller.generate(GenerationParams(prompt="again", candidates=1, steps=3))
            pump_until(controller, settled(controller))
            assert controller.phase is Phase.finished, controller.message
            assert [t.prompt for t in controller.history] == ["interrupted", "again"]


def test_more_like_less_like_and_in_between_grow_from_the_shown_turn(client: CocreateClient) -> None:
    canvas = MemoryCanvas(painted(), soft_blob_at_edge())
    controller = controller_for(canvas, client)
    params = GenerationParams(prompt="a lantern", candidates=2, seed=4, steps=3)
    controller.generate(params)
    pump_until(controller, settled(controller))
    first = controller.strip
    assert first is not None and len(first.choices) == 2
    one, two = (c.candidate_id for c in first.choices)

    controller.steer(params, "more_like", [one])
    pump_until(controller, settled(controller))
    assert controller.phase is Phase.finished, controller.message
    assert controller.history[-1].parent_id == first.turn_id

    controller.steer(params, "interpolate", [one])
    assert "Pick two candidates" in controller.message and controller.phase is Phase.finished

    controller.choose_turn(first.turn_id)
    controller.steer(params, "interpolate", [one, two])
    pump_until(controller, settled(controller))
    assert controller.phase is Phase.finished, controller.message
    walk = controller.strip
    assert walk is not None and len(walk.choices) == 3  # the two ends and one between them
    ends = [walk.choices[0].image, walk.choices[-1].image]
    assert ends == [first.choices[0].image, first.choices[1].image], "the walk's ends are the two picked"
    assert controller.history[-1].parent_id == first.turn_id


@pytest.mark.timeout(600)
def test_learn_a_personal_lora_from_the_kept_pictures(client: CocreateClient) -> None:
    canvas = MemoryCanvas(painted(), soft_blob_at_edge())
    controller = controller_for(canvas, client)
    controller.personalize("too-soon")
    assert "Apply a candidate" in controller.message and controller.training is None

    controller.generate(GenerationParams(prompt="a teapot", candidates=2, seed=8, steps=3))
    pump_until(controller, settled(controller))
    controller.apply()
    pump_until(controller, settled(controller))
    controller.personalize("krita-style", steps=5)
    assert controller.learning
    pump_until(controller, settled(controller), timeout=300)
    assert controller.training is not None and controller.training.lora == "krita-style", controller.message
    assert "Learned “krita-style” from 1 kept pictures" in controller.message
    assert "krita-style" in [m.name for m in client.list_models() if m.kind == "lora"]

    controller.generate(GenerationParams(prompt="a teapot", candidates=1, seed=8, steps=3, lora="krita-style"))
    pump_until(controller, settled(controller))
    assert controller.phase is Phase.finished, controller.message
