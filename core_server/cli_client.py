"""The CLI verbs that talk to a daemon, through the same client the plugins vendor."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from cocreate_client import CocreateClient, CocreateError
from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from . import cli_cocreation, cli_provenance
from .models.pullable import PULLABLE, pullable
from .packaging import HOSTS

out = Console()


def add_verbs(verbs: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    health = verbs.add_parser("health", parents=[common], help="is the daemon up, where, how busy")
    health.set_defaults(run=_health)

    demo = verbs.add_parser("demo", help="run a daemon on the tiny profile and drive it end to end")
    demo.add_argument("--out", type=Path, default=Path("cocreate-demo"), help="folder for the outputs")
    demo.set_defaults(run=_demo)

    models = verbs.add_parser("models", help="list, add, pull and choose models").add_subparsers(metavar="VERB")
    listing = models.add_parser("list", aliases=["ls"], parents=[common], help="models the daemon knows")
    listing.set_defaults(run=_models_list)
    add = models.add_parser("add", help="register a local model folder or .safetensors file")
    add.add_argument("name")
    add.add_argument("path", type=Path)
    add.add_argument("--config", type=Path, help="for a single .safetensors checkpoint: a diffusers folder of its kind")
    add.set_defaults(run=_models_add)
    pull = models.add_parser("pull", help="download a model from the Hugging Face Hub (safetensors only)")
    pull.add_argument("repo", help=f"a Hub repository id, or one of: {', '.join(PULLABLE)}")
    pull.add_argument("--name", help="the name to register it under (default: the repo's)")
    pull.set_defaults(run=_models_pull)
    default = models.add_parser("default", help="the model used when a request names none")
    default.add_argument("kind", choices=["image", "text"])
    default.add_argument("name")
    default.set_defaults(run=_models_default)

    plugins = verbs.add_parser("plugins", help="build and install the host plugins").add_subparsers(metavar="VERB")
    build = plugins.add_parser("build", help="make the installable plugin (zip, .oxt) for a host")
    build.add_argument("host", choices=HOSTS)
    build.add_argument("--out", type=Path, default=Path("dist"), help="folder for the artefact (default: dist)")
    build.set_defaults(run=_plugins_build)
    install = plugins.add_parser("install", help="install the plugin where the host finds it")
    install.add_argument("host", choices=HOSTS)
    install.set_defaults(run=_plugins_install)

    sessions = verbs.add_parser("sessions", help="co-creation sessions and their history").add_subparsers(
        metavar="VERB"
    )
    slist = sessions.add_parser("list", aliases=["ls"], parents=[common], help="sessions, newest first")
    slist.add_argument("--host", default="", help="only this host's sessions (krita, gimp, ...)")
    slist.add_argument("--limit", type=int, default=50)
    slist.set_defaults(run=_sessions_list)
    show = sessions.add_parser("show", parents=[common], help="a session's turn tree")
    show.add_argument("session_id")
    show.set_defaults(run=_sessions_show)
    export = sessions.add_parser("export", parents=[common], help="a zip of the session and every candidate")
    export.add_argument("session_id")
    export.add_argument("file", type=Path)
    export.set_defaults(run=_sessions_export)

    cli_provenance.add_verbs(verbs, common)
    cli_cocreation.add_verbs(verbs, common)


@contextmanager
def connect(args: argparse.Namespace) -> Iterator[CocreateClient]:
    from .cli import CliError, read_token

    try:
        with CocreateClient(args.endpoint, token=read_token(args.token_file)) as client:
            yield client
    except CocreateError as error:
        raise CliError(str(error)) from None


def _health(args: argparse.Namespace) -> int:
    with connect(args) as client:
        status = client.health()
        loaded = ", ".join(m.name for m in status.loaded) or "none"
        out.print(
            f"[green]serving[/green] at {client.endpoint}: cocreate {status.version} on {status.device}; "
            f"{status.queue_length} queued; loaded: {loaded}"
        )
    return 0


def _models_list(args: argparse.Namespace) -> int:
    with connect(args) as client:
        models = client.list_models()
    table = Table("NAME", "KIND", "SOURCE", "DEFAULT", "LOADED", "DEVICE", "DTYPE", "MEMORY")
    for m in models:
        memory = f"{m.memory_bytes / 2**20:.0f} MiB" if m.loaded else ""
        table.add_row(
            m.name,
            m.kind,
            m.source,
            "yes" if m.is_default else "",
            "yes" if m.loaded else "",
            m.device,
            m.dtype,
            memory,
        )
    out.print(table)
    return 0


def _catalog():  # type: ignore[no-untyped-def]
    from .models.catalog import ModelCatalog

    return ModelCatalog()


def _models_add(args: argparse.Namespace) -> int:
    from .cli import CliError

    try:
        entry = _catalog().add(args.name, args.path, config=args.config)
    except (ValueError, OSError) as error:
        raise CliError(str(error)) from None
    out.print(f"added {entry.kind} model [bold]{entry.name}[/bold] from {entry.path} (sha256 {entry.sha256[:12]}…)")
    return 0


def _models_pull(args: argparse.Namespace) -> int:
    from .cli import CliError

    curated = pullable(args.repo)
    if curated:
        out.print(curated.describe())
    try:
        with out.status(f"downloading {curated.repo if curated else args.repo} (safetensors only)…"):
            entry = _catalog().pull(args.repo, args.name)
    except (ValueError, RuntimeError, OSError) as error:
        raise CliError(str(error)) from None
    out.print(f"pulled {entry.kind} model [bold]{entry.name}[/bold] into {entry.path}")
    return 0


def _models_default(args: argparse.Namespace) -> int:
    from .cli import CliError

    try:
        _catalog().set_default(args.kind, args.name)
    except LookupError as error:
        raise CliError(str(error.args[0] if error.args else error)) from None
    except ValueError as error:
        raise CliError(str(error)) from None
    out.print(f"default {args.kind} model: {args.name}")
    return 0


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M") if ms else ""


def _sessions_list(args: argparse.Namespace) -> int:
    with connect(args) as client:
        sessions = client.list_sessions(host=args.host, limit=args.limit)
    table = Table("ID", "HOST", "DOCUMENT", "TURNS", "CREATED")
    for s in sessions:
        table.add_row(s.id, s.host, s.document_name or s.document_id, str(s.turn_count), _when(s.created_ms))
    out.print(table)
    return 0


def _sessions_show(args: argparse.Namespace) -> int:
    with connect(args) as client:
        detail = client.get_session(args.session_id)
    s = detail.session
    tree = Tree(f"[bold]{s.document_name or s.document_id or s.id}[/bold] ({s.host}, {s.id})")
    nodes = {"": tree}
    decision_names = {1: "accepted", 2: "rejected", 3: "edited"}
    for turn in detail.turns:  # oldest first, so a parent is always placed before its children
        params = json.loads(turn.params_json)
        prompt = params.get("prompt") or params.get("style_prompt") or params.get("instruction") or ""
        label = f"{turn.task} [dim]{turn.id[:8]}[/dim] {turn.status} {turn.model} {_when(turn.created_ms)}"
        node = nodes.get(turn.parent_id, tree).add(label + (f" «{prompt[:60]}»" if prompt else ""))
        for c in turn.candidates:
            decisions = ", ".join(decision_names.get(f.decision, "?") for f in c.feedback)
            what = repr(c.text[:60]) if c.kind == "text" else f"{c.width}×{c.height}"
            node.add(f"#{c.index} seed {c.seed} {what} [dim]{c.id[:8]}[/dim] {decisions}")
        nodes[turn.id] = node
    out.print(tree)
    return 0


def _sessions_export(args: argparse.Namespace) -> int:
    with connect(args) as client:
        size = client.export_session(args.session_id, args.file)
    out.print(f"wrote {args.file} ({size / 1024:.0f} KiB)")
    return 0


def _plugins_build(args: argparse.Namespace) -> int:
    from .cli import CliError
    from .packaging import PackagingError, host_module

    try:
        artefact = host_module(args.host).build(args.out)
    except PackagingError as error:
        raise CliError(str(error)) from None
    out.print(f"built the {args.host} plugin: {artefact}")
    return 0


def _plugins_install(args: argparse.Namespace) -> int:
    from .cli import CliError
    from .packaging import PackagingError, host_module

    try:
        place = host_module(args.host).install()
    except PackagingError as error:
        raise CliError(str(error)) from None
    out.print(f"installed the {args.host} plugin into {place}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(args.out)
