"""The Writer document, as the controller needs it: the only module that calls Writer's text API.

Targets are Writer text cursors (a selection: one per paragraph it touches). Writer keeps a cursor's
position right as the text around it changes, so a candidate picked after the writer typed elsewhere
still lands where the command was given, and an inserted passage can be read back later to see how
the writer edited it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .controller import CursorContext, Selection
from .shape import Run, as_inserted, shaped_rewrite, styled_runs

PARAGRAPH_BREAK = "\r"  # in insertString/setString: Writer splits the paragraph here
# The character formatting a rewrite carries over, read as each run shows it (character styles included).
CHARACTER_PROPERTIES = (
    "CharWeight",
    "CharPosture",
    "CharUnderline",
    "CharStrikeout",
    "CharColor",
    "CharBackColor",
    "CharHeight",
    "CharFontName",
    "CharCaseMap",
    "CharEscapement",
    "CharEscapementHeight",
)


@dataclass(frozen=True)
class SelectedParagraphs:
    """A selection's target: one cursor over its part of each paragraph it touches."""

    text: Any  # the XText they are in
    parts: tuple[Any, ...]


@dataclass(frozen=True)
class InsertedPassage:
    """What a pick wrote, readable later as the document holds it.

    Text typed where the passage starts lands outside its range (Writer moves a range's start along
    with text inserted there), so the character before the passage is kept as a second range, which
    such text extends: whatever that range holds beyond its character belongs to the passage.
    """

    text: Any
    passage: Any
    lead: Any | None  # over the character before the passage; None at the start of the text
    lead_text: str


class WriterDocument:
    def __init__(self, model: Any) -> None:
        self._model = model  # a com.sun.star.text.TextDocument

    @property
    def key(self) -> str:
        """Unique among the documents open in this process."""
        return str(self._model.RuntimeUID)

    @property
    def document_id(self) -> str:
        return self._model.getURL() or f"unsaved:{self.key}"

    @property
    def name(self) -> str:
        return str(self._model.getTitle())

    def cursor_context(self) -> CursorContext | None:
        """The text before and after the view cursor, in the text it is in (body, table cell, frame)."""
        view_cursor = self._model.getCurrentController().getViewCursor()
        text = view_cursor.getText()
        if text is None:
            return None
        head = text.createTextCursorByRange(view_cursor.getEnd())
        head.gotoStart(True)
        tail = text.createTextCursorByRange(view_cursor.getEnd())
        tail.gotoEnd(True)
        target = text.createTextCursorByRange(view_cursor.getEnd())
        return CursorContext(head.getString(), tail.getString(), target)

    def selection(self) -> Selection | None:
        """The first selected text range, if it holds more than blanks."""
        selected = self._model.getCurrentController().getSelection()
        if selected is None or not selected.supportsService("com.sun.star.text.TextRanges"):
            return None  # a picture, a frame or table cells
        if selected.getCount() == 0:
            return None
        first = selected.getByIndex(0)
        content = first.getString()
        if not content.strip():
            return None
        parts = _paragraph_parts(first)
        return Selection(content, parts, tuple(str(part.getString()) for part in parts.parts))

    def replace(self, target: Any, text: str, undo_title: str) -> InsertedPassage:
        """Write `text` at the target as one undo step: at a cursor as typed text, over a selection as a
        rewrite that keeps its paragraphs and formatting. Returns the passage now holding it."""
        undo = self._model.getUndoManager()
        undo.enterUndoContext(undo_title)
        try:
            if isinstance(target, SelectedParagraphs):
                return _watch(target.text, _rewrite(target, text))
            target.setString(as_inserted(text).replace("\n", PARAGRAPH_BREAK))
            return _watch(target.getText(), target)
        finally:
            undo.leaveUndoContext()

    def passage_text(self, passage: InsertedPassage) -> str:
        if passage.lead is None:  # at the start of the text: all before the passage was typed at its start
            head = passage.text.createTextCursorByRange(passage.passage.getStart())
            head.gotoStart(True)
            typed = str(head.getString())
        else:
            lead = str(passage.lead.getString())
            typed = lead[len(passage.lead_text) :] if lead.startswith(passage.lead_text) else lead
        return typed + str(passage.passage.getString())


def _watch(text: Any, passage: Any) -> InsertedPassage:
    lead = text.createTextCursorByRange(passage.getStart())
    if not lead.goLeft(1, True):
        return InsertedPassage(text, passage, None, "")
    return InsertedPassage(text, passage, lead, str(lead.getString()))


def _paragraph_parts(selected: Any) -> SelectedParagraphs:
    """One cursor per paragraph the selected range touches, over the part of it that is selected."""
    text = selected.getText()
    cursor = text.createTextCursorByRange(selected.getStart())
    parts = []
    while True:
        part = text.createTextCursorByRange(cursor)
        part.gotoEndOfParagraph(True)
        if text.compareRegionEnds(part, selected) <= 0 or not cursor.gotoNextParagraph(False):
            part = text.createTextCursorByRange(part.getStart())
            part.gotoRange(selected.getEnd(), True)
            parts.append(part)
            return SelectedParagraphs(text, tuple(parts))
        parts.append(part)


def _rewrite(target: SelectedParagraphs, rewrite: str) -> Any:
    """Each paragraph part replaced by its share of the rewrite, word by word in the formats it had;
    the paragraphs themselves (breaks, styles, alignment) are not touched. Returns a cursor over it all."""
    originals = [_runs(part) for part in target.parts]
    formats = [values for runs in originals for _, values in runs]
    texts = shaped_rewrite(rewrite, [str(part.getString()) for part in target.parts])
    text = target.text
    for part, runs, paragraph in zip(target.parts, originals, texts, strict=True):
        keys = [Run(chunk, formats.index(values)) for chunk, values in runs]
        part.setString("")
        at = text.createTextCursorByRange(part.getStart())
        for run in styled_runs(paragraph, keys):
            text.insertString(at, run.text, False)  # `at` moves on past what it inserts
            if run.style is not None:
                written = text.createTextCursorByRange(at)
                written.goLeft(len(run.text), True)
                _set_format(written, formats[run.style])
    written = text.createTextCursorByRange(at)
    written.goLeft(sum(len(paragraph) for paragraph in texts) + len(texts) - 1, True)
    return written


def _runs(part: Any) -> list[tuple[str, tuple[Any, ...]]]:
    """A paragraph part's text portions with their formatting (the enumeration keeps to the part)."""
    runs = []
    paragraphs = part.createEnumeration()
    while paragraphs.hasMoreElements():
        portions = paragraphs.nextElement().createEnumeration()
        while portions.hasMoreElements():
            portion = portions.nextElement()
            chunk = str(portion.getString())
            if chunk:
                runs.append((chunk, tuple(portion.getPropertyValues(CHARACTER_PROPERTIES))))
    return runs


def _set_format(written: Any, values: tuple[Any, ...]) -> None:
    try:
        written.setPropertyValues(CHARACTER_PROPERTIES, values)
    except Exception:  # one value this range refuses (a font not installed here) must not cost the others
        for name, value in zip(CHARACTER_PROPERTIES, values, strict=True):
            try:
                written.setPropertyValue(name, value)
            except Exception:
                continue
