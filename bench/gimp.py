"""Expand in real GIMP: a 1024×768 image grown 256 px on the right, split into GIMP side, transfer and daemon.

    python bench/gimp.py [--repeat 5] [--candidates 1] [--steps 0]      (needs root and the host root)

The plug-in is installed into a fresh GIMP profile and its modules run inside gimp-console 3.0.4 (the
Debian 13 host root) in the order its procedure runs them, against a daemon on the tiny profile over
TCP loopback. GIMP side = reading the visible picture and planning the request, then growing the canvas
and writing the candidate layers; daemon = the job's time as the daemon reports it (queue and
denoising); transfer = the rest of the job's wall time (encoding, gRPC both ways, decoding). The first
run loads the model and is left out; medians over the others. Last, the same Expand through the PDB
procedure, as a script calls it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "build" / "bench-gimp"  # bound at /project inside the root
IN_ROOT = REPO / "tests" / "hosts" / "in-root"
HOST_ROOT = Path(os.environ.get("COCREATE_HOST_ROOT", "/var/cache/cocreate/hostroot"))
TOKEN = "gimp-bench-token"
PHASES = (
    ("GIMP side: read + plan", "gimp_read_and_plan"),
    ("transfer", "transfer"),
    ("daemon", "daemon"),
    ("GIMP side: grow + layers", "gimp_apply"),
    ("total", "total"),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs after the warm-up (default 5)")
    parser.add_argument("--candidates", type=int, default=1, help="candidates per run (default 1)")
    parser.add_argument("--steps", type=int, default=0, help="denoising steps; 0: the model's default")
    args = parser.parse_args()
    if not (HOST_ROOT / ".complete").exists() or os.geteuid() != 0:
        print(f"needs root and the host root at {HOST_ROOT} (tests/hosts/make-root)", file=sys.stderr)
        return 1

    sys.path.insert(0, str(REPO))
    from core_server.launcher import launch
    from core_server.packaging import gimp

    shutil.rmtree(WORK, ignore_errors=True)
    gimp.assemble(WORK / "profile" / "plug-ins" / gimp.NAME)
    shutil.copy(REPO / "tests" / "hosts" / "gimp" / "bench_expand.py", WORK / "bench_expand.py")

    home = Path(tempfile.mkdtemp(prefix="cocreate-bench-gimp-"))
    (home / "token").write_text(TOKEN)
    (home / "token").chmod(0o600)
    settings = {
        "width": 1024,
        "height": 768,
        "right": 256,
        "candidates": args.candidates,
        "steps": args.steps,
        "repeat": args.repeat,
    }
    daemon = launch(
        ["--listen", "127.0.0.1:0", "--token-file", str(home / "token")], dict(os.environ, COCREATE_HOME=str(home))
    )
    try:
        command = (
            f"GIMP3_DIRECTORY=/project/profile COCREATE_ENDPOINT={daemon.endpoint} COCREATE_TOKEN={TOKEN} "
            f"COCREATE_BENCH='{json.dumps(settings)}' "
            "gimp-console-3.0 -i --batch-interpreter python-fu-eval -b - --quit < bench_expand.py"
        )
        run = subprocess.run([str(IN_ROOT), "-d", str(WORK), "--", "sh", "-c", command], capture_output=True, text=True)
    finally:
        daemon.stop()
        shutil.rmtree(home, ignore_errors=True)
    result = WORK / "bench.json"
    if not result.exists():
        print(f"no result (exit {run.returncode}):\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}", file=sys.stderr)
        return 1
    timings = json.loads(result.read_text())
    runs = timings["runs"]
    steps = args.steps or "the model's default"
    print(
        f"GIMP 3.0.4, Expand 1024×768 by 256 px on the right, tiny profile, {args.candidates} candidate(s), "
        f"{steps} steps; median of {len(runs)} runs"
    )
    for label, key in PHASES:
        print(f"  {label:<26} {statistics.median(r[key] for r in runs) * 1e3:8.1f} ms")
    procedure = statistics.median(timings["procedure_calls"]) * 1e3
    print(f"  {'the PDB procedure, whole':<26} {procedure:8.1f} ms   (plug-in process start and session included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
