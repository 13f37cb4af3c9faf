"""How the front deploys the engines on a Ray cluster (`cocreate serve --cluster ...`). No Ray import."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ClusterOptions:
    address: str  # the Ray cluster: "auto", "HOST:PORT" of the head, or "ray://HOST:10001"
    min_replicas: int = 1  # per model kind (image, text)
    max_replicas: int = 2  # Serve's autoscaler adds replicas up to this while jobs wait
    replica_cpus: float = 1.0
    replica_gpus: float = 0.0  # 1 on a GPU farm: one replica per GPU
    in_flight: int = 0  # jobs handed to the cluster at once (0: see slots); more wait in the fair queue

    @property
    def slots(self) -> int:
        """Enough jobs in flight for every replica of both kinds to work, and for one to wait per replica
        (what makes Serve's autoscaler add one); beyond that the front's fair queue orders the jobs."""
        return self.in_flight or 2 * self.max_replicas
