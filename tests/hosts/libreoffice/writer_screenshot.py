"""Runs in the host root's python3 under Xvfb: Writer shown in a window, the cocreate panel with candidates
over it, the whole screen saved to /project/screenshot-writer.png (and what happened to shot.json).

    xvfb-run python3 writer_screenshot.py ENDPOINT TOKEN OXT      (from the run folder, bound at /project)

Uses writer_check.py's Writer and panel watcher; soffice runs with a window here, not headless.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import grab_screen
import writer_check

HERE = Path(__file__).resolve().parent
SHOT = HERE / "screenshot-writer.png"


class ShownOffice(writer_check.Office):
    """writer_check's Office (the same fields, connect and terminate), with windows: soffice draws on the
    X display."""

    def __init__(self, profile: str, env: dict[str, str]) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process = subprocess.Popen(
            [
                "soffice",
                "--norestore",
                "--nologo",
                f"-env:UserInstallation=file:///tmp/{profile}",
                f"--accept=socket,host=127.0.0.1,port={self.port};urp;",
            ],
            env={**os.environ, **env},
        )


def main() -> None:
    endpoint, token, oxt = sys.argv[1], sys.argv[2], sys.argv[3]
    facts: dict[str, Any] = {}
    try:
        facts["install"] = writer_check.unopkg("add", "--shared", "--force", str(HERE / oxt))
        with ShownOffice("screenshot", {"COCREATE_ENDPOINT": endpoint, "COCREATE_TOKEN": token}) as context:
            writer = writer_check.Writer(context)
            window = writer.frame.getContainerWindow()
            window.setVisible(True)
            window.setPosSize(0, 0, 1366, 768, 15)  # POSSIZE: the whole screen, as a maximised window
            writer.place_cursor(writer.offset_of(1, 24))
            facts["continue"] = writer_check.generation(
                writer, "continue", Candidates=3, Seed=7, StopAt="none", MaxTokens=24
            )
            time.sleep(2)  # the panel paints its candidates
            facts["size"] = grab_screen.grab(str(SHOT))
    except Exception:
        facts["exception"] = traceback.format_exc()
    finally:
        facts["uninstall"] = writer_check.unopkg("remove", "--shared", writer_check.IDENTIFIER)
        (HERE / "shot.json").write_text(json.dumps(facts, indent=2))


if __name__ == "__main__":
    main()
