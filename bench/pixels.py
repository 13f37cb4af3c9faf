"""The plugin client's pixel helpers (pure Python, no numpy) on a 2048² image.

    python bench/pixels.py

Prints the best of five runs of each helper a host uses to move pixels in and out.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from cocreate_client import pixels

SIDE = 2048


def main() -> None:
    image = pixels.Image(SIDE, SIDE, os.urandom(SIDE * SIDE * 4))
    floats = pixels.to_float_bottom_up(image)
    selection = os.urandom(SIDE * SIDE)
    patch = pixels.crop(image, 0, 0, 1024, 1024)
    cases: dict[str, Callable[[], object]] = {
        "to_bgra (Krita)": lambda: pixels.to_bgra(image),
        "from_bgra": lambda: pixels.from_bgra(SIDE, SIDE, image.rgba),
        "flip_rows (Blender)": lambda: pixels.flip_rows(image.rgba, SIDE * 4),
        "to_float_bottom_up": lambda: pixels.to_float_bottom_up(image),
        "from_float_bottom_up": lambda: pixels.from_float_bottom_up(SIDE, SIDE, floats),
        "selection_to_mask": lambda: pixels.selection_to_mask(selection, SIDE, SIDE, threshold=128),
        "crop 1024²": lambda: pixels.crop(image, 512, 512, 1024, 1024),
        "paste 1024²": lambda: pixels.paste(image, patch, 512, 512),
    }
    print(f"{SIDE}² RGBA8, best of 5")
    for name, run in cases.items():
        run()  # the float tables are built on first use
        best = min(_timed(run) for _ in range(5))
        print(f"  {name:<22} {best * 1000:7.1f} ms")


def _timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
