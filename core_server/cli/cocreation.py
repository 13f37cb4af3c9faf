"""`cocreate fork`, `restore` and `personalize`: branch a session's versions, learn the artist's style."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from . import core
from .core import CliError, connect, out

if TYPE_CHECKING:
    from rich.status import Status

    from ..tasks import Training


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
        "personalize",
        parents=[common],
        help="train a LoRA on the pictures accepted in a session (by the daemon) or in a folder, for later requests",
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
    with connect(args) as client:
        session_id = core.session_id(client, args.session_id)
        session = client.fork_session(session_id, core.turn_id(client, session_id, args.turn_id))
    out.print(f"forked into session [bold]{session.id}[/bold] ({session.turn_count} turns); `cocreate sessions show`")
    return 0


def _restore(args: argparse.Namespace) -> int:
    from PIL import Image

    with connect(args) as client:
        candidate_id = core.candidate_id(client, args.candidate_id)
        restored = client.restore_candidate(candidate_id)
    content = restored.candidate
    if content.WhichOneof("content") == "image":
        Image.frombytes("RGBA", (content.image.width, content.image.height), content.image.rgba).save(args.file)
    else:
        args.file.write_text(content.text, encoding="utf-8")
    out.print(
        f"restored {candidate_id} into {args.file}; continue from turn [bold]{restored.turn_id}[/bold] "
        f"of session {restored.session_id} (the next request's parent turn)"
    )
    return 0


def _personalize(args: argparse.Namespace) -> int:
    from ..tasks import Training

    training = Training(steps=args.steps, rank=args.rank, learning_rate=args.learning_rate, seed=args.seed)
    folder = Path(args.source).expanduser()
    with out.status("training…") as status:
        if folder.is_dir():
            name, pictures, where = _personalize_folder(args, folder, training, status)
        else:
            name, pictures, where = _personalize_session(args, training, status)
    out.print(
        f"trained LoRA [bold]{name}[/bold] on {pictures} pictures ({args.steps} steps){where}; "
        f"requests use it with lora={name!r} (see `cocreate models list`)"
    )
    return 0


def _personalize_folder(
    args: argparse.Namespace, folder: Path, training: Training, status: Status
) -> tuple[str, int, str]:
    """In this process: the pictures are on this machine."""
    from ..models.catalog import UnknownModel
    from ..personalize import NothingToLearn, personalize_folder
    from ..tasks import EngineError, StepEvent

    def show(event: object) -> None:
        if isinstance(event, StepEvent):
            status.update(f"training: step {event.step}/{event.total}, loss {event.loss or 0:.4f}")

    try:
        entry, pictures = personalize_folder(
            folder, args.name, base=args.model, prompt=args.prompt, training=training, emit=show
        )
    except (NothingToLearn, UnknownModel, EngineError, ValueError, OSError) as error:
        raise CliError(str(error.args[0] if error.args else error)) from None
    return entry.name, pictures, f" into {entry.path}"


def _personalize_session(args: argparse.Namespace, training: Training, status: Status) -> tuple[str, int, str]:
    """By the daemon, which holds the session, in its job queue."""
    from cocreate_client import Progress, Queued, Trained, tasks

    with connect(args) as client:
        session_id = core.session_id(client, args.source)
    request = tasks.personalize(
        session_id,
        args.name,
        model=args.model,
        prompt=args.prompt,
        steps=training.steps,
        rank=training.rank,
        learning_rate=training.learning_rate,
        seed=training.seed,
    )
    trained = None
    with connect(args) as client:
        job = client.personalize(request)
        try:
            while True:
                finished = job.done  # read first: every event is queued before the job counts as done
                for event in job.poll():
                    if isinstance(event, Queued):
                        status.update(f"waiting: {event.position} job(s) ahead")
                    elif isinstance(event, Progress):
                        status.update(f"training: step {event.step}/{event.total}, loss {event.loss or 0:.4f}")
                    elif isinstance(event, Trained):
                        trained = event
                if finished:
                    break
                time.sleep(0.1)
        except KeyboardInterrupt:
            job.cancel()
            job.wait(30)
            raise
    result = job.wait(0)
    if result.error is not None:
        raise CliError(result.error.message)
    if trained is None:
        raise CliError("the training was cancelled")
    return trained.lora, trained.pictures, ""
