"""A few hundred generated requests (bench/fuzz.py runs 10,000): every one gets a status from the
closed set with a message, none hangs, and the daemon serves afterwards."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.daemon import Daemon
from tests.support.fuzz import ALLOWED, RPCS, Case, call, generate_requests, near_valid_generate_requests, unary_cases

from .conftest import channel_for

FUZZ = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
DEADLINE = 60.0


def check(channel: grpc.Channel, rpc: str, body: bytes) -> None:
    code, message = call(channel, rpc, body, DEADLINE)
    assert code in ALLOWED, f"{rpc}: {code} {message!r}"
    assert code == grpc.StatusCode.OK or message, f"{rpc}: {code} without a message"


@FUZZ
@given(data=st.data())
def test_generate_requests(daemon: Daemon, session_id: str, data: st.DataObject) -> None:
    request = data.draw(generate_requests(session_id))
    with channel_for(daemon) as channel:
        check(channel, "Generate", request.SerializeToString())


@FUZZ
@given(data=st.data())
def test_near_valid_generate_requests(daemon: Daemon, session_id: str, data: st.DataObject) -> None:
    request = data.draw(near_valid_generate_requests(session_id))
    with channel_for(daemon) as channel:
        check(channel, "Generate", request.SerializeToString())


@FUZZ
@given(data=st.data())
def test_every_other_rpc(daemon: Daemon, session_id: str, data: st.DataObject) -> None:
    case: Case = data.draw(unary_cases(session_id))
    with channel_for(daemon) as channel:
        check(channel, case.rpc, case.request.SerializeToString())  # type: ignore[attr-defined]


@FUZZ
@given(rpc=st.sampled_from(RPCS), body=st.binary(max_size=256))
def test_random_bytes_as_bodies(daemon: Daemon, rpc: str, body: bytes) -> None:
    with channel_for(daemon) as channel:
        check(channel, rpc, body)


def test_serving_after_the_fuzz(daemon: Daemon) -> None:
    with channel_for(daemon) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
