"""Load: concurrent hosts sending mixed requests to one daemon on the tiny profile, through the plugin client.

    python bench/load.py [--clients 16] [--requests 50] [--memory-after 1000]

Each client is a process of its own using cocreate_client.CocreateClient exactly as a host plugin
does (no `client` field set by hand): inpaints, expands, text continuations, cancels and session
reads. Prints the errors (none are expected), fairness (the longest queue wait ÷ the median wait,
and per client: the largest mean wait ÷ the median client's mean wait, target ≤ 1.5), the daemon's
resident memory after 100 requests and after --memory-after requests, and checks the queue bound:
with --max-queue 4, a burst beyond it is refused at once with RESOURCE_EXHAUSTED.
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing
import random
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "common"))
from cocreate_client import CocreateClient, Progress, RequestError, TextDelta, tasks
from cocreate_client.pixels import Image, Mask

from tests.service.images import disc, gradient
from tests.support.daemon import start_daemon

# Resident memory after --memory-after requests may be at most this multiple of memory after 100: the
# caches (prompt encodings, prefix cache, allocator pools) fill in the first hundred; a leak keeps growing.
MEMORY_BOUND = 1.25
FAIRNESS_TARGET = 1.5  # the most-waiting client's mean wait ÷ the median client's


def _image(width: int, height: int) -> Image:
    picture = gradient(width, height)
    return Image(picture.width, picture.height, picture.rgba)


IMAGE, WIDE = _image(64, 64), _image(48, 48)
MASK = Mask(64, 64, disc(64, 64).alpha)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Tally:
    """One client's outcomes; sent back to the parent when the client process ends."""

    outcomes: collections.Counter[str] = field(default_factory=collections.Counter)
    waits: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    memory: dict[int, float] = field(default_factory=dict)


def generate(client: CocreateClient, request: object, cancel: bool) -> tuple[str, float]:
    """Run one job; its outcome and how long it waited before its first step."""
    sent = time.monotonic()
    started = threading.Event()
    first_step: list[float] = []

    def on_event(event: object) -> None:  # on the client thread: only note the time
        if isinstance(event, Progress | TextDelta) and not first_step:
            first_step.append(time.monotonic() - sent)
            started.set()

    job = client.generate(request, on_event)  # type: ignore[arg-type]
    if cancel and started.wait(300):
        client.cancel(job.job_id)
    result = job.wait(300)
    wait = first_step[0] if first_step else 0.0
    if result.error is not None:
        raise RequestError(result.error.code, result.error.message)
    return ("cancelled" if result.cancelled else "completed"), wait


def one_request(client: CocreateClient, session: str, rng: random.Random, tally: Tally) -> None:
    kind = rng.choice(["inpaint", "expand", "continue_text", "cancel", "read"])
    try:
        if kind == "read":
            client.get_session(session, thumbnail_size=32)
            client.list_sessions(limit=20)
            tally.outcomes["read"] += 1
            return
        candidates = rng.randint(1, 3)
        if kind in ("inpaint", "cancel"):
            steps = 20 if kind == "cancel" else rng.randint(2, 4)
            request = tasks.inpaint(
                IMAGE, mask=MASK, steps=steps, session_id=session, candidates=candidates, previews=True
            )
        elif kind == "expand":
            request = tasks.expand(WIDE, right=16, steps=2, session_id=session, candidates=candidates, previews=True)
        else:
            request = tasks.continue_text(
                "The light on the water", max_new_tokens=rng.randint(8, 32), session_id=session, candidates=candidates
            )
        outcome, wait = generate(client, request, cancel=kind == "cancel")
        tally.outcomes[f"{kind}: {outcome}"] += 1
        tally.waits.append(wait)
    except RequestError as error:
        tally.outcomes[f"{kind}: {error.code}"] += 1
        tally.errors.append(f"{kind}: {error.code} {error.message}")


def host(index: int, endpoint: str, requests: int, seed: int, done: object, marks: tuple[int, ...], pid: int) -> Tally:
    """One host: its own process, its own document, its own session."""
    rng = random.Random(seed * 1000 + index)
    tally = Tally()
    client = CocreateClient(endpoint, timeout=300, client_name="load")  # as a host names itself
    try:
        session = client.create_session("load", f"doc-{index}", f"Document {index}").id
        for _ in range(requests):
            one_request(client, session, rng, tally)
            with done.get_lock():  # type: ignore[attr-defined]
                done.value += 1  # type: ignore[attr-defined]
                count = done.value  # type: ignore[attr-defined]
            if count in marks:
                tally.memory[count] = rss_mib(pid)
    finally:
        client.close()
    return tally


