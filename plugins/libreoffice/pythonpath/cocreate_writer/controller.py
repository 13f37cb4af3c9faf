"""One document's co-creation: a command in, a request to the daemon, candidates into the panel, a pick into the text.

Plain Python, no UNO: the document, the panel, the client and the threads come in as objects, so
tests drive it with fakes. Every method runs on the host's main thread. Blocking calls (opening the
session, feedback) go to `threads.background`; the client's own thread only wakes the main thread
(`threads.post`), which then drains the job's events.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from cocreate_client import CocreateError, Event, RequestError, tasks
from cocreate_client.pb import cocreate_pb2 as pb

from .commands import Command, overrides
from .state import PanelState, apply_event, failure_message

log = logging.getLogger(__name__)
HOST = "libreoffice"
MAX_BEFORE_CHARS = 1_000_000  # the daemon's limit; it trims to the model's window itself
MAX_AFTER_CHARS = 100_000  # only the start of the text after the cursor is ever used


# ---------------------------------------------------------------- what the controller is given


@dataclass(frozen=True)
class CursorContext:
    before: str
    after: str
    target: object  # where a pick goes: a collapsed range at the cursor


@dataclass(frozen=True)
class Selection:
    text: str
    target: object  # the selected range, which a pick replaces
    paragraphs: tuple[str, ...] = ()  # the selected part of each paragraph it touches


class Document(Protocol):
    """The host document (document.py); targets and passages are its own opaque ranges."""

    @property
    def document_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    def cursor_context(self) -> CursorContext | None: ...
    def selection(self) -> Selection | None: ...
    def replace(self, target: object, text: str, undo_title: str) -> object:
        """Put `text` where `target` is, as one undo step; return the range now holding it."""
        ...

    def passage_text(self, passage: object) -> str: ...


class View(Protocol):
    def show(self, state: PanelState) -> None: ...
    def hide(self) -> None: ...


class Job(Protocol):
    def poll(self) -> list[Event]: ...
    def cancel(self) -> None: ...


class Client(Protocol):
    def create_session(self, host: str, document_id: str = "", document_name: str = "") -> Any: ...
    def generate(self, request: pb.GenerateRequest, on_event: Callable[[Event], None] | None = None) -> Job: ...
    def feedback(self, candidate_id: str, decision: Any, final_text: str | None = None, note: str = "") -> str: ...


class Threads(Protocol):
    def post(self, callback: Callable[[], None]) -> None:
        """Run `callback` on the host's main thread, soon; callable from any thread."""
        ...

    def background(self, work: Callable[[], Any], then: Callable[[Any, BaseException | None], None]) -> None:
        """Run `work` on a worker thread, then `then(result, error)` on the main thread."""
        ...


# ---------------------------------------------------------------- requests and passages


@dataclass(frozen=True)
class Options:
    candidates: int = 3
    max_new_tokens: int = 0  # 0: the daemon's default
    stop_at: str = "paragraph"  # continue: none | sentence | paragraph
    instruction: str = ""  # variants: "" is the daemon's default ("clearer")
    seed: int | None = None  # None: the daemon picks a new one


@dataclass(frozen=True)
class Request:
    """What was asked, kept so that regenerate can ask again."""

    action: str  # continue | variants
    text: str  # the text before the cursor, or the selection
    after: str
    options: Options
    paragraphs: tuple[str, ...] = ()  # variants: the selection's paragraphs, which a rewrite keeps

    def build(self, session_id: str, parent_turn_id: str) -> pb.GenerateRequest:
        o = self.options
        common: dict[str, Any] = dict(
            session_id=session_id,
            parent_turn_id=parent_turn_id,
            max_new_tokens=o.max_new_tokens,
            candidates=o.candidates,
            seed=o.seed,
        )
        if self.action == "continue":
            return tasks.continue_text(self.text, after=self.after, stop_at=o.stop_at, **common)
        return tasks.rewrite_text(self.text, o.instruction, **common)


@dataclass
class Passage:
    """An inserted candidate, watched for the writer's later edits."""

    candidate_id: str
    reported: str  # the text as the daemon last heard of it
    handle: object
    replaced: str = ""  # what the pick wrote over: a rewrite's selection


def passage_change(reported: str, now: str, replaced: str = "") -> str | None:
    """'removed', 'edited' or None (unchanged). A passage back to the text it replaced (an undo) is removed.
    Text typed on straight after a passage is the writer writing on, not an edit: the end of an inserted
    range and the next character's start are one place."""
    if not now.strip() or (replaced and now == replaced):
        return "removed"
    if now.startswith(reported):
        return None
    return "edited"


