"""The GIMP 3 plug-in: plugins/gimp/cocreate with the bundled client, as the folder GIMP loads.

GIMP runs `plug-ins/cocreate/cocreate.py` (it must be executable); the plug-in's own package
cocreate_gimp and the client bundle cocreate_client sit beside it.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

from . import PLUGINS
from .bundle import ROOT, bundle

SOURCE = PLUGINS / "gimp" / "cocreate"
NAME = "cocreate"  # the folder and its entry script share GIMP's plug-in name
WHEELS = ROOT / "build" / "wheels"
ZIP_NAME = "cocreate-gimp.zip"


def plug_ins_dir() -> Path:
    """The user's GIMP 3.0 plug-ins folder: $GIMP3_DIRECTORY/plug-ins, else the platform's profile folder."""
    profile = os.environ.get("GIMP3_DIRECTORY")
    if profile:
        return Path(profile) / "plug-ins"
    if sys.platform == "win32":
        base = Path(os.environ["APPDATA"])
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "GIMP" / "3.0" / "plug-ins"


def assemble(target: Path) -> Path:
    """Write the plug-in folder at `target` (replacing it), its entry script executable."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(SOURCE, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    bundle(target, WHEELS)
    (target / f"{NAME}.py").chmod(0o755)
    return target


def build(out: Path) -> Path:
    """out/cocreate-gimp.zip: a `cocreate/` folder to unpack into GIMP's plug-ins folder."""
    out.mkdir(parents=True, exist_ok=True)
    archive = out / ZIP_NAME
    with tempfile.TemporaryDirectory() as scratch:
        folder = assemble(Path(scratch) / NAME)
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
            for path in sorted(folder.rglob("*")):
                # ZipFile.write keeps the file mode, so unzip restores the executable bit.
                zipped.write(path, Path(NAME) / path.relative_to(folder))
    return archive


def install() -> Path:
    return assemble(plug_ins_dir() / NAME)
