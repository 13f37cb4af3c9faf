"""Assembly of the daemon: store, catalog, scheduler, service, health, reflection, listener."""

from __future__ import annotations

import asyncio
import fcntl
import logging
import math
import os
import signal
import socket
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIServer

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from .. import config, metrics
from ..cluster.options import ClusterOptions
from ..engines import load_engine, train_lora
from ..engines.devices import choose_device
from ..models.catalog import ModelCatalog
from ..pb import cocreate_pb2, cocreate_pb2_grpc
from ..scheduler.residency import Residency
from ..scheduler.scheduler import Scheduler
from ..sessions.context import ContextPolicy
from ..sessions.database import StoreUnavailable
from ..sessions.store import SessionStore
from . import shm
from .auth import TokenAuth
from .decoding import DecodeGuard
from .identity import TokenBook, TokenFileError
from .peers import UnixFront
from .servicer import CocreateServicer
from .warmth import preload, unload_idle

log = logging.getLogger(__name__)
SERVICE_NAME = cocreate_pb2.DESCRIPTOR.services_by_name["Cocreate"].full_name


class ConfigError(Exception):
    """The daemon cannot start as configured; the message says what to change."""


@dataclass(frozen=True)
class ServeOptions:
    socket: Path | None = None  # default: the per-user runtime socket
    listen: str | None = None  # HOST:PORT for TCP; needs a token
    token: str | None = None
    tokens_file: Path | None = None  # named tokens, hashed: one `name sha256:HEX` a line
    tls_cert: Path | None = None
    tls_key: Path | None = None
    max_memory_bytes: int | None = None
    limits: config.Limits = config.DEFAULT_LIMITS
    preload: bool = False  # load the default image model in the background at start
    keep_alive_s: float | None = None  # unload models idle this long; None: keep them
    store_context: ContextPolicy = "full"  # what turns keep of the document text (sessions.context)
    store_url: str | None = None  # postgresql://… for a studio; None: SQLite in the daemon's folder
    blobs_dir: Path | None = None  # candidate files elsewhere (a shared folder); None: beside the sessions
    metrics_port: int | None = None  # Prometheus /metrics over HTTP; 0 takes a free port
    metrics_host: str = "127.0.0.1"
    cluster: ClusterOptions | None = None  # a studio's front: engines run on a Ray cluster


async def serve(options: ServeOptions, on_ready: Callable[[str], None] = print) -> None:
    """Run until SIGTERM/SIGINT, then cancel running jobs, stop the server and close the store."""
    tokens = _token_book(options)
    if options.listen and tokens is None:
        raise ConfigError(
            "--listen serves TCP and needs a token: pass --tokens FILE or --token-file FILE, or set COCREATE_TOKEN"
        )
    if not options.listen and tokens is not None:
        raise ConfigError("tokens are for TCP (--listen); the Unix socket is private to this user already")
    if bool(options.tls_cert) != bool(options.tls_key):
        raise ConfigError("TLS needs both --tls-cert and --tls-key")
    if options.cluster and options.preload:
        raise ConfigError("--preload loads models on this machine; with --cluster the replicas load them")
    os.umask(0o077)  # everything the daemon writes (database, its WAL, blobs, keys) is this user's alone
    home_lock = _lock_home(config.data_dir())  # before the store: a second daemon must change nothing
    store = _open_store(options)
    interrupted = store.mark_interrupted()
    if interrupted:
        log.warning("%d turn(s) were interrupted by the last shutdown and are marked so", interrupted)
    catalog = ModelCatalog(config.models_dir())
    # Reading the catalog builds the tiny profile on a first start: do it before listening, so
    # the first health check or model list does not wait on it.
    await asyncio.to_thread(catalog.list)
    limits = options.limits
    scheduler = Scheduler(
        Residency(load_engine, options.max_memory_bytes),
        max_queue=limits.max_queue,
        train=train_lora,
        **(await _cluster_runner(options.cluster) if options.cluster else {}),
    )
    metrics_server = _serve_metrics(options, scheduler)
    # Authentication first, then decoding: nothing from a caller without a token is ever decoded.
    interceptors: list[grpc.aio.ServerInterceptor] = [TokenAuth(tokens)] if tokens else []
    message_options = [
        ("grpc.max_receive_message_length", limits.max_message_bytes),
        ("grpc.max_send_message_length", limits.max_message_bytes),
    ]
    server = grpc.aio.server(interceptors=[*interceptors, DecodeGuard()], options=message_options)
    cocreate_pb2_grpc.add_CocreateServicer_to_server(
        CocreateServicer(store, catalog, scheduler, str(choose_device()), limits, tokens), server
    )
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME), server
    )
    swept = shm.sweep(older_than_s=shm.UNREAD_GRACE_S)
    if swept:
        log.info("removed %d shared-memory file(s) left by an earlier run", swept)
    front, endpoint = _bind(server, options)
    await server.start()
    if front is not None:
        await front.start()
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    on_ready(f"cocreate daemon listening on {endpoint}")
    background: list[asyncio.Task[None]] = []
    if options.preload:
        background.append(asyncio.create_task(preload(catalog, scheduler.residency)))
    if options.keep_alive_s is not None:
        background.append(asyncio.create_task(unload_idle(scheduler.residency, options.keep_alive_s)))
    try:
        await stop.wait()
        for task in background:
            task.cancel()
        log.info("stopping: cancelling jobs")
        await health_servicer.enter_graceful_shutdown()
        await asyncio.to_thread(scheduler.shutdown)
        await server.stop(grace=5)
    finally:
        if front is not None:
            await front.close()
            front.public.unlink(missing_ok=True)
        shm.sweep(older_than_s=shm.UNREAD_GRACE_S)
        if metrics_server is not None:
            metrics_server.shutdown()
            metrics_server.server_close()
        store.close()
        os.close(home_lock)


