"""The Writer document, as the controller needs it: the only module that calls Writer's text API.

Targets and passages are Writer text cursors. Writer keeps a cursor's position right as the text
around it changes, so a candidate picked after the writer typed elsewhere still lands where the
command was given, and an inserted passage can be read back later to see how the writer edited it.
"""

from __future__ import annotations

import re
from typing import Any

from .controller import CursorContext, Selection

PARAGRAPH_BREAK = "\r"  # in insertString/setString: Writer splits the paragraph here
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")


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
        return Selection(content, first.getText().createTextCursorByRange(first))

    def replace(self, target: Any, text: str, undo_title: str) -> Any:
        """Write `text` over the target (a cursor) as one undo step; the cursor then spans what was written."""
        undo = self._model.getUndoManager()
        undo.enterUndoContext(undo_title)
        try:
            target.setString(to_writer(text))
        finally:
            undo.leaveUndoContext()
        return target

    def passage_text(self, passage: Any) -> str:
        return str(passage.getString())


def to_writer(text: str) -> str:
    """Line ends become paragraph breaks, as when typing Enter (Writer reads them back as "\\n"); other
    control characters a model may emit are dropped, tabs kept."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return PARAGRAPH_BREAK.join(_CONTROL.sub("", line) for line in lines)
