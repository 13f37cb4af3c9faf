"""`cocreate health` and the metrics of a front: the cluster's replicas, the models each has loaded, the jobs
waiting."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from core_server.launcher import LaunchError
from tests.service.test_cli import cocreate
from tests.service.test_generate import generate
from tests.service.test_metrics import scrape
from tests.support.daemon import Daemon, start_daemon


def test_health_shows_the_replicas_and_their_models(daemon: Daemon, stub: object, session_id: str) -> None:
    assert generate(stub, session_id, "texture", candidates=1)[-1].done.status  # the image replica loads its model
    assert daemon.home is not None
    health = cocreate("health", "--endpoint", daemon.endpoint, home=daemon.home)
    assert health.returncode == 0, health.stderr
    lines = health.stdout.splitlines()
    assert any(line.startswith("cluster ") and "waiting" in line for line in lines), health.stdout
    image = [line for line in lines if line.strip().startswith("image ")]
    text = [line for line in lines if line.strip().startswith("text ")]
    assert image and text, health.stdout
    assert any("RUNNING" in line and "tiny-image" in line for line in image), health.stdout


def test_metrics_count_the_running_replicas(daemon: Daemon) -> None:
    assert scrape(daemon)[("cocreate_replicas", ())] == 2  # one image and one text replica (FRONT_ARGS)


def test_a_cluster_that_does_not_answer_is_a_clear_error(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(LaunchError) as failed:
        start_daemon(tmp_path, extra_args=("--cluster", "127.0.0.1:1"), timeout=60)
    assert time.monotonic() - started < 60, "not ray.init's minutes of retries"
    assert "no Ray cluster answers at 127.0.0.1:1" in str(failed.value)
    assert "Traceback" not in str(failed.value)
