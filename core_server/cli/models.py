"""`cocreate models list|add|pull|default`: what the daemon knows, and the local catalog it reads."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rich.table import Table

from .core import CliError, connect, out

if TYPE_CHECKING:
    from ..models.catalog import ModelCatalog


def add_verbs(verbs: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    models = verbs.add_parser("models", help="list, add, pull and choose models").add_subparsers(metavar="VERB")
    listing = models.add_parser("list", aliases=["ls"], parents=[common], help="models the daemon knows")
    listing.set_defaults(run=_models_list)
    add = models.add_parser("add", help="register a local model folder or .safetensors file")
    add.add_argument("name")
    add.add_argument("path", type=Path)
    add.add_argument("--config", type=Path, help="for a single .safetensors checkpoint: a diffusers folder of its kind")
    add.add_argument(
        "--prediction",
        choices=["epsilon", "v"],
        help="for a full SD 2.x/SDXL checkpoint whose file cannot tell: what its UNet predicts (SD 2.x: v by default)",
    )
    add.add_argument(
        "--control",
        action="append",
        default=[],
        metavar="KIND",
        help="a ControlNet folder whose name does not say: the map it reads (canny, depth, scribble...); repeatable",
    )
    add.set_defaults(run=_models_add)
    pull = models.add_parser("pull", help="download a model from the Hugging Face Hub (safetensors only)")
    pull.add_argument(
        "repo",
        help="a short name (sd15-inpaint, sdxl, sd35-medium..., ControlNets: sd15-depth, sdxl-union...) or a repo id",
    )
    pull.add_argument("--name", help="the name to register it under (default: the short name or the repo's)")
    pull.add_argument("--yes", action="store_true", help="download without asking (after showing size and licence)")
    pull.set_defaults(run=_models_pull)
    default = models.add_parser("default", help="the model used when a request names none")
    default.add_argument("kind", choices=["image", "text"])
    default.add_argument("name")
    default.set_defaults(run=_models_default)


def _models_list(args: argparse.Namespace) -> int:
    with connect(args) as client:
        models = client.list_models()
    table = Table("NAME", "KIND", "FAMILY", "SOURCE", "DEFAULT", "LOADED", "DEVICE", "DTYPE", "MEMORY")
    for m in models:
        memory = f"{m.memory_bytes / 2**20:.0f} MiB" if m.loaded else ""
        table.add_row(
            m.name,
            m.kind,
            m.family,
            m.source,
            "yes" if m.is_default else "",
            "yes" if m.loaded else "",
            m.device,
            m.dtype,
            memory,
        )
    out.print(table)
    return 0


def _catalog() -> ModelCatalog:
    from ..models.catalog import ModelCatalog

    return ModelCatalog()


def _models_add(args: argparse.Namespace) -> int:
    try:
        entry = _catalog().add(
            args.name, args.path, config=args.config, prediction=args.prediction, controls=args.control
        )
    except (ValueError, OSError) as error:
        raise CliError(str(error)) from None
    serves = f" for {entry.family} {', '.join(entry.controls)} maps" if entry.controls else ""
    out.print(
        f"added {entry.kind} model [bold]{entry.name}[/bold]{serves} from {entry.path} (sha256 {entry.sha256[:12]}…)"
    )
    return 0


def _models_pull(args: argparse.Namespace) -> int:
    from ..models import pulls

    try:
        with out.status(f"asking the Hub about {args.repo}…"):
            plan = pulls.plan(args.repo, args.name)
        out.print(plan.describe(), soft_wrap=True)
        if not args.yes and not (sys.stdin.isatty() and input("download it? [y/N] ").strip().lower() == "y"):
            out.print("nothing downloaded (add --yes to download without asking)")
            return 1
        # An interrupted pull resumes where it stopped when asked again.
        with out.status(f"downloading {plan.repo} ({plan.size_bytes / 2**30:.1f} GiB)…"):
            entry = _catalog().pull(plan.repo, plan.name, plan.files)
    except (ValueError, RuntimeError, OSError) as error:
        raise CliError(str(error)) from None
    out.print(f"pulled {entry.kind} model [bold]{entry.name}[/bold] into {entry.path}")
    return 0


def _models_default(args: argparse.Namespace) -> int:
    try:
        _catalog().set_default(args.kind, args.name)
    except LookupError as error:
        raise CliError(str(error.args[0] if error.args else error)) from None
    except ValueError as error:
        raise CliError(str(error)) from None
    out.print(f"default {args.kind} model: {args.name}")
    return 0
