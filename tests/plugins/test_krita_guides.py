"""Krita control layers and references: marks kept in the document, what a generation sends (no Krita needed)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from cocreate_client.pb import cocreate_pb2 as pb
from cocreate_client.pixels import Image, Mask

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "krita"))

from cocreate_krita import guides
from cocreate_krita.calls import Calls
from cocreate_krita.controller import DocumentController, GenerationParams, Phase, build_request
from cocreate_krita.guides import ControlMark, DocumentGuides, ReferenceMark
from cocreate_krita.region import Box, DocumentError, Region


class FakeDocument:
    """guides.GuideCanvas over named layers of solid colour; records what was read."""

    def __init__(self) -> None:
        self.layers = {"id-lines": "Lines", "id-style": "Style"}
        self.annotation = b""
        self.read: list[tuple[str, Box | None]] = []

    def layer_name(self, layer_id: str) -> str | None:
        return self.layers.get(layer_id)

    def layer_area(self, layer_id: str, box: Box) -> Image:
        self.read.append((layer_id, box))
        return Image(box.width, box.height, bytes([1, 2, 3, 4]) * box.width * box.height)

    def layer_image(self, layer_id: str) -> Image | None:
        self.read.append((layer_id, None))
        return Image(5, 4, bytes(80))

    def file_image(self, path: str) -> Image:
        if not path.endswith(".png"):
            raise DocumentError(f"Cannot read the image file {path}.")
        return Image(3, 3, bytes(36))

    def load_guides(self) -> bytes:
        return self.annotation

    def save_guides(self, data: bytes) -> None:
        self.annotation = data


BOX = Box(10, 20, 64, 48)


def marked() -> tuple[FakeDocument, DocumentGuides]:
    document = FakeDocument()
    marks = DocumentGuides(document)
    marks.mark_control("id-lines", "line_art", 0.8, start=0.1, end=0.9)
    marks.add_reference_layer("id-style", "style", 0.5)
    marks.add_reference_file("/pictures/mood.png", "composition", 0.3)
    return document, marks


def test_marks_are_kept_in_the_document_and_read_back() -> None:
    document, marks = marked()
    again = DocumentGuides(document).marks  # as after saving and reopening the .kra
    assert again == marks.marks
    assert again.controls == [ControlMark("id-lines", "Lines", "line_art", 0.8, 0.1, 0.9)]
    assert [r.name for r in again.references] == ["Style", "mood.png"]
    assert again.controls[0].label == "Lines · Line art · 80% · steps 10%–90%"
    assert guides.decode(b"{not json") == guides.Guides()


def test_marking_a_layer_again_changes_it_rather_than_adding_one() -> None:
    _, marks = marked()
    marks.mark_control("id-lines", "scribble", 1.0)
    assert [(m.kind, m.strength) for m in marks.marks.controls] == [("scribble", 1.0)]


def test_a_generation_sends_the_control_over_the_region_and_references_whole() -> None:
    document, marks = marked()
    fields = marks.request_fields(BOX)
    (control,) = fields["controls"]
    assert control.kind == pb.CONTROL_LINE_ART and (control.image.width, control.image.height) == (64, 48)
    assert (control.strength, control.start, control.end) == pytest.approx((0.8, 0.1, 0.9))
    style, mood = fields["references"]
    assert (style.image.width, style.kind, style.strength) == (5, pb.REFERENCE_STYLE, pytest.approx(0.5))
    assert (mood.image.width, mood.kind) == (3, pb.REFERENCE_COMPOSITION)
    assert document.read == [("id-lines", BOX), ("id-style", None)]


def test_deleted_layers_drop_out_and_renamed_ones_follow() -> None:
    document, marks = marked()
    del document.layers["id-style"]
    document.layers["id-lines"] = "Sketch"
    fields = marks.request_fields(BOX)
    assert len(fields["controls"]) == 1 and len(fields["references"]) == 1  # the file stays
    assert [m.name for m in DocumentGuides(document).marks.controls] == ["Sketch"]


def test_a_missing_layer_or_unreadable_file_is_said_at_once() -> None:
    _, marks = marked()
    with pytest.raises(DocumentError, match="Choose a layer first"):
        marks.mark_control("", "scribble", 1.0)
    with pytest.raises(DocumentError, match="Cannot read the image file"):
        marks.add_reference_file("/pictures/notes.txt", "style", 0.6)


def test_a_picture_layer_can_ask_the_daemon_to_derive_the_map() -> None:
    document, marks = marked()
    marks.mark_control("id-style", "canny", 1.0, derive=True)
    controls = marks.request_fields(BOX)["controls"]
    assert [(c.kind, c.derive) for c in controls] == [(pb.CONTROL_LINE_ART, False), (pb.CONTROL_CANNY, True)]
    assert DocumentGuides(document).marks.controls[1].label == "Style · Canny edges · 100% · from the picture"


def test_removing_marks() -> None:
    document, marks = marked()
    marks.remove_control(0)
    marks.remove_reference(1)
    marks.remove_reference(5)  # a stale index changes nothing
    assert DocumentGuides(document).marks == guides.Guides(
        [], [ReferenceMark("Style", "id-style", kind="style", strength=0.5)]
    )


REGION = Region(BOX, Image(64, 48, bytes(64 * 48 * 4)), Mask(64, 48, b"\xff" * 64 * 48))


def test_requests_carry_the_guides_for_fill_variants_and_edit() -> None:
    _, marks = marked()
    fields = marks.request_fields(BOX)
    for task in ("inpaint", "variants", "edit"):
        params = GenerationParams(task=task, prompt="make it night", candidates=2, model="tiny-flux2-klein")  # type: ignore[arg-type]
        request = build_request(params, REGION, "s", "", fields)
        assert request.WhichOneof("task") == task
        assert len(request.controls) == 1 and len(request.references) == 2 and request.model == "tiny-flux2-klein"
        assert not build_request(params, REGION, "s", "").controls  # nothing marked: nothing sent
    edit = build_request(GenerationParams(task="edit", prompt="make it night"), REGION, "s", "t").edit
    assert edit.instruction == "make it night" and edit.mask.width == 64
    assert GenerationParams(task="edit", prompt="make it night").layer_name == "edit: make it night"


def test_edit_without_an_instruction_says_what_to_write() -> None:
    class Untouched:
        def load_placements(self) -> bytes:
            return b""

        def __getattr__(self, name: str) -> object:
            raise AssertionError(f"the document was reached ({name}) before the instruction was checked")

    controller = DocumentController(Untouched(), client=None, calls=Calls())  # type: ignore[arg-type]
    controller.generate(GenerationParams(task="edit", prompt="  "))
    assert controller.phase is Phase.idle and controller.message.startswith("Write what to change first")
