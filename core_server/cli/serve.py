"""`cocreate serve`: run the daemon (a Unix socket by default; TCP with a token)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from pathlib import Path

from .. import config
from ..cluster.options import ClusterOptions
from ..sessions.context import POLICIES
from .core import CliError, console, positive, read_token


def add_verbs(verbs: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
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
        "--paint-size",
        choices=("auto", "region", "native"),
        help="the size image jobs paint at unless a request says: auto (default) = native on a GPU, "
        "the region's own size on the CPU",
    )
    serve.add_argument(
        "--keep-alive", type=positive, metavar="SECONDS", help="unload models no job has used for this long"
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
            flag, type=positive, default=default, dest=name, metavar="N", help=f"{what} (default {default})"
        )
    serve.add_argument(
        "--store-context",
        choices=POLICIES,
        default="full",
        help="what each turn keeps of the document text it was given: full (deduplicated between turns), "
        "hash (length and SHA-256: nothing readable) or none (length only) (default full)",
    )
    serve.add_argument(
        "--store",
        metavar="URL",
        default=os.environ.get("COCREATE_STORE"),
        help="keep sessions in this PostgreSQL server (postgresql://USER@HOST/DB; a password from ~/.pgpass or "
        "PGPASSWORD) instead of SQLite in the daemon's folder; default $COCREATE_STORE",
    )
    serve.add_argument(
        "--blobs",
        type=Path,
        metavar="PATH",
        help="keep candidate files in this folder, such as a shared filesystem every front reaches "
        "(default: beside the sessions)",
    )
    serve.add_argument(
        "--metrics-port", type=int, metavar="N", help="serve Prometheus metrics on http://HOST:N/metrics (0: any free)"
    )
    serve.add_argument(
        "--metrics-host", default="127.0.0.1", metavar="HOST", help="where --metrics-port listens (default 127.0.0.1)"
    )
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    _add_cluster_flags(serve)
    serve.set_defaults(run=_serve)

    token = verbs.add_parser("token", help="make a named token for a TCP daemon and add its hash to a tokens file")
    token.add_argument("name", help="who will use it (letters, digits, . _ @ -)")
    token.add_argument("--tokens", type=Path, required=True, metavar="FILE", help="the file serve --tokens reads")
    token.set_defaults(run=_new_token)


def _add_cluster_flags(serve: argparse.ArgumentParser) -> None:
    studio = serve.add_argument_group(
        "studio", "run as a front over engines on a Ray cluster (pip install 'cocreate[studio]')"
    )
    studio.add_argument(
        "--cluster", metavar="ADDRESS", help="the Ray cluster's head (HOST:PORT, ray://HOST:10001 or auto)"
    )
    defaults = ClusterOptions("")
    studio.add_argument(
        "--min-replicas", type=positive, default=defaults.min_replicas, metavar="N", help="per model kind (default 1)"
    )
    studio.add_argument(
        "--max-replicas",
        type=positive,
        default=defaults.max_replicas,
        metavar="N",
        help="per model kind; Serve adds replicas up to this while jobs wait (default 2)",
    )
    studio.add_argument("--replica-cpus", type=float, default=defaults.replica_cpus, metavar="N", help="(default 1)")
    studio.add_argument(
        "--replica-gpus", type=float, default=defaults.replica_gpus, metavar="N", help="1 on a GPU farm (default 0)"
    )
    studio.add_argument(
        "--in-flight",
        type=positive,
        metavar="N",
        help="jobs handed to the cluster at once; more wait in the front's fair queue (default 2 × max replicas)",
    )


def _cluster_options(args: argparse.Namespace) -> ClusterOptions | None:
    if not args.cluster:
        return None
    if args.min_replicas > args.max_replicas:
        raise CliError(f"--min-replicas {args.min_replicas} is more than --max-replicas {args.max_replicas}")
    return ClusterOptions(
        args.cluster, args.min_replicas, args.max_replicas, args.replica_cpus, args.replica_gpus, args.in_flight or 0
    )


def _serve(args: argparse.Namespace) -> int:
    from ..service.server import ConfigError, ServeOptions, serve

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.log_level != "debug":
        _quiet_libraries()
    if args.compile:
        os.environ["COCREATE_COMPILE"] = "1"  # the engines read it when they load a model
    if args.paint_size:
        os.environ["COCREATE_PAINT_SIZE"] = args.paint_size  # the image engine reads it for each job
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
        store_url=args.store,
        blobs_dir=args.blobs,
        metrics_port=args.metrics_port,
        metrics_host=args.metrics_host,
        cluster=_cluster_options(args),
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
    from ..service.identity import TokenFileError, append_token

    try:
        token = append_token(args.tokens, args.name)
    except TokenFileError as error:
        raise CliError(str(error)) from None
    console.print(f"added {args.name!r} to {args.tokens}; give them this token (it is not kept anywhere):")
    print(token)
    return 0
