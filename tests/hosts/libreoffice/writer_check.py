"""Runs in the host root's python3 with LibreOffice 25.2: installs the .oxt, drives Writer over UNO.

    python3 writer_check.py ENDPOINT TOKEN OXT      (from the run folder, bound at /project)

Installs OXT with `unopkg add --shared`, starts soffice headless twice (with the daemon at ENDPOINT,
then with nothing listening), triggers the extension's commands through UNO dispatch only, and
writes verdict.json beside itself whatever happens; tests/hosts/test_libreoffice.py judges it.
The extension is removed again at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import traceback
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uno
import unohelper
from com.sun.star.awt.FontSlant import ITALIC
from com.sun.star.awt.FontWeight import BOLD
from com.sun.star.beans import PropertyValue
from com.sun.star.frame import XStatusListener

HERE = Path(__file__).resolve().parent
IDENTIFIER = "org.cocreate.writer"
PROTOCOL = "vnd.cocreate.writer:"
PARAGRAPHS = (
    "The harbour was quiet in the early morning.",
    "She walked along the pier and counted the boats that had come home in the night.",
    "Gulls circled over the market, where the first stalls were opening.",
)
WAIT = 180.0  # seconds for a generation (the first one loads the model)


# ---------------------------------------------------------------- LibreOffice


def prop(name: str, value: Any) -> PropertyValue:
    return PropertyValue(Name=name, Value=value)


class Office:
    """A headless soffice with its own profile; `with Office(...) as context` gives its component context.

    A class rather than a contextlib generator: contextlib sets __traceback__ on the exception it
    rethrows, which UNO exceptions refuse.
    """

    def __init__(self, profile: str, env: dict[str, str]) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process = subprocess.Popen(
            [
                "soffice",
                "--headless",
                "--invisible",
                "--norestore",
                "--nologo",
                f"-env:UserInstallation=file:///tmp/{profile}",
                f"--accept=socket,host=127.0.0.1,port={self.port};urp;",
            ],
            env={**os.environ, **env},
        )

    def __enter__(self) -> Any:
        local = uno.getComponentContext()
        resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
        deadline = time.monotonic() + 60
        while True:
            try:
                self.context = resolver.resolve(
                    f"uno:socket,host=127.0.0.1,port={self.port};urp;StarOffice.ComponentContext"
                )
                return self.context
            except Exception:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.process.kill()
                    raise
                time.sleep(0.2)

    def __exit__(self, *exc: object) -> None:
        desktop = self.context.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", self.context)
        with contextlib.suppress(Exception):
            desktop.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class PanelWatcher(unohelper.Base, XStatusListener):
    """Listens to vnd.cocreate.writer:panel, whose status carries the panel's state as JSON."""

    def __init__(self) -> None:
        self.latest: dict[str, Any] = {}
        self.partial_views = 0  # updates that showed candidates still being written, in the panel itself
        self._changed = threading.Condition()

    def statusChanged(self, event: Any) -> None:
        with self._changed:
            if event.State:
                self.latest = json.loads(event.State)
                state, panel = self.latest["state"], self.latest["panel"]
                texts = self.latest.get("shown") or [c["text"] for c in state["candidates"]]  # as a pick inserts it
                if state["phase"] == "streaming" and any(texts) and panel["texts"][: len(texts)] == texts:
                    self.partial_views += 1
            self._changed.notify_all()

    def disposing(self, event: Any) -> None: ...

    def wait(self, done: Callable[[dict[str, Any]], bool], timeout: float = WAIT) -> dict[str, Any]:
        with self._changed:
            if not self._changed.wait_for(lambda: bool(self.latest) and done(self.latest), timeout):
                raise TimeoutError(f"the panel never got there; last state: {self.latest}")
            return self.latest


