"""The front's side of a cluster: deploy one Serve application per model kind and run jobs on it.

A job goes out as a streaming call with the model as its multiplexed model id and the session for the
router; its events come back as the replica yields them. Cancel cancels the call, which reaches the
replica's generator, whose engine stops at its next step. A replica that dies mid-job ends the job with
EngineUnavailable (UNAVAILABLE to the client, the turn marked failed): it is not retried, because the
client has already seen previews of that run and decides itself whether to ask again; Serve starts a
replacement replica."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import ray
from ray import serve
from ray.exceptions import RayError, TaskCancelledError
from ray.serve.config import AutoscalingConfig, RequestRouterConfig
from ray.serve.handle import DeploymentResponseGenerator

from ..scheduler.jobs import Job
from ..scheduler.runner import ClusterInfo, ReplicaInfo
from ..tasks import Cancelled, Emit, EngineError, EngineUnavailable, GenerationResult, task_kind
from .binding import reach_loopback_head
from .options import ClusterOptions
from .pausing import PauseBoard
from .replica import MODELS_PER_REPLICA, EngineReplica
from .routing import SessionAffinityRouter

log = logging.getLogger(__name__)
CONNECT_TIMEOUT_S = 5
KINDS = ("image", "text")
APP_PREFIX = "cocreate-"
CANCEL_POLL_S = 0.1
# What replicas need from the front's environment: engine settings and offline model loading.
FORWARDED_ENV = ("COCREATE_", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "PYTHONPATH")


class ClusterUnreachable(Exception):
    """The cluster's head does not answer; the message says what to start."""


@dataclass
class _Replica:
    kind: str
    pid: int = 0
    node: str = ""
    models: OrderedDict[str, None] = field(default_factory=OrderedDict)  # least recently used first
    running: set[str] = field(default_factory=set)


class ReplicaBook:
    """What the front saw of each replica: the models its jobs loaded and the jobs it runs.

    The models mirror Serve's multiplexer, which keeps the MODELS_PER_REPLICA most recently used."""

    def __init__(self) -> None:
        self._replicas: dict[str, _Replica] = {}
        self._waiting: set[str] = set()
        self._lock = threading.Lock()

    def dispatched(self, job_id: str) -> None:
        with self._lock:
            self._waiting.add(job_id)

    def started(self, job_id: str, replica_id: str, kind: str, pid: int, node: str, model: str) -> None:
        with self._lock:
            self._waiting.discard(job_id)
            replica = self._replicas.setdefault(replica_id, _Replica(kind))
            replica.pid, replica.node = pid, node
            replica.models[model] = None
            replica.models.move_to_end(model)
            while len(replica.models) > MODELS_PER_REPLICA:
                replica.models.popitem(last=False)
            replica.running.add(job_id)

    def ended(self, job_id: str) -> None:
        with self._lock:
            self._waiting.discard(job_id)
            for replica in self._replicas.values():
                replica.running.discard(job_id)

    def waiting(self) -> int:
        with self._lock:
            return len(self._waiting)

    def seen(self, replica_id: str) -> _Replica | None:
        with self._lock:
            return self._replicas.get(replica_id)


