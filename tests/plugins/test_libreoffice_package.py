"""`cocreate plugins build|install libreoffice`: what the .oxt holds, and how unopkg is called."""

from __future__ import annotations

import ast
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest

from core_server import __version__
from core_server.packaging import PackagingError, libreoffice

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "plugins" / "libreoffice" / "pythonpath" / "cocreate_writer"
MANIFEST = "{http://openoffice.org/2001/manifest}"
REGISTRY = "{http://openoffice.org/2001/registry}"
# The modules that run without LibreOffice (and are unit-tested with fakes).
PLAIN = ("commands.py", "state.py", "controller.py", "shape.py")

sys.path.insert(0, str(PLUGIN.parent))

from cocreate_writer.commands import parse  # noqa: E402


@pytest.fixture(scope="module")
def oxt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("oxt")
    run = subprocess.run(
        [sys.executable, "-m", "core_server", "plugins", "build", "libreoffice", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    (built,) = out.glob("*.oxt")
    assert str(built) in run.stdout
    return built


def test_the_oxt_holds_the_extension_the_plugin_and_the_client(oxt: Path) -> None:
    with zipfile.ZipFile(oxt) as archive:
        names = set(archive.namelist())
        manifest = ElementTree.fromstring(archive.read("META-INF/manifest.xml"))
        listed = {entry.get(f"{MANIFEST}full-path") for entry in manifest}
        assert listed <= names, listed - names
        assert {"cocreate.components", "Addons.xcu", "Accelerators.xcu", "ProtocolHandler.xcu"} <= listed
        components = archive.read("cocreate.components").decode()
        assert 'uri="component.py"' in components and "org.cocreate.writer.ProtocolHandler" in components
        assert f'<version value="{__version__}"/>' in archive.read("description.xml").decode()
        for name in names:
            if name.endswith((".xml", ".xcu", ".components")):
                ElementTree.fromstring(archive.read(name))  # well formed
    assert "component.py" in names
    assert {f"pythonpath/cocreate_writer/{module.name}" for module in PLUGIN.glob("*.py")} <= names
    assert "pythonpath/cocreate_client/facade.py" in names
    assert any(name.startswith("pythonpath/cocreate_client/_vendor/grpclib/") for name in names)
    assert not any(name.endswith((".pyc", ".so")) or "__pycache__" in name for name in names)


def test_every_menu_toolbar_and_shortcut_url_is_a_command(oxt: Path) -> None:
    with zipfile.ZipFile(oxt) as archive:
        addons = ElementTree.fromstring(archive.read("Addons.xcu"))
        keys = ElementTree.fromstring(archive.read("Accelerators.xcu"))
    urls = [
        prop.findtext("value")
        for prop in addons.iter("prop")
        if prop.get(f"{REGISTRY}name") == "URL" and prop.findtext("value") != "private:separator"
    ]
    commands = [prop.findtext("value") for prop in keys.iter("prop") if prop.get(f"{REGISTRY}name") == "Command"]
    assert len(urls) == 11 and len(commands) == 6
    assert all(parse(url) is not None for url in urls + commands), urls + commands


def test_the_build_is_reproducible(oxt: Path, tmp_path: Path) -> None:
    assert libreoffice.build(tmp_path).read_bytes() == oxt.read_bytes()


def test_plain_modules_import_no_uno_and_no_module_imports_the_daemon() -> None:
    for path in PLUGIN.glob("*.py"):
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])
        assert "core_server" not in imported, path.name
        if path.name in PLAIN:
            assert not imported & {"uno", "unohelper", "com"}, path.name


def fake_unopkg(folder: Path, exit_code: int = 0) -> Path:
    """An `unopkg` that records its arguments."""
    log = folder / "calls"
    script = folder / "unopkg"
    script.write_text(f'#!/bin/sh\necho "$@" >> {log}\necho "unopkg says no" >&2\nexit {exit_code}\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return log


def test_install_hands_the_oxt_to_unopkg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = fake_unopkg(tmp_path)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    place = libreoffice.install()
    (call,) = log.read_text().splitlines()
    arguments = call.split()
    shared = ["--shared"] if os.geteuid() == 0 else []
    assert arguments[:-1] == ["add", "--force", *shared]
    assert arguments[-1].endswith(f"cocreate-writer-{__version__}.oxt") and zipfile.is_zipfile(arguments[-1])
    assert place.name == "uno_packages"


def test_install_says_why_it_could_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_unopkg(tmp_path, exit_code=1)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(PackagingError, match="unopkg says no"):
        libreoffice.install()
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    with pytest.raises(PackagingError, match="unopkg was not found"):
        libreoffice.install()
