"""The Krita plugin inside real Krita 5.2.9 (the Debian 13 host root), against a real daemon on the tiny profile.

The plugin zip from `cocreate plugins build krita` is unpacked by Krita's own plugin importer, then
tests/hosts/krita/krita_check.py drives the plugin's document adapter, controller and docker in
kritarunner. A second test installs the plugin as `cocreate plugins install krita` does and starts
the full Krita under Xvfb, which must find it enabled and load it. Needs the host root
(tests/hosts/make-root) and root rights for tests/hosts/in-root.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from core_server.packaging import krita
from tests.hosts.root import NEEDS_HOST_ROOT
from tests.support.daemon import running_daemon

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
TOKEN = "krita-check-token"
IMPORTER = "/usr/share/krita/pykrita/plugin_importer/plugin_importer.py"

pytestmark = [*NEEDS_HOST_ROOT, pytest.mark.timeout(1200)]  # the root is shared: waiting for it counts


@pytest.fixture
def project() -> Path:
    """The folder in-root binds at /project: the plugin zip and the check script (under the ignored build/)."""
    folder = REPO / "build" / "host-tests" / "krita"
    shutil.rmtree(folder, ignore_errors=True)
    krita.build(folder)
    shutil.copy(HERE / "krita" / "krita_check.py", folder / "krita_check.py")
    return folder


def test_plugin_in_real_krita(project: Path, tmp_path: Path) -> None:
    [archive] = project.glob("cocreate-krita-*.zip")
    script = (
        'mkdir -p "$HOME/resources"'
        f' && python3 {IMPORTER} /project/{archive.name} "$HOME/resources" > /project/import.log 2>&1'
        ' && PYTHONPATH="$HOME/resources/pykrita:/project" kritarunner -s krita_check -f main "$0" "$1"'
    )
    with running_daemon(tmp_path / "home", listen="127.0.0.1:0", token=TOKEN) as daemon:
        run = subprocess.run(
            [str(HERE / "in-root"), "-d", str(project), "--", "sh", "-c", script, daemon.endpoint, TOKEN],
            capture_output=True,
            text=True,
            timeout=900,
        )
    imported = (project / "import.log").read_text() if (project / "import.log").exists() else ""
    assert "Imported plugin: cocreate" in imported, (
        f"Krita's importer refused the zip:\n{imported}\n{run.stderr[-3000:]}"
    )
    verdict_file = project / "verdict.json"
    assert verdict_file.exists(), f"no verdict (exit {run.returncode}):\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    verdict = json.loads(verdict_file.read_text())
    assert "exception" not in verdict, verdict["exception"]
    assert verdict["krita"] == "5.2.9" and verdict["python"].startswith("3.13"), verdict
    failed = {name: result["detail"] for name, result in verdict["checks"].items() if not result["ok"]}
    assert failed == {}
    assert len(verdict["checks"]) >= 40, sorted(verdict["checks"])


# Start Krita on its own Xvfb, wait until it loaded our plugin (and a little longer, for the main
# window and its dockers), then stop both by process id and wait for them, so that nothing still
# holds /project when in-root unmounts it.
LAUNCH = """
Xvfb -displayfd 3 -nolisten tcp 3> "$HOME/display" 2> /dev/null & xvfb=$!
for _ in $(seq 30); do [ -s "$HOME/display" ] && break; sleep 1; done
DISPLAY=:$(cat "$HOME/display") krita --nosplash > /project/krita.log 2>&1 & krita=$!
for _ in $(seq 120); do grep -q 'Loading module:  "cocreate_krita"' /project/krita.log && break; sleep 1; done
sleep 10
kill $krita; wait $krita
kill $xvfb; wait $xvfb
"""


def test_installed_plugin_is_enabled_and_loads_in_krita(monkeypatch: pytest.MonkeyPatch) -> None:
    folder = REPO / "build" / "host-tests" / "krita-install"
    shutil.rmtree(folder, ignore_errors=True)
    monkeypatch.setenv("XDG_DATA_HOME", str(folder / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder / "config"))
    krita.install()
    environment = (
        "unset QT_QPA_PLATFORM; export XDG_DATA_HOME=/project/data XDG_CONFIG_HOME=/project/config"
        ' QT_LOGGING_RULES="krita.scripting=true";'
    )
    subprocess.run([str(HERE / "in-root"), "-d", str(folder), "--", "sh", "-c", environment + LAUNCH], timeout=300)
    log = (folder / "krita.log").read_text(errors="replace")
    lines = [line.strip() for line in log.splitlines()]
    loading = 'krita.scripting: Loading module:  "cocreate_krita"'
    assert 'krita.scripting: Trying to load plugin "cocreate_krita" . Enabled: true . Broken:  false' in lines, log
    assert loading in lines and lines[lines.index(loading) + 1].endswith("success!"), log
    assert "Traceback" not in log, log