class RayRunner:
    """Runs jobs on Serve deployments of a Ray cluster; one instance per front."""

    def __init__(self, options: ClusterOptions) -> None:
        self.options = options
        _check_reachable(options.address)
        env = {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_ENV)}
        reach_loopback_head(options.address)
        ray.init(address=options.address, namespace="cocreate", log_to_driver=False, runtime_env={"env_vars": env})
        self._board = PauseBoard.remote()  # type: ignore[attr-defined]
        serve.start(proxy_location="Disabled")  # the front is the only way in: no HTTP proxy
        self._handles = {
            kind: serve.run(self._deployment(kind), name=APP_PREFIX + kind, route_prefix=None) for kind in KINDS
        }
        self.book = ReplicaBook()

    def _deployment(self, kind: str) -> serve.Application:
        options = self.options
        deployment = serve.deployment(
            EngineReplica,
            name=kind,
            max_ongoing_requests=1,  # an engine runs one job at a time; the rest queue for a free replica
            autoscaling_config=AutoscalingConfig(
                min_replicas=options.min_replicas,
                initial_replicas=options.min_replicas,
                max_replicas=options.max_replicas,
                target_ongoing_requests=1,  # a job waiting for a replica asks for another
                upscale_delay_s=5,
                downscale_delay_s=300,
            ),
            ray_actor_options={"num_cpus": options.replica_cpus, "num_gpus": options.replica_gpus},
            request_router_config=RequestRouterConfig(request_router_class=SessionAffinityRouter),
        )
        return deployment.bind(kind)

    def run(self, job: Job, emit: Emit) -> GenerationResult:
        kind = task_kind(job.task)  # type: ignore[arg-type]  # personalisation stays on the front's machine
        handle = self._handles[kind].options(multiplexed_model_id=job.model, stream=True)
        self.book.dispatched(job.id)
        paused = job.cancel_token.paused
        if paused:  # on the board before the replica asks, at its job's first step
            ray.get(self._board.pause.remote(job.id, True))
        dispatched = time.monotonic()
        responses = handle.generate.remote(
            job.task, job.seeds, job.previews, job.model_entry, session=job.session, job_id=job.id, board=self._board
        )
        finished = threading.Event()
        threading.Thread(target=self._relay, args=(job, responses, finished, paused), daemon=True).start()
        try:
            for message in responses:
                tag = message[0]
                if tag == "event":
                    emit(message[1])
                elif tag == "started":
                    job.stages.add("cluster dispatch", time.monotonic() - dispatched)
                    _, replica_id, pid, node, hardware = message
                    self.book.started(job.id, replica_id, kind, pid, node, job.model)
                    if job.live:
                        self._board.live_started.remote(job.id, hardware)
                elif tag == "stage":
                    job.stages.add(message[1], message[2])
                elif tag == "result":
                    return message[1]
                elif tag == "cancelled":
                    raise Cancelled()
                elif tag == "refused":
                    raise EngineError(message[1])
                else:
                    raise RuntimeError(f"the replica failed: {message[1]}")
            raise EngineUnavailable("the engine replica ended the job without a result; try again")
        except (TaskCancelledError, RayError) as error:
            if job.cancel_token.cancelled:
                raise Cancelled() from None
            log.warning("job %s lost its replica: %s", job.id, type(error).__name__)
            raise EngineUnavailable(
                f"the {kind} engine replica running this job stopped ({type(error).__name__}); "
                "the cluster is replacing it: try again"
            ) from None
        finally:
            finished.set()
            self.book.ended(job.id)
            if job.live:
                self._board.live_ended.remote(job.id)

    def _relay(self, job: Job, responses: DeploymentResponseGenerator, finished: threading.Event, paused: bool) -> None:
        """Cancel the call when the job's token is set, which reaches the replica wherever the job runs; put
        the scheduler's pauses on the board, where the replica reads them (cluster.pausing)."""
        while not finished.is_set():
            if job.cancel_token.wait(CANCEL_POLL_S):
                responses.cancel()
                break
            if job.cancel_token.paused != paused:
                paused = not paused
                self._board.pause.remote(job.id, paused)
        if paused:
            self._board.pause.remote(job.id, False)

    def cluster(self) -> ClusterInfo:
        details = serve.context._get_global_client()._controller.get_serve_instance_details.remote()
        applications = ray.get(details, timeout=10).get("applications", {})
        replicas = []
        for kind in KINDS:
            deployment = applications.get(APP_PREFIX + kind, {}).get("deployments", {}).get(kind, {})
            for replica in deployment.get("replicas", []):
                seen = self.book.seen(replica["replica_id"])
                replicas.append(
                    ReplicaInfo(
                        id=replica["replica_id"],
                        kind=kind,
                        state=str(getattr(replica.get("state"), "value", replica.get("state") or "")),
                        node=replica.get("node_id") or "",
                        pid=int(replica.get("pid") or 0),
                        models=tuple(seen.models) if seen else (),
                        running=len(seen.running) if seen else 0,
                    )
                )
        return ClusterInfo(address=self.options.address, replicas=tuple(replicas), waiting=self.book.waiting())

    def close(self) -> None:
        """Leave the cluster. The deployments stay, with their models loaded: a restarted front (or another
        front of the same studio) finds them warm; `serve shutdown` on the cluster removes them."""
        ray.shutdown()


def _check_reachable(address: str) -> None:
    """A head's HOST:PORT that does not answer fails now, with a message; ray.init would retry for minutes."""
    host, _, port = address.rpartition(":")
    if "://" in address or not host or not port.isdigit():
        return  # "auto" and ray:// addresses: Ray finds and reports them itself
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as error:
        raise ClusterUnreachable(
            f"no Ray cluster answers at {address} ({error.strerror or error}): start its head with "
            "`ray start --head --port PORT` and pass that HOST:PORT to --cluster"
        ) from None
