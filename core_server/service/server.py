"""Assembly of the daemon: store, catalog, scheduler, service, health, reflection, listener."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from .. import config
from ..engines import load_engine, train_lora
from ..engines.devices import choose_device
from ..models.catalog import ModelCatalog
from ..pb import cocreate_pb2, cocreate_pb2_grpc
from ..scheduler.residency import Residency
from ..scheduler.scheduler import Scheduler
from ..sessions.context import ContextPolicy
from ..sessions.store import SessionStore
from .auth import TokenAuth
from .decoding import DecodeGuard
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
    tls_cert: Path | None = None
    tls_key: Path | None = None
    max_memory_bytes: int | None = None
    limits: config.Limits = config.DEFAULT_LIMITS
    preload: bool = False  # load the default image model in the background at start
    keep_alive_s: float | None = None  # unload models idle this long; None: keep them
    store_context: ContextPolicy = "full"  # what turns keep of the document text (sessions.context)


async def serve(options: ServeOptions, on_ready: Callable[[str], None] = print) -> None:
    """Run until SIGTERM/SIGINT, then cancel running jobs, stop the server and close the store."""
    if options.listen and not options.token:
        raise ConfigError("--listen serves TCP and needs a token: pass --token-file FILE or set COCREATE_TOKEN")
    if bool(options.tls_cert) != bool(options.tls_key):
        raise ConfigError("TLS needs both --tls-cert and --tls-key")
    store = SessionStore(config.sessions_dir(), store_context=options.store_context)
    interrupted = store.mark_interrupted()
    if interrupted:
        log.warning("%d turn(s) were interrupted by the last shutdown and are marked so", interrupted)
    catalog = ModelCatalog(config.models_dir())
    # Reading the catalog builds the tiny profile on a first start: do it before listening, so
    # the first health check or model list does not wait on it.
    await asyncio.to_thread(catalog.list)
    limits = options.limits
    scheduler = Scheduler(
        Residency(load_engine, options.max_memory_bytes), max_queue=limits.max_queue, train=train_lora
    )
    interceptors: list[grpc.aio.ServerInterceptor] = [TokenAuth(options.token)] if options.token else []
    message_options = [
        ("grpc.max_receive_message_length", limits.max_message_bytes),
        ("grpc.max_send_message_length", limits.max_message_bytes),
    ]
    server = grpc.aio.server(interceptors=[*interceptors, DecodeGuard(SERVICE_NAME)], options=message_options)
    cocreate_pb2_grpc.add_CocreateServicer_to_server(
        CocreateServicer(store, catalog, scheduler, str(choose_device()), limits), server
    )
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME), server
    )
    endpoint = _bind(server, options)
    await server.start()
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
        store.close()
        if options.listen is None:
            _socket_path(options).unlink(missing_ok=True)


def _bind(server: grpc.aio.Server, options: ServeOptions) -> str:
    if options.listen:
        if options.tls_cert and options.tls_key:
            credentials = grpc.ssl_server_credentials([(options.tls_key.read_bytes(), options.tls_cert.read_bytes())])
            port = server.add_secure_port(options.listen, credentials)
        else:
            port = server.add_insecure_port(options.listen)
        host = options.listen.rsplit(":", 1)[0]
        return f"{host}:{port}"
    path = _socket_path(options)
    _claim_socket_path(path, private_folder=options.socket is None)
    old_umask = os.umask(0o177)  # the socket file is created 0600: only this user may connect
    try:
        server.add_insecure_port(f"unix:{path}")
    finally:
        os.umask(old_umask)
    return f"unix:{path}"


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
    if not path.exists():
        return
    probe = socket.socket(socket.AF_UNIX)
    try:
        probe.connect(str(path))
    except OSError:
        path.unlink()  # nobody answers: left over from a daemon that died
    else:
        raise ConfigError(f"another daemon is already listening on {path}; stop it or pass another --socket")
    finally:
        probe.close()
