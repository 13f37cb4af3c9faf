"""The Writer plugin's plain logic with fakes for Writer, the panel, the client and LibreOffice's threads.

What runs inside LibreOffice (dispatch, panel, document adapter) is tested in the real program by
tests/hosts/test_libreoffice.py; these tests cover the controller's decisions one by one.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cocreate_client import Accepted, CandidateReady, DaemonUnavailable, Done, Event, Failed, TextDelta
from cocreate_client.pb import cocreate_pb2 as pb

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "libreoffice" / "pythonpath"))

from cocreate_writer.commands import Command, enabled, overrides, parse
from cocreate_writer.controller import Controller, CursorContext, Selection, passage_change
from cocreate_writer.state import PanelState, apply_event

# ---------------------------------------------------------------- fakes


@dataclass
class Span:
    """A range in FakeDocument.text, as a Writer cursor: [start, end)."""

    start: int
    end: int


class FakeDocument:
    def __init__(self, text: str, cursor: int, selection: tuple[int, int] | None = None) -> None:
        self.text = text
        self.cursor = cursor
        self.selected = selection
        self.undo_steps: list[str] = []
        self.fail_next_replace = False

    document_id = "file:///tmp/story.odt"
    name = "story.odt"

    def cursor_context(self) -> CursorContext:
        return CursorContext(self.text[: self.cursor], self.text[self.cursor :], Span(self.cursor, self.cursor))

    def selection(self) -> Selection | None:
        if self.selected is None:
            return None
        start, end = self.selected
        return Selection(self.text[start:end], Span(start, end))

    def replace(self, target: Any, text: str, undo_title: str) -> Any:
        if self.fail_next_replace:
            raise RuntimeError("the document is read-only")
        self.text = self.text[: target.start] + text + self.text[target.end :]
        self.undo_steps.append(undo_title)
        target.end = target.start + len(text)
        self.last_passage = target
        return target

    def passage_text(self, passage: Any) -> str:
        return self.text[passage.start : passage.end]

    def type(self, at: int, text: str, passages: list[Span]) -> None:
        """The writer types; like Writer, a range ending where the text goes in grows with it."""
        self.text = self.text[:at] + text + self.text[at:]
        for span in passages:
            span.start += len(text) if span.start > at else 0
            span.end += len(text) if span.end >= at else 0


@dataclass
class FakeView:
    shown: list[PanelState] = field(default_factory=list)
    visible: bool = False

    def show(self, state: PanelState) -> None:
        self.shown.append(copy.deepcopy(state))
        self.visible = True

    def hide(self) -> None:
        self.visible = False


class FakeJob:
    def __init__(self, on_event: Callable[[Event], None] | None) -> None:
        self._on_event = on_event
        self._events: list[Event] = []
        self.cancelled = False

    def send(self, *events: Event) -> None:
        """The daemon sends events: queued for poll, and the on_event hook wakes the host."""
        for event in events:
            self._events.append(event)
            if self._on_event is not None:
                self._on_event(event)

    def poll(self) -> list[Event]:
        events, self._events = self._events, []
        return events

    def cancel(self) -> None:
        self.cancelled = True


class FakeClient:
    def __init__(self) -> None:
        self.requests: list[pb.GenerateRequest] = []
        self.jobs: list[FakeJob] = []
        self.feedback_sent: list[tuple[str, str, str | None, str]] = []
        self.sessions = 0
        self.unavailable = False

    def create_session(self, host: str, document_id: str = "", document_name: str = "") -> Any:
        if self.unavailable:
            raise DaemonUnavailable("127.0.0.1:9", "Connection refused")
        self.sessions += 1
        return pb.Session(id="5e55" * 8, host=host, document_id=document_id, document_name=document_name)

    def generate(self, request: pb.GenerateRequest, on_event: Callable[[Event], None] | None = None) -> FakeJob:
        self.requests.append(request)
        self.jobs.append(FakeJob(on_event))
        return self.jobs[-1]

    def feedback(self, candidate_id: str, decision: Any, final_text: str | None = None, note: str = "") -> str:
        self.feedback_sent.append((candidate_id, decision, final_text, note))
        return "f" * 32


class FakeThreads:
    """Main-thread callbacks wait in a queue until `pump`; background work runs at once, or when
    `release` is called if `hold` is set."""

    def __init__(self) -> None:
        self.queue: list[Callable[[], None]] = []
        self.hold = False
        self.held: list[Callable[[], None]] = []

    def post(self, callback: Callable[[], None]) -> None:
        self.queue.append(callback)

    def background(self, work: Callable[[], Any], then: Callable[[Any, BaseException | None], None]) -> None:
        def run() -> None:
            try:
                result, error = work(), None
            except Exception as exc:
                result, error = None, exc
            self.post(lambda: then(result, error))

        if self.hold:
            self.held.append(run)
        else:
            run()

    def release(self) -> None:
        while self.held:
            self.held.pop(0)()
        self.pump()

    def pump(self) -> None:
        while self.queue:
            self.queue.pop(0)()


@dataclass
class Rig:
    document: FakeDocument
    view: FakeView
    client: FakeClient
    threads: FakeThreads
    controller: Controller
    published: list[PanelState]

    def command(self, url: str, **arguments: Any) -> None:
        command = parse(url)
        assert command is not None, url
        self.threads.post(lambda: self.controller.run(command, arguments))
        self.threads.pump()

    def stream(self, job: FakeJob, texts: list[str], turn_id: str = "a" * 32) -> None:
        """The daemon's side of a job: accepted, each text in two chunks, stored, done."""
        job.send(Accepted("b" * 32, turn_id, 0, list(range(len(texts)))))
        for index, text in enumerate(texts):
            job.send(TextDelta(index, text[:3]), TextDelta(index, text[3:]))
        self.threads.pump()
        for index, text in enumerate(texts):
            job.send(CandidateReady(index, f"{index:032x}", index, text=text))
        job.send(Done(turn_id, cancelled=False))
        self.threads.pump()

    @property
    def state(self) -> PanelState:
        return self.controller.state


