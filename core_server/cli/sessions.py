"""`cocreate sessions list|show|export`: co-creation sessions and their turn trees.

Ids show as their shortest unique start (at least 8 characters); every verb takes such a start back.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.table import Table
from rich.tree import Tree

from . import core
from .core import connect, out, when


def add_verbs(verbs: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    sessions = verbs.add_parser("sessions", help="co-creation sessions and their history").add_subparsers(
        metavar="VERB"
    )
    slist = sessions.add_parser("list", aliases=["ls"], parents=[common], help="sessions, newest first")
    slist.add_argument("--host", default="", help="only this host's sessions (krita, gimp, ...)")
    slist.add_argument("--limit", type=int, default=50)
    slist.set_defaults(run=_sessions_list)
    show = sessions.add_parser("show", parents=[common], help="a session's turn tree")
    show.add_argument("session_id", help="the id, or a unique start of it")
    show.set_defaults(run=_sessions_show)
    export = sessions.add_parser("export", parents=[common], help="a zip of the session and every candidate")
    export.add_argument("session_id", help="the id, or a unique start of it")
    export.add_argument("file", type=Path)
    export.set_defaults(run=_sessions_export)


def _sessions_list(args: argparse.Namespace) -> int:
    with connect(args) as client:
        sessions = client.list_sessions(host=args.host, limit=args.limit)
        # Short ids must stay unique among every session, not only the ones listed.
        shown = core.short(s.id for s in client.list_sessions(limit=core.SESSIONS_SEARCHED))
    table = Table("ID", "HOST", "DOCUMENT", "TURNS", "CREATED")
    table.columns[0].no_wrap = True
    for s in sessions:
        document = s.document_name or s.document_id
        table.add_row(shown.get(s.id, s.id), s.host, document, str(s.turn_count), when(s.created_ms))
    out.print(table)
    return 0


def _sessions_show(args: argparse.Namespace) -> int:
    with connect(args) as client:
        detail = client.get_session(core.session_id(client, args.session_id))
    s = detail.session
    shown = core.short([t.id for t in detail.turns] + [c.id for t in detail.turns for c in t.candidates])
    tree = Tree(f"[bold]{s.document_name or s.document_id or s.id}[/bold] ({s.host}, {s.id})")
    nodes = {"": tree}
    decision_names = {1: "accepted", 2: "rejected", 3: "edited"}
    for turn in detail.turns:  # oldest first, so a parent is always placed before its children
        params = json.loads(turn.params_json)
        prompt = params.get("prompt") or params.get("style_prompt") or params.get("instruction") or ""
        label = f"{turn.task} [dim]{shown[turn.id]}[/dim] {turn.status} {turn.model} {when(turn.created_ms)}"
        node = nodes.get(turn.parent_id, tree).add(label + (f" «{prompt[:60]}»" if prompt else ""))
        for c in turn.candidates:
            decisions = ", ".join(decision_names.get(f.decision, "?") for f in c.feedback)
            what = repr(c.text[:60]) if c.kind == "text" else f"{c.width}×{c.height}"
            node.add(f"#{c.index} seed {c.seed} {what} [dim]{shown[c.id]}[/dim] {decisions}")
        nodes[turn.id] = node
    out.print(tree)
    return 0


def _sessions_export(args: argparse.Namespace) -> int:
    with connect(args) as client:
        size = client.export_session(core.session_id(client, args.session_id), args.file)
    out.print(f"wrote {args.file} ({size / 1024:.0f} KiB)")
    return 0
