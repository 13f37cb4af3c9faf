"""A studio's scale-out on the tiny profile: the gRPC front over 1 vs 2 Ray Serve replicas, and what
the front costs a job against the single process.

    nice -n 10 python bench/scale.py                 # 16 clients × 2 jobs each, texture 64², 4 steps
    nice -n 10 python bench/scale.py --clients 16 --jobs 4 --steps 8 --rounds 12

One real local Ray cluster (a head and two worker nodes on this machine, tests/support/ray_cluster.py).
The single-process daemon and a front with one replica run side by side: one client alternates jobs
between them (--rounds; the per-job latency each, and the median of the per-round ratios). Then each
configuration in turn (single process, front with 1 replica, front with 2) gets --clients clients with a
session each, running --jobs jobs each at once: throughput, and each job's wait from the request to its
first step (queue plus dispatch). Every configuration is warmed up first (the model loads on every
replica). Printed: the figures per configuration and their ratios. On a shared 2-core machine two
replicas compete for the same cores: the throughput ratio says what the scale-out costs here, not what
two GPUs would give."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support, when run as a script

import grpc

from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc
from tests.support.daemon import running_daemon
from tests.support.ray_cluster import local_cluster


@dataclass(frozen=True)
class Job:
    wait_s: float  # request sent -> first step
    total_s: float  # request sent -> done


@dataclass(frozen=True)
class Load:
    throughput: float  # jobs per second, all clients at once
    p95_wait_s: float
    median_wait_s: float


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def run_job(stub: pb_grpc.CocreateStub, session_id: str, steps: int) -> Job:
    request = pb.GenerateRequest(
        session_id=session_id, candidates=1, texture=pb.TextureTask(prompt="bricks", width=64, height=64, steps=steps)
    )
    sent = time.perf_counter()
    started = None
    for event in stub.Generate(request, timeout=600):
        if started is None and event.HasField("progress"):
            started = time.perf_counter()
        if event.HasField("done"):
            assert event.done.status == pb.JOB_COMPLETED, event
    ended = time.perf_counter()
    return Job((started or ended) - sent, ended - sent)


class Target:
    """A daemon (single process or front) with a session per client, warmed up."""

    def __init__(self, name: str, endpoint: str, args: argparse.Namespace) -> None:
        self.name, self.args = name, args
        self.channel = grpc.insecure_channel(endpoint)
        self.stub = pb_grpc.CocreateStub(self.channel)
        self.sessions = [self.stub.CreateSession(pb.CreateSessionRequest(host="bench")).id for _ in range(args.clients)]
        self.at_once(self.sessions[:4], 1)  # warm-up: the model loads on every replica

    def one(self) -> float:
        return run_job(self.stub, self.sessions[0], self.args.steps).total_s

    def at_once(self, sessions: list[str], jobs: int) -> list[Job]:
        done: list[Job] = []
        lock = threading.Lock()

        def client(session_id: str) -> None:
            for _ in range(jobs):
                job = run_job(self.stub, session_id, self.args.steps)
                with lock:
                    done.append(job)

        threads = [threading.Thread(target=client, args=(s,)) for s in sessions]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return done

    def load(self) -> Load:
        began = time.perf_counter()
        jobs = self.at_once(self.sessions, self.args.jobs)
        elapsed = time.perf_counter() - began
        waits = [job.wait_s for job in jobs]
        load = Load(len(jobs) / elapsed, p95(waits), statistics.median(waits))
        print(
            f"{self.name:<20} {load.throughput:5.2f} jobs/s   wait p95 {load.p95_wait_s:6.2f} s, "
            f"median {load.median_wait_s:6.2f} s",
            flush=True,
        )
        return load

    def close(self) -> None:
        self.channel.close()


def front_args(address: str, replicas: int) -> tuple[str, ...]:
    return ("--cluster", address, "--min-replicas", str(replicas), "--max-replicas", str(replicas))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--jobs", type=int, default=2, help="jobs per client")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=8, help="alternating one-client jobs for the latency")
    args = parser.parse_args()
    # Ray gives each replica as many compute threads as CPUs (one here): the single process gets the same,
    # so the latency ratio is the front's cost, not a thread count's.
    os.environ["OMP_NUM_THREADS"] = "1"
    print(f"command: {' '.join(sys.argv)}")
    print(f"tiny profile, texture 64², {args.steps} steps, 1 candidate; {args.clients} clients × {args.jobs} jobs")
    home = Path(tempfile.mkdtemp(prefix="cocreate-bench-scale-"))
    with local_cluster() as address:
        with (
            running_daemon(home / "single") as single_daemon,
            running_daemon(home / "front-1", extra_args=front_args(address, 1)) as front_daemon,
        ):
            single = Target("single process", single_daemon.endpoint, args)
            front = Target("front, 1 replica", front_daemon.endpoint, args)
            pairs = [(single.one(), front.one()) for _ in range(args.rounds)]  # side by side, alternating
            single_load, one = single.load(), front.load()
            single.close()
            front.close()
        with running_daemon(home / "front-2", extra_args=front_args(address, 2)) as front_daemon:
            front = Target("front, 2 replicas", front_daemon.endpoint, args)
            two = front.load()
            front.close()
    single_ms = statistics.median(s for s, _ in pairs) * 1000
    front_ms = statistics.median(f for _, f in pairs) * 1000
    print(f"one client, median per job: single process {single_ms:.0f} ms, front {front_ms:.0f} ms")
    print(f"throughput, 2 vs 1 replica:         {two.throughput / one.throughput:.2f}×")
    print(f"p95 wait, 2 vs 1 replica:           {two.p95_wait_s / one.p95_wait_s:.2f}×")
    print(f"throughput, 1 replica vs single:    {one.throughput / single_load.throughput:.2f}×")
    print(f"per-job latency, front vs single:   {statistics.median(f / s for s, f in pairs):.2f}× (median of rounds)")


if __name__ == "__main__":
    main()
