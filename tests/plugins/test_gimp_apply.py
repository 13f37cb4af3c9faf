"""The GIMP plug-in's plans and event-to-layer logic outside GIMP: fakes for the image, a real daemon for jobs."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "gimp" / "cocreate"))
from cocreate_client import CocreateClient
from cocreate_client.events import Accepted, CandidateReady, Done, Event, Failed, Progress
from cocreate_client.pb import cocreate_pb2 as pb
from cocreate_client.pixels import Image, Mask, crop, crop_mask
from cocreate_gimp import masks, plans
from cocreate_gimp.apply import Apply
from cocreate_gimp.candidates import Tag, choose
from cocreate_gimp.geometry import Rect, Sides
from cocreate_gimp.plans import Layer, Options, Plan, PlanError

from tests.support.daemon import running_daemon


def gradient(width: int, height: int, alpha: int = 255) -> Image:
    return Image(
        width,
        height,
        bytes(v for y in range(height) for x in range(width) for v in (x * 3 % 256, y * 5 % 256, 90, alpha)),
    )


@dataclass
class FakePicture:
    """plans.Picture over plain bytes."""

    image: Image
    selected: Mask | None = None
    layers: dict[str, tuple[Image, tuple[int, int]]] = field(default_factory=dict)
    read: list[tuple[str, Rect | None]] = field(default_factory=list)  # every layer read, and the area asked

    @property
    def width(self) -> int:
        return self.image.width

    @property
    def height(self) -> int:
        return self.image.height

    def visible(self, rect: Rect) -> Image:
        return crop(self.image, rect.x, rect.y, rect.width, rect.height)

    def selection_bounds(self) -> Rect | None:
        return masks.bounding_box(self.selected) if self.selected else None

    def selection(self, rect: Rect) -> Mask:
        assert self.selected is not None
        return crop_mask(self.selected, rect.x, rect.y, rect.width, rect.height)

    def layer_pixels(self, layer: object) -> tuple[Image, tuple[int, int]]:
        self.read.append((str(layer), None))
        return self.layers[str(layer)]

    def layer_area(self, layer: object, rect: Rect) -> Image:
        self.read.append((str(layer), rect))
        return Image(rect.width, rect.height, bytes([7]) * rect.width * rect.height * 4)


@dataclass
class FakeCanvas:
    """apply.Canvas and apply.ProgressBar, recording every call."""

    calls: list[tuple[object, ...]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    fractions: list[float] = field(default_factory=list)

    def begin(self) -> None:
        self.calls.append(("begin",))

    def grow(self, sides: Sides) -> None:
        self.calls.append(("grow", sides))

    def add_layer(self, name: str, layer: Layer, *, visible: bool, rank: int, above: object, tag: Tag) -> None:
        self.calls.append(("layer", name, layer, visible, rank, above, tag))

    def end(self) -> None:
        self.calls.append(("end",))

    def text(self, message: str) -> None:
        self.texts.append(message)

    def fraction(self, value: float) -> None:
        self.fractions.append(value)

    @property
    def layers(self) -> list[tuple[object, ...]]:
        return [call for call in self.calls if call[0] == "layer"]


def rect_selection(width: int, height: int, inner: Rect, edge: int = 128) -> Mask:
    """A rectangle selected fully, with a one-pixel soft border at value `edge`."""
    outer = inner.grown(1)
    values = bytearray()
    for y in range(height):
        for x in range(width):
            inside = inner.x <= x < inner.right and inner.y <= y < inner.bottom
            border = outer.x <= x < outer.right and outer.y <= y < outer.bottom
            values.append(255 if inside else edge if border else 0)
    return Mask(width, height, bytes(values))


# ---------------------------------------------------------------- plans


def test_expand_plan_sends_the_band_next_to_the_grown_sides() -> None:
    picture = FakePicture(gradient(300, 64))
    plan = plans.expand(picture, Sides(right=32, top=16), 8, Options(prompt="a meadow", candidates=2, seed=7, steps=2))
    task = plan.request.expand
    assert (task.left, task.top, task.right, task.bottom, task.feather) == (0, 16, 32, 0, 8)
    assert (plan.request.candidates, plan.request.seed, task.steps, task.prompt) == (2, 7, 2, "a meadow")
    # Growing the top needs the whole width; 64 rows + 16 + 8 of seam set the context's reach.
    assert (task.image.width, task.image.height) == (300, 64)
    assert plan.grow == Sides(right=32, top=16) and plan.placed == (0, 0)


def test_an_expand_layer_holds_the_new_area_and_seam_only() -> None:
    picture = FakePicture(gradient(40, 20))
    plan = plans.expand(picture, Sides(right=10), 4, Options())
    source = plans.geometry.expand_region(40, 20, Sides(right=10), 4).source
    # An answer as the daemon makes it: the source copied at (0, 0), the new strip and the seam painted red.
    answer = crop(picture.image, source.x, source.y, source.width, source.height).rgba
    width = source.width + 10
    painted = bytearray()
    for y in range(20):
        painted += answer[y * source.width * 4 : (y + 1) * source.width * 4 - 16] + bytes([255, 0, 0, 255]) * 14
    layer = plan.layer(Image(width, 20, bytes(painted)))
    # Cut to the painted strip: 4 seam columns and the 10 new ones, all opaque red.
    assert (layer.image.width, layer.image.height, layer.x, layer.y) == (14, 20, 36, 0)
    assert layer.image.rgba == bytes([255, 0, 0, 255]) * 14 * 20


def test_fill_plan_sends_the_soft_selection_with_context_and_keeps_only_selected_pixels() -> None:
    selected = rect_selection(200, 200, Rect(90, 90, 20, 20))
    plan = plans.fill(FakePicture(gradient(200, 200), selected), Options(prompt="a stone", strength=0.5))
    task = plan.request.inpaint
    # The selection box (89..111) with 64 px of context each side.
    assert (task.image.width, task.image.height, plan.placed) == (150, 150, (25, 25))
    assert task.mask.alpha == crop_mask(selected, 25, 25, 150, 150).alpha and task.strength == 0.5
    answer = Image(150, 150, bytes([1, 2, 3, 255]) * 150 * 150)
    layer = plan.layer(answer)
    assert (layer.x, layer.y, layer.image.width, layer.image.height) == (89, 89, 22, 22)
    alpha = layer.image.rgba[3::4]
    assert alpha[0] == 255 and alpha.count(0) == 0  # the soft border is selected (128): kept, blended by the daemon


def test_variants_of_a_selection_restyle_the_selected_part_only() -> None:
    selected = rect_selection(100, 80, Rect(10, 10, 30, 20), edge=0)
    plan = plans.variants_of_selection(FakePicture(gradient(100, 80), selected), Options(prompt="ink"))
    task = plan.request.variants
    assert task.style_prompt == "ink" and (task.mask.width, task.mask.height) == (task.image.width, task.image.height)
    layer = plan.layer(Image(task.image.width, task.image.height, bytes(task.image.width * task.image.height * 4)))
    assert (layer.x, layer.y, layer.image.width, layer.image.height) == (10, 10, 30, 20)
    assert plan.above is None  # over the visible image: at the top


def test_fill_needs_a_selection() -> None:
    with pytest.raises(PlanError, match="select the area first"):
        plans.fill(FakePicture(gradient(10, 10)), Options())


def test_variants_of_a_layer_keep_its_shape_and_sit_above_it() -> None:
    pixels = Image(2, 1, bytes([1, 2, 3, 0, 4, 5, 6, 200]))
    picture = FakePicture(gradient(10, 10), layers={"the layer": (pixels, (5, 6))})
    plan = plans.variants_of_layer(picture, "the layer", Options(prompt="ink", candidates=1))
    assert plan.request.variants.style_prompt == "ink" and not plan.request.variants.HasField("mask")
    layer = plan.layer(Image(2, 1, bytes([9, 9, 9, 255, 8, 8, 8, 255])))
    assert layer == Layer(Image(2, 1, bytes([9, 9, 9, 0, 8, 8, 8, 200])), 5, 6)
    assert plan.above == "the layer"


def test_candidates_are_1_to_16() -> None:
    with pytest.raises(PlanError, match="1 to 16"):
        plans.fill(FakePicture(gradient(10, 10), rect_selection(10, 10, Rect(2, 2, 3, 3))), Options(candidates=17))


# ---------------------------------------------------------------- applying events


def expand_plan() -> Plan:
    return plans.expand(FakePicture(gradient(64, 48)), Sides(right=16), 4, Options(prompt="a meadow", candidates=2))


def answer_for(plan: Plan) -> Image:
    task = plan.request.expand
    return gradient(task.image.width + task.right, task.image.height)


def test_candidates_become_layers_in_one_undo_group_the_first_shown() -> None:
    plan, canvas = expand_plan(), FakeCanvas()
    apply = Apply(plan, canvas, canvas)
    events: list[Event] = [
        Accepted("job", "turn", 0, [7, 8]),
        Progress(1, 2),
        Progress(2, 2),
        CandidateReady(1, "c1", 8, answer_for(plan)),
        CandidateReady(0, "c0", 7, answer_for(plan)),
    ]
    assert not apply.handle(events)
    assert apply.handle([Done("turn", cancelled=False)])
    assert [call[0] for call in canvas.calls] == ["begin", "grow", "layer", "layer", "end"]
    assert canvas.calls[1] == ("grow", Sides(right=16))
    names = [call[1] for call in canvas.layers]
    assert names == ["cocreate expand 2/2 · seed 8 · a meadow", "cocreate expand 1/2 · seed 7 · a meadow"]
    # Candidate 0 came second but goes above candidate 1 (rank 0) and is the one shown.
    assert [(call[3], call[4]) for call in canvas.layers] == [(False, 0), (True, 0)]
    assert canvas.fractions == [0.5, 1.0] and apply.layers == 2 and not apply.cancelled
    # Each layer knows its candidate and the turn its siblings share (for Keep This Candidate).
    assert [call[6] for call in canvas.layers] == [Tag("c1", "turn", "job", 1), Tag("c0", "turn", "job", 0)]


def test_failure_before_any_candidate_changes_nothing() -> None:
    canvas = FakeCanvas()
    apply = Apply(expand_plan(), canvas, canvas)
    assert apply.handle([Accepted("job", "turn", 2, [7, 8]), Failed("UNAVAILABLE", "gone")])
    assert canvas.calls == [] and apply.error == "gone (UNAVAILABLE)"
    assert canvas.texts == ["cocreate expand: 2 job(s) ahead"]


def test_failure_after_a_candidate_still_closes_the_undo_group() -> None:
    plan, canvas = expand_plan(), FakeCanvas()
    apply = Apply(plan, canvas, canvas)
    apply.handle([CandidateReady(0, "c0", 7, answer_for(plan)), Failed("INTERNAL", "boom")])
    assert [call[0] for call in canvas.calls] == ["begin", "grow", "layer", "end"]
    apply.close()
    assert canvas.calls[-1] == ("end",) and len(canvas.calls) == 4  # closing twice ends the group once


# ---------------------------------------------------------------- against a real daemon


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CocreateClient]:
    with running_daemon(tmp_path_factory.mktemp("home")) as daemon, CocreateClient(daemon.endpoint) as connected:
        yield connected


def run_to_end(client: CocreateClient, plan: Plan, canvas: FakeCanvas, *, cancel: bool = False) -> Apply:
    plan.request.session_id = client.create_session("gimp", "test", "test").id
    job = client.generate(plan.request)
    if cancel:
        job.cancel()
    apply = Apply(plan, canvas, canvas)
    job.wait(300)
    apply.handle(job.poll())
    return apply


def test_an_expand_through_the_daemon_leaves_the_old_picture_exact(client: CocreateClient) -> None:
    picture = FakePicture(gradient(64, 48))
    plan = plans.expand(picture, Sides(left=8, bottom=8), 4, Options(candidates=2, seed=3, steps=2))
    canvas = FakeCanvas()
    apply = run_to_end(client, plan, canvas)
    assert apply.error is None and apply.layers == 2
    for _, _, layer, *_ in canvas.layers:
        assert isinstance(layer, Layer)
        # The layer covers the new strips and the 4 px seam; beyond it the old picture shows through untouched.
        inner = Rect(8 + 4, 0, 64 - 4, 48 - 4)  # the old picture's interior on the grown canvas
        rgba = layer.image.rgba
        for y in range(inner.y, inner.bottom):
            for x in range(inner.x, inner.right):
                lx, ly = x - layer.x, y - layer.y
                if 0 <= lx < layer.image.width and 0 <= ly < layer.image.height:
                    assert rgba[(ly * layer.image.width + lx) * 4 + 3] == 0
        assert layer.image.rgba[3::4].count(255) >= 8 * 56 + 8 * 64  # the new area is painted, opaque


def test_a_cancelled_job_changes_nothing(client: CocreateClient) -> None:
    canvas = FakeCanvas()
    apply = run_to_end(client, expand_plan(), canvas, cancel=True)
    assert apply.cancelled and canvas.calls == []


def test_keeping_a_layer_s_candidate_reaches_the_daemon_s_session(client: CocreateClient) -> None:
    """Keep This Candidate's decisions, from the tags Apply gave the layers, as the session records them."""
    plan = plans.expand(FakePicture(gradient(32, 32)), Sides(right=8), 4, Options(candidates=3, seed=1, steps=2))
    canvas = FakeCanvas()
    apply = run_to_end(client, plan, canvas)
    assert apply.error is None and apply.layers == 3
    tags = [call[6] for call in canvas.layers]
    assert isinstance(tags[0], Tag) and len({tag.turn_id for tag in tags}) == 1 and tags[0].turn_id
    kept = next(tag for tag in tags if tag.index == 1)
    decisions, siblings = choose(kept, [(tag.index, tag) for tag in tags])
    assert sorted(siblings) == [0, 2]
    client.decide(decisions)
    turn = next(turn for turn in client.get_session(plan.request.session_id).turns if turn.id == kept.turn_id)
    latest = {candidate.index: candidate.feedback[-1].decision for candidate in turn.candidates}
    assert latest == {0: pb.REJECTED, 1: pb.ACCEPTED, 2: pb.REJECTED}
