"""A real local Ray cluster for the studio tests and bench: a head and two worker nodes on this machine.

Kept small (the machine is shared): the head runs no replicas (0 CPUs: Serve's controller only), each
worker node offers 2 logical CPUs and a small object store, and no dashboard. Every node's IP is
127.0.0.1, so every process of the cluster listens on loopback only (tests/cluster/test_loopback.py)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

OBJECT_STORE_BYTES = 80 * 2**20
NODE_IP = "127.0.0.1"


@contextlib.contextmanager
def local_cluster(workers: int = 2, cpus_per_worker: int = 2) -> Iterator[str]:
    """Start the cluster; yields the head's address (for `cocreate serve --cluster`); tears it down."""
    from ray.cluster_utils import Cluster

    node = {"node_ip_address": NODE_IP, "object_store_memory": OBJECT_STORE_BYTES, "include_dashboard": False}
    # The nodes' worker processes inherit this environment: the replicas import this checkout.
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    cluster = Cluster(initialize_head=True, connect=False, head_node_args={"num_cpus": 0, **node})
    try:
        for _ in range(workers):
            cluster.add_node(num_cpus=cpus_per_worker, **node)
        cluster.wait_for_nodes()
        yield cluster.address
    finally:
        cluster.shutdown()
