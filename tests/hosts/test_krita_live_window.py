"""Live painting in the full Krita window against a real daemon on the default socket (see
test_krita_window.py for how Krita is started and driven): Live on, strokes painted into the layer
between updates, the newest update's result on the live layer, Apply, and nothing left after Live off."""

from __future__ import annotations

from typing import Any

import pytest

from tests.hosts.root import NEEDS_HOST_ROOT
from tests.hosts.test_krita_window import failures, run_window

pytestmark = [*NEEDS_HOST_ROOT, pytest.mark.timeout(1200)]


@pytest.fixture(scope="module")
def live_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_window(tmp_path_factory.mktemp("krita-live"), "live")


def test_live_painting_follows_the_strokes_and_leaves_nothing_behind(live_run: dict[str, Any]) -> None:
    assert failures(live_run, "start") == {}
    print("live painting in Krita:", live_run["facts"].get("live"))
    assert failures(live_run, "live painting") == {}, live_run["facts"].get("live")
    assert live_run["finished"], "the driver did not get through the scenario"
    assert "Traceback" not in live_run["log"], live_run["log"][-4000:]
