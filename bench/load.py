"""Load: concurrent clients sending mixed requests to one daemon on the tiny profile.

    python bench/load.py [--clients 16] [--requests 50] [--memory-after 1000]

Each client sends inpaints, expands, text continuations, cancels and session reads. Prints the
errors (none are expected), fairness (the longest queue wait of any request ÷ the median wait),
the daemon's resident memory after 100 requests and after --memory-after requests, and checks
the queue bound: with --max-queue 4, a burst beyond it is refused at once with RESOURCE_EXHAUSTED.
"""

from __future__ import annotations

import argparse
import collections
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc
from tests.service.images import disc, gradient
from tests.support.daemon import Daemon, start_daemon

# Resident memory after --memory-after requests may be at most this multiple of memory after 100: the
# caches (prompt encodings, prefix cache, allocator pools) fill in the first hundred; a leak keeps growing.
MEMORY_BOUND = 1.25

IMAGE, MASK = gradient(64, 64), disc(64, 64)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Tally:
    def __init__(self, pid: int, memory_after: int) -> None:
        self.lock = threading.Lock()
        self.done = 0
        self.outcomes: collections.Counter[str] = collections.Counter()
        self.errors: list[str] = []
        self.waits: list[float] = []
        self.client_waits: collections.defaultdict[str, list[float]] = collections.defaultdict(list)
        self.memory: dict[int, float] = {}
        self.pid, self.marks = pid, (100, memory_after)

    def record(self, outcome: str, wait: float | None = None, error: str = "", client: str = "") -> None:
        with self.lock:
            self.done += 1
            self.outcomes[outcome] += 1
            if wait is not None:
                self.waits.append(wait)
                self.client_waits[client].append(wait)
            if error:
                self.errors.append(error)
            if self.done in self.marks:
                self.memory[self.done] = rss_mib(self.pid)


def generate(stub: pb_grpc.CocreateStub, request: pb.GenerateRequest, cancel: bool) -> tuple[str, float]:
    sent = time.monotonic()
    wait = 0.0
    job_id = ""
    stream = stub.Generate(request, timeout=300)
    for event in stream:
        kind = event.WhichOneof("event")
        if kind in ("progress", "text_delta") and not wait:
            wait = time.monotonic() - sent  # queued until the first step
            if cancel:
                stub.Cancel(pb.CancelRequest(job_id=job_id), timeout=10)
        elif kind == "accepted":
            job_id = event.accepted.job_id
        elif kind == "done":
            return ("cancelled" if event.done.status == pb.JOB_CANCELLED else "completed"), wait
    return "no done", wait


def one_request(stub: pb_grpc.CocreateStub, session: str, rng: random.Random, client: str, tally: Tally) -> None:
    kind = rng.choice(["inpaint", "expand", "continue_text", "cancel", "read"])
    try:
        if kind == "read":
            stub.GetSession(pb.GetSessionRequest(session_id=session, thumbnail_size=32), timeout=60)
            stub.ListSessions(pb.ListSessionsRequest(limit=20), timeout=60)
            tally.record("read")
            return
        if kind == "inpaint" or kind == "cancel":
            task = {
                "inpaint": pb.InpaintTask(image=IMAGE, mask=MASK, steps=20 if kind == "cancel" else rng.randint(2, 4))
            }
        elif kind == "expand":
            task = {"expand": pb.ExpandTask(image=gradient(48, 48), right=16, steps=2)}
        else:
            task = {
                "continue_text": pb.ContinueTextTask(before="The light on the water", max_new_tokens=rng.randint(8, 32))
            }
        request = pb.GenerateRequest(
            session_id=session, candidates=rng.randint(1, 3), client=client, previews=True, **task
        )
        outcome, wait = generate(stub, request, cancel=kind == "cancel")
        problem = "" if outcome != "no done" else f"{kind}: stream ended without Done"
        tally.record(f"{kind}: {outcome}", wait, problem, client)
    except grpc.RpcError as error:
        tally.record(f"{kind}: {error.code().name}", error=f"{kind}: {error.code().name} {error.details()}")


def run_clients(daemon: Daemon, clients: int, requests: int, tally: Tally, seed: int) -> float:
    def client(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        with grpc.insecure_channel(daemon.endpoint) as channel:
            stub = pb_grpc.CocreateStub(channel)
            session = stub.CreateSession(pb.CreateSessionRequest(host="load", document_id=f"doc-{index}")).id
            for _ in range(requests):
                one_request(stub, session, rng, f"client-{index}", tally)

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.monotonic() - started


def queue_bound(home: Path) -> collections.Counter[str]:
    """A burst of 12 slow jobs at a daemon that queues 4: the rest are refused at once."""
    daemon = start_daemon(home, extra_args=("--max-queue", "4"))
    seen: collections.Counter[str] = collections.Counter()
    try:
        with grpc.insecure_channel(daemon.endpoint) as channel:
            stub = pb_grpc.CocreateStub(channel)
            session = stub.CreateSession(pb.CreateSessionRequest(host="load")).id
            request = pb.GenerateRequest(
                session_id=session, candidates=1, inpaint=pb.InpaintTask(image=IMAGE, mask=MASK, steps=30)
            )
            streams = [stub.Generate(request, timeout=120) for _ in range(12)]
            for stream in streams:
                try:
                    seen[next(stream).WhichOneof("event")] += 1
                except grpc.RpcError as error:
                    seen[error.code().name] += 1
            for stream in streams:
                stream.cancel()
    finally:
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
    tally = Tally(daemon.process.pid, args.memory_after)
    try:
        elapsed = run_clients(daemon, args.clients, args.requests, tally, args.seed)
        measured = dict(tally.outcomes)
        errors = list(tally.errors)
        waits = list(tally.waits)
        client_means = [statistics.mean(w) for w in tally.client_waits.values()]
        extra = max(0, args.memory_after - tally.done)
        if extra:  # more of the same load, to see memory after --memory-after requests
            run_clients(daemon, args.clients, -(-extra // args.clients), tally, args.seed + 1)
    finally:
        daemon.stop()
    print(f"{args.clients} clients × {args.requests} mixed requests in {elapsed:.0f} s")
    for outcome, count in sorted(measured.items()):
        print(f"  {outcome:<28} {count}")
    print(f"errors: {len(errors)}" + "".join(f"\n  {e}" for e in errors[:10]))
    if waits:
        median = statistics.median(waits)
        print(
            f"fairness: longest wait {max(waits):.2f} s ÷ median wait {median:.2f} s = {max(waits) / median:.1f}; "
            f"the most-waiting client's mean wait ÷ the median client's: "
            f"{max(client_means) / statistics.median(client_means):.2f}"
        )
    first, last = tally.memory.get(100), tally.memory.get(args.memory_after)
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
    return 1 if errors or leaked or bound.get("RESOURCE_EXHAUSTED", 0) == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
