"""Gather cocreate_client and its pure-Python dependencies into a folder a plugin ships.

    python -m core_server.packaging.bundle OUT_DIR [--wheels DIR]

writes OUT_DIR/cocreate_client/ with the dependencies unpacked in OUT_DIR/cocreate_client/_vendor/,
their imports made relative (privatize.py) so they load as cocreate_client._vendor.* and never as a
host's own protobuf or h2; nothing goes on sys.path. Only OUT_DIR/cocreate_client
is replaced; anything else in OUT_DIR stays. The dependencies are pinned py3-none-any wheels, checked
against their sha256, downloaded once into the wheel cache (default build/wheels) with pip, so a
filled cache works offline. The compiled wheels a virtualenv may hold are never copied.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from .privatize import privatize

ROOT = Path(__file__).resolve().parents[2]  # a checkout: plugins/ sits beside core_server/
SOURCE = ROOT / "plugins" / "common" / "cocreate_client"
GENERATED = SOURCE / "pb" / "cocreate_pb2.py"

# name: (version, sha256 of its py3-none-any wheel). Bumping one: change both, from `pip download`.
PINS = {
    "grpclib": ("0.4.9", "7762ec1c8ed94dfad597475152dd35cbd11aecaaca2f243e29702435ca24cf0e"),
    "protobuf": ("7.36.2", "bdb3a345d48db958e6ce1f18e508beb0cc981d64f24088427549c866cd039f1e"),
    "h2": ("4.4.1", "0e25f1462b23c9cb82d9eb02e28bc706dac2a68cb457c6a0d74d63c8a2a5d0e6"),
    "hpack": ("4.2.0", "858ac0b02280fa582b5080d68db0899c62a80375e0e5413a74970c5e518b6986"),
    "hyperframe": ("6.1.0", "b03380493a519fce58ea5af42e4a42317bf9bd425596f7a0835ffce80f1a42e5"),
    # 7.2 needs Python 3.11; 7.1 runs on 3.10 with typing_extensions (imported there only).
    "multidict": ("7.1.0", "d9ef29cfd98e17085b4f91bba8fa1570bec6787d5c52ce653ed33a58785585d0"),
    "typing_extensions": ("4.16.0", "481caa481374e813c1b176ada14e97f1f67a4539ce9cfeb3f350d78d6370c2e8"),
}
OLDEST_PYTHON = (3, 10)  # the oldest host Python the bundle must run on
COMPILED = (".so", ".pyd", ".dylib", ".dll")


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def check_protobuf_pin() -> None:
    """The generated code refuses a protobuf runtime older than the protoc that made it."""
    match = re.search(r"# Protobuf Python Version: (\S+)", GENERATED.read_text())
    if match and _version(PINS["protobuf"][0]) < _version(match.group(1)):
        sys.exit(f"protobuf {PINS['protobuf'][0]} is older than the generated code's {match.group(1)}; raise the pin")


def wheel(name: str, cache: Path) -> Path:
    """The pinned wheel from the cache, downloading it first if it is not there."""
    version, sha256 = PINS[name]
    pattern = f"{name}-{version}-py3-none-any.whl"
    path = cache / pattern
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        print(f"downloading {name}=={version}")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--only-binary=:all:",
                "--no-deps",
                "--platform",
                "any",
                "--python-version",
                "3.13",
                "--dest",
                str(cache),
                f"{name}=={version}",
            ],
            check=True,
        )
        if not path.exists():
            sys.exit(f"pip gave no {pattern}: {name} {version} has no pure-Python wheel")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sha256:
        sys.exit(f"{path} has sha256 {digest}, not the pinned {sha256}; delete it, or update PINS if the pin moved")
    return path


def unpack(path: Path, vendor: Path) -> None:
    with zipfile.ZipFile(path) as archive:
        compiled = [n for n in archive.namelist() if n.endswith(COMPILED)]
        if compiled:
            sys.exit(f"{path.name} holds compiled code ({compiled[0]}); the bundle must be pure Python")
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        needs = re.search(r"^Requires-Python: *>= *([\d.]+)", archive.read(metadata).decode(), re.M)
        if needs and _version(needs.group(1)) > OLDEST_PYTHON:
            sys.exit(f"{path.name} needs Python {needs.group(1)}; hosts run {OLDEST_PYTHON[0]}.{OLDEST_PYTHON[1]}")
        archive.extractall(vendor)


def bundle(out: Path, cache: Path) -> Path:
    check_protobuf_pin()
    wheels = [wheel(name, cache) for name in PINS]
    target = out / "cocreate_client"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(SOURCE, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "_vendor"))
    for path in wheels:
        unpack(path, target / "_vendor")
    privatize(target)
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to write cocreate_client/ into")
    parser.add_argument("--wheels", type=Path, default=ROOT / "build" / "wheels", help="wheel cache")
    args = parser.parse_args()
    target = bundle(args.out, args.wheels)
    size = sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
    # Short lines (an 80-column terminal): the folder on its own, then the pins a few to a line.
    print(f"bundled the plugin client ({size // 1024} KiB) into\n  {target}")
    pins = [f"{n} {v}" for n, (v, _) in PINS.items()]
    for start in range(0, len(pins), 4):
        print("  " + ", ".join(pins[start : start + 4]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
