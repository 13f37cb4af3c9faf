"""Start a real `cocreate serve` process for a test and stop it afterwards."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

READY = re.compile(r"listening on (\S+)")


@dataclass
class Daemon:
    process: subprocess.Popen[str]
    endpoint: str  # "unix:/path" or "127.0.0.1:PORT"
    home: Path
    token: str | None
    output: list[str] = field(default_factory=list)

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode


def start_daemon(
    home: Path,
    *,
    listen: str | None = None,
    token: str | None = None,
    extra_args: tuple[str, ...] = (),
    timeout: float = 120.0,
) -> Daemon:
    """Spawn the daemon with COCREATE_HOME=home; return once it says where it listens."""
    home.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "core_server", "serve", *extra_args]
    env = dict(os.environ, COCREATE_HOME=str(home), PYTHONUNBUFFERED="1", HF_HUB_OFFLINE="1")
    if listen:
        args += ["--listen", listen]
    else:
        args += ["--socket", str(home / "cocreate.sock")]
    if token:
        token_file = home / "token"
        token_file.write_text(token)
        token_file.chmod(0o600)
        args += ["--token-file", str(token_file)]
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    found: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            match = READY.search(line)
            if match and not found:
                found.append(match.group(1))
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + timeout
    while not ready.wait(0.1):
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("daemon did not start:\n" + "".join(output))
    if not found:
        process.wait(10)
        raise RuntimeError(f"daemon exited with {process.returncode}:\n" + "".join(output))
    return Daemon(process, found[0], home, token, output)


@contextlib.contextmanager
def running_daemon(home: Path, **kwargs: object) -> Iterator[Daemon]:
    daemon = start_daemon(home, **kwargs)  # type: ignore[arg-type]
    try:
        yield daemon
    finally:
        daemon.stop()
