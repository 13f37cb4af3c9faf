"""A candidate as Writer will hold it: clean characters, the selection's paragraphs and formats (plain module)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "libreoffice" / "pythonpath"))

from cocreate_writer.shape import Run, as_inserted, shaped_rewrite, styled_runs
from cocreate_writer.state import CandidateView, PanelState

PLAIN, BOLD, ITALIC = 0, 1, 2


def test_as_inserted_turns_line_ends_into_paragraph_breaks_and_drops_other_control_characters() -> None:
    assert as_inserted("one\r\ntwo\rthree\nfour\x1b[0m\x07\tend") == "one\ntwo\nthree\nfour[0m\tend"


def test_a_rewrite_with_as_many_paragraphs_as_the_selection_keeps_them_one_to_one() -> None:
    assert shaped_rewrite("First.\n\nSecond.\n", ["One here.", "Two here."]) == ["First.", "Second."]


def test_a_rewrite_in_one_paragraph_is_spread_over_the_selections_paragraphs_by_length() -> None:
    shaped = shaped_rewrite("a b c d e f g h i", ["one two three", "four five six seven eight nine"])
    assert shaped == ["a b c", "d e f g h i"]


def test_blank_paragraphs_stay_blank_and_each_keeps_its_surrounding_spaces() -> None:
    assert shaped_rewrite("x y", ["  lead", "", "trail  "]) == ["  x", "", "y  "]
    assert shaped_rewrite("one\ntwo\nthree", ["single paragraph "]) == ["one two three "]


def test_surviving_words_keep_their_formats_and_new_words_take_the_paragraphs_own() -> None:
    original = [Run("The ", ITALIC), Run("harbour", BOLD), Run(" was quiet in the morning.", ITALIC)]
    runs = styled_runs("The old Harbour was calm.", original)
    assert runs == [Run("The old ", ITALIC), Run("Harbour", BOLD), Run(" was calm.", ITALIC)]


def test_a_rewrite_sharing_no_word_takes_the_paragraphs_most_common_format_not_its_first() -> None:
    original = [Run("Bold", BOLD), Run(" start, then a long plain sentence.", PLAIN)]
    assert styled_runs("Entirely different words.", original) == [Run("Entirely different words.", PLAIN)]
    assert styled_runs("Anything.", []) == [Run("Anything.", None)]


def test_the_panel_shows_what_a_pick_inserts() -> None:
    state = PanelState(action="continue", candidates=[CandidateView(0, "go on\r\nnow\x1b", ready=True)])
    assert state.shown(0) == "go on\nnow"
    rewrite = PanelState(
        action="variants",
        paragraphs=("First one.", "Second one."),
        candidates=[CandidateView(0, "a b c d", ready=True), CandidateView(1, "still \x07streaming")],
    )
    assert rewrite.shown(0) == "a b\nc d"
    assert rewrite.shown(1) == "still streaming"  # not spread over the paragraphs until it is complete
