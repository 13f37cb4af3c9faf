"""The studio configuration: the gRPC front over engines on a real local Ray cluster (a head and two
worker nodes on this machine), keeping sessions in a real PostgreSQL server, started once per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("ray", reason="the studio extra is not installed: pip install 'cocreate[studio]'")

# The same fixtures as the single process's, resolved here against this folder's `daemon`.
from tests.service.conftest import session_id, stub  # noqa: F401
from tests.support.daemon import Daemon, running_daemon
from tests.support.postgres import PostgresServer
from tests.support.ray_cluster import local_cluster

# One job in flight, as on a single machine: queue positions and fairness stay the front's, as the
# contract says; one replica per kind keeps the shared machine's memory in bounds.
FRONT_ARGS = ("--min-replicas", "1", "--max-replicas", "1", "--in-flight", "1")


@pytest.fixture(scope="session")
def ray_address() -> Iterator[str]:
    with local_cluster() as address:
        yield address


@pytest.fixture(scope="session")
def daemon(ray_address: str, postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """The front keeps its sessions in the real PostgreSQL server, as a studio's does."""
    front_args = ("--cluster", ray_address, *FRONT_ARGS, "--store", postgres.new_database(), "--metrics-port", "0")
    with running_daemon(tmp_path_factory.mktemp("front"), extra_args=front_args) as d:
        yield d
