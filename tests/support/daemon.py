"""Start a real `cocreate serve` process for a test and stop it afterwards."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from core_server.launcher import DaemonProcess, launch
from core_server.models.tiny import ensure_tiny_models

# Every test daemon gets its own home; the tiny profile (one model per family) is built once per test run
# and hard-linked into each home, so a daemon's start does not rebuild ten models.
_SHARED_MODELS = Path(tempfile.mkdtemp(prefix="cocreate-test-models-"))
atexit.register(shutil.rmtree, _SHARED_MODELS, ignore_errors=True)


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
    _link_tiny_profile(home / "models")
    args = ["--listen", listen] if listen else ["--socket", str(home / "cocreate.sock")]
    if token:
        token_file = home / "token"
        token_file.write_text(token)
        token_file.chmod(0o600)
        args += ["--token-file", str(token_file)]
    env = dict(os.environ, COCREATE_HOME=str(home), HF_HUB_OFFLINE="1")
    started = launch([*args, *extra_args], env, timeout)
    return Daemon(started.process, started.endpoint, started.output, home=home, token=token)


def _link_tiny_profile(models: Path) -> None:
    if (models / "tiny").exists():
        return
    previous = os.umask(0o077)  # the daemon keeps its home private; links share the built files' modes
    try:
        ensure_tiny_models(_SHARED_MODELS)
    finally:
        os.umask(previous)
    models.mkdir(mode=0o700, exist_ok=True)
    shutil.copytree(_SHARED_MODELS / "tiny", models / "tiny", copy_function=_link_or_copy)


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # another filesystem
        shutil.copy2(source, target)


@contextlib.contextmanager
def running_daemon(home: Path, **kwargs: object) -> Iterator[Daemon]:
    daemon = start_daemon(home, **kwargs)  # type: ignore[arg-type]
    try:
        yield daemon
    finally:
        daemon.stop()
