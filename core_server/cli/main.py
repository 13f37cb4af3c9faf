"""`cocreate`: run the daemon, and talk to it as any plugin would.

Every verb but `serve`, the local `models add|pull|default`, `provenance verify` and `personalize FOLDER`
goes through the plugin client (plugins/common), so the CLI sees exactly what a host sees. Each verb
module adds its verbs here and depends only on cli.core.
"""

from __future__ import annotations

import argparse

from .. import __version__
from . import cocreation, core, health, models, plugins, provenance, serve, sessions
from .core import CliError, console

VERBS = (serve, health, models, plugins, sessions, provenance, cocreation)

ENVIRONMENT = """environment:
  COCREATE_HOME        where models, sessions and the tiny profile live (default: the user data dir)
  COCREATE_ENDPOINT    the daemon to talk to: unix:/path or HOST:PORT (default: the user's socket)
  COCREATE_TOKEN       the token for a TCP daemon (or COCREATE_TOKEN_FILE: a file holding it)
  COCREATE_DEVICE      cpu or cuda (default: cuda when available)
  COCREATE_DTYPE       float32, float16 or bfloat16 (default: float16 on CUDA; on the CPU bfloat16 where it
                       has bfloat16 instructions, else float32); the VAE stays float32 under bfloat16
  COCREATE_COMPILE     1: torch.compile the UNet (as serve --compile)
  COCREATE_PAINT_SIZE  auto, region or native: the size image jobs paint at (as serve --paint-size)
  COCREATE_ENCODE_CACHE_MB  memory for the session caches of prompt and picture encodings (default 64; 0: off)
"""


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except CliError as error:
        console.print(f"[red]error:[/red] {error}")
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cocreate",
        description="A local daemon for AI co-creation in Krita, GIMP, Blender and LibreOffice.",
        epilog=ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"cocreate {__version__}")
    verbs = parser.add_subparsers(title="commands", metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)  # what verbs that talk to a daemon take
    core.add_daemon_options(common)
    for module in VERBS:
        module.add_verbs(verbs, common)
    return parser