class Writer:
    """One Writer document, driven the way a person would: cursor, selection, commands."""

    def __init__(self, context: Any) -> None:
        manager = context.ServiceManager
        desktop = manager.createInstanceWithContext("com.sun.star.frame.Desktop", context)
        self.doc = desktop.loadComponentFromURL("private:factory/swriter", "_blank", 0, (prop("Hidden", True),))
        self.text = self.doc.getText()
        for index, paragraph in enumerate(PARAGRAPHS):
            if index:
                self.text.insertControlCharacter(self.text.getEnd(), 0, False)  # PARAGRAPH_BREAK
            self.text.insertString(self.text.getEnd(), paragraph, False)
        self.frame = self.doc.getCurrentController().getFrame()
        self.helper = manager.createInstanceWithContext("com.sun.star.frame.DispatchHelper", context)
        self.undo = self.doc.getUndoManager()
        self.watcher = PanelWatcher()
        panel_url = uno.createUnoStruct("com.sun.star.util.URL")
        panel_url.Complete = PROTOCOL + "panel"
        self.panel_dispatch = self.frame.queryDispatch(panel_url, "", 0)
        if self.panel_dispatch is None:
            raise RuntimeError("no dispatch for vnd.cocreate.writer:panel: the protocol handler is not installed")
        self.panel_dispatch.addStatusListener(self.watcher, panel_url)

    @property
    def content(self) -> str:
        return self.text.getString()

    def offset_of(self, paragraph: int, column: int) -> int:
        return sum(len(p) + 1 for p in PARAGRAPHS[:paragraph]) + column

    def range_at(self, offset: int, length: int = 0) -> Any:
        cursor = self.text.createTextCursor()
        cursor.gotoStart(False)
        cursor.goRight(offset, False)
        cursor.goRight(length, True)
        return cursor

    def place_cursor(self, offset: int, length: int = 0) -> None:
        self.doc.getCurrentController().getViewCursor().gotoRange(self.range_at(offset, length), False)
        if length:
            self.doc.getCurrentController().select(self.range_at(offset, length))

    def command(self, name: str, **arguments: Any) -> float:
        """Dispatch one of the extension's commands; returns how long the dispatch call took."""
        start = time.monotonic()
        self.helper.executeDispatch(self.frame, PROTOCOL + name, "", 0, tuple(prop(k, v) for k, v in arguments.items()))
        return time.monotonic() - start

    def type_over(self, text: str) -> None:
        """Type `text` over the selection, as the keyboard does (through Writer's own insert command)."""
        self.helper.executeDispatch(self.frame, ".uno:InsertText", "", 0, (prop("Text", text),))

    def formats(self) -> list[list[tuple[str, bool, bool]]]:
        """Each paragraph's text portions as (text, bold, italic)."""
        paragraphs = []
        enumeration = self.text.createEnumeration()
        while enumeration.hasMoreElements():
            portions = enumeration.nextElement().createEnumeration()
            runs = []
            while portions.hasMoreElements():
                portion = portions.nextElement()
                if portion.getString():
                    runs.append((portion.getString(), portion.CharWeight > 100, portion.CharPosture.value != "NONE"))
            paragraphs.append(runs)
        return paragraphs

    def wait(self, *phases: str) -> dict[str, Any]:
        return self.watcher.wait(lambda update: update["state"]["phase"] in phases)


# ---------------------------------------------------------------- scenarios


def is_settled(update: dict[str, Any]) -> bool:
    return update["state"]["phase"] in ("ready", "failed")


def settled(update: dict[str, Any]) -> dict[str, Any]:
    """A finished generation as the panel showed it."""
    state, panel = update["state"], update["panel"]
    return {
        "phase": state["phase"],
        "message": state["message"],
        "turn_id": state["turn_id"],
        "texts": [c["text"] for c in state["candidates"]],
        "shown": update.get("shown") or [c["text"] for c in state["candidates"]],
        "ready": [c["ready"] for c in state["candidates"]],
        "deltas": state["deltas"],
        "panel_visible": panel.get("visible"),
        "panel_status": panel.get("status"),
        "panel_texts": panel.get("texts", [])[: len(state["candidates"])],
        "panel_pick_enabled": panel.get("pick_enabled", [])[: len(state["candidates"])],
    }


def generation(writer: Writer, name: str, **arguments: Any) -> dict[str, Any]:
    """Run a command up to its candidates; what the panel and the document showed."""
    before = writer.content
    writer.watcher.latest, writer.watcher.partial_views = {}, 0
    seconds = writer.command(name, **arguments)
    result = settled(writer.watcher.wait(is_settled))
    return {
        **result,
        "partial_views": writer.watcher.partial_views,
        "dispatch_seconds": round(seconds, 3),
        "document_unchanged": writer.content == before,
    }


