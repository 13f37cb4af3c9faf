"""The extension's commands: `vnd.cocreate.writer:` URLs, as its menu, toolbar, shortcuts and macros dispatch them.

    vnd.cocreate.writer:continue      continue writing at the cursor
    vnd.cocreate.writer:variants      rewrite the selection (argument Instruction: "Shorter", ...)
    vnd.cocreate.writer:pick?N        insert candidate N (1-based) at the cursor / over the selection
    vnd.cocreate.writer:regenerate    the same request again, new seeds
    vnd.cocreate.writer:reject        reject every candidate; the document stays as it is
    vnd.cocreate.writer:stop          stop a running generation
    vnd.cocreate.writer:panel         show the panel; its status events carry the panel's state as JSON

`continue`, `variants` and `regenerate` take optional dispatch arguments: Candidates (1-4), Seed,
MaxTokens, StopAt (none | sentence | paragraph) and Instruction. Plain module: no UNO here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .state import PanelState

PROTOCOL = "vnd.cocreate.writer:"
NAMES = ("continue", "variants", "pick", "regenerate", "reject", "stop", "panel")
MAX_CANDIDATES = 4
STOP_AT = ("none", "sentence", "paragraph")


@dataclass(frozen=True)
class Command:
    name: str
    index: int = 0  # pick: the candidate, 0-based


def parse(url: str) -> Command | None:
    """The command a URL names, or None when it is not one of ours."""
    if not url.startswith(PROTOCOL):
        return None
    name, _, query = url[len(PROTOCOL) :].partition("?")
    if name not in NAMES:
        return None
    if name != "pick":
        return Command(name)
    if not query.isdigit() or not 1 <= int(query) <= MAX_CANDIDATES:
        return None
    return Command(name, int(query) - 1)


def enabled(command: Command, state: PanelState) -> bool:
    """Whether the command can do something now (menus and toolbars grey it out otherwise)."""
    if command.name == "pick":
        return state.can_pick(command.index)
    if command.name == "regenerate":
        return state.can_regenerate()
    if command.name == "reject":
        return state.phase in ("streaming", "ready")
    if command.name == "stop":
        return state.phase in ("starting", "streaming")
    return True


def overrides(arguments: dict[str, Any]) -> dict[str, Any]:
    """Options from dispatch arguments; ValueError names a bad one."""
    found: dict[str, Any] = {}
    if "Candidates" in arguments:
        count = int(arguments["Candidates"])
        if not 1 <= count <= MAX_CANDIDATES:
            raise ValueError(f"Candidates must be 1 to {MAX_CANDIDATES}, not {count}")
        found["candidates"] = count
    if "Seed" in arguments:
        found["seed"] = int(arguments["Seed"])
    if "MaxTokens" in arguments:
        found["max_new_tokens"] = max(0, int(arguments["MaxTokens"]))
    if "StopAt" in arguments:
        stop_at = str(arguments["StopAt"]).lower()
        if stop_at not in STOP_AT:
            raise ValueError(f"StopAt must be one of {', '.join(STOP_AT)}, not {stop_at!r}")
        found["stop_at"] = stop_at
    if "Instruction" in arguments:
        found["instruction"] = str(arguments["Instruction"])
    return found
