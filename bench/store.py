"""What storing a turn's candidates costs before the artist sees them: zlib's default level, one after
another, vs what the store does (level 1, side by side), on photo-like pixels.

    python bench/store.py                      # 4 candidates at 512² and at 1024², best of 3

The candidates are stored before their event is sent (an acknowledged candidate survives a crash), so
this time is on the critical path of every image job. Printed per size: milliseconds of each way, their
ratio, and the PNG size each way.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core_server.sessions.blobs import FolderBlobs
from core_server.sessions.images import encode_png, encode_pngs
from core_server.tasks import RGBAImage


def photo_like(side: int, seed: int) -> RGBAImage:
    """Smooth gradients with sensor-like noise: compresses like a painted candidate, not like random bytes."""
    y, x = np.mgrid[0:side, 0:side]
    base = np.stack([x * 255 // side, y * 255 // side, (x + y) * 127 // side, np.full_like(x, 255)], -1)
    noisy = base + np.random.default_rng(seed).normal(0, 6, base.shape)
    pixels = np.clip(noisy, 0, 255).astype(np.uint8)
    pixels[..., 3] = 255
    return RGBAImage(side, side, pixels.tobytes())


def default_level(image: RGBAImage) -> bytes:
    buffer = io.BytesIO()
    Image.frombytes("RGBA", (image.width, image.height), image.data).save(buffer, format="PNG")
    return buffer.getvalue()


def best_ms(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--candidates", type=int, default=4)
    parser.add_argument("--sides", type=int, nargs="+", default=[512, 1024])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for side in args.sides:
        images = [photo_like(side, seed) for seed in range(args.candidates)]
        with tempfile.TemporaryDirectory() as root:
            before = best_ms(lambda: [default_level(image) for image in images], args.repeat)  # noqa: B023
            after = best_ms(stored(FolderBlobs(Path(root)), images), args.repeat)
        size_before = sum(len(default_level(image)) for image in images) // 1024
        size_after = sum(len(encode_png(image)) for image in images) // 1024
        print(
            f"{args.candidates} × {side}²: default level serial {before:.0f} ms (encode only, {size_before} KiB)"
            f" · store {after:.0f} ms (encode + hash + write, {size_after} KiB) · ratio {after / before:.2f}"
        )


def stored(blobs: FolderBlobs, images: list[RGBAImage]) -> Callable[[], object]:
    """A store of new files each round: the same bytes again would be found on disk and not written."""
    rounds = iter(range(1, 10**6))

    def store() -> object:
        mark = bytes([next(rounds) % 256] * 4)
        pngs = encode_pngs([RGBAImage(i.width, i.height, mark + i.data[4:]) for i in images])
        return [blobs.put_bytes(png, "image") for png in pngs]

    return store


if __name__ == "__main__":
    main()
