"""The LibreOffice Writer extension: `cocreate plugins build|install libreoffice`.

build(out) writes out/cocreate-writer-VERSION.oxt: plugins/libreoffice/extension/ at its root (manifest,
description, menu, toolbar, shortcuts, the UNO component), and in pythonpath/ the plugin package
cocreate_writer beside the client bundle cocreate_client. The zip is reproducible: same sources,
same bytes.

install() builds into build/libreoffice/ and hands the file to LibreOffice's `unopkg add --force`:
for this user, or for every user of the installation (--shared) when run as root. Close LibreOffice
first; it picks the extension up on its next start.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from . import PLUGINS, PackagingError
from .bundle import ROOT, bundle

SOURCE = PLUGINS / "libreoffice"
WHEELS = ROOT / "build" / "wheels"
_EPOCH = (1980, 1, 1, 0, 0, 0)  # zip timestamps, for reproducible files


def version() -> str:
    match = re.search(r'<version value="([^"]+)"', (SOURCE / "extension" / "description.xml").read_text())
    if match is None:
        raise PackagingError(f"{SOURCE / 'extension' / 'description.xml'} names no version")
    return match.group(1)


def build(out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    oxt = out / f"cocreate-writer-{version()}.oxt"
    with tempfile.TemporaryDirectory(prefix="cocreate-oxt-") as staging:
        pythonpath = Path(staging) / "pythonpath"
        bundle(pythonpath, WHEELS)
        shutil.copytree(
            SOURCE / "pythonpath" / "cocreate_writer",
            pythonpath / "cocreate_writer",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        files = {path.relative_to(SOURCE / "extension"): path for path in _files(SOURCE / "extension")}
        files.update({path.relative_to(staging): path for path in _files(pythonpath)})
        partial = oxt.with_name(oxt.name + ".part")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            for name in sorted(files, key=str):
                info = zipfile.ZipInfo(name.as_posix(), _EPOCH)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, files[name].read_bytes())
        partial.replace(oxt)
    return oxt


def install() -> Path:
    unopkg = shutil.which("unopkg")
    if unopkg is None:
        raise PackagingError(
            "unopkg was not found: install LibreOffice (unopkg is in its program/ folder) or put it on PATH"
        )
    oxt = build(ROOT / "build" / "libreoffice")
    shared = hasattr(os, "geteuid") and os.geteuid() == 0
    command = [unopkg, "add", "--force", *(["--shared"] if shared else []), str(oxt)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip()
        raise PackagingError(f"`{' '.join(command)}` failed ({result.returncode}): {output}; is LibreOffice running?")
    if shared:  # the installation's share/uno_packages, beside its program/ folder
        return Path(unopkg).resolve().parent.parent / "share" / "uno_packages"
    return Path.home() / ".config" / "libreoffice" / "4" / "user" / "uno_packages"


def _files(folder: Path) -> list[Path]:
    return [
        path
        for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    ]
