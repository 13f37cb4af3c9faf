"""The tiny profile, built once per test session in a temporary COCREATE_HOME, and engines loaded from it.

Engines are pinned to the CPU in float32, so results match on every machine, GPU or not. No engine test
may leave this machine: connections anywhere but loopback fail.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from core_server.config import models_dir
from core_server.models import ModelCatalog
from core_server.tasks import Engine
from tests.engines.support import load_on_cpu


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    resolve, connect = socket.getaddrinfo, socket.socket.connect

    def loopback_only(host: Any) -> None:
        if host in (None, "localhost"):
            return
        try:
            if ipaddress.ip_address(host).is_loopback:
                return
        except ValueError:
            pass
        raise OSError(f"an engine test tried to reach {host!r}")

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        loopback_only(host)
        return resolve(host, *args, **kwargs)

    def guarded_connect(sock: socket.socket, address: Any) -> Any:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            loopback_only(address[0])
        return connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", guarded_connect)


@pytest.fixture(scope="session")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> ModelCatalog:
    home = tmp_path_factory.mktemp("cocreate-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COCREATE_HOME", str(home))
        catalog = ModelCatalog(models_dir())
        catalog.list()  # the first read builds the tiny profile
    return catalog


@pytest.fixture(scope="session")
def image_engine(catalog: ModelCatalog) -> Iterator[Engine]:
    engine = load_on_cpu(catalog.resolve("", "image"))
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def text_engine(catalog: ModelCatalog) -> Iterator[Engine]:
    engine = load_on_cpu(catalog.resolve("", "text"))
    yield engine
    engine.close()
