"""Loading a single-file checkpoint: seconds and peak resident memory, before vs after, side by side.

    python bench/load_model.py [--home DIR] [--before REV] [--rounds 2] [--dtypes float32 bfloat16]

The real-size SD1.5-inpainting architecture with random weights (bench/overhead.build_real_arch) is
written once under --home as one float16 .safetensors in the original tensor names (2.1 GB,
tests/support/single_file.py). Each round loads it in a fresh process with the image engine's load_pipeline of
this tree ("after") and of commit --before ("before", exported with git archive), alternating, so the
shared machine's load falls on both alike. A load's peak is the process's VmHWM; its share above the
process's resident memory before the load is printed too. The file's plain read time (warm page cache)
is the floor a load can reach.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BEFORE = "66f9eb0"  # main before issue 21: from_single_file in the widest dtype, then a cast

# Run in a fresh interpreter against one tree's core_server: load, then report as JSON.
CHILD = """
import inspect, json, sys, time
from pathlib import Path
import torch
from core_server.engines import precision
from core_server.engines.devices import memory_bytes
from core_server.engines.image import load_pipeline

def status(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024

checkpoint, config, dtype = sys.argv[1:4]
arguments = [Path(checkpoint), Path(config), precision.Layout.for_dtype(getattr(torch, dtype))]
if "family" in inspect.signature(load_pipeline).parameters:  # since the family table
    from core_server.engines.families import family_named
    arguments.insert(1, family_named("sd15"))
before = status("VmRSS")
Path("/proc/self/clear_refs").write_text("5")  # the peak from here on: the load's
start = time.perf_counter()
pipe = load_pipeline(*arguments)
seconds = time.perf_counter() - start
model = memory_bytes(pipe.unet, pipe.vae, pipe.text_encoder)
print(json.dumps({"seconds": seconds, "peak": status("VmHWM"), "before": before, "model": model}))
"""


def export(revision: str, into: Path) -> Path:
    """The core_server of `revision`, as files under `into`."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", revision, "core_server"],
        check=True,
        capture_output=True,
    ).stdout
    tar = into / "tree.tar"
    tar.write_bytes(archive)
    with tarfile.open(tar) as bundle:
        bundle.extractall(into, filter="data")
    return into


def load_once(tree: Path, checkpoint: Path, config: Path, dtype: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{REPO / 'plugins' / 'common'}"}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(checkpoint), str(config), dtype],
        env=env,
        cwd=tree,  # python -c puts the working folder first on the path: this tree's core_server, not ours
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"loading with {tree} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def read_seconds(path: Path) -> float:
    start = time.perf_counter()
    with path.open("rb") as stream:
        while stream.read(64 << 20):
            pass
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="where the model is built and kept (default: a temporary folder)")
    parser.add_argument("--before", default=BEFORE, help=f"the commit to compare with (default {BEFORE})")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"])
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="cocreate-load-model-"))
    os.environ["COCREATE_HOME"] = str(home)
    sys.path.insert(0, str(REPO))

    from overhead import real_checkpoint

    checkpoint, config = real_checkpoint()
    trees = {"before": export(args.before, Path(tempfile.mkdtemp(prefix="cocreate-before-"))), "after": REPO}
    print(f"{checkpoint.name}: {checkpoint.stat().st_size / 2**30:.2f} GiB; before = {args.before}, after = this tree")
    print(f"plain read of the file (warm page cache): {min(read_seconds(checkpoint) for _ in range(2)):.1f} s")
    columns = ("load s", "peak GiB", "above start GiB", "model GiB", "peak/model")
    print(f"{'dtype':>9} {'':>6} " + " ".join(f"{column:>{len(column) + 1}}" for column in columns))
    for dtype in args.dtypes:
        runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
        for round_ in range(args.rounds):
            order = ("before", "after") if round_ % 2 == 0 else ("after", "before")
            for name in order:
                runs[name].append(load_once(trees[name], checkpoint, config, dtype))
        medians = {
            name: {key: statistics.median(run[key] for run in found) for key in found[0]}
            for name, found in runs.items()
        }
        for name, m in medians.items():
            gib = 2**30
            values = (m["seconds"], m["peak"] / gib, (m["peak"] - m["before"]) / gib, m["model"] / gib)
            cells = [f"{value:>{len(column) + 1}.2f}" for column, value in zip(columns, values, strict=False)]
            print(f"{dtype:>9} {name:>6} " + " ".join(cells) + f" {m['peak'] / m['model']:>11.2f}")
        b, a = medians["before"], medians["after"]
        print(
            f"{dtype:>9} after/before: load time {a['seconds'] / b['seconds']:.2f}, peak {a['peak'] / b['peak']:.2f} "
            f"(medians of {args.rounds})",
            flush=True,
        )


if __name__ == "__main__":
    main()
