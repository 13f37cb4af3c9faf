"""`cocreate fork`, `restore` and `personalize`: branch a session's versions, learn the artist's style."""

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
    personalize = verbs.add_parser(
        "personalize", help="train a LoRA on the pictures accepted in a session (or in a folder), for later requests"
    )
    personalize.add_argument("source", metavar="SESSION_OR_FOLDER")
    personalize.add_argument("--name", required=True, help="what requests call it (`lora` in GenerateRequest)")
    personalize.add_argument("--model", default="", help="the image model it adapts (default: the default one)")
    personalize.add_argument("--prompt", help="one caption for every picture (default: each turn's prompt)")
    personalize.add_argument("--steps", type=int, default=200, help="training steps (default 200)")
    personalize.add_argument("--rank", type=int, default=8, help="LoRA rank (default 8)")
    personalize.add_argument("--learning-rate", type=float, default=1e-4, help="(default 1e-4)")
    personalize.add_argument("--seed", type=int, default=0)
    personalize.set_defaults(run=_personalize)


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


def _personalize(args: argparse.Namespace) -> int:
    from .cli import CliError
    from .engines.personalize import Training
    from .models.catalog import UnknownModel
    from .personalize import NothingToLearn, personalize
    from .tasks import EngineError

    training = Training(steps=args.steps, rank=args.rank, learning_rate=args.learning_rate, seed=args.seed)
    try:
        with out.status("training…") as status:
            entry, pictures = personalize(
                args.source,
                args.name,
                base=args.model,
                prompt=args.prompt,
                training=training,
                on_step=lambda step, loss: status.update(f"training: step {step}/{args.steps}, loss {loss:.4f}"),
            )
    except (NothingToLearn, UnknownModel, EngineError, ValueError, OSError) as error:
        raise CliError(str(error.args[0] if error.args else error)) from None
    out.print(
        f"trained LoRA [bold]{entry.name}[/bold] on {pictures} pictures ({args.steps} steps) into {entry.path}; "
        f"requests use it with lora={entry.name!r} (see `cocreate models list`)"
    )
    return 0
