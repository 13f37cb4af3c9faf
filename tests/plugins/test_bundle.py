"""core_server/packaging/bundle.py: a pure-Python folder that works offline once cached, in every Python 3.10–3.13."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from core_server.packaging import privatize
from tests.hosts.client_check import problems
from tests.support.daemon import Daemon, running_daemon

REPO = Path(__file__).resolve().parents[2]
CHECK = REPO / "tests" / "hosts" / "client_check.py"
TOKEN = "bundle-check-token"


def bundle(out: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "core_server.packaging.bundle", str(out)],
        env={**os.environ, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )


@pytest.fixture(scope="module")
def bundled() -> Path:
    """One bundle for the module, in the repo's ignored build/ folder."""
    out = REPO / "build" / "test-bundle"
    shutil.rmtree(out, ignore_errors=True)
    bundle(out)
    return out


def test_bundle_is_pure_python_and_pinned(bundled: Path) -> None:
    package = bundled / "cocreate_client"
    vendor = package / "_vendor"
    assert (package / "client.py").exists() and (package / "pb" / "cocreate_grpc.py").exists()
    assert not list(package.rglob("__pycache__"))
    compiled = [p for p in vendor.rglob("*") if p.suffix in {".so", ".pyd", ".dylib", ".dll"}]
    assert compiled == []
    found = dict(p.name.removesuffix(".dist-info").split("-") for p in vendor.glob("*.dist-info"))
    assert found == {
        "grpclib": "0.4.9",
        "protobuf": "7.36.2",
        "h2": "4.4.1",
        "hpack": "4.2.0",
        "hyperframe": "6.1.0",
        "multidict": "7.1.0",
        "typing_extensions": "4.16.0",
    }
    for dist in vendor.glob("*.dist-info"):
        assert "Tag: py3-none-any" in (dist / "WHEEL").read_text(), dist.name


def test_bundle_works_offline_from_the_cache(bundled: Path, tmp_path: Path) -> None:
    # An index that cannot answer: any download attempt fails, so success means the cache served.
    result = bundle(tmp_path / "out", PIP_INDEX_URL="http://127.0.0.1:9/simple", PIP_NO_INDEX="1")
    assert "downloading" not in result.stdout
    assert (tmp_path / "out" / "cocreate_client" / "_vendor" / "grpclib").is_dir()


def test_bundle_replaces_only_its_folder(bundled: Path, tmp_path: Path) -> None:
    (tmp_path / "plugin.py").write_text("# the plugin's own file\n")
    stale = tmp_path / "cocreate_client" / "stale.py"
    stale.parent.mkdir()
    stale.write_text("")
    bundle(tmp_path)
    assert (tmp_path / "plugin.py").exists() and not stale.exists()


@pytest.fixture(scope="module")
def tcp_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with running_daemon(tmp_path_factory.mktemp("home"), listen="127.0.0.1:0", token=TOKEN) as d:
        yield d


def _interpreter(version: str) -> str:
    """pythonX.Y on PATH, else one that pyenv installed (its shims only run the selected version)."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    installed = sorted(pyenv.glob(f"versions/{version}.*/bin/python{version}"))
    candidates = [shutil.which(f"python{version}"), *map(str, installed)]
    probe = "import sys; print('%d.%d' % sys.version_info[:2])"
    for python in filter(None, candidates):
        if subprocess.run([python, "-c", probe], capture_output=True, text=True).stdout.strip() == version:
            return python
    pytest.skip(f"no python{version} here")


@pytest.mark.parametrize("version", ["3.10", "3.11", "3.12", "3.13"])
def test_bundle_in_each_python(bundled: Path, tcp_daemon: Daemon, tmp_path: Path, version: str) -> None:
    """The bundle alone (no site-packages: -S) runs the whole check in a plain interpreter of each version."""
    python = _interpreter(version)
    folder = tmp_path / "bundle"
    shutil.copytree(bundled, folder)
    shutil.copy(CHECK, folder / "client_check.py")
    run = subprocess.run(
        [python, "-S", str(folder / "client_check.py"), tcp_daemon.endpoint, TOKEN],
        capture_output=True,
        text=True,
        timeout=600,
    )
    verdict_file = folder / "verdict.json"
    assert verdict_file.exists(), f"no verdict (exit {run.returncode}):\n{run.stdout}\n{run.stderr}"
    verdict = json.loads(verdict_file.read_text())
    assert verdict["python"].startswith(version)
    assert problems(verdict) == []


def test_the_bundle_and_a_hosts_own_protobuf_and_h2_live_side_by_side(bundled: Path) -> None:
    """This virtualenv has a compiled protobuf (upb) and h2 of its own, like a host's Python may:
    each side keeps its copy, and nothing of the bundle is importable at top level."""
    script = """
import json, sys
import google.protobuf, h2
from google.protobuf.internal import api_implementation as host
sys.path.insert(0, sys.argv[1])
from cocreate_client import CocreateClient, tasks
from cocreate_client.pb import cocreate_pb2
from cocreate_client._vendor.google.protobuf.internal import api_implementation as ours
request = tasks.continue_text("x", session_id="s")
print(json.dumps({
    "host": host.Type(), "ours": ours.Type(),
    "host_h2": sys.modules["h2"].__file__, "top_level_grpclib": "grpclib" in sys.modules,
    "message_base": type(request).__mro__[1].__module__,
    "round_trip": cocreate_pb2.GenerateRequest.FromString(request.SerializeToString()) == request,
}))
"""
    run = subprocess.run(
        [sys.executable, "-W", "error", "-c", script, str(bundled)], capture_output=True, text=True, check=True
    )
    seen = json.loads(run.stdout)
    assert (seen["host"], seen["ours"]) == ("upb", "python")
    assert "/cocreate_client/" not in seen["host_h2"] and not seen["top_level_grpclib"]
    assert seen["message_base"] == "cocreate_client._vendor.google.protobuf.message" and seen["round_trip"]


def test_every_form_of_import_of_a_vendored_package_becomes_relative() -> None:
    source = (
        "import os, h2.connection\n"
        "import hpack.table as table  # why\n"
        "from google.protobuf import (\n    message,\n    descriptor,\n)\n"
        "def f():\n    import h2\n    from . import sibling\n"
        "ok = _CanImport('google._upb._message')\n"
    )
    rewritten = privatize.rewrite(source, {"h2", "hpack", "google"}, ".._vendor")
    assert rewritten.splitlines() == [
        "import os; from .._vendor.h2 import connection as _vendored_connection; from .._vendor import h2",
        "from .._vendor.hpack import table as table  # why",
        "from .._vendor.google.protobuf import (",
        "    message,",
        "    descriptor,",
        ")",
        "def f():",
        "    from .._vendor import h2",
        "    from . import sibling",
        "ok = _CanImport((__name__[: __name__.rindex(\"_vendor.\") + 8] + 'google._upb._message'))",
    ]
