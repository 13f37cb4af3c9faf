"""Screenshots of the plugins' UIs taken under Xvfb in the host root, checked and kept for the README.

Each host's test saves the whole virtual screen and `keep_screenshot` refuses a blank one. Only `make screenshots`
(COCREATE_KEEP_SCREENSHOTS=1) copies them to docs/screenshots/HOST.png: a plain test run leaves the checkout as it is.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "docs" / "screenshots"
SCREEN = "-screen 0 1366x768x24"  # Xvfb's screen: a common laptop's, in true colour
MIN_COLOURS = 64  # a real UI has text, icons and pictures; a blank or one-colour screen has a few
MAX_SHARE_OF_ONE_COLOUR = 0.9


def keep_screenshot(taken: Path, host: str) -> Path:
    """Check that `taken` shows something; under `make screenshots`, keep it as docs/screenshots/HOST.png."""
    assert taken.exists(), f"no screenshot at {taken}"
    with Image.open(taken) as shot:
        rgb = shot.convert("RGB")
        colours = rgb.getcolors(maxcolors=1 << 24) or []
        pixels = rgb.width * rgb.height
    assert len(colours) >= MIN_COLOURS, f"{taken} has {len(colours)} colours: blank"
    commonest = max(count for count, _ in colours)
    assert commonest / pixels <= MAX_SHARE_OF_ONE_COLOUR, f"{taken} is {commonest / pixels:.0%} one colour: blank"
    if os.environ.get("COCREATE_KEEP_SCREENSHOTS") != "1":
        return taken
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    kept = SCREENSHOTS / f"{host}.png"
    shutil.copyfile(taken, kept)
    return kept