# ---------------------------------------------------------------- the controller


class Controller:
    def __init__(
        self,
        document: Document,
        view: View,
        client: Callable[[], Client],
        threads: Threads,
        on_change: Callable[[PanelState], None] = lambda state: None,
    ) -> None:
        self.document = document
        self.view = view
        self.state = PanelState()
        self.options = Options()
        self._client = client  # the process's shared client, made on first use
        self._threads = threads
        self._on_change = on_change
        self._request: Request | None = None
        self._target: object = None
        self._job: Job | None = None
        self._generation = 0  # bumped by every start and stop: late answers for older ones are dropped
        self._session_id: str | None = None  # written by the worker thread only
        self._passages: list[Passage] = []
        self._wake_lock = threading.Lock()
        self._wake_pending = False

    # ------------------------------------------------------------ commands

    def run(self, command: Command, arguments: dict[str, Any]) -> None:
        """A dispatched command. Whatever goes wrong is shown in the panel, never written into the text."""
        try:
            options = overrides(arguments)
            if command.name == "continue":
                self.continue_text(**options)
            elif command.name == "variants":
                self.variants(**options)
            elif command.name == "pick":
                self.pick(command.index)
            elif command.name == "regenerate":
                self.regenerate(**options)
            elif command.name == "reject":
                self.reject()
            elif command.name == "stop":
                self.stop()
            else:
                self._publish()
        except ValueError as error:
            self._problem(str(error))
        except Exception as error:
            log.exception("cocreate: %s failed", command.name)
            self._problem(f"Something went wrong: {error}")

    def continue_text(self, **options: Any) -> None:
        self._report_edits()
        context = self.document.cursor_context()
        if context is None:
            return self._problem("Put the cursor in the text to continue it.", action="continue")
        if not context.before.strip() and not context.after.strip():
            return self._problem("There is no text around the cursor to continue.", action="continue")
        self._target = context.target
        before, after = context.before[-MAX_BEFORE_CHARS:], context.after[:MAX_AFTER_CHARS]
        self._start(Request("continue", before, after, self._options(options)), parent_turn_id="")

    def variants(self, **options: Any) -> None:
        self._report_edits()
        selection = self.document.selection()
        if selection is None:
            return self._problem("Select the text to rewrite first.", action="variants")
        self._target = selection.target
        request = Request("variants", selection.text, "", self._options(options), selection.paragraphs)
        self._start(request, parent_turn_id="")

    def pick(self, index: int) -> None:
        if not self.state.can_pick(index):
            return
        self._report_edits()
        candidate = self.state.candidates[index]
        try:
            passage = self.document.replace(self._target, candidate.text, f"cocreate: candidate {index + 1}")
        except Exception as error:
            log.exception("cocreate: inserting a candidate failed")
            self.state.message = f"Could not insert candidate {index + 1}: {error}"
            return self._publish()
        # What the document holds (line ends and stray control characters differ from the candidate).
        replaced = self._request.text if self._request is not None and self._request.action == "variants" else ""
        reported = self.document.passage_text(passage)
        self._passages.append(Passage(candidate.candidate_id, reported, passage, replaced))
        self._feedback(candidate.candidate_id, "accepted")
        self.state.phase, self.state.picked = "picked", index
        where = "at the cursor" if self.state.action == "continue" else "over the selection"
        self.state.message = f"Inserted candidate {index + 1} {where}; one Undo takes it out again."
        self._publish()

    def regenerate(self, **options: Any) -> None:
        if self._request is None or not self.state.can_regenerate():
            return
        self._reject_shown(note="regenerated")
        self._start(replace(self._request, options=self._options(options)), parent_turn_id=self.state.turn_id)

    def reject(self) -> None:
        if self.state.phase not in ("streaming", "ready"):
            return
        self._stop_job()
        self._reject_shown(note="")
        self.state.phase, self.state.message = "rejected", "Rejected. The document was not changed."
        self.view.hide()
        self._publish(show=False)

    def stop(self) -> None:
        if self.state.phase not in ("starting", "streaming"):
            return
        self._stop_job()
        self.state.phase, self.state.message = "cancelled", "Stopped. Regenerate to try again."
        self._publish()

    def close(self) -> None:
        """The panel was closed: stop what runs; candidates not picked stay undecided."""
        self.stop()
        self.view.hide()

    def document_event(self, name: str) -> None:
        """Save and close are when a writer's edits of inserted passages are reported."""
        if name in ("OnSave", "OnSaveAs", "OnPrepareUnload"):
            self._report_edits()
        elif name == "OnUnload":
            self._stop_job()

    def _options(self, given: dict[str, Any]) -> Options:
        """The options for a request; all but the seed are remembered for the next one. A seed is for
        one request only, or regenerate would bring back the same candidates."""
        self.options = replace(self.options, **{key: value for key, value in given.items() if key != "seed"})
        return replace(self.options, seed=given.get("seed"))

    # ------------------------------------------------------------ the job

    def _start(self, request: Request, parent_turn_id: str) -> None:
        self._stop_job()
        self._request = request
        generation = self._generation
        document_id, name = self.document.document_id, self.document.name
        self.state = PanelState(
            action=request.action,
            phase="starting",
            message="Asking the cocreate daemon…",
            instruction=request.options.instruction,
            stop_at=request.options.stop_at,
            count=request.options.candidates,
            paragraphs=request.paragraphs,
        )
        self._publish()

        def submit() -> Job:  # on the worker thread: opening the session is a network call
            client = self._client()
            if self._session_id is None:
                self._session_id = client.create_session(HOST, document_id, name).id
            return client.generate(request.build(self._session_id, parent_turn_id), on_event=self._wake)

        self._threads.background(submit, lambda job, error: self._started(generation, job, error))

    def _started(self, generation: int, job: Job | None, error: BaseException | None) -> None:
        if generation != self._generation:  # stopped or superseded while it connected
            if job is not None:
                job.cancel()
            return
        if error is not None or job is None:
            self.state.phase, self.state.message = "failed", _error_message(error)
            return self._publish()
        self._job = job
        self._drain()

    def _wake(self, event: Event) -> None:
        """On the client thread: ask the main thread to drain, once per batch of events."""
        with self._wake_lock:
            if self._wake_pending:
                return
            self._wake_pending = True
        self._threads.post(self._drain)

    def _drain(self) -> None:
        with self._wake_lock:
            self._wake_pending = False
        if self._job is None:
            return
        events = self._job.poll()
        for event in events:
            apply_event(self.state, event)
        if self.state.phase in ("ready", "failed", "cancelled"):
            self._job = None
        if events:
            self._publish()

    def _stop_job(self) -> None:
        self._generation += 1
        if self._job is not None:
            self._job.cancel()
            self._job = None

    # ------------------------------------------------------------ feedback

    def _reject_shown(self, note: str) -> None:
        if self.state.phase in ("ready", "streaming"):
            for candidate in self.state.candidates:
                if candidate.ready:
                    self._feedback(candidate.candidate_id, "rejected", note=note)

    def _report_edits(self) -> None:
        for passage in list(self._passages):
            try:
                now = self.document.passage_text(passage.handle)
            except Exception:
                log.warning("cocreate: an inserted passage can no longer be read", exc_info=True)
                self._passages.remove(passage)
                continue
            change = passage_change(passage.reported, now, passage.replaced)
            if change == "removed":
                self._feedback(passage.candidate_id, "rejected", note="removed after it was inserted")
                self._passages.remove(passage)
            elif change == "edited":
                self._feedback(passage.candidate_id, "edited", final_text=now)
                passage.reported = now

    def _feedback(self, candidate_id: str, decision: str, final_text: str | None = None, note: str = "") -> None:
        def send() -> str:
            return self._client().feedback(candidate_id, decision, final_text=final_text, note=note)

        def sent(feedback_id: str | None, error: BaseException | None) -> None:
            if error is not None:
                log.warning("cocreate: feedback (%s) was not recorded: %s", decision, error)

        self._threads.background(send, sent)

    # ------------------------------------------------------------ showing

    def _problem(self, message: str, action: str = "") -> None:
        """Tell the writer why nothing happens; with `action`, the panel now belongs to that command,
        which asked nothing (so there is nothing to regenerate)."""
        if action:
            self._stop_job()
            self._request = None
            self.state = PanelState(action=action, phase="idle", message=message)
        else:
            self.state.message = message
        self._publish()

    def _publish(self, show: bool = True) -> None:
        if show:
            self.view.show(self.state)
        self._on_change(self.state)


def _error_message(error: BaseException | None) -> str:
    if isinstance(error, RequestError):
        return failure_message(error.code, error.message)
    if isinstance(error, CocreateError):  # DaemonUnavailable: its text says how to start the daemon
        return failure_message("UNAVAILABLE", str(error))
    return f"Could not reach the cocreate daemon: {error}"
