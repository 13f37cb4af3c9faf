"""The Blender extension: `cocreate plugins build|install blender`.

build() stages plugins/blender with the bundled client (bundle.py) beside it, then lets Blender zip
and check it (`blender --command extension build`, `... validate`). Without a Blender on this
machine it writes the same zip itself: the staged files at the zip's root, as Blender lays it out
(tests/hosts/test_blender_host.py validates and installs that zip in a real Blender). install()
needs a Blender: it builds into the checkout's build/plugins/blender and runs
`blender --command extension install-file -r user_default --enable ZIP`.

The Blender used is $COCREATE_BLENDER, else `blender` on PATH.
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

SOURCE = PLUGINS / "blender"
MANIFEST = "blender_manifest.toml"
REPOSITORY = "user_default"  # the local repository every Blender 4.2+ has
TIMEOUT = 300


def extension_id() -> str:
    return _manifest_field("id")


def zip_name() -> str:
    """What Blender names the built extension: {id}-{version}.zip."""
    return f"{extension_id()}-{_manifest_field('version')}.zip"


def _manifest_field(name: str) -> str:
    match = re.search(rf'^{name} = "([^"]+)"', (SOURCE / MANIFEST).read_text(), re.M)
    if match is None:
        raise PackagingError(f"{SOURCE / MANIFEST} has no {name}")
    return match.group(1)


def find_blender() -> str | None:
    return os.environ.get("COCREATE_BLENDER") or shutil.which("blender")


def stage(folder: Path, wheels: Path = ROOT / "build" / "wheels") -> Path:
    """The extension's files, ready to zip, in folder/<id>: plugins/blender plus cocreate_client."""
    target = folder / extension_id()
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(SOURCE, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*"))
    bundle(target, wheels)
    return target


def build(out: Path) -> Path:
    """The installable zip, in `out`; built and validated by Blender when one is installed."""
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    artefact = out / zip_name()
    blender = find_blender()
    with tempfile.TemporaryDirectory(prefix=".stage-", dir=out) as scratch:  # inside `out`: Blender may be sandboxed
        staged = stage(Path(scratch))
        if blender is None:
            _zip(staged, artefact)
        else:
            _blender(blender, "build", "--source-dir", str(staged), "--output-dir", str(out))
    if blender is not None:
        _blender(blender, "validate", str(artefact))
    return artefact


def install() -> Path:
    """Build, install and enable the extension in the user's Blender; returns the folder it went to."""
    blender = find_blender()
    if blender is None:
        raise PackagingError("Blender was not found: put `blender` on PATH or set COCREATE_BLENDER to it")
    artefact = build(ROOT / "build" / "plugins" / "blender")
    output = _blender(blender, "install-file", "-r", REPOSITORY, "--enable", str(artefact))
    if "ERROR" in output or "Installed" not in output:  # install-file exits 0 even when it fails
        raise PackagingError(f"Blender did not install {artefact}:\n{output}")
    return _repository_directory(blender) / extension_id()


def _repository_directory(blender: str) -> Path:
    listing = _blender(blender, "repo-list")
    match = re.search(rf'^{REPOSITORY}:\n(?:[ \t]+.*\n)*?[ \t]+directory: "([^"]+)"', listing, re.M)
    if match is None:
        raise PackagingError(f"Blender lists no {REPOSITORY} repository:\n{listing}")
    return Path(match.group(1))


def _blender(blender: str, *args: str) -> str:
    command = [blender, "--command", "extension", *args]
    try:
        run = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise PackagingError(f"{' '.join(command)} did not run: {error}") from None
    if run.returncode != 0:
        raise PackagingError(f"{' '.join(command)} failed ({run.returncode}):\n{run.stdout}{run.stderr}")
    return run.stdout + run.stderr


def _zip(staged: Path, artefact: Path) -> None:
    partial = artefact.with_name(f".{artefact.name}")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in staged.rglob("*") if p.is_file()):
            archive.write(path, path.relative_to(staged).as_posix())
    partial.replace(artefact)
