"""Live painting: strokes per second in, updates per second out, and latency from a stroke to the first
update shown that includes it — latest-wins (live requests) vs a plain queue, side by side in one run.

    nice -n 10 python bench/live.py [--seconds 20] [--strokes-per-second 1.5] [--side 256] [--steps 20] [--rounds 2]

A daemon on the tiny profile; the Krita plugin's LivePainting (the code the docker's Live toggle runs)
on an in-memory picture, ticked every 10 ms as the live panel's timer would, with a dab painted at a
fixed rate. "plain queue" sends the same updates as ordinary requests: the daemon runs every one in
turn and the plugin shows only the newest, as it would without the live lane. Both modes run the same
model and steps, alternating, `--rounds` times each; the figures are medians over all strokes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# bench/ itself leaves the path: its krita.py would pass for Krita's own module.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path[:0] = [str(ROOT), str(ROOT / "plugins" / "common"), str(ROOT / "plugins" / "krita")]

from cocreate_client import CocreateClient, tasks  # noqa: E402
from cocreate_client.pixels import Image, Mask  # noqa: E402
from cocreate_krita import live as live_module  # noqa: E402
from cocreate_krita.calls import Calls  # noqa: E402
from cocreate_krita.controller import GenerationParams  # noqa: E402
from cocreate_krita.live import LivePainting  # noqa: E402
from cocreate_krita.region import Box, Region  # noqa: E402

from core_server.launcher import launch  # noqa: E402

TICK_S = 0.01
MODEL = "tiny-image"


class Canvas:
    """A picture in memory with a square selection in its middle: what LivePainting reads and draws on."""

    def __init__(self, side: int) -> None:
        self.side = side
        self.picture = bytearray(bytes((90, 120, 160, 255)) * side * side)
        inside = range(side // 4, 3 * side // 4)
        self.mask = Mask(
            side, side, bytes(255 if x in inside and y in inside else 0 for y in range(side) for x in range(side))
        )
        self.key, self.name = f"bench-live-{os.getpid()}", "bench"
        self.shown = 0

    def dab(self, number: int) -> None:
        y = self.side // 4 + (7 * number) % (self.side // 2)
        row = bytes((220, (37 * number) % 256, 40, 255)) * (self.side // 2)
        start = (y * self.side + self.side // 4) * 4
        self.picture[start : start + len(row)] = row

    def fingerprint(self) -> Hashable:
        return hash(bytes(self.picture))

    def read_region(self) -> Region:
        return Region(Box(0, 0, self.side, self.side), Image(self.side, self.side, bytes(self.picture)), self.mask)

    def anchor(self) -> str:
        return "painter"

    def scaled(self, picture: Image, width: int, height: int) -> Image:
        raise AssertionError("the daemon answers at the region's size")

    def show_preview(self, box: Box, pixels: Image, above: str = "") -> None:
        self.shown += 1

    def make_preview(self, above: str = "") -> None:
        pass

    def clear_preview(self) -> None:
        pass

    def remove_preview(self) -> None:
        pass

    def add_layer(self, name: str, box: Box, pixels: Image, above: str = "") -> None:
        pass


@dataclass
class Run:
    mode: str
    strokes: list[float] = field(default_factory=list)  # when each stroke ended
    sent: dict[int, float] = field(default_factory=dict)  # update number → when it was sent
    shown: list[tuple[int, float]] = field(default_factory=list)  # (update number, when it showed)
    stale_dropped: int = 0
    painting_s: float = 0.0
    until_last_shown_s: float = 0.0

    def latencies(self) -> list[float]:
        """For each stroke: until the first update sent after it showed (strokes never shown are left out)."""
        found = []
        for ended in self.strokes:
            after = [when for number, when in self.shown if self.sent[number] >= ended]
            if after:
                found.append(min(after) - ended)
        return found


def measure(client: CocreateClient, mode: str, args: argparse.Namespace) -> Run:
    canvas = Canvas(args.side)
    params = GenerationParams(prompt="bench live", model=MODEL, steps=args.steps)
    # The plain queue: the same updates as ordinary requests (the plugin marks them live through tasks.live).
    live_module.tasks = tasks if mode == "latest-wins" else _PlainRequests  # type: ignore[assignment]
    live = LivePainting(canvas, client, Calls(), lambda: params)  # type: ignore[arg-type]
    run = Run(mode)

    def tick() -> None:
        newest, shown = live.newest, live.shown
        live.tick()
        now = time.monotonic()
        if live.newest != newest:
            run.sent[live.newest] = now
        if live.shown is not shown and live.shown is not None:
            run.shown.append((live.shown.number, now))

    live.start()
    while not live.shown:  # warm: the model loaded and the first picture shown
        tick()
        time.sleep(TICK_S)
    run.shown.clear()
    started = time.monotonic()
    next_stroke = started
    while (now := time.monotonic()) - started < args.seconds:
        if now >= next_stroke:
            canvas.dab(len(run.strokes))
            run.strokes.append(now)
            next_stroke += 1 / args.strokes_per_second
        tick()
        time.sleep(TICK_S)
    run.painting_s = time.monotonic() - started
    while live.updates or live.newest not in {number for number, _ in run.shown}:
        tick()
        time.sleep(TICK_S)
    run.until_last_shown_s = time.monotonic() - started
    run.stale_dropped = live.stats.stale_dropped
    live.stop()
    live_module.tasks = tasks
    return run


class _PlainRequests:
    """tasks as the plugin sees it, with `live` leaving the request an ordinary one."""

    @staticmethod
    def live(request: object) -> object:
        return request


def report(runs: list[Run]) -> dict[str, float]:
    strokes = sum(len(r.strokes) for r in runs)
    painting = sum(r.painting_s for r in runs)
    shown = sum(len(r.shown) for r in runs)
    latencies = [latency for r in runs for latency in r.latencies()]
    median = statistics.median(latencies) if latencies else float("nan")
    worst = max(latencies) if latencies else float("nan")
    figures = {
        "strokes_per_s_in": strokes / painting,
        "updates_per_s_out": shown / sum(r.until_last_shown_s for r in runs),
        "median_latency_s": median,
        "worst_latency_s": worst,
        "sent": sum(len(r.sent) for r in runs),
        "shown": shown,
        "stale_dropped": sum(r.stale_dropped for r in runs),
        "drain_s": statistics.mean(r.shown[-1][1] - r.strokes[-1] for r in runs),
    }
    print(
        f"{runs[0].mode:>12}: {figures['strokes_per_s_in']:.2f} strokes/s in, {figures['updates_per_s_out']:.2f} "
        f"updates/s out ({figures['shown']} shown of {figures['sent']} sent, "
        f"{figures['stale_dropped']} stale dropped), "
        f"stroke → shown median {median:.2f} s, worst {worst:.2f} s, last update {figures['drain_s']:.2f} s after "
        "the last stroke"
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="painting time per round and mode")
    parser.add_argument("--strokes-per-second", type=float, default=1.5)
    parser.add_argument("--side", type=int, default=256, help="the picture's side in px")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2, help="each mode this many times, alternating")
    args = parser.parse_args()
    print(f"command: {' '.join(sys.argv)}")
    with tempfile.TemporaryDirectory(prefix="cocreate-bench-live-") as home:
        env = dict(os.environ, COCREATE_HOME=home, HF_HUB_OFFLINE="1")
        daemon = launch(["--socket", str(Path(home) / "cocreate.sock")], env, 300.0)
        try:
            with CocreateClient(daemon.endpoint, timeout=120) as client:
                runs: dict[str, list[Run]] = {"latest-wins": [], "plain queue": []}
                for _ in range(args.rounds):
                    for mode, done in runs.items():
                        done.append(measure(client, mode, args))
                latest, plain = (report(done) for done in runs.values())
        finally:
            daemon.stop()
    print(
        f"plain queue ÷ latest-wins: median latency {plain['median_latency_s'] / latest['median_latency_s']:.1f}×, "
        f"worst latency {plain['worst_latency_s'] / latest['worst_latency_s']:.1f}×, time from the last stroke to "
        f"its update {plain['drain_s'] / max(latest['drain_s'], 1e-9):.1f}×"
    )
    print("(a shared, busy CPU: figures are noisy; compare the ratios, measured side by side)")


if __name__ == "__main__":
    main()