TEXT = "The harbour was quiet. She walked along the pier and counted the boats."
CURSOR = TEXT.index(" and counted")


@pytest.fixture
def rig() -> Rig:
    document, view, client, threads = FakeDocument(TEXT, CURSOR), FakeView(), FakeClient(), FakeThreads()
    published: list[PanelState] = []
    controller = Controller(
        document, view, lambda: client, threads, lambda state: published.append(copy.deepcopy(state))
    )
    return Rig(document, view, client, threads, controller, published)


# ---------------------------------------------------------------- continue and pick


def test_continue_asks_for_candidates_streams_them_and_a_pick_inserts_at_the_cursor(rig: Rig) -> None:
    rig.command("vnd.cocreate.writer:continue", Candidates=3, Seed=7, StopAt="sentence", MaxTokens=20)

    (request,) = rig.client.requests
    task = request.continue_text
    assert (task.before, task.after) == (TEXT[:CURSOR], TEXT[CURSOR:])
    assert (request.candidates, request.seed, task.max_new_tokens) == (3, 7, 20)
    assert task.stop_at == pb.STOP_AT_SENTENCE
    assert request.session_id == "5e55" * 8 and not request.parent_turn_id
    assert rig.state.phase == "starting" and rig.view.visible

    rig.stream(rig.client.jobs[0], [" by the sea", " with care", " twice"])
    assert rig.state.phase == "ready"
    assert [c.text for c in rig.state.candidates] == [" by the sea", " with care", " twice"]
    assert rig.state.deltas == 6
    assert any(s.phase == "streaming" for s in rig.published)  # the panel saw them grow
    assert rig.document.text == TEXT  # nothing is written before a pick

    rig.command("vnd.cocreate.writer:pick?2")
    assert rig.document.text == TEXT[:CURSOR] + " with care" + TEXT[CURSOR:]
    assert rig.document.undo_steps == ["cocreate: candidate 2"]  # one undo step
    assert rig.client.feedback_sent == [(f"{1:032x}", "accepted", None, "")]
    assert rig.state.phase == "picked"
    assert not enabled(Command("pick", 0), rig.state) and not enabled(Command("regenerate"), rig.state)

    rig.command("vnd.cocreate.writer:pick?1")  # a second pick of the same turn does nothing
    assert rig.document.undo_steps == ["cocreate: candidate 2"]


def test_a_pick_before_the_candidates_are_stored_does_nothing(rig: Rig) -> None:
    rig.command("vnd.cocreate.writer:continue")
    job = rig.client.jobs[0]
    job.send(Accepted("b" * 32, "a" * 32, 0, [1, 2]), TextDelta(0, "half a"))
    rig.threads.pump()
    rig.command("vnd.cocreate.writer:pick?1")
    assert rig.document.text == TEXT and rig.state.phase == "streaming"


def test_the_session_is_opened_once_per_document(rig: Rig) -> None:
    for _ in range(3):
        rig.command("vnd.cocreate.writer:continue")
    assert rig.client.sessions == 1
    assert len({request.session_id for request in rig.client.requests}) == 1
    assert [job.cancelled for job in rig.client.jobs] == [True, True, False]  # a new command stops the last


