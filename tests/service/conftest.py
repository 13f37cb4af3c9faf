"""A real daemon on the tiny profile over a real Unix socket, shared by the service tests; the contract tests
(marked both_stores) run against one with SQLite and one with PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from core_server import config
from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc
from tests.support.daemon import Daemon, running_daemon
from tests.support.postgres import PostgresServer

CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", config.DEFAULT_LIMITS.max_message_bytes + (64 << 20)),
    ("grpc.max_send_message_length", config.DEFAULT_LIMITS.max_message_bytes + (64 << 20)),
]


def channel_for(daemon: Daemon) -> grpc.Channel:
    return grpc.insecure_channel(daemon.endpoint, options=CHANNEL_OPTIONS)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test marked `both_stores` runs against a daemon keeping sessions in SQLite and one keeping them in
    PostgreSQL; the rest share the SQLite one."""
    if metafunc.definition.get_closest_marker("both_stores") and "daemon_store" in metafunc.fixturenames:
        metafunc.parametrize("daemon_store", ["sqlite", "postgresql"], indirect=True, scope="session")


@pytest.fixture(scope="session")
def daemon_store(request: pytest.FixtureRequest) -> str:
    return getattr(request, "param", "sqlite")


@pytest.fixture(scope="session")
def daemon(daemon_store: str, request: pytest.FixtureRequest) -> Daemon:
    return request.getfixturevalue(f"{daemon_store}_daemon")


@pytest.fixture(scope="session")
def sqlite_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with running_daemon(tmp_path_factory.mktemp("home"), extra_args=("--metrics-port", "0")) as d:
        yield d


@pytest.fixture(scope="session")
def shared_blobs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The candidate files of the PostgreSQL daemon: a folder outside its home, as a studio's shared one."""
    return tmp_path_factory.mktemp("shared-blobs")


@pytest.fixture(scope="session")
def postgresql_daemon(
    tmp_path_factory: pytest.TempPathFactory, postgres: PostgresServer, shared_blobs: Path
) -> Iterator[Daemon]:
    """A studio's configuration on one machine: sessions in PostgreSQL, candidate files in a shared folder."""
    studio_args = ("--store", postgres.new_database(), "--blobs", str(shared_blobs))
    with running_daemon(tmp_path_factory.mktemp("home"), extra_args=studio_args) as d:
        yield d


@pytest.fixture(scope="session")
def stub(daemon: Daemon) -> Iterator[pb_grpc.CocreateStub]:
    with channel_for(daemon) as channel:
        yield pb_grpc.CocreateStub(channel)


@pytest.fixture
def session_id(stub: pb_grpc.CocreateStub) -> str:
    return stub.CreateSession(pb.CreateSessionRequest(host="test", document_id="doc-1", document_name="Doc")).id
