"""The tiny profile, built once per test session in a temporary COCREATE_HOME, and engines loaded from it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core_server.config import models_dir
from core_server.engines import load_engine
from core_server.models import ModelCatalog
from core_server.tasks import Engine


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
    engine = load_engine(catalog.resolve("", "image"))
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def text_engine(catalog: ModelCatalog) -> Iterator[Engine]:
    engine = load_engine(catalog.resolve("", "text"))
    yield engine
    engine.close()
