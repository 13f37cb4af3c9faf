"""`cocreate health` and the metrics of a front: the cluster's replicas, the models each has loaded, the jobs
waiting."""

from __future__ import annotations

from tests.service.test_cli import cocreate
from tests.service.test_generate import generate
from tests.service.test_metrics import scrape
from tests.support.daemon import Daemon


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
