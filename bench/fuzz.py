"""Fuzz the daemon: generated requests for every RPC plus random bytes, against a real daemon.

    python bench/fuzz.py [--cases 10000] [--seed 0]

Every case must end with a status from the closed set (tests/support/fuzz.py) and a message,
within its deadline; the daemon must answer health afterwards. Random bytes go to grpc health
(Check, Watch) and reflection too. Then a TCP daemon gets random bytes on every method with no
token: each must be UNAUTHENTICATED (authentication comes before decoding). Prints the statuses
seen per RPC.
"""

from __future__ import annotations

import argparse
import collections
import random
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
# Methods of the other services every daemon serves, and whether the reply is a stream.
HEALTH_AND_REFLECTION = {
    "/grpc.health.v1.Health/Check": "unary",
    "/grpc.health.v1.Health/Watch": "stream",  # streams for ever on a valid body: the first reply is enough
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": "bidi",
}
TCP_TOKEN = "fuzz-token"


def call_other(channel: grpc.Channel, method: str, body: bytes, metadata: tuple = ()) -> tuple[grpc.StatusCode, str]:
    """Raw bytes to a health or reflection method; the status and its message."""
    raw: dict = {"request_serializer": None, "response_deserializer": None}
    try:
        kind = HEALTH_AND_REFLECTION[method]
        if kind == "unary":
            channel.unary_unary(method, **raw)(body, timeout=DEADLINE, metadata=metadata)
        elif kind == "stream":
            replies = channel.unary_stream(method, **raw)(body, timeout=DEADLINE, metadata=metadata)
            next(iter(replies), None)
            replies.cancel()
        else:
            for _ in channel.stream_stream(method, **raw)(iter([body]), timeout=DEADLINE, metadata=metadata):
                pass
    except grpc.RpcError as error:
        return error.code(), error.details() or ""
    return grpc.StatusCode.OK, ""


def without_token(cases: int, seed_value: int) -> tuple[collections.Counter[str], list[str]]:
    """Random bodies to every method of a TCP daemon, with no token: UNAUTHENTICATED, every one."""
    rng = random.Random(seed_value)
    daemon = start_daemon(
        Path(tempfile.mkdtemp(prefix="cocreate-fuzz-tcp-")) / "home", listen="127.0.0.1:0", token=TCP_TOKEN
    )
    seen: collections.Counter[str] = collections.Counter()
    failures = []
    try:
        with grpc.insecure_channel(daemon.endpoint) as channel:
            for i in range(cases):
                body = rng.randbytes(rng.randint(0, 512))
                methods = [*RPCS, *HEALTH_AND_REFLECTION]
                method = methods[i % len(methods)]
                if method in HEALTH_AND_REFLECTION:
                    code, message = call_other(channel, method, body)
                else:
                    code, message = call(channel, method, body, DEADLINE)
                seen[code.name] += 1
                if code != grpc.StatusCode.UNAUTHENTICATED:
                    failures.append(f"TCP, no token, {method}: {code.name} {message!r}")
    finally:
        daemon.stop()
    return seen, failures


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
                st.tuples(st.sampled_from([*RPCS, *HEALTH_AND_REFLECTION]), st.binary(max_size=512)),
            )

            @seed(args.seed)
            @settings(max_examples=args.cases, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            @given(kinds)
            def fuzz(case: tuple[str, bytes]) -> None:
                rpc, body = case
                if rpc in HEALTH_AND_REFLECTION:
                    code, message = call_other(channel, rpc, body)
                else:
                    code, message = call(channel, rpc, body, DEADLINE)
                seen[(rpc, code.name)] += 1
                if code not in ALLOWED or (code != grpc.StatusCode.OK and not message):
                    failures.append(f"{rpc}: {code.name} {message!r} for {body[:80]!r}")

            fuzz()
            # Hypothesis rarely draws the last methods of a list: each of these gets its share for sure.
            rng = random.Random(args.seed)
            for method in HEALTH_AND_REFLECTION:
                for _ in range(max(10, args.cases // 50)):
                    body = rng.randbytes(rng.randint(0, 512))
                    code, message = call_other(channel, method, body)
                    seen[(method, code.name)] += 1
                    if code not in ALLOWED or (code != grpc.StatusCode.OK and not message):
                        failures.append(f"{method}: {code.name} {message!r} for {body[:80]!r}")
            health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    finally:
        daemon.stop()
    total = sum(seen.values())
    print(
        f"{total} cases in {time.monotonic() - started:.0f} s; daemon healthy afterwards: "
        f"{health.status == health_pb2.HealthCheckResponse.SERVING}"
    )
    for rpc in [*RPCS, *HEALTH_AND_REFLECTION]:
        statuses = ", ".join(f"{code} {n}" for (r, code), n in sorted(seen.items()) if r == rpc)
        print(f"  {rpc.rsplit('/', 1)[-1]:<20} {statuses}")
    tcp_cases = max(len(RPCS) + len(HEALTH_AND_REFLECTION), args.cases // 10)
    tcp_seen, tcp_failures = without_token(tcp_cases, args.seed)
    print(f"TCP without a token, {sum(tcp_seen.values())} random bodies over every method: {dict(tcp_seen)}")
    failures += tcp_failures
    print(f"failures (a status outside the closed set, no message, or a hang): {len(failures)}")
    for failure in failures[:20]:
        print("  " + failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
