"""Start a real `cocreate serve` process for a test and stop it afterwards."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from core_server.launcher import DaemonProcess, launch


@dataclass
class Daemon(DaemonProcess):
    home: Path | None = None
    token: str | None = None


def start_daemon(
    home: Path,
    *,
    listen: str | None = None,
    token: str | None = None,
    extra_args: tuple[str, ...] = (),
    timeout: float = 180.0,
) -> Daemon:
    """Spawn the daemon with COCREATE_HOME=home (a Unix socket inside it, or TCP on `listen`)."""
    home.mkdir(parents=True, exist_ok=True)
    args = ["--listen", listen] if listen else ["--socket", str(home / "cocreate.sock")]
    if token:
        token_file = home / "token"
        token_file.write_text(token)
        token_file.chmod(0o600)
        args += ["--token-file", str(token_file)]
    env = dict(os.environ, COCREATE_HOME=str(home), HF_HUB_OFFLINE="1")
    started = launch([*args, *extra_args], env, timeout)
    return Daemon(started.process, started.endpoint, started.output, home=home, token=token)


@contextlib.contextmanager
def running_daemon(home: Path, **kwargs: object) -> Iterator[Daemon]:
    daemon = start_daemon(home, **kwargs)  # type: ignore[arg-type]
    try:
        yield daemon
    finally:
        daemon.stop()
