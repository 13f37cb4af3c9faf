"""Start `cocreate serve` as a child process and wait until it says where it listens.

Used by `cocreate demo` and by the tests, which need a real daemon in its own process.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field

READY = re.compile(r"listening on (\S+)")


class LaunchError(RuntimeError):
    """The daemon exited or stayed silent; the message carries what it printed."""


@dataclass
class DaemonProcess:
    process: subprocess.Popen[str]
    endpoint: str  # "unix:/path" or "HOST:PORT"
    output: list[str] = field(default_factory=list)  # everything it printed, as it prints

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM (the graceful stop), then SIGKILL if it lingers."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode


def launch(serve_args: list[str], env: dict[str, str] | None = None, timeout: float = 180.0) -> DaemonProcess:
    """Run `python -m core_server serve SERVE_ARGS`; return once it listens (LaunchError otherwise)."""
    env = dict(env if env is not None else os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "core_server", "serve", *serve_args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    endpoint: list[str] = []
    settled = threading.Event()

    def pump() -> None:  # keeps reading so the child never blocks on a full pipe
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if not endpoint and (match := READY.search(line)):
                endpoint.append(match.group(1))
                settled.set()
        settled.set()

    threading.Thread(target=pump, daemon=True).start()
    if not settled.wait(timeout):
        process.kill()
        raise LaunchError(f"the daemon did not start within {timeout:.0f} s:\n" + "".join(output))
    if not endpoint:
        process.wait(10)
        raise LaunchError(f"the daemon exited with status {process.returncode}:\n" + "".join(output))
    return DaemonProcess(process, endpoint[0], output)
