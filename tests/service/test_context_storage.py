"""A real daemon given a 200-page manuscript turn after turn: each turn adds far less than the text to its database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cocreate_client import CocreateClient, tasks

from tests.support.daemon import Daemon, running_daemon
from tests.support.manuscript import manuscript, stored_bytes

PAGES = 250  # about 690,000 characters: a 200-page novel


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with running_daemon(tmp_path_factory.mktemp("home")) as started:
        yield started


def test_each_continue_on_a_long_manuscript_adds_far_less_than_its_size(daemon: Daemon) -> None:
    assert daemon.home is not None
    sessions = daemon.home / "sessions"
    text = manuscript(PAGES)
    cursor = len(text) - 2_000  # writing near the end, with some text after the cursor
    with CocreateClient(daemon.endpoint) as client:
        session = client.create_session("libreoffice", "file:///novel.odt", "novel.odt").id

        def continue_at(before: str, after: str) -> tuple[str, str]:
            request = tasks.continue_text(before, after=after, session_id=session, candidates=2, max_new_tokens=8)
            result = client.generate(request).wait(timeout=300)
            assert result.ok, result.error
            return result.candidates[0].candidate_id, result.candidates[0].text

        before, after = text[:cursor], text[cursor:]
        continue_at(before, after)
        grown = []
        for turn in range(3):
            size = stored_bytes(sessions)
            candidate_id, picked = continue_at(before, after)
            grown.append(stored_bytes(sessions) - size)
            client.feedback(candidate_id, "accepted")
            before += picked  # the writer keeps it, and edits a paragraph far back in the text
            middle = len(before) // (turn + 2)
            before = before[:middle] + " Then she stopped." + before[middle:]

        detail = client.get_session(session)
        analytics = client.get_analytics(session)
    # The database grows by whole pages and its WAL by whole frames, so the figure is coarse; a turn that
    # copied the context would add at least len(text).
    assert max(grown) < len(text) // 10, f"turns added {grown} bytes each for {len(text)} characters of context"
    assert len(detail.turns) == 4
    assert analytics.sessions[0].accepted == 3  # the analytics read the same turns
    assert len(detail.turns[0].params_json) < len(text) // 20
    print(f"\n{len(text)} characters of context; bytes added per turn: {grown}")


def test_store_context_is_an_option_of_serve(tmp_path: Path) -> None:
    with running_daemon(tmp_path / "home", extra_args=("--store-context", "none")) as started:
        assert started.home is not None
        with CocreateClient(started.endpoint) as client:
            session = client.create_session("libreoffice", "file:///letter.odt", "letter.odt").id
            request = tasks.continue_text("Dear friend, a private line.", session_id=session, max_new_tokens=2)
            assert client.generate(request).wait(timeout=300).ok
            (turn,) = client.get_session(session).turns
    assert "private line" not in turn.params_json
    assert '"stored": "none"' in turn.params_json
