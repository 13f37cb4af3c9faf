"""`cocreate plugins install|build krita`: where the plugin lands, that Krita enables it, that it is pure Python."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from core_server.packaging import krita

REPO = Path(__file__).resolve().parents[2]
COMPILED = (".so", ".pyd", ".dylib", ".dll")


@pytest.fixture
def user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    data, config = tmp_path / "data", tmp_path / "config"
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    return data, config


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "core_server", *args], cwd=REPO, env=os.environ, capture_output=True, text=True
    )


def test_install_puts_a_pure_python_plugin_where_krita_looks_and_enables_it(user_dirs: tuple[Path, Path]) -> None:
    data, config = user_dirs
    config.mkdir()
    (config / "kritarc").write_text("[General]\nfoo=bar\n\n[python]\nenable_scripter=true\n")

    run = cli("plugins", "install", "krita")
    assert run.returncode == 0, run.stdout + run.stderr
    pykrita = data / "krita" / "pykrita"
    package = pykrita / "cocreate_krita"
    assert str(package) in "".join(run.stdout.split())  # rich wraps long paths
    assert (pykrita / "cocreate_krita.desktop").read_text().count("X-KDE-Library=cocreate_krita") == 1
    assert (package / "__init__.py").exists() and (package / "docker.py").exists()
    assert (package / "vendor" / "cocreate_client" / "client.py").exists()
    assert (package / "vendor" / "cocreate_client" / "_vendor" / "grpclib").is_dir()
    compiled = [p for p in package.rglob("*") if p.name.endswith(COMPILED) or ".cpython-" in p.name]
    assert compiled == [], f"compiled extension modules in the installed plugin: {compiled}"
    assert not list(package.rglob("__pycache__"))

    kritarc = (config / "kritarc").read_text()
    assert kritarc == "[General]\nfoo=bar\n\n[python]\nenable_cocreate_krita=true\nenable_scripter=true\n"

    assert cli("plugins", "install", "krita").returncode == 0  # again: replaced, not duplicated
    assert (config / "kritarc").read_text() == kritarc


def test_enable_creates_or_fixes_the_entry(tmp_path: Path) -> None:
    kritarc = tmp_path / "new" / "kritarc"
    krita.enable(kritarc)
    assert kritarc.read_text() == "[python]\nenable_cocreate_krita=true\n"
    kritarc.write_text("[python]\nenable_cocreate_krita=false\n[Other]\nenable_cocreate_krita=x\n")
    krita.enable(kritarc)
    assert kritarc.read_text() == "[python]\nenable_cocreate_krita=true\n[Other]\nenable_cocreate_krita=x\n"


def test_build_makes_the_zip_krita_imports(tmp_path: Path) -> None:
    run = cli("plugins", "build", "krita", "--out", str(tmp_path))
    assert run.returncode == 0, run.stdout + run.stderr
    [archive] = tmp_path.glob("cocreate-krita-*.zip")
    names = zipfile.ZipFile(archive).namelist()
    # Krita's importer reads X-KDE-Library from the .desktop file, then wants "<name>/" and "<name>/__init__.py".
    assert {"cocreate_krita.desktop", "cocreate_krita/", "cocreate_krita/__init__.py"} <= set(names)
    assert [n for n in names if n.endswith(".desktop")] == ["cocreate_krita.desktop"]
    assert "cocreate_krita/vendor/cocreate_client/__init__.py" in names
    assert not [n for n in names if n.endswith(COMPILED) or "__pycache__" in n]
