"""The GIMP plug-in's candidate tags (saved on layers) and Keep This Candidate's choice, outside GIMP."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "gimp" / "cocreate"))
from cocreate_gimp.candidates import NOT_A_CANDIDATE, Tag, choose


def test_a_tag_survives_its_parasite_bytes() -> None:
    tag = Tag("a" * 32, "b" * 32, "c" * 32, 2)
    assert Tag.decode(tag.encode()) == tag


@pytest.mark.parametrize("data", [b"", b"\xff\xfe", b"[1, 2]", b'{"turn": "t"}', b'{"candidate": ""}', b"not json"])
def test_anything_else_is_no_tag(data: bytes) -> None:
    assert Tag.decode(data) is None


def test_odd_fields_fall_back_to_empty() -> None:
    assert Tag.decode(b'{"candidate": "c", "turn": 5, "index": "x"}') == Tag("c", "", "", 0)


def test_keeping_accepts_it_and_rejects_the_siblings_of_its_turn_only() -> None:
    kept = Tag("c1", "t", "j", 1)
    layers = [
        ("layer 0", Tag("c0", "t", "j", 0)),
        ("layer 1", kept),
        ("layer 2", Tag("c2", "t", "j", 2)),
        ("another turn", Tag("d0", "u", "k", 0)),
    ]
    decisions, siblings = choose(kept, layers)
    assert decisions == [("c1", "accepted"), ("c0", "rejected"), ("c2", "rejected")]
    assert siblings == ["layer 0", "layer 2"]


def test_a_duplicated_layer_is_neither_rejected_nor_removed_and_each_id_is_sent_once() -> None:
    kept = Tag("c1", "t")
    layers = [("kept", kept), ("copy of kept", Tag("c1", "t")), ("c0", Tag("c0", "t")), ("copy of c0", Tag("c0", "t"))]
    decisions, siblings = choose(kept, layers)
    assert decisions == [("c1", "accepted"), ("c0", "rejected")]
    assert siblings == ["c0", "copy of c0"]


def test_the_last_candidate_of_its_turn_is_just_accepted() -> None:
    kept = Tag("c1", "t")
    assert choose(kept, [("kept", kept)]) == ([("c1", "accepted")], [])


def test_without_a_turn_id_the_job_groups_the_siblings() -> None:
    kept = Tag("c1", "", "j")
    decisions, siblings = choose(kept, [("a", Tag("c0", "", "j")), ("b", Tag("c9", "", "other"))])
    assert decisions == [("c1", "accepted"), ("c0", "rejected")] and siblings == ["a"]


def test_the_message_for_other_layers_says_what_to_choose() -> None:
    assert "choose a cocreate candidate layer" in NOT_A_CANDIDATE