def _serve_metrics(options: ServeOptions, scheduler: Scheduler) -> WSGIServer | None:
    if options.metrics_port is None:
        return None
    try:
        http, _ = metrics.serve_metrics(options.metrics_host, options.metrics_port)
    except OSError as error:
        raise ConfigError(f"cannot serve metrics on {options.metrics_host}:{options.metrics_port}: {error}") from None
    metrics.REPLICAS.set_function(lambda: _replica_count(scheduler))
    metrics.QUEUE_DEPTH.set_function(scheduler.queue_length)
    log.info("metrics on http://%s:%d/metrics", options.metrics_host, http.server_port)
    return http


def _replica_count(scheduler: Scheduler) -> float:
    """1 for a daemon running its jobs itself; a front's running cluster replicas, as a scrape finds them."""
    try:
        cluster = scheduler.runner.cluster()
    except Exception:  # the cluster does not answer: the scrape says unknown rather than failing
        log.warning("metrics: the cluster did not say how many replicas it has", exc_info=True)
        return math.nan
    return 1 if cluster is None else sum(replica.state == "RUNNING" for replica in cluster.replicas)


def _open_store(options: ServeOptions) -> SessionStore:
    try:
        return SessionStore(
            config.sessions_dir(), store_context=options.store_context, url=options.store_url, blobs=options.blobs_dir
        )
    except (StoreUnavailable, ValueError) as error:
        raise ConfigError(str(error)) from None


async def _cluster_runner(options: ClusterOptions) -> dict[str, Any]:
    """The scheduler's arguments for a front: a Ray runner, and one worker slot per job in flight."""
    try:
        from ..cluster.runner import ClusterUnreachable, RayRunner  # Ray is imported by a studio's front only
    except ImportError as error:
        raise ConfigError(f"--cluster needs Ray Serve ({error}): pip install 'cocreate[studio]'") from None
    log.info("deploying the engines on the Ray cluster at %s", options.address)
    try:
        runner = await asyncio.to_thread(RayRunner, options)
    except ClusterUnreachable as error:
        raise ConfigError(str(error)) from None
    return {"runner": runner, "devices": tuple(f"cluster-{slot}" for slot in range(options.slots))}


def _token_book(options: ServeOptions) -> TokenBook | None:
    if options.tokens_file and options.token:
        raise ConfigError("pass either --tokens FILE (named tokens) or one token, not both")
    try:
        if options.tokens_file:
            return TokenBook.from_file(options.tokens_file)
    except TokenFileError as error:
        raise ConfigError(str(error)) from None
    return TokenBook.single(options.token) if options.token else None


def _lock_home(home: Path) -> int:
    """Hold an exclusive lock on the home for the daemon's life; ConfigError if another daemon has it."""
    home.chmod(0o700)  # a home left wider by an older version or by hand is tightened
    fd = os.open(home / "daemon.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise ConfigError(
            f"another daemon (pid {holder}) is running on {home}; stop it first, or set COCREATE_HOME to another folder"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _bind(server: grpc.aio.Server, options: ServeOptions) -> tuple[UnixFront | None, str]:
    if options.listen:
        if options.tls_cert and options.tls_key:
            credentials = grpc.ssl_server_credentials([(options.tls_key.read_bytes(), options.tls_cert.read_bytes())])
            port = server.add_secure_port(options.listen, credentials)
        else:
            port = server.add_insecure_port(options.listen)
        host = options.listen.rsplit(":", 1)[0]
        return None, f"{host}:{port}"
    path = _socket_path(options)
    _claim_socket_path(path, private_folder=options.socket is None)
    front = UnixFront(path)  # the public socket; it tells the service which process each call is from
    server.add_insecure_port(front.grpc_address)
    return front, f"unix:{path}"


def _socket_path(options: ServeOptions) -> Path:
    from cocreate_client.endpoint import default_socket_path  # one rule for client and daemon

    return options.socket or Path(default_socket_path())


def _claim_socket_path(path: Path, private_folder: bool) -> None:
    """Create the socket's folder, 0700 when it is ours, and remove a stale socket left by a crash."""
    if len(str(path)) > 100:
        raise ConfigError(f"socket path {path} is too long for a Unix socket; pass a shorter --socket")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if private_folder:  # the default folder is cocreate's own: nobody else may even list it
        path.parent.chmod(0o700)
    try:
        kind = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(kind):
        raise ConfigError(f"{path} exists and is not a socket; it is left alone: pass another --socket")
    probe = socket.socket(socket.AF_UNIX)
    try:
        probe.connect(str(path))
    except OSError:
        path.unlink()  # nobody answers: left over from a daemon that died
    else:
        raise ConfigError(f"another daemon is already listening on {path}; stop it or pass another --socket")
    finally:
        probe.close()