def as_in_writer(text: str) -> str:
    """A candidate as Writer holds it: line ends as paragraph breaks, other control characters dropped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(c for c in text if c in "\n\t" or not (ord(c) < 32 or ord(c) == 127))


def pick(writer: Writer, shown: list[str], expected: Callable[[str], str]) -> dict[str, Any]:
    """Pick the first non-empty candidate; check the document holds it as the panel showed it."""
    index = next((i for i, text in enumerate(shown) if text.strip()), None)
    if index is None:
        raise RuntimeError(f"no candidate to pick; the panel said: {writer.watcher.latest['state']['message']}")
    undo_steps = len(writer.undo.getAllUndoActionTitles())
    writer.command(f"pick?{index + 1}")
    update = writer.wait("picked")
    after = writer.content
    return {
        "picked": index,
        "phase": update["state"]["phase"],
        "message": update["state"]["message"],
        "inserted_as_expected": after == expected(shown[index]),
        "undo_steps_added": len(writer.undo.getAllUndoActionTitles()) - undo_steps,
        "undo_title": writer.undo.getCurrentUndoActionTitle(),
        "document_after": after,
    }


def check_continue(writer: Writer) -> dict[str, Any]:
    offset = writer.offset_of(1, 24)  # mid second paragraph, after "She walked along the pie"
    original = writer.content
    writer.place_cursor(offset)
    first = generation(writer, "continue", Candidates=3, Seed=7, StopAt="none", MaxTokens=24)
    first_pick = pick(writer, first["panel_texts"], lambda text: original[:offset] + text + original[offset:])
    writer.undo.undo()
    first_pick["undo_restores"] = writer.content == original

    # Again, and this time keep it and replace its first word (with any space before it) by typing over
    # the selection: later sent as EDITED feedback, which must hold the passage as the document does.
    writer.place_cursor(offset)
    second = generation(writer, "continue", Candidates=2, Seed=11, StopAt="none", MaxTokens=24)
    second_pick = pick(writer, second["panel_texts"], lambda text: original[:offset] + text + original[offset:])
    inserted = second["panel_texts"][second_pick["picked"]]
    first_word = re.match(r"\s*\S*", inserted)
    writer.place_cursor(offset, first_word.end() if first_word else 0)
    writer.type_over("Then")
    edited = writer.content
    return {
        "original": original,
        "offset": offset,
        "first": first,
        "first_pick": first_pick,
        "second": second,
        "second_pick": second_pick,
        "edited_passage": edited[offset : len(edited) - (len(original) - offset)],
    }


def check_variants(writer: Writer) -> dict[str, Any]:
    """On the third paragraph's "first stalls were opening": reject a set, regenerate, pick, undo."""
    original = writer.content
    start = original.index("the first stalls were opening")  # the continue check changed what is before
    length = len("the first stalls were opening")
    writer.place_cursor(start, length)
    rejected = generation(writer, "variants", Candidates=3, Seed=3, Instruction="Shorter", MaxTokens=16)
    writer.command("reject")
    after_reject = writer.wait("rejected")
    rejected["after_reject"] = {
        "panel_visible": after_reject["panel"].get("visible"),
        "document_unchanged": writer.content == original,
    }

    writer.place_cursor(start, length)
    asked = generation(writer, "variants", Candidates=3, Seed=5, Instruction="More formal", MaxTokens=16)
    writer.command("regenerate", Seed=50)
    regenerated = settled(writer.watcher.wait(lambda u: is_settled(u) and u["state"]["turn_id"] != asked["turn_id"]))
    picked = pick(writer, regenerated["shown"], lambda text: original[:start] + text + original[start + length :])
    writer.undo.undo()
    picked["undo_restores"] = writer.content == original
    return {
        "original": original,
        "rejected": rejected,
        "asked": asked,
        "regenerated": regenerated,
        "pick": picked,
    }


def check_formatted_variants(writer: Writer) -> dict[str, Any]:
    """Variants over two paragraphs with bold and italic runs (added at the end), picked through the panel."""
    first, second = "The harbour was quiet in the early morning.", "She walked along the pier and counted the boats."
    start = len(writer.content) + 1
    for paragraph in (first, second):
        writer.text.insertControlCharacter(writer.text.getEnd(), 0, False)  # PARAGRAPH_BREAK
        writer.text.insertString(writer.text.getEnd(), paragraph, False)
    writer.range_at(start + first.index("harbour"), len("harbour")).CharWeight = BOLD
    writer.range_at(start + first.index("early morning"), len("early morning")).CharPosture = ITALIC
    writer.range_at(start + len(first) + 1, len(second)).CharPosture = ITALIC
    writer.range_at(start + len(first) + 1 + second.index("pier"), len("pier")).CharWeight = BOLD
    original, formats = writer.content, writer.formats()
    writer.place_cursor(start, len(first) + 1 + len(second))
    asked = generation(writer, "variants", Candidates=2, Seed=21, Instruction="Simpler words", MaxTokens=24)
    picked = pick(writer, asked["shown"], lambda text: original[:start] + text)
    picked["formats"] = writer.formats()
    writer.undo.undo()
    picked["undo_restores"] = writer.content == original and writer.formats() == formats
    return {"original": original, "formats_before": formats, "asked": asked, "pick": picked}


