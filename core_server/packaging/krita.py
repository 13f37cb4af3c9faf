"""The Krita plugin: a pykrita package and its .desktop file, with the cocreate client inside.

    cocreate plugins build krita     a zip for Krita's Tools > Scripts > Import Python Plugin from File
    cocreate plugins install krita   into Krita's pykrita folder, enabled in kritarc

Both lay out the same files: pykrita/cocreate_krita.desktop and pykrita/cocreate_krita/, whose
vendor/ holds cocreate_client and its pure-Python dependencies (never a compiled module).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

from .. import __version__
from . import PLUGINS
from .bundle import ROOT, bundle

PACKAGE = "cocreate_krita"
SOURCE = PLUGINS / "krita"
WHEELS = ROOT / "build" / "wheels"


def assemble(pykrita: Path, wheels: Path = WHEELS) -> Path:
    """Write the plugin into a pykrita folder, replacing an older copy; returns the package folder."""
    pykrita.mkdir(parents=True, exist_ok=True)
    target = pykrita / PACKAGE
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(SOURCE / PACKAGE, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "vendor"))
    shutil.copy(SOURCE / f"{PACKAGE}.desktop", pykrita / f"{PACKAGE}.desktop")
    bundle(target / "vendor", wheels)
    return target


def build(out: Path) -> Path:
    """The zip Krita's importer takes: the .desktop file and the package folder at its top."""
    out.mkdir(parents=True, exist_ok=True)
    archive = out / f"cocreate-krita-{__version__}.zip"
    with tempfile.TemporaryDirectory() as staging:
        assemble(Path(staging))
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
            # Directory entries too: Krita's importer finds the package by its "cocreate_krita/" entry.
            for path in sorted(Path(staging).rglob("*")):
                zipped.write(path, path.relative_to(staging).as_posix())
    return archive


def install() -> Path:
    """Into the user's pykrita folder, enabled in kritarc; Krita loads it at its next start."""
    target = assemble(resource_folder() / "pykrita")
    enable(config_file())
    return target


def resource_folder() -> Path:
    """Where Krita looks for user resources (pykrita/ among them) on this system."""
    home = Path.home()
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", home / "AppData" / "Roaming")) / "krita"
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "krita"
    return Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share") / "krita"


def config_file() -> Path:
    """kritarc, where Krita remembers which Python plugins are enabled."""
    home = Path.home()
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", home / "AppData" / "Local")) / "kritarc"
    if sys.platform == "darwin":
        return home / "Library" / "Preferences" / "kritarc"
    return Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / "kritarc"


def enable(kritarc: Path) -> None:
    """Set enable_cocreate_krita=true in kritarc's [python] group, leaving every other line as it was."""
    entry = f"enable_{PACKAGE}=true"
    lines = kritarc.read_text(encoding="utf-8").splitlines() if kritarc.exists() else []
    if "[python]" not in lines:
        lines += ([""] if lines else []) + ["[python]", entry]
    else:
        start = lines.index("[python]") + 1
        end = next((i for i in range(start, len(lines)) if lines[i].startswith("[")), len(lines))
        keys = [i for i in range(start, end) if lines[i].split("=", 1)[0].strip() == f"enable_{PACKAGE}"]
        if keys:
            lines[keys[0]] = entry
        else:
            lines.insert(start, entry)
    kritarc.parent.mkdir(parents=True, exist_ok=True)
    kritarc.write_text("\n".join(lines) + "\n", encoding="utf-8")