def run_hosts(endpoint: str, pid: int, clients: int, requests: int, seed: int, marks: tuple[int, ...]) -> list[Tally]:
    context = multiprocessing.get_context("spawn")  # a fresh process per host, as each host program is
    done = context.Value("i", 0)
    with context.Pool(clients, initializer=_share, initargs=(done,)) as pool:
        return pool.starmap(_host_in_pool, [(i, endpoint, requests, seed, marks, pid) for i in range(clients)])


_done: object = None


def _share(done: object) -> None:
    global _done
    _done = done


def _host_in_pool(index: int, endpoint: str, requests: int, seed: int, marks: tuple[int, ...], pid: int) -> Tally:
    return host(index, endpoint, requests, seed, _done, marks, pid)


def queue_bound(home: Path) -> collections.Counter[str]:
    """A burst of 12 slow jobs at a daemon that queues 4: the rest are refused at once."""
    daemon = start_daemon(home, extra_args=("--max-queue", "4"))
    seen: collections.Counter[str] = collections.Counter()
    client = CocreateClient(daemon.endpoint, timeout=120, client_name="load")
    try:
        session = client.create_session("load").id
        request = tasks.inpaint(IMAGE, mask=MASK, steps=30, session_id=session)
        jobs = [client.generate(request) for _ in range(12)]
        for job in jobs:
            while not (events := job.poll()):
                time.sleep(0.01)
            first = events[0]
            seen[first.code if hasattr(first, "code") else type(first).__name__] += 1
        for job in jobs:
            job.cancel()
    finally:
        client.close()
        daemon.stop()
    return seen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=50, help="per client, in the measured phase")
    parser.add_argument("--memory-after", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="cocreate-load-"))
    daemon = start_daemon(home / "home")
    marks = (100, args.memory_after)
    try:
        started = time.monotonic()
        measured = run_hosts(daemon.endpoint, daemon.process.pid, args.clients, args.requests, args.seed, marks)
        elapsed = time.monotonic() - started
        done = args.clients * args.requests
        extra = max(0, args.memory_after - done)
        later = []
        if extra:  # more of the same load, to see memory after --memory-after requests
            later = run_hosts(
                daemon.endpoint,
                daemon.process.pid,
                args.clients,
                -(-extra // args.clients),
                args.seed + 1,
                tuple(m - done for m in marks),
            )
    finally:
        daemon.stop()
    outcomes = sum((t.outcomes for t in measured), collections.Counter())
    errors = [e for t in measured for e in t.errors]
    print(f"{args.clients} host processes × {args.requests} mixed requests in {elapsed:.0f} s (through CocreateClient)")
    for outcome, count in sorted(outcomes.items()):
        print(f"  {outcome:<28} {count}")
    print(f"errors: {len(errors)}" + "".join(f"\n  {e}" for e in errors[:10]))
    waits = [w for t in measured for w in t.waits]
    client_means = [statistics.mean(t.waits) for t in measured if t.waits]
    unfair = False
    if waits:
        median = statistics.median(waits)
        per_client = max(client_means) / statistics.median(client_means)
        unfair = per_client > FAIRNESS_TARGET
        print(
            f"fairness: longest wait {max(waits):.2f} s ÷ median wait {median:.2f} s = {max(waits) / median:.1f}; "
            f"per client: the largest mean wait ÷ the median client's = {per_client:.2f} "
            f"(target ≤ {FAIRNESS_TARGET}: {'MISSED' if unfair else 'met'})"
        )
    memory = {mark: rss for t in measured for mark, rss in t.memory.items()}
    memory |= {mark + done: rss for t in later for mark, rss in t.memory.items()}
    first, last = memory.get(100), memory.get(args.memory_after)
    leaked = False
    if first and last:
        leaked = last > first * MEMORY_BOUND
        print(
            f"daemon RSS after 100 requests {first:.0f} MiB, after {args.memory_after}: {last:.0f} MiB "
            f"(growth {last - first:+.0f} MiB, {last / first:.2f}×; bound {MEMORY_BOUND:.2f}×: "
            f"{'EXCEEDED' if leaked else 'within'})"
        )
    bound = queue_bound(home / "bound")
    print(f"queue bound (--max-queue 4, a burst of 12 slow jobs): {dict(bound)}")
    return 1 if errors or leaked or unfair or bound.get("RESOURCE_EXHAUSTED", 0) == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
