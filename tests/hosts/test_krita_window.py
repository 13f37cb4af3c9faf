"""The cocreate docker in the full Krita window, as a painter has it, over the default Unix socket.

Krita 5.2.9 (the Debian 13 host root) starts under Xvfb on a 1366×768 screen with the plugin installed
as `cocreate plugins install krita` does, plus tests/hosts/krita/window/cocreate_driver: a second
Python plugin that clicks the docker from Krita's own event loop and writes what it saw to a verdict
file. Only with a window and a view does a document have an active layer, and only there does Krita
run its event loop inside layer insertions, so these bugs show here and not in kritarunner.

One Krita start runs every scenario (a start takes 10+ s); each test below reads its scenario's checks.

The daemon listens on a Unix socket; the plugin connects to its default path,
$XDG_RUNTIME_DIR/cocreate/cocreate.sock, with no endpoint set. Inside the root, $XDG_RUNTIME_DIR is a
fresh private folder that tests/hosts/in-root makes when the command starts, so the daemon (outside,
started first) cannot bind there; instead its socket folder is linked into that runtime folder as
`cocreate`, as a sandboxed Krita would be given the host's xdg-run/cocreate.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from core_server.packaging import krita
from tests.hosts.root import NEEDS_HOST_ROOT
from tests.hosts.screenshots import SCREEN, keep_screenshot
from tests.support.daemon import running_daemon

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DRIVER = HERE / "krita" / "window"

pytestmark = [*NEEDS_HOST_ROOT, pytest.mark.timeout(1200)]

# Link the daemon's socket folder where the plugin looks by default, start Xvfb and Krita, wait for
# the driver's verdict (or Krita's end, or a driver silent for too long), then stop both by process
# id so nothing holds /project.
LAUNCH = """
unset QT_QPA_PLATFORM
export XDG_DATA_HOME=/project/data XDG_CONFIG_HOME=/project/config
ln -s /project/run "$XDG_RUNTIME_DIR/cocreate"
Xvfb -displayfd 3 {screen} -nolisten tcp 3> "$HOME/display" 2> /dev/null & xvfb=$!
for _ in $(seq 30); do [ -s "$HOME/display" ] && break; sleep 1; done
DISPLAY=:$(cat "$HOME/display") krita --nosplash > /project/krita.log 2>&1 & krita=$!
for _ in $(seq {seconds}); do
  grep -q '"finished": true' /project/window-verdict.json 2> /dev/null && break
  kill -0 $krita 2> /dev/null || break
  # A driver that wrote nothing for 5 minutes is stuck (a modal dialog, say): stop rather than hold the root.
  written=$(stat -c %Y /project/window-verdict.json 2> /dev/null || date +%s)
  [ $(( $(date +%s) - written )) -gt 300 ] && break
  sleep 1
done
kill $krita 2> /dev/null; wait $krita
kill $xvfb; wait $xvfb
"""


def install(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The plugin as `cocreate plugins install krita` puts it, and the driver beside it, both enabled."""
    monkeypatch.setenv("XDG_DATA_HOME", str(folder / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder / "config"))
    krita.install()
    pykrita = folder / "data" / "krita" / "pykrita"
    shutil.copytree(DRIVER / "cocreate_driver", pykrita / "cocreate_driver")
    shutil.copy(DRIVER / "cocreate_driver.desktop", pykrita)
    kritarc = folder / "config" / "kritarc"
    kritarc.write_text(kritarc.read_text().replace("[python]\n", "[python]\nenable_cocreate_driver=true\n"))


@pytest.fixture(scope="module")
def window_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    yield run_window(tmp_path_factory.mktemp("krita-window"), "window")


def run_window(folder: Path, scenarios: str) -> dict[str, Any]:
    """One Krita start driving the driver's scenario set `scenarios` against a daemon on the default socket."""
    (folder / "window-scenarios").write_text(scenarios)
    with pytest.MonkeyPatch.context() as monkeypatch:
        install(folder, monkeypatch)
    run_folder = folder / "run"
    run_folder.mkdir(mode=0o700)
    socket = run_folder / "cocreate.sock"
    with running_daemon(folder / "home", extra_args=("--socket", str(socket))) as daemon:
        assert daemon.endpoint == f"unix:{socket}", daemon.endpoint
        launch = LAUNCH.format(screen=SCREEN, seconds=600)
        subprocess.run([str(HERE / "in-root"), "-d", str(folder), "--", "sh", "-c", launch], timeout=1200)
    log = (folder / "krita.log").read_text(errors="replace") if (folder / "krita.log").exists() else ""
    verdict_file = folder / "window-verdict.json"
    assert verdict_file.exists(), f"the driver wrote no verdict; Krita said:\n{log[-4000:]}"
    verdict = json.loads(verdict_file.read_text())
    verdict["log"] = log
    verdict["folder"] = folder
    return verdict


def failures(verdict: dict[str, Any], scenario: str) -> dict[str, str]:
    checks = verdict["scenarios"].get(scenario)
    assert checks, f"the scenario {scenario!r} did not run (finished={verdict['finished']})"
    return {name: result["detail"] for name, result in checks.items() if not result["ok"]}


def test_krita_starts_with_the_docker_and_the_driver(window_run: dict[str, Any]) -> None:
    assert failures(window_run, "start") == {}
    assert window_run["finished"], "the driver did not get through every scenario"
    assert "Traceback" not in window_run["log"], window_run["log"][-4000:]


def test_the_painters_active_layer_is_kept_and_the_result_lands_above_it(window_run: dict[str, Any]) -> None:
    assert failures(window_run, "active layer") == {}


def test_inside_a_group_the_result_lands_in_the_group(window_run: dict[str, Any]) -> None:
    assert failures(window_run, "inside a group") == {}


def test_cancel_at_every_phase_leaves_a_working_docker(window_run: dict[str, Any]) -> None:
    assert failures(window_run, "cancel at every phase") == {}


def test_two_documents_generate_at_once(window_run: dict[str, Any]) -> None:
    assert failures(window_run, "two documents") == {}


def test_more_like_this_in_between_and_the_history_tree(window_run: dict[str, Any]) -> None:
    assert failures(window_run, "steering and history") == {}


def test_the_docker_fits_a_1366x768_screen_in_kritas_default_layout(window_run: dict[str, Any]) -> None:
    assert failures(window_run, "layout and screenshot") == {}, window_run["facts"].get("layout")


@pytest.mark.screenshot
def test_screenshot_of_the_docker_with_candidates(window_run: dict[str, Any]) -> None:
    """docs/screenshots/krita.png: the docker with four candidates; `make screenshots` regenerates it."""
    with Image.open(window_run["folder"] / "krita.png") as shot:
        assert shot.size == (1366, 768)
    keep_screenshot(window_run["folder"] / "krita.png", "krita")
