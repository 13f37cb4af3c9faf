"""Where a cluster's processes listen: on each node's own address, so a cluster kept on loopback stays there.

Ray binds its core servers (GCS, raylet and object manager, workers, agents, their metrics) to the node IP
given with `ray start --node-ip-address`; 127.0.0.1 keeps them on loopback. Two places of Ray 2.58 miss it:
- a driver given a loopback head address rewrites it into this machine's outward address before it
  connects (`ray._private.services.canonicalize_bootstrap_address`), where such a cluster does not answer;
- Serve starts each replica's inter-deployment gRPC server on every interface ("[::]:0"), whatever the
  node IP, and no setting changes that.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from ray._common.network_utils import build_address


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1, as a dual-stack socket shows it
    return (mapped or address).is_loopback


def reach_loopback_head(address: str) -> None:
    """Before ray.init: a head on loopback is reached on loopback (Ray's rule for single-machine Ray, which
    takes this machine's address to be loopback)."""
    host, _, port = address.rpartition(":")
    if port.isdigit() and is_loopback(host):
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False


def bind_replica_server_to_node_ip() -> None:
    """In a replica, before Serve starts its inter-deployment gRPC server: listen on the node's IP, where
    Serve's routers dial it (RunningReplicaInfo.node_ip), not on every interface."""
    import ray
    from ray.serve._private import replica

    every_interface = "[::]:"
    add_port = replica.add_port_to_grpc_server
    if getattr(add_port, "binds_node_ip", False):
        return
    node_ip = ray.util.get_node_ip_address()

    def add_port_on_node_ip(server: Any, address: str) -> int:
        if address.startswith(every_interface):
            address = build_address(node_ip, int(address.removeprefix(every_interface)))
        return add_port(server, address)

    add_port_on_node_ip.binds_node_ip = True  # type: ignore[attr-defined]
    replica.add_port_to_grpc_server = add_port_on_node_ip
