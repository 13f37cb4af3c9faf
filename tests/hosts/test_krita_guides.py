"""The cocreate docker in the full Krita window with another model family, control layers, references and Edit.

The same harness as test_krita_window.py (Krita 5.2.9 under Xvfb, the daemon on the default Unix socket), driving
the driver's "guides" scenarios (tests/hosts/krita/window/cocreate_driver/guide_scenarios.py) in one Krita start.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.hosts.root import NEEDS_HOST_ROOT
from tests.hosts.test_krita_window import failures, run_window

pytestmark = [*NEEDS_HOST_ROOT, pytest.mark.timeout(1200)]


@pytest.fixture(scope="module")
def guides_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    yield run_window(tmp_path_factory.mktemp("krita-guides"), "guides")


def test_krita_starts_and_runs_every_guides_scenario(guides_run: dict[str, Any]) -> None:
    assert failures(guides_run, "start") == {}
    assert guides_run["finished"], "the driver did not get through every scenario"
    assert "Traceback" not in guides_run["log"], guides_run["log"][-4000:]


def test_fill_with_a_tiny_sdxl_model(guides_run: dict[str, Any]) -> None:
    """#15: a family other than SD 1.5 fills a selection in the real Krita."""
    assert failures(guides_run, "tiny SDXL fill") == {}


def test_references_are_sent_and_layers_stay_untouched(guides_run: dict[str, Any]) -> None:
    assert failures(guides_run, "references") == {}, guides_run["facts"].get("guided")


def test_a_control_layer_is_sent_and_layers_stay_untouched(guides_run: dict[str, Any]) -> None:
    assert failures(guides_run, "control layer and reference") == {}, guides_run["facts"].get("guided")


def test_edit_with_an_instruction(guides_run: dict[str, Any]) -> None:
    assert failures(guides_run, "edit") == {}, guides_run["facts"].get("edit_message")
