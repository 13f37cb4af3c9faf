"""`cocreate health` (is the daemon up, where, how busy) and `cocreate demo` (the tiny profile, end to end)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from .core import connect, out

if TYPE_CHECKING:
    from ..pb import cocreate_pb2 as pb


def add_verbs(verbs: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    health = verbs.add_parser("health", parents=[common], help="is the daemon up, where, how busy")
    health.set_defaults(run=_health)
    demo = verbs.add_parser("demo", help="run a daemon on the tiny profile and drive it end to end")
    demo.add_argument("--out", type=Path, default=Path("cocreate-demo"), help="folder for the outputs")
    demo.add_argument(
        "--family", default="sd15", help="the image model family to paint with: its tiny model (sd15, sdxl, sd3...)"
    )
    demo.set_defaults(run=_demo)


def _health(args: argparse.Namespace) -> int:
    with connect(args) as client:
        status = client.health()
        endpoint = client.endpoint
    # One fact a line, so each fits an 80-column terminal; a long endpoint stays whole on its own line.
    out.print("[green]serving[/green] at", soft_wrap=True)
    out.print(f"  {endpoint}", soft_wrap=True, highlight=False)
    out.print(f"cocreate {status.version} on {status.device}; {status.queue_length} queued")
    out.print(f"loaded: {', '.join(m.name for m in status.loaded) or 'none'}", soft_wrap=True)
    if status.HasField("cluster"):
        _cluster(status.cluster)
    return 0


def _cluster(cluster: pb.ClusterStatus) -> None:
    out.print(f"cluster {cluster.address}: {len(cluster.replicas)} replica(s), {cluster.waiting} waiting for one")
    for replica in cluster.replicas:
        models = ", ".join(replica.models) or "no model yet"
        out.print(
            f"  {replica.kind} {replica.id} {replica.state} pid {replica.pid}, {replica.running} running: {models}",
            soft_wrap=True,
            highlight=False,
        )


def _demo(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    return run_demo(args.out, family=args.family)
