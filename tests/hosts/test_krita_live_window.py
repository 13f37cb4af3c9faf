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


PAINTER_KEPT = ("the painter's layer stays active", "the painter's layer stays active while updates show")


def test_live_painting_follows_the_strokes_and_leaves_nothing_behind(live_run: dict[str, Any]) -> None:
    assert failures(live_run, "start") == {}
    print("live painting in Krita:", live_run["facts"].get("live"))
    others = {check: why for check, why in failures(live_run, "live painting").items() if check not in PAINTER_KEPT}
    assert others == {}, live_run["facts"].get("live")
    assert live_run["finished"], "the driver did not get through the scenario"
    assert "Traceback" not in live_run["log"], live_run["log"][-4000:]


def test_the_live_layer_never_stays_active_in_place_of_the_painters(live_run: dict[str, Any]) -> None:
    """The live layer is made when Live is turned on and only repainted afterwards, so Krita never makes it
    active while the painter paints: not across two samples of the active layer (20 ms apart), ever."""
    failed = failures(live_run, "live painting")
    assert not {check: failed[check] for check in PAINTER_KEPT if check in failed}