# ---------------------------------------------------------------- variants, regenerate, reject


def test_variants_rewrite_the_selection_and_a_pick_replaces_it(rig: Rig) -> None:
    start = TEXT.index("counted the boats")
    rig.document.selected = (start, start + len("counted the boats"))
    rig.command("vnd.cocreate.writer:variants", Instruction="Shorter", Candidates=2)

    task = rig.client.requests[0].rewrite_text
    assert (task.selection, task.instruction) == ("counted the boats", "Shorter")
    rig.stream(rig.client.jobs[0], ["saw boats", "noted the boats"])
    rig.command("vnd.cocreate.writer:pick?1")
    assert rig.document.text == TEXT.replace("counted the boats", "saw boats")
    assert rig.state.message.startswith("Inserted candidate 1 over the selection")


def test_variants_without_a_selection_say_so_and_ask_nothing(rig: Rig) -> None:
    rig.command("vnd.cocreate.writer:variants")
    assert rig.client.requests == []
    assert rig.state.message == "Select the text to rewrite first."
    assert rig.view.visible and rig.document.text == TEXT
    assert not enabled(Command("regenerate"), rig.state)  # nothing was asked


def test_regenerate_asks_again_under_the_last_turn_with_new_seeds(rig: Rig) -> None:
    rig.document.selected = (0, 11)
    rig.command("vnd.cocreate.writer:variants", Instruction="More formal", Seed=5, Candidates=2)
    rig.stream(rig.client.jobs[0], ["A harbour", "The port"], turn_id="1" * 32)

    rig.command("vnd.cocreate.writer:regenerate")
    again = rig.client.requests[1]
    assert again.parent_turn_id == "1" * 32
    assert not again.HasField("seed")  # a seed is for one request: regenerate brings new candidates
    assert (again.candidates, again.rewrite_text.instruction) == (2, "More formal")
    assert rig.client.feedback_sent == [(f"{i:032x}", "rejected", None, "regenerated") for i in range(2)]

    rig.command("vnd.cocreate.writer:regenerate", Instruction="Simpler words")  # the panel's fields
    assert rig.client.requests[2].rewrite_text.instruction == "Simpler words"
    assert rig.client.jobs[1].cancelled


def test_reject_records_every_candidate_and_leaves_the_document(rig: Rig) -> None:
    rig.command("vnd.cocreate.writer:continue", Candidates=2)
    rig.stream(rig.client.jobs[0], [" one", " two"])
    rig.command("vnd.cocreate.writer:reject")
    assert rig.client.feedback_sent == [(f"{i:032x}", "rejected", None, "") for i in range(2)]
    assert rig.state.phase == "rejected" and not rig.view.visible
    assert rig.published[-1].phase == "rejected"
    assert rig.document.text == TEXT


# ---------------------------------------------------------------- failures


def test_no_daemon_is_shown_in_the_panel_and_nothing_is_written(rig: Rig) -> None:
    rig.client.unavailable = True
    rig.command("vnd.cocreate.writer:continue")
    assert rig.state.phase == "failed"
    assert "not reachable at 127.0.0.1:9" in rig.state.message and "cocreate serve" in rig.state.message
    assert rig.view.visible and rig.view.shown[-1].message == rig.state.message
    assert rig.document.text == TEXT and rig.document.undo_steps == []
    assert enabled(Command("regenerate"), rig.state)  # try again once the daemon runs


def test_a_failed_job_is_shown_and_its_partial_text_cannot_be_picked(rig: Rig) -> None:
    rig.command("vnd.cocreate.writer:continue")
    job = rig.client.jobs[0]
    job.send(Accepted("b" * 32, "a" * 32, 0, [1]), TextDelta(0, "partial"), Failed("UNAVAILABLE", "the daemon stopped"))
    rig.threads.pump()
    assert rig.state.phase == "failed" and rig.state.message == "The daemon stopped"
    rig.command("vnd.cocreate.writer:pick?1")
    assert rig.document.text == TEXT


def test_an_insert_that_fails_is_reported_in_the_panel(rig: Rig) -> None:
    rig.command("vnd.cocreate.writer:continue", Candidates=1)
    rig.stream(rig.client.jobs[0], [" more"])
    rig.document.fail_next_replace = True
    rig.command("vnd.cocreate.writer:pick?1")
    assert rig.state.message == "Could not insert candidate 1: the document is read-only"
    assert rig.document.text == TEXT and rig.client.feedback_sent == []