def check_document_edits(context: Any, oxt: Path) -> dict[str, Any]:
    """The extension's own document module (from the .oxt) on known texts: a rewrite whose words partly
    survive, and edits of an inserted passage at its start, middle and end and over all of it."""
    with zipfile.ZipFile(oxt) as archive:
        archive.extractall("/tmp/oxt")
    sys.path.insert(0, "/tmp/oxt/pythonpath")
    from cocreate_writer.document import WriterDocument

    writer = Writer(context)
    paragraphs = writer.content.split("\n")
    writer.range_at(paragraphs[0].index("quiet"), len("quiet")).CharWeight = BOLD
    second = len(paragraphs[0]) + 1
    writer.range_at(second, len(paragraphs[1])).CharPosture = ITALIC
    writer.range_at(second + paragraphs[1].index("pier"), len("pier")).CharWeight = BOLD
    document = WriterDocument(writer.doc)
    writer.place_cursor(0, second + len(paragraphs[1]))
    selection = document.selection()
    undo_steps = len(writer.undo.getAllUndoActionTitles())
    rewrite = "The harbour was very quiet this morning.\n\nShe walked to the pier."
    passage = document.replace(selection.target, rewrite, "cocreate: rewrite")
    result: dict[str, Any] = {
        "rewrite": rewrite,
        "content": writer.content,
        "formats": writer.formats(),
        "undo_steps_added": len(writer.undo.getAllUndoActionTitles()) - undo_steps,
        "passage_text": document.passage_text(passage),
    }
    writer.doc.close(True)

    edits = {  # name: (where in the inserted passage the selection starts, how long it is, what is typed)
        "first_word": (0, len("Quietly"), "Then"),
        "typed_before": (0, 0, "So "),
        "middle": (8, len("the"), "a"),
        "last_word": (len("Quietly the boats came"), len(" home"), " in."),
        "whole": (0, len("Quietly the boats came home"), "All new."),
    }
    for name, (start, length, typed) in edits.items():
        writer = Writer(context)
        document = WriterDocument(writer.doc)
        offset = writer.offset_of(1, 24)
        writer.place_cursor(offset)
        context_at = document.cursor_context()
        passage = document.replace(context_at.target, "Quietly the boats came home", "cocreate: insert")
        before = writer.content
        writer.place_cursor(offset + start, length)
        writer.type_over(typed)
        after = writer.content
        result[name] = {
            "reported": document.passage_text(passage),
            "in_document": after[offset : len(after) - (len(before) - offset - len("Quietly the boats came home"))],
        }
        writer.doc.close(True)
    return result


def check_long_manuscript(context: Any) -> dict[str, Any]:
    """A 200-page manuscript (manuscript.txt, written by the test) continued four times near its end. After
    each pick the check asks the test to measure the daemon's database (measure-N) and waits for its answer
    (measured-N): the per-turn growth is judged there."""
    writer = Writer(context)
    for paragraph in (HERE / "manuscript.txt").read_text(encoding="utf-8").split("\n"):
        writer.text.insertControlCharacter(writer.text.getEnd(), 0, False)  # PARAGRAPH_BREAK
        writer.text.insertString(writer.text.getEnd(), paragraph, False)
    picks = []
    for turn in range(4):
        original = writer.content
        offset = len(original) - 2_000  # writing near the end, with some text after the cursor
        near_end = writer.text.createTextCursor()
        near_end.gotoEnd(False)
        near_end.goLeft(2_000, False)  # goRight takes a 16-bit count: too few for a 200-page offset
        writer.doc.getCurrentController().getViewCursor().gotoRange(near_end, False)
        result = generation(writer, "continue", Candidates=2, Seed=20 + turn, StopAt="none", MaxTokens=8)
        made = pick(writer, result["panel_texts"], lambda text, was=original, at=offset: was[:at] + text + was[at:])
        picks.append(
            {
                "phase": result["phase"],
                "message": result["message"],
                "turn_id": result["turn_id"],
                "inserted": made["inserted_as_expected"],
            }
        )
        (HERE / f"measure-{turn}").touch()
        deadline = time.monotonic() + 60
        while not (HERE / f"measured-{turn}").exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"the test never measured turn {turn}")
            time.sleep(0.05)
    return {"characters": len(writer.content), "picks": picks}


