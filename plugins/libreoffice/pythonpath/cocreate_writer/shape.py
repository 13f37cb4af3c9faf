"""A candidate as the document will hold it: clean characters, the selection's paragraphs, its formatting. No UNO.

Continue inserts the candidate as typed text. A rewrite replaces a selection that may span several
paragraphs with bold and italic runs: it keeps the selection's paragraphs (a rewrite with another
number of paragraphs is laid out over the original ones in proportion to their lengths), and each
word that survives the rewrite keeps its own formatting; the other words take the formatting most of
their paragraph has.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")
_WORD = re.compile(r"\S+")
_PUNCTUATION = re.compile(r"^\W+|\W+$")


@dataclass(frozen=True)
class Run:
    """Text in one format; `style` indexes the caller's list of formats (None: as Writer puts it)."""

    text: str
    style: int | None


def as_inserted(text: str) -> str:
    """The text as Writer holds it once inserted: line ends as "\\n" (a paragraph break each), other
    control characters dropped, tabs kept."""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def shaped_rewrite(rewrite: str, paragraphs: Sequence[str]) -> list[str]:
    """One text per paragraph of the selection (`paragraphs`, as Writer reads them): the rewrite's own
    paragraphs when their number matches the selection's non-blank ones, else its words spread over them
    in proportion to the originals' lengths. Blank paragraphs stay blank; each keeps the spaces it had
    at its ends."""
    slots = [index for index, paragraph in enumerate(paragraphs) if paragraph.strip()] or [0]
    lines = [line.strip() for line in as_inserted(rewrite).split("\n") if line.strip()]
    if len(lines) != len(slots):
        lines = _spread(" ".join(lines).split(), [len(paragraphs[index]) if paragraphs else 1 for index in slots])
    shaped = list(paragraphs) or [""]
    for index, line in zip(slots, lines, strict=True):
        original = shaped[index]
        lead, trail = original[: len(original) - len(original.lstrip())], original[len(original.rstrip()) :]
        shaped[index] = f"{lead}{line}{trail}" if line else ""
    return shaped


def styled_runs(text: str, original: Sequence[Run]) -> list[Run]:
    """`text` (one paragraph of a rewrite) in the formats of `original` (the paragraph it replaces):
    a word found again keeps its characters' formats, any other word takes the paragraph's most common
    one, and a space takes the format that followed the word before it in the original."""
    chars = "".join(run.text for run in original)
    styles = [run.style for run in original for _ in run.text]
    visible = [style for char, style in zip(chars, styles, strict=True) if not char.isspace()]
    dominant = Counter(visible or styles).most_common(1)[0][0] if styles else None
    old_words, new_words = list(_WORD.finditer(chars)), list(_WORD.finditer(text))
    matched: dict[int, re.Match[str]] = {}
    matcher = SequenceMatcher(None, [_key(m) for m in old_words], [_key(m) for m in new_words], autojunk=False)
    for block in matcher.get_matching_blocks():
        for offset in range(block.size):
            matched[block.b + offset] = old_words[block.a + offset]

    result = [dominant] * len(text)
    for index, word in enumerate(new_words):
        old = matched.get(index)
        if old is not None:
            width = old.end() - old.start()
            for position in range(word.start(), word.end()):
                result[position] = styles[old.start() + min(position - word.start(), width - 1)]
        # The spaces after a word: as the original had them after that word.
        space_end = new_words[index + 1].start() if index + 1 < len(new_words) else len(text)
        if old is not None and old.end() < len(styles):
            result[word.end() : space_end] = [styles[old.end()]] * (space_end - word.end())
    return _merge(text, result)


def _key(word: re.Match[str]) -> str:
    """A word as the alignment compares it: case and surrounding punctuation do not make it another word."""
    return _PUNCTUATION.sub("", word.group()).lower() or word.group()


def _spread(words: list[str], weights: list[int]) -> list[str]:
    """`words` cut into len(weights) lines at the word boundaries nearest the weights' proportions."""
    total, lines, start = sum(weights) or 1, [], 0
    ends = [sum(len(word) + 1 for word in words[: count + 1]) for count in range(len(words))]
    length = ends[-1] if ends else 0
    reached = 0
    for weight in weights[:-1]:
        reached += weight
        target = length * reached / total
        stop = start
        while stop < len(words) and abs(ends[stop] - target) <= abs((ends[stop - 1] if stop else 0) - target):
            stop += 1
        lines.append(" ".join(words[start:stop]))
        start = stop
    lines.append(" ".join(words[start:]))
    return lines


def _merge(text: str, styles: list[int | None]) -> list[Run]:
    runs: list[Run] = []
    for char, style in zip(text, styles, strict=True):
        if runs and runs[-1].style == style:
            runs[-1] = Run(runs[-1].text + char, style)
        else:
            runs.append(Run(char, style))
    return runs
