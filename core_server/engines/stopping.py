"""Where generated text ends: stop strings, the end of a sentence or of a paragraph."""

from __future__ import annotations

import re
from dataclasses import dataclass

from core_server.tasks import StopAt

# Sentence-ending punctuation and any closing quotes or brackets, once whitespace follows ("3.14" is no end).
# CJK full stops end a sentence at once, as no space follows them.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’»)\]]*(?=\s)|[。！？]")
_OPEN_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’»)\]]*$")
_PARAGRAPH_BREAK = re.compile(r"\r?\n[^\S\n]*\n")
_OPEN_PARAGRAPH_BREAK = re.compile(r"\r?\n\s*$")


@dataclass(frozen=True)
class StopRules:
    strings: tuple[str, ...] = ()
    at: StopAt = StopAt.NONE

    def find_end(self, text: str) -> int | None:
        """Length of the text to keep if it already holds a stop, else None. Stop strings are cut off, a
        sentence keeps its final punctuation, a paragraph ends before its blank line."""
        ends = [index for stop in self.strings if stop and (index := text.find(stop)) != -1]
        # A boundary counts only after some text: a continuation may open with a blank line.
        start = len(text) - len(text.lstrip())
        if self.at is StopAt.SENTENCE and (match := _SENTENCE_END.search(text, start)):
            ends.append(match.end())
        if self.at is StopAt.PARAGRAPH and (match := _PARAGRAPH_BREAK.search(text, start)):
            ends.append(match.start())
        return min(ends, default=None)

    def pending(self, text: str) -> int:
        """How many characters at the end may still turn into a stop, and so must not be shown yet."""
        held = [_partial_match(text, stop) for stop in self.strings if stop]
        start = len(text) - len(text.lstrip())
        if self.at is StopAt.SENTENCE and (match := _OPEN_SENTENCE_END.search(text, start)):
            held.append(len(text) - match.start())
        if self.at is StopAt.PARAGRAPH and (match := _OPEN_PARAGRAPH_BREAK.search(text, start)):
            held.append(len(text) - match.start())
        return max(held, default=0)


def _partial_match(text: str, stop: str) -> int:
    """Length of the longest end of `text` that begins `stop` (the whole of `stop` is find_end's job)."""
    for length in range(min(len(stop) - 1, len(text)), 0, -1):
        if text.endswith(stop[:length]):
            return length
    return 0