def check_no_daemon(writer: Writer) -> dict[str, Any]:
    writer.place_cursor(writer.offset_of(1, 10))
    continued = generation(writer, "continue", Candidates=2)
    writer.place_cursor(writer.offset_of(0, 4), 7)
    varied = generation(writer, "variants", Candidates=2)
    return {"continue": continued, "variants": varied}


def check_installed(context: Any) -> dict[str, Any]:
    """The menu, toolbar and shortcuts the .oxt brings, as LibreOffice's configuration sees them."""
    manager = context.ServiceManager
    supplier = manager.createInstanceWithContext("com.sun.star.ui.ModuleUIConfigurationManagerSupplier", context)
    shortcuts = supplier.getUIConfigurationManager("com.sun.star.text.TextDocument").getShortCutManager()
    keys: dict[str, list[tuple[int, int]]] = {}
    for event in shortcuts.getAllKeyEvents():  # getKeyEventsByCommand knows only .uno: commands
        command = shortcuts.getCommandByKeyEvent(event)
        if command.startswith(PROTOCOL):
            keys.setdefault(command[len(PROTOCOL) :], []).append((event.KeyCode, event.Modifiers))
    provider = manager.createInstanceWithContext("com.sun.star.configuration.ConfigurationProvider", context)
    addons = provider.createInstanceWithArguments(
        "com.sun.star.configuration.ConfigurationAccess",
        (prop("nodepath", "/org.openoffice.Office.Addons/AddonUI"),),
    )
    menu = addons.getByName("OfficeMenuBar").getByName("org.cocreate.writer.menu").getByName("Submenu")
    toolbar = addons.getByName("OfficeToolBar").getByName("org.cocreate.writer.toolbar")
    return {
        "shortcuts": keys,
        "menu": [menu.getByName(name).URL for name in menu.getElementNames()],
        "toolbar": [toolbar.getByName(name).URL for name in toolbar.getElementNames()],
    }


# ---------------------------------------------------------------- main


def unopkg(*arguments: str) -> dict[str, Any]:
    run = subprocess.run(["unopkg", *arguments], capture_output=True, text=True, timeout=300)
    return {"rc": run.returncode, "output": (run.stdout + run.stderr)[-2000:]}


def main() -> None:
    endpoint, token, oxt = sys.argv[1], sys.argv[2], sys.argv[3]
    verdict: dict[str, Any] = {"steps": []}
    try:
        verdict["install"] = unopkg("add", "--shared", "--force", str(HERE / oxt))
        verdict["listed"] = IDENTIFIER in unopkg("list", "--shared")["output"]
        with Office("with-daemon", {"COCREATE_ENDPOINT": endpoint, "COCREATE_TOKEN": token}) as context:
            verdict["installed"] = check_installed(context)
            writer = Writer(context)
            verdict["steps"].append("continue")
            verdict["continue"] = check_continue(writer)
            verdict["steps"].append("variants")
            verdict["variants"] = check_variants(writer)
            verdict["steps"].append("formatted_variants")
            verdict["formatted_variants"] = check_formatted_variants(writer)
            verdict["steps"].append("document_edits")
            verdict["document_edits"] = check_document_edits(context, HERE / oxt)
            verdict["steps"].append("long_manuscript")
            verdict["long_manuscript"] = check_long_manuscript(context)
        with socket.socket() as probe:  # a port with nothing behind it
            probe.bind(("127.0.0.1", 0))
            dead = f"127.0.0.1:{probe.getsockname()[1]}"
        with Office("no-daemon", {"COCREATE_ENDPOINT": dead, "COCREATE_TOKEN": token}) as context:
            verdict["steps"].append("no_daemon")
            writer = Writer(context)
            original = writer.content
            verdict["no_daemon"] = check_no_daemon(writer)
            verdict["no_daemon"]["document_unchanged"] = writer.content == original
    except Exception:
        verdict["exception"] = traceback.format_exc()
    finally:
        verdict["uninstall"] = unopkg("remove", "--shared", IDENTIFIER)
        (HERE / "verdict.json").write_text(json.dumps(verdict, indent=2))


if __name__ == "__main__":
    main()
