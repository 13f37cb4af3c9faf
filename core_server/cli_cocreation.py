"""`cocreate fork` and `cocreate restore`: branch a session's versions from the command line."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

out = Console()


def add_verbs(verbs: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    fork = verbs.add_parser("fork", parents=[common], help="a new session holding a turn and its ancestors")
    fork.add_argument("session_id")
    fork.add_argument("turn_id")
    fork.set_defaults(run=_fork)
    restore = verbs.add_parser(
        "restore", parents=[common], help="go back to a candidate: save it, record it as chosen, branch from it"
    )
    restore.add_argument("candidate_id")
    restore.add_argument("file", type=Path, help="where to save it (PNG for images, UTF-8 for texts)")
    restore.set_defaults(run=_restore)


def _fork(args: argparse.Namespace) -> int:
    from .cli_client import connect

    with connect(args) as client:
        session = client.fork_session(args.session_id, args.turn_id)
    out.print(f"forked into session [bold]{session.id}[/bold] ({session.turn_count} turns); `cocreate sessions show`")
    return 0


def _restore(args: argparse.Namespace) -> int:
    from PIL import Image

    from .cli_client import connect

    with connect(args) as client:
        restored = client.restore_candidate(args.candidate_id)
    content = restored.candidate
    if content.WhichOneof("content") == "image":
        Image.frombytes("RGBA", (content.image.width, content.image.height), content.image.rgba).save(args.file)
    else:
        args.file.write_text(content.text, encoding="utf-8")
    out.print(
        f"restored {args.candidate_id} into {args.file}; continue from turn [bold]{restored.turn_id}[/bold] "
        f"of session {restored.session_id} (the next request's parent turn)"
    )
    return 0
