"""Analytics on a constructed session with known turns, rejections and edits give exact numbers;
the distances behave at their edges; the PNG of charts is a valid image."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage.metrics import structural_similarity

from core_server.provenance.distance import diversity, image_distance, text_distance
from core_server.provenance.measure import session_report, sessions_report
from core_server.provenance.plot import Chart, write_png
from core_server.sessions.analytics import ImageDistance, TextDistance, overview
from core_server.sessions.store import SessionStore
from core_server.tasks import RGBAImage

SHA = "cd" * 32
BLACK = bytes((0, 0, 0, 255))
WHITE = bytes((255, 255, 255, 255))


def picture(*rows: bytes) -> RGBAImage:
    """An 8×8 picture from 8 rows, each one pixel repeated."""
    return RGBAImage(8, 8, b"".join(row * 8 for row in rows))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SessionStore]:
    with SessionStore(tmp_path / "sessions") as s:
        yield s


def build_session(store: SessionStore) -> tuple[str, dict[str, float]]:
    """Four turns (a tree three deep with two leaves), six decisions, three edits. Returns the
    session id and the SSIM of the one image edit, taken from scikit-image directly."""
    session = store.create_session("test", "doc", "Doc").id
    # T1, the root: three texts; two are rejected.
    t1 = store.start_turn(session, None, "continue_text", {"before": "x"}, [1, 2, 3], "tiny-text", SHA)
    c1, c2, _ = store.finish_turn(t1.id, "completed", texts=["abc", "abd", "xyz"])
    # T2 under T1: two texts; one edited ("the" → "a"), one rejected.
    t2 = store.start_turn(session, t1.id, "continue_text", {"before": "x"}, [4, 5], "tiny-text", SHA)
    d1, d2 = store.finish_turn(t2.id, "completed", texts=["the cat sat on the mat", "#" * 22])
    # T3 under T1: a black and a white picture; the black one accepted as it is, the white one edited.
    t3 = store.start_turn(session, t1.id, "inpaint", {"prompt": "p"}, [6, 7], "tiny-image", SHA)
    black, white = picture(*[BLACK] * 8), picture(*[WHITE] * 8)
    e1, e2 = store.finish_turn(t3.id, "completed", images=[black, white])
    # T4 under T2: cancelled, so no candidates.
    t4 = store.start_turn(session, t2.id, "continue_text", {"before": "x"}, [8], "tiny-text", SHA)
    store.finish_turn(t4.id, "cancelled")

    store.add_feedback(c1.id, "rejected")
    store.add_feedback(c2.id, "rejected")
    store.add_feedback(d1.id, "edited", final_text="the cat sat on a mat")
    store.add_feedback(d2.id, "rejected")
    store.add_feedback(e1.id, "accepted", final_image=black)
    edited = picture(*[BLACK] * 2, *[WHITE] * 6)  # two of eight rows painted black: a quarter of the pixels
    store.add_feedback(e2.id, "edited", final_image=edited)
    as_array = lambda im: np.frombuffer(im.data, np.uint8).reshape(8, 8, 4)[..., :3].astype(float)  # noqa: E731
    ssim = structural_similarity(as_array(white), as_array(edited), channel_axis=-1, data_range=255.0)
    return session, {"ssim": float(ssim)}


def test_a_constructed_session_gives_the_exact_numbers(store: SessionStore) -> None:
    session_id, reference = build_session(store)
    stats = session_report(store, session_id)

    assert stats.turns == 4
    assert stats.tree_depth == 3  # T1 → T2 → T4
    assert [t.depth for t in stats.timeline] == [1, 2, 2, 3]
    assert stats.branches == 2  # leaves T3 and T4
    assert stats.turns_to_accept == 2  # T2's edit is the first thing kept
    assert stats.candidates == 7
    assert (stats.decided, stats.accepted, stats.edited, stats.rejected) == (6, 1, 2, 3)
    assert stats.rejection_rate == 0.5
    assert [(t.accepted, t.edited, t.rejected) for t in stats.timeline] == [(0, 0, 2), (0, 1, 1), (1, 1, 0), (0, 0, 0)]
    assert [t.status for t in stats.timeline] == ["completed", "completed", "completed", "cancelled"]

    # abc/abd share two of three characters, xyz nothing; "#"×22 shares nothing; black vs white: 1.
    assert [t.diversity for t in stats.timeline] == pytest.approx([7 / 9, 1.0, 1.0, None])
    assert stats.diversity == pytest.approx(25 / 27)

    text_edit, same_image, painted = (e.distance for e in stats.edits)
    assert text_edit == TextDistance(chars=3, words=1, char_ratio=3 / 22, word_ratio=1 / 6)
    assert same_image == ImageDistance(pixel=0.0, ssim=1.0)
    assert isinstance(painted, ImageDistance)
    assert painted.pixel == 0.25
    assert painted.ssim == pytest.approx(reference["ssim"]) and painted.ssim < 1


def test_across_sessions(store: SessionStore) -> None:
    session_id, reference = build_session(store)
    empty = store.create_session("other", "doc-2", "Empty").id
    stats = sessions_report(store, None, 100)
    assert [s.session_id for s in stats] == [empty, session_id], "newest first"
    assert [s.session_id for s in sessions_report(store, "other", 100)] == [empty]
    assert asdict(overview(stats)) == pytest.approx(
        {
            "sessions": 2,
            "turns": 4,
            "mean_turns_to_accept": 2.0,  # the empty session kept nothing, so it does not count
            "mean_tree_depth": 3.0,
            "mean_branches": 2.0,
            "rejection_rate": 0.5,
            "mean_diversity": 25 / 27,
            "mean_char_ratio": 3 / 22,
            "mean_word_ratio": 1 / 6,
            "mean_pixel_distance": 0.125,
            "mean_ssim": (1.0 + reference["ssim"]) / 2,
        }
    )
    nothing = overview([])
    assert nothing.sessions == 0 and nothing.rejection_rate is None and nothing.mean_ssim is None


def test_distances_at_their_edges() -> None:
    assert text_distance("", "") == TextDistance(0, 0, 0.0, 0.0)
    assert text_distance("kitten", "sitting").chars == 3
    assert text_distance("one two", "one  two\n").words == 0, "whitespace alone changes no word"
    erased = RGBAImage(1, 1, bytes((255, 255, 255, 0)))
    assert image_distance(RGBAImage(1, 1, WHITE), erased).pixel == 1.0, "erasing counts, whatever colour stays"
    tiny = image_distance(RGBAImage(1, 1, WHITE), RGBAImage(1, 1, WHITE))
    assert tiny == ImageDistance(0.0, 1.0), "pictures under SSIM's window still measure"
    scaled = image_distance(picture(*[WHITE] * 8), RGBAImage(4, 4, WHITE * 16))
    assert scaled == ImageDistance(0.0, 1.0), "a final region of another size is scaled to the candidate's"
    with pytest.raises(ValueError):
        diversity(["one"])


def test_the_chart_png_is_a_valid_image(tmp_path: Path) -> None:
    charts = [
        Chart("Depth", "turn", "depth", {"depth": [(1, 1), (2, 2), (3, 2)]}),
        Chart("Rejection rate", "turn", "rate", {"rate": [(1, 1.0), (2, 0.75)]}),
        Chart("Nothing yet", "turn", "value", {"none": []}),
    ]
    path = tmp_path / "charts.png"
    write_png("a session", charts, path)
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (1200, 800)
        assert len(image.convert("L").getcolors(maxcolors=256) or ()) > 10, "something is drawn"