def test_bad_dispatch_arguments_are_explained(rig: Rig) -> None:
    rig.command("vnd.cocreate.writer:continue", Candidates=9)
    assert rig.client.requests == []
    assert rig.state.message == "Candidates must be 1 to 4, not 9"


def test_stop_cancels_the_job_and_its_late_events_are_ignored(rig: Rig) -> None:
    rig.command("vnd.cocreate.writer:continue", Candidates=1)
    job = rig.client.jobs[0]
    job.send(Accepted("b" * 32, "a" * 32, 0, [1]))
    rig.threads.pump()
    rig.command("vnd.cocreate.writer:stop")
    assert job.cancelled and rig.state.phase == "cancelled"
    job.send(TextDelta(0, "late"))
    rig.threads.pump()
    assert rig.state.candidates[0].text == ""


def test_a_job_that_answers_after_stop_is_cancelled_not_shown(rig: Rig) -> None:
    rig.threads.hold = True  # the session is still opening
    rig.command("vnd.cocreate.writer:continue")
    rig.command("vnd.cocreate.writer:stop")
    rig.threads.release()
    assert rig.client.jobs[0].cancelled
    assert rig.state.phase == "cancelled"


# ---------------------------------------------------------------- later edits


def test_edits_of_an_inserted_passage_are_sent_as_feedback_at_the_next_command(rig: Rig) -> None:
    rig.command("vnd.cocreate.writer:continue", Candidates=1)
    rig.stream(rig.client.jobs[0], [" slowly"])
    rig.command("vnd.cocreate.writer:pick?1")
    tracked = rig.document.last_passage
    assert tracked == Span(CURSOR, CURSOR + len(" slowly"))

    rig.document.type(tracked.end, " and then", [tracked])  # writing on after it: not an edit
    rig.command("vnd.cocreate.writer:continue")
    assert rig.client.feedback_sent[-1][1] == "accepted"

    rig.document.type(tracked.start + 1, "very ", [tracked])
    rig.controller.document_event("OnSave")
    assert rig.client.feedback_sent[-1] == (f"{0:032x}", "edited", " very slowly and then", "")

    rig.document.text = rig.document.text[: tracked.start] + rig.document.text[tracked.end :]
    tracked.end = tracked.start
    rig.controller.document_event("OnPrepareUnload")
    assert rig.client.feedback_sent[-1] == (f"{0:032x}", "rejected", None, "removed after it was inserted")
    sent = len(rig.client.feedback_sent)
    rig.controller.document_event("OnSave")  # a removed passage is no longer watched
    assert len(rig.client.feedback_sent) == sent


def test_passage_changes() -> None:
    assert passage_change("the sea", "the sea") is None
    assert passage_change("the sea", "the sea, and more I typed") is None
    assert passage_change("the sea", "the blue sea") == "edited"
    assert passage_change("the sea", "  ") == "removed"
    assert passage_change("the blue sea", "a sea", replaced="a sea") == "removed"  # undone: the selection is back


# ---------------------------------------------------------------- commands and state


def test_command_urls() -> None:
    assert parse("vnd.cocreate.writer:continue") == Command("continue")
    assert parse("vnd.cocreate.writer:pick?3") == Command("pick", 2)
    for url in ("vnd.cocreate.writer:pick?0", "vnd.cocreate.writer:pick?5", "vnd.cocreate.writer:pick", ".uno:Undo"):
        assert parse(url) is None
    assert parse("vnd.cocreate.writer:erase") is None


def test_which_commands_are_enabled() -> None:
    idle = PanelState()
    assert enabled(Command("continue"), idle) and enabled(Command("variants"), idle)
    assert not any(enabled(Command(name), idle) for name in ("regenerate", "reject", "stop"))
    streaming = PanelState(action="continue", phase="streaming")
    apply_event(streaming, Accepted("j", "t", 0, [1, 2]))
    assert enabled(Command("stop"), streaming) and not enabled(Command("pick", 0), streaming)
    apply_event(streaming, CandidateReady(0, "c", 1, text="x"))
    apply_event(streaming, Done("t", cancelled=False))
    assert enabled(Command("pick", 0), streaming) and not enabled(Command("pick", 1), streaming)


def test_dispatch_arguments() -> None:
    given = {"Candidates": 2, "Seed": 9, "MaxTokens": 40, "StopAt": "Sentence", "Instruction": "Shorter"}
    assert overrides(given) == dict(candidates=2, seed=9, max_new_tokens=40, stop_at="sentence", instruction="Shorter")
    with pytest.raises(ValueError, match="StopAt must be one of"):
        overrides({"StopAt": "chapter"})
