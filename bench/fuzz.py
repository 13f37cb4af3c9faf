"""Fuzz the daemon: generated requests for every RPC plus random bytes, against a real daemon.

    python bench/fuzz.py [--cases 10000] [--seed 0]

Every case must end with a status from the closed set (tests/support/fuzz.py) and a message,
within its deadline; the daemon must answer health afterwards. Prints the statuses seen per RPC.
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from core_server.pb import cocreate_pb2 as pb
from tests.support.daemon import start_daemon
from tests.support.fuzz import ALLOWED, RPCS, call, generate_requests, near_valid_generate_requests, unary_cases

DEADLINE = 60.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    daemon = start_daemon(Path(tempfile.mkdtemp(prefix="cocreate-fuzz-")) / "home")
    seen: collections.Counter[tuple[str, str]] = collections.Counter()
    failures: list[str] = []
    started = time.monotonic()
    try:
        with grpc.insecure_channel(daemon.endpoint) as channel:
            session = pb.Session.FromString(
                channel.unary_unary("/cocreate.v1.Cocreate/CreateSession")(
                    pb.CreateSessionRequest(host="fuzz").SerializeToString()
                )
            ).id
            kinds = st.one_of(
                generate_requests(session).map(lambda r: ("Generate", r.SerializeToString())),
                near_valid_generate_requests(session).map(lambda r: ("Generate", r.SerializeToString())),
                unary_cases(session).map(lambda c: (c.rpc, c.request.SerializeToString())),
                st.tuples(st.sampled_from(RPCS), st.binary(max_size=512)),
            )

            @seed(args.seed)
            @settings(max_examples=args.cases, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            @given(kinds)
            def fuzz(case: tuple[str, bytes]) -> None:
                rpc, body = case
                code, message = call(channel, rpc, body, DEADLINE)
                seen[(rpc, code.name)] += 1
                if code not in ALLOWED or (code != grpc.StatusCode.OK and not message):
                    failures.append(f"{rpc}: {code.name} {message!r} for {body[:80]!r}")

            fuzz()
            health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    finally:
        daemon.stop()
    total = sum(seen.values())
    print(
        f"{total} cases in {time.monotonic() - started:.0f} s; daemon healthy afterwards: "
        f"{health.status == health_pb2.HealthCheckResponse.SERVING}"
    )
    for rpc in RPCS:
        statuses = ", ".join(f"{code} {n}" for (r, code), n in sorted(seen.items()) if r == rpc)
        print(f"  {rpc:<14} {statuses}")
    print(f"failures (a status outside the closed set, no message, or a hang): {len(failures)}")
    for failure in failures[:20]:
        print("  " + failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
