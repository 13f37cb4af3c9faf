"""The studio tests stay on loopback: every process they start (Ray's head and workers with their agents,
Serve's controller and replicas, the front, PostgreSQL) listens on loopback addresses only."""

from __future__ import annotations

import psutil

from core_server.cluster.binding import is_loopback
from core_server.cluster.runner import KINDS
from tests.support.daemon import Daemon


def listening_beyond_loopback(processes: list[psutil.Process]) -> list[str]:
    found = []
    for process in processes:
        try:
            sockets = process.net_connections(kind="inet")
            name = process.name()
        except psutil.NoSuchProcess:
            continue
        for sock in sockets:
            if sock.status == psutil.CONN_LISTEN and not is_loopback(sock.laddr.ip):
                found.append(f"{name} (pid {process.pid}) on {sock.laddr.ip}:{sock.laddr.port}")
    return found


def test_every_process_of_the_cluster_listens_on_loopback_only(daemon: Daemon) -> None:
    processes = psutil.Process().children(recursive=True)
    names = " ".join(process.name() for process in processes)
    for part in ("gcs_server", "raylet", "ServeController", *(f"ServeReplica:cocreate-{kind}" for kind in KINDS)):
        assert part in names, f"no {part} among the processes the tests started"
    assert daemon.process.pid in {process.pid for process in processes}
    assert listening_beyond_loopback(processes) == []


def test_loopback_addresses() -> None:
    assert all(map(is_loopback, ("127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1", "[::1]", "localhost")))
    assert not any(map(is_loopback, ("0.0.0.0", "::", "192.0.2.2", "::ffff:192.0.2.2", "", "example.org")))
