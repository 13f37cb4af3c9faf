"""Blender: time to the first preview and to the candidates for a seamless texture, as the artist sees them.

    python bench/blender.py                 # 512², tiling on both axes, N = 4, tiny profile, 3 runs + 1 cold
    python bench/blender.py --blender wheel --size 1024 --steps 20

Starts a daemon on the tiny profile, then runs the real extension inside Blender: the host root's
Blender 4.3.2 (needs the root and root rights, tests/hosts/in-root), else the bpy 5.0.1 wheel in
build/bpy-venv (tests/plugins/test_blender_wheel.py makes it). There, this same file (--inside)
clicks Generate texture and ticks the extension's pump every pump.INTERVAL, as Blender's timer
does, so the figures include that polling: from the click to the preview image in Blender, and to
the packed candidate images. The first run also loads the model and opens the session ("cold").
"the rest" is the candidates' time less the daemon's own (its Done.elapsed_ms): connecting, the
transfer, the timer's polling and making the packed images in Blender.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAGE = REPO / "build" / "bench-blender"
IN_ROOT = REPO / "tests" / "hosts" / "in-root"
HOST_ROOT = Path(os.environ.get("COCREATE_HOST_ROOT", "/var/cache/cocreate/hostroot"))
WHEEL_PYTHON = REPO / "build" / "bpy-venv" / "bin" / "python"
TOKEN = "bench-blender-token"
MARK = "BENCH "


def inside(args: argparse.Namespace) -> None:
    """In Blender: generate `runs + 1` times and print each run's two timings."""
    import bpy

    sys.path.insert(0, str(args.stage))
    import cocreate  # the staged extension

    cocreate.register()
    from cocreate import jobs, pump

    settings = bpy.context.scene.cocreate
    settings.prompt, settings.seamless = "weathered stone wall", "both"
    settings.width = settings.height = args.size
    settings.candidates, settings.steps = args.candidates, args.steps
    timings = []
    for _ in range(args.runs + 1):
        bpy.ops.cocreate.generate_texture()
        job = jobs.HISTORY.active
        while jobs.HISTORY.active is job:
            time.sleep(pump.INTERVAL)
            pump.tick()
        if job.phase is not jobs.Phase.done:
            raise SystemExit(f"the job ended {job.status()}")
        timings.append({key: getattr(job, key) for key in ("first_preview_s", "candidates_s", "daemon_s")})
        for name in job.images:
            bpy.data.images.remove(bpy.data.images[name])
    print(MARK + json.dumps({"blender": bpy.app.version_string, "runs": timings}), flush=True)
    os._exit(0)  # the client's threads must not keep Blender alive


def outside(args: argparse.Namespace) -> None:
    # Imported here: inside Blender there is no core_server.
    from core_server.launcher import launch
    from core_server.packaging.blender import stage

    runtime = args.blender or ("root" if (HOST_ROOT / ".complete").exists() and os.geteuid() == 0 else "wheel")
    if runtime == "wheel" and not WHEEL_PYTHON.exists():
        raise SystemExit(f"no host root and no {WHEEL_PYTHON}: run pytest tests/plugins/test_blender_wheel.py first")
    stage(STAGE)
    with tempfile.TemporaryDirectory() as home:
        token_file = Path(home) / "token"
        token_file.write_text(TOKEN)
        env = dict(os.environ, COCREATE_HOME=home, HF_HUB_OFFLINE="1")
        daemon = launch(["--listen", "127.0.0.1:0", "--token-file", str(token_file)], env)
        try:
            output = _run_in_blender(runtime, daemon.endpoint, args)
        finally:
            daemon.stop()
    line = next((line for line in output.splitlines() if line.startswith(MARK)), None)
    if line is None:
        raise SystemExit(f"Blender printed no timings:\n{output}")
    result = json.loads(line.removeprefix(MARK))
    for run in result["runs"]:  # what Blender, the client and the transfer add to the daemon's work
        run["rest_s"] = run["candidates_s"] - run["daemon_s"]
    cold, warm = result["runs"][0], result["runs"][1:]
    print(
        f"Blender {result['blender']} ({runtime}), tiny profile, {args.size}² seamless (both axes), "
        f"N = {args.candidates}, {args.steps or 'the default'} steps; seconds from the click"
    )
    rows = (
        ("first_preview_s", "first preview"),
        ("candidates_s", "candidates"),
        ("daemon_s", "  daemon's own"),
        ("rest_s", "  the rest"),
    )
    for key, label in rows:
        values = [run[key] for run in warm]
        print(
            f"  {label:<16} cold {cold[key]:6.2f}   warm median {statistics.median(values):6.2f} "
            f"(min {min(values):.2f}, max {max(values):.2f}, {len(values)} runs)"
        )


def _run_in_blender(runtime: str, endpoint: str, args: argparse.Namespace) -> str:
    options = [
        "--inside",
        "--stage",
        str(STAGE),
        "--runs",
        str(args.runs),
        "--size",
        str(args.size),
        "--candidates",
        str(args.candidates),
        "--steps",
        str(args.steps),
    ]
    if runtime == "wheel":
        command = [str(WHEEL_PYTHON), __file__, *options]
        env = dict(os.environ, COCREATE_ENDPOINT=endpoint, COCREATE_TOKEN=TOKEN)
    else:
        options = [option.replace(str(REPO), "/project") for option in options]
        command = [
            str(IN_ROOT),
            "-d",
            str(REPO),
            "--",
            "env",
            f"COCREATE_ENDPOINT={endpoint}",
            f"COCREATE_TOKEN={TOKEN}",
            "blender",
            "-b",
            "--factory-startup",
            "--python",
            "/project/bench/blender.py",
            "--",
            *options,
        ]
        env = None
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    return run.stdout + run.stderr


def main() -> None:
    argv = sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else sys.argv[1:]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blender", choices=["root", "wheel"], help="default: root when available, else wheel")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--candidates", type=int, default=4)
    parser.add_argument("--steps", type=int, default=0, help="0 = the model's default")
    parser.add_argument("--runs", type=int, default=3, help="warm runs, after one cold run")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--stage", type=Path, default=STAGE, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    (inside if args.inside else outside)(args)


if __name__ == "__main__":
    main()
