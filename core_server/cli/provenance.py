"""`cocreate provenance verify|get` and `cocreate analytics`: where outputs came from, and how sessions went."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from cocreate_client.pb import cocreate_pb2 as pb
from google.protobuf.message import Message
from rich.table import Table
from rich.tree import Tree

from .. import config
from ..provenance.plot import Chart, Point
from . import core
from .core import CliError, connect, out


def add_verbs(verbs: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    provenance = verbs.add_parser("provenance", help="signed C2PA manifests of what cocreate made").add_subparsers(
        metavar="VERB"
    )
    verify = provenance.add_parser("verify", help="is a file's manifest intact, and what chain led to it (offline)")
    verify.add_argument("file", type=Path, help="a PNG or JPEG, a text with its .json sidecar, or the sidecar")
    verify.add_argument(
        "--trust", type=Path, action="append", default=[], metavar="CA.pem", help="another trust anchor (repeatable)"
    )
    verify.set_defaults(run=_verify)
    get = provenance.add_parser("get", parents=[common], help="save a candidate's signed file from the daemon")
    get.add_argument("candidate_id")
    get.add_argument("file", type=Path, help="where to write it (a text's sidecar goes beside it as FILE.json)")
    get.add_argument("--jpeg", action="store_true", help="images as JPEG rather than PNG")
    get.set_defaults(run=_get)

    analytics = verbs.add_parser(
        "analytics", parents=[common], help="iteration depth, rejections, breadth, edit distance; a PNG of charts"
    )
    analytics.add_argument("session_id", nargs="?", default="", help="one session (default: across sessions)")
    analytics.add_argument("--host", default="", help="across sessions: only this host's")
    analytics.add_argument("--limit", type=int, default=100, help="across sessions: the newest N (default 100)")
    analytics.add_argument("--plot", type=Path, help="the PNG to write (default: cocreate-analytics[-SESSION].png)")
    analytics.set_defaults(run=_analytics)


# ---------------------------------------------------------------- provenance


def _verify(args: argparse.Namespace) -> int:
    from ..provenance.credentials import local_anchor
    from ..provenance.verify import verify_file

    local = local_anchor(config.data_dir() / "provenance")
    anchors = [*([local] if local else []), *args.trust]
    try:
        result = verify_file(args.file, anchors)
    except OSError as error:
        raise CliError(f"cannot read {error.filename}: {error.strerror}") from None
    out.print(f"[bold]{result.path}[/bold] {f'(manifest {result.how})' if result.how else ''}")
    if result.chain:
        tree = Tree("manifest chain, newest first")
        for link in result.chain:
            where = "" if link.relationship == "active" else f" [dim]({link.relationship} ingredient)[/dim]"
            node = tree.add(f"{link.title}{where}: {', '.join(link.actions) or 'no actions'}")
            node.add(f"signed by {link.signer}")
            if link.facts:
                node.add(_facts(link.facts))
                parameters = json.dumps(link.facts.get("parameters"), sort_keys=True)
                node.add(f"parameters {parameters if len(parameters) <= 300 else parameters[:300] + '…'}")
        out.print(tree)
        if result.trusted:
            out.print("signer: [green]trusted[/green] (it chains to " + ", ".join(str(a) for a in anchors) + ")")
        else:
            out.print("signer: [yellow]not trusted[/yellow] (no anchor matches; pass --trust CA.pem to add one)")
    for code, explanation in result.failures:
        out.print(f"  [red]{code}[/red]: {explanation}")
    if result.verdict == "intact":
        out.print("[bold green]INTACT[/bold green]: the signature is valid and the file is what was signed")
        return 0
    if result.verdict == "altered":
        reason = result.problem or "the file or its manifest changed after signing"
        out.print(f"[bold red]ALTERED[/bold red]: {reason}")
    else:
        out.print(f"[bold yellow]NO MANIFEST[/bold yellow]: {result.problem}")
    return 1


def _facts(facts: dict[str, Any]) -> str:
    model = facts.get("model", {})
    parent = facts.get("parent_turn_id") or "none"
    return (
        f"{facts.get('task')} ({facts.get('ai')} by AI) with {model.get('name')} "
        f"(sha256 {str(model.get('sha256'))[:12]}…), seed {facts.get('seed')}; session {facts.get('session_id')}, "
        f"turn {facts.get('turn_id')}, parent turn {parent}; decision {facts.get('decision') or 'none'}, "
        f"human edited: {'yes' if facts.get('human_edited') else 'no'}"
    )


def _get(args: argparse.Namespace) -> int:
    from ..provenance.sidecar import SUFFIX

    with connect(args) as client:
        signed = client.get_provenance(core.candidate_id(client, args.candidate_id), "jpeg" if args.jpeg else "png")
    if signed.media_type.startswith("image/"):
        args.file.write_bytes(signed.data)
        out.print(f"wrote {args.file} ({signed.media_type}, manifest embedded)")
    else:
        sidecar = args.file.with_name(args.file.name + SUFFIX)
        args.file.write_bytes(signed.text.encode("utf-8"))  # bytes: the sidecar signs these exact ones
        sidecar.write_bytes(signed.data)
        out.print(f"wrote {args.file} and its manifest {sidecar}")
    return 0


# ---------------------------------------------------------------- analytics


def _analytics(args: argparse.Namespace) -> int:
    from ..provenance.plot import write_png

    with connect(args) as client:
        session_id = core.session_id(client, args.session_id) if args.session_id else ""
        report = client.get_analytics(session_id, args.host, args.limit)
    if session_id:
        session = report.sessions[0]
        _print_session(session)
        title = f"cocreate session {session.document_name or session.session_id}"
        charts = _session_charts(session)
    else:
        _print_sessions(report)
        title = f"cocreate: {report.overview.sessions} sessions"
        charts = _sessions_charts(list(reversed(report.sessions)))  # oldest first: time runs left to right
    path = args.plot or Path(f"cocreate-analytics{'-' + session_id[:8] if session_id else ''}.png")
    write_png(title, charts, path)
    out.print(f"charts written to {path}")
    return 0


def _present(message: Message, field: str) -> bool:
    """False only for an `optional` field left unset: nothing to measure yet."""
    return not message.DESCRIPTOR.fields_by_name[field].has_presence or message.HasField(field)


def _value(message: Message, field: str, digits: int = 2) -> str:
    if not _present(message, field):
        return "–"
    value = getattr(message, field)
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _print_session(s: pb.SessionAnalytics) -> None:
    summary = Table(
        "SESSION", "TURNS", "TREE DEPTH", "TURNS TO ACCEPT", "BRANCHES", "DECIDED", "REJECTION", "DIVERSITY"
    )
    summary.add_row(
        f"{s.session_id} ({s.host})",
        str(s.turns),
        str(s.tree_depth),
        _value(s, "turns_to_accept"),
        str(s.branches),
        f"{s.decided} ({s.accepted} accepted, {s.edited} edited, {s.rejected} rejected)",
        _value(s, "rejection_rate"),
        _value(s, "diversity"),
    )
    out.print(summary)
    turns = Table("#", "TURN", "DEPTH", "STATUS", "CANDIDATES", "ACCEPTED", "EDITED", "REJECTED", "DIVERSITY")
    for number, t in enumerate(s.timeline, start=1):
        turns.add_row(
            str(number),
            t.turn_id[:8],
            str(t.depth),
            t.status,
            str(t.candidates),
            str(t.accepted),
            str(t.edited),
            str(t.rejected),
            _value(t, "diversity"),
        )
    out.print(turns)
    if s.edits:
        edits = Table("WHEN", "CANDIDATE", "KIND", "CHARS", "WORDS", "CHAR RATIO", "WORD RATIO", "PIXEL", "SSIM")
        for e in s.edits:
            text = e.kind == "text"
            edits.add_row(
                datetime.fromtimestamp(e.created_ms / 1000).strftime("%Y-%m-%d %H:%M:%S"),
                e.candidate_id[:8],
                e.kind,
                str(e.char_distance) if text else "",
                str(e.word_distance) if text else "",
                f"{e.char_ratio:.3f}" if text else "",
                f"{e.word_ratio:.3f}" if text else "",
                "" if text else f"{e.pixel_distance:.4f}",
                "" if text else f"{e.ssim:.4f}",
            )
        out.print(edits)


def _print_sessions(report: pb.AnalyticsReport) -> None:
    table = Table("SESSION", "HOST", "DOCUMENT", "TURNS", "DEPTH", "TO ACCEPT", "BRANCHES", "REJECTION", "DIVERSITY")
    for s in report.sessions:
        table.add_row(
            s.session_id,
            s.host,
            s.document_name,
            str(s.turns),
            str(s.tree_depth),
            _value(s, "turns_to_accept"),
            str(s.branches),
            _value(s, "rejection_rate"),
            _value(s, "diversity"),
        )
    out.print(table)
    o = report.overview
    overview = Table("SESSIONS", "TURNS", "TO ACCEPT", "DEPTH", "BRANCHES", "REJECTION", "DIVERSITY", "EDITS")
    edits = (
        f"chars {_value(o, 'mean_char_ratio')}, words {_value(o, 'mean_word_ratio')}, "
        f"pixels {_value(o, 'mean_pixel_distance', 4)}, SSIM {_value(o, 'mean_ssim', 4)}"
    )
    overview.add_row(
        str(o.sessions),
        str(o.turns),
        _value(o, "mean_turns_to_accept"),
        _value(o, "mean_tree_depth"),
        _value(o, "mean_branches"),
        _value(o, "rejection_rate"),
        _value(o, "mean_diversity"),
        edits,
    )
    out.print(overview)


# ---------------------------------------------------------------- charts

SESSIONS_AXIS = "session (oldest → newest)"
EDIT_AXIS = "0 = unchanged (SSIM: 1 = unchanged)"
EDIT_MEASURES: dict[str, Callable[[pb.EditDistance], float | None]] = {
    "text: character ratio": lambda e: e.char_ratio if e.kind == "text" else None,
    "text: word ratio": lambda e: e.word_ratio if e.kind == "text" else None,
    "image: pixel distance": lambda e: e.pixel_distance if e.kind == "image" else None,
    "image: SSIM": lambda e: e.ssim if e.kind == "image" else None,
}


def _session_charts(s: pb.SessionAnalytics) -> list[Chart]:
    timeline = list(enumerate(s.timeline, start=1))
    rejection: list[Point] = []
    decided = rejected = 0
    for number, t in timeline:
        decided += t.accepted + t.edited + t.rejected
        rejected += t.rejected
        if decided:
            rejection.append((number, rejected / decided))
    return [
        Chart("Depth in the version tree", "turn", "depth", {"depth": [(n, t.depth) for n, t in timeline]}),
        Chart("Rejection rate", "turn", "rejected / decided so far", {"rejection rate": rejection}, fraction=True),
        Chart(
            "Candidate diversity",
            "turn",
            "mean pairwise distance",
            {"diversity": _series(timeline, "diversity")},
            fraction=True,
        ),
        Chart("Edit distance, AI output → final", "edit", EDIT_AXIS, _edit_series(s.edits), fraction=True),
    ]


def _sessions_charts(sessions: Sequence[pb.SessionAnalytics]) -> list[Chart]:
    numbered = list(enumerate(sessions, start=1))
    depth = {name: _series(numbered, name) for name in ("turns_to_accept", "tree_depth", "branches")}
    edits: dict[str, list[Point]] = {}
    for n, s in numbered:  # each session's mean
        for name, points in _edit_series(s.edits).items():
            if points:
                edits.setdefault(name, []).append((n, sum(y for _, y in points) / len(points)))
    return [
        Chart("Iteration depth", SESSIONS_AXIS, "turns", {k.replace("_", " "): v for k, v in depth.items()}),
        Chart(
            "Rejection rate",
            SESSIONS_AXIS,
            "rejected / decided",
            {"rejection rate": _series(numbered, "rejection_rate")},
            fraction=True,
        ),
        Chart(
            "Candidate diversity",
            SESSIONS_AXIS,
            "mean pairwise distance",
            {"diversity": _series(numbered, "diversity")},
            fraction=True,
        ),
        Chart("Edit distance, AI output → final (session mean)", SESSIONS_AXIS, EDIT_AXIS, edits, fraction=True),
    ]


def _series(numbered: Sequence[tuple[int, Message]], field: str) -> list[Point]:
    return [(n, getattr(m, field)) for n, m in numbered if _present(m, field)]


def _edit_series(edits: Sequence[pb.EditDistance]) -> dict[str, list[Point]]:
    numbered = list(enumerate(edits, start=1))
    return {
        name: [(n, value) for n, e in numbered if (value := measure(e)) is not None]
        for name, measure in EDIT_MEASURES.items()
    }
