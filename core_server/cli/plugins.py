"""`cocreate plugins build|install HOST`: the installable plugin for a host, and where the host finds it."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..packaging import HOSTS
from .core import CliError, out


def add_verbs(verbs: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    plugins = verbs.add_parser("plugins", help="build and install the host plugins").add_subparsers(metavar="VERB")
    build = plugins.add_parser("build", help="make the installable plugin (zip, .oxt) for a host")
    build.add_argument("host", choices=HOSTS)
    build.add_argument("--out", type=Path, default=Path("dist"), help="folder for the artefact (default: dist)")
    build.set_defaults(run=_plugins_build)
    install = plugins.add_parser("install", help="install the plugin where the host finds it")
    install.add_argument("host", choices=HOSTS)
    install.set_defaults(run=_plugins_install)


def _plugins_build(args: argparse.Namespace) -> int:
    from ..packaging import PackagingError, host_module

    try:
        artefact = host_module(args.host).build(args.out)
    except PackagingError as error:
        raise CliError(str(error)) from None
    _said_with_path(f"built the {args.host} plugin:", artefact)
    return 0


def _plugins_install(args: argparse.Namespace) -> int:
    from ..packaging import PackagingError, host_module

    try:
        place = host_module(args.host).install()
    except PackagingError as error:
        raise CliError(str(error)) from None
    _said_with_path(f"installed the {args.host} plugin into", place)
    return 0


def _said_with_path(sentence: str, path: Path) -> None:
    """The sentence, then the path on a line of its own: short lines, and a path never broken in two."""
    out.print(sentence)
    out.print(f"  {path}", soft_wrap=True, highlight=False)
