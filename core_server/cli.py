"""`cocreate`: run the daemon, and talk to it as any plugin would.

Every verb but `serve` and the local `models add|pull|default` goes through the
plugin client (plugins/common), so the CLI sees exactly what a host sees.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from rich.console import Console

from . import __version__, config
from .sessions.context import POLICIES

console = Console(stderr=True)

ENVIRONMENT = """environment:
  COCREATE_HOME        where models, sessions and the tiny profile live (default: the user data dir)
  COCREATE_ENDPOINT    the daemon to talk to: unix:/path or HOST:PORT (default: the user's socket)
  COCREATE_TOKEN       the token for a TCP daemon (or COCREATE_TOKEN_FILE: a file holding it)
  COCREATE_DEVICE      cpu or cuda (default: cuda when available)
  COCREATE_DTYPE       float32, float16 or bfloat16 (default: float16 on CUDA; on the CPU bfloat16 where it
                       has bfloat16 instructions, else float32); the VAE stays float32 under bfloat16
  COCREATE_COMPILE     1: torch.compile the UNet (as serve --compile)
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


class CliError(Exception):
    """A failure the user can fix; printed without a traceback."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cocreate",
        description="A local daemon for AI co-creation in Krita, GIMP, Blender and LibreOffice.",
        epilog=ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"cocreate {__version__}")
    verbs = parser.add_subparsers(title="commands", metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--endpoint", help="the daemon: unix:/path or HOST:PORT (default: $COCREATE_ENDPOINT or the user socket)"
    )
    common.add_argument("--token-file", type=Path, help="file holding the token of a TCP daemon")

    serve = verbs.add_parser("serve", help="run the daemon (Unix socket by default)")
    serve.add_argument("--token-file", type=Path, help="file holding the token TCP clients must send")
    serve.add_argument(
        "--tokens", type=Path, metavar="FILE", help="named tokens for TCP, hashed: one 'NAME sha256:HEX' a line"
    )
    serve.add_argument("--socket", type=Path, help="Unix socket path (default: the per-user runtime socket)")
    serve.add_argument("--listen", metavar="HOST:PORT", help="serve TCP instead; requires a token")
    serve.add_argument("--tls-cert", type=Path, help="PEM certificate for TLS on --listen")
    serve.add_argument("--tls-key", type=Path, help="PEM private key for TLS on --listen")
    serve.add_argument("--max-memory", type=float, metavar="GIB", help="unload least-recently-used models past this")
    serve.add_argument("--preload", action="store_true", help="load the default image model in the background at start")
    serve.add_argument(
        "--compile", action="store_true", help="torch.compile the UNet: faster steps after a one-off cost per shape"
    )
    serve.add_argument(
        "--keep-alive", type=_positive, metavar="SECONDS", help="unload models no job has used for this long"
    )
    defaults = config.DEFAULT_LIMITS
    limit_flags = {
        "--max-queue": ("max_queue", "jobs waiting; more get RESOURCE_EXHAUSTED"),
        "--max-side": ("max_side", "pixels on either side of an image (sets the message limit too)"),
        "--max-candidates": ("max_candidates", "candidates per request"),
        "--max-steps": ("max_steps", "denoising steps per request"),
        "--max-new-tokens": ("max_new_tokens", "tokens per text candidate"),
        "--max-text-chars": ("max_text_chars", "characters of text in a request"),
    }
    for flag, (name, what) in limit_flags.items():
        default = getattr(defaults, name)
        serve.add_argument(
            flag, type=_positive, default=default, dest=name, metavar="N", help=f"{what} (default {default})"
        )
    serve.add_argument(
        "--store-context",
        choices=POLICIES,
        default="full",
        help="what each turn keeps of the document text it was given: full (deduplicated between turns), "
        "hash (length and SHA-256: nothing readable) or none (length only) (default full)",
    )
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.set_defaults(run=_serve)

    token = verbs.add_parser("token", help="make a named token for a TCP daemon and add its hash to a tokens file")
    token.add_argument("name", help="who will use it (letters, digits, . _ @ -)")
    token.add_argument("--tokens", type=Path, required=True, metavar="FILE", help="the file serve --tokens reads")
    token.set_defaults(run=_new_token)

    from . import cli_client  # the verbs that talk to a running daemon

    cli_client.add_verbs(verbs, common)
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def read_token(token_file: Path | None) -> str | None:
    """--token-file, else $COCREATE_TOKEN, else the file named by $COCREATE_TOKEN_FILE."""
    if token_file is None and os.environ.get("COCREATE_TOKEN"):
        return os.environ["COCREATE_TOKEN"]
    token_file = token_file or (
        Path(os.environ["COCREATE_TOKEN_FILE"]) if os.environ.get("COCREATE_TOKEN_FILE") else None
    )
    if token_file is None:
        return None
    try:
        token = token_file.read_text().strip()
    except OSError as error:
        raise CliError(f"cannot read the token file {token_file}: {error.strerror}") from None
    if not token:
        raise CliError(f"the token file {token_file} is empty")
    return token


def _serve(args: argparse.Namespace) -> int:
    from .service.server import ConfigError, ServeOptions, serve

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.log_level != "debug":
        _quiet_libraries()
    if args.compile:
        os.environ["COCREATE_COMPILE"] = "1"  # the engines read it when they load a model
    options = ServeOptions(
        socket=args.socket,
        listen=args.listen,
        token=read_token(args.token_file) if args.listen and not args.tokens else None,
        tokens_file=args.tokens,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        max_memory_bytes=int(args.max_memory * 2**30) if args.max_memory else None,
        preload=args.preload,
        keep_alive_s=args.keep_alive,
        store_context=args.store_context,
        limits=config.Limits(
            max_side=args.max_side,
            max_candidates=args.max_candidates,
            max_steps=args.max_steps,
            max_new_tokens=args.max_new_tokens,
            max_text_chars=args.max_text_chars,
            max_queue=args.max_queue,
        ),
    )
    try:
        asyncio.run(serve(options, on_ready=lambda line: print(line, flush=True)))
    except ConfigError as error:
        raise CliError(str(error)) from None
    return 0


def _quiet_libraries() -> None:
    """Library warnings may quote what a person typed (diffusers' CLIP truncation copies the prompt):
    below debug, the libraries report errors only, so no user content reaches the log."""
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    diffusers_logging.set_verbosity_error()
    transformers_logging.set_verbosity_error()


def _new_token(args: argparse.Namespace) -> int:
    from .service.identity import TokenFileError, append_token

    try:
        token = append_token(args.tokens, args.name)
    except TokenFileError as error:
        raise CliError(str(error)) from None
    console.print(f"added {args.name!r} to {args.tokens}; give them this token (it is not kept anywhere):")
    print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
