"""The Krita plugin's latency inside real Krita: Generate → first step preview, Generate → last candidate.

    python bench/krita.py [--runs 5] [--candidates 4] [--steps 0]      (needs root and the host root)

A 1024² RGBA/U8 document with a soft 256² selection, on the tiny profile. The plugin zip is unpacked
by Krita's own importer; this same file then runs in kritarunner (`measure`), driving the plugin's
document adapter and controller as the docker's timer does, and timing from the main thread's
view: from the Generate call to the first preview drawn on the canvas, and to the last candidate
in the strip. The first run includes loading the model; the medians are over the others.
"""

from __future__ import annotations

import importlib
import json
import statistics
import sys
import time
from pathlib import Path

SIDE = 1024
SELECTION = 256


def measure(args: list[str]) -> None:
    """Runs inside Krita (kritarunner -f measure ENDPOINT TOKEN RUNS CANDIDATES STEPS)."""
    importlib.import_module("cocreate_krita")  # first: the plugin puts its vendored client on sys.path
    from cocreate_client import CocreateClient
    from cocreate_krita.calls import Calls
    from cocreate_krita.controller import DocumentController, GenerationParams, Phase
    from cocreate_krita.document import KritaDocument
    from krita import Krita, Selection

    endpoint, token, runs, candidates, steps = args[0], args[1], int(args[2]), int(args[3]), int(args[4])
    doc = Krita.instance().createDocument(SIDE, SIDE, "bench", "RGBA", "U8", "", 72.0)
    doc.rootNode().childNodes()[0].setPixelData(
        bytes(v for y in range(SIDE) for x in range(SIDE) for v in (x % 256, y % 256, 96, 255)), 0, 0, SIDE, SIDE
    )
    half, mask = SELECTION / 2, bytearray(SELECTION * SELECTION)
    for y in range(SELECTION):
        for x in range(SELECTION):
            distance = ((x + 0.5 - half) ** 2 + (y + 0.5 - half) ** 2) ** 0.5
            mask[y * SELECTION + x] = max(0, min(255, round((half - distance) * 32)))
    selection = Selection()
    selection.setPixelData(bytes(mask), 384, 384, SELECTION, SELECTION)
    doc.setSelection(selection)

    results = []
    with CocreateClient(endpoint, token=token, timeout=600) as client:
        controller = DocumentController(KritaDocument(doc), client, Calls())
        for run in range(runs):
            shown_before = controller.previews_shown
            first_preview = last_candidate = None
            slowest_pump = 0.0
            started = time.perf_counter()
            controller.generate(GenerationParams(prompt="bench", candidates=candidates, seed=run, steps=steps))
            while controller.busy:
                before = time.perf_counter()
                controller.pump()
                now = time.perf_counter()
                slowest_pump = max(slowest_pump, now - before)
                if first_preview is None and controller.previews_shown > shown_before:
                    first_preview = now - started
                strip = controller.strip
                if last_candidate is None and strip is not None and len(strip.choices) == candidates:
                    last_candidate = now - started
                time.sleep(0.002)
            results.append(
                {
                    "ok": controller.phase is Phase.finished,
                    "message": controller.message,
                    "first_preview_s": first_preview,
                    "last_candidate_s": last_candidate,
                    "slowest_pump_s": slowest_pump,
                    "region": controller.strip.placement.box.as_tuple() if controller.strip else None,
                }
            )
            controller.discard()
            while controller.busy:
                controller.pump()
                time.sleep(0.002)
    Path("/project/bench.json").write_text(json.dumps({"krita": Krita.instance().version(), "runs": results}))


def main() -> int:
    import argparse
    import os
    import shutil
    import subprocess
    import tempfile

    repo = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(repo))
    from core_server.launcher import launch
    from core_server.packaging import krita

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--candidates", type=int, default=4)
    parser.add_argument("--steps", type=int, default=0, help="denoising steps (0: the model's default)")
    args = parser.parse_args()
    root = Path(os.environ.get("COCREATE_HOST_ROOT", "/var/cache/cocreate/hostroot"))
    if not (root / ".complete").exists() or os.geteuid() != 0:
        print(f"needs root and the host root at {root} (tests/hosts/make-root)", file=sys.stderr)
        return 2

    project = repo / "build" / "bench" / "krita"
    shutil.rmtree(project, ignore_errors=True)
    archive = krita.build(project)
    shutil.copy(__file__, project / "krita_bench.py")
    home = Path(tempfile.mkdtemp(prefix="cocreate-bench-krita-"))
    (home / "token").write_text("bench-token")
    daemon = launch(
        ["--listen", "127.0.0.1:0", "--token-file", str(home / "token")],
        dict(os.environ, COCREATE_HOME=str(home), HF_HUB_OFFLINE="1"),
    )
    script = (
        'mkdir -p "$HOME/resources"'
        f" && python3 /usr/share/krita/pykrita/plugin_importer/plugin_importer.py /project/{archive.name}"
        ' "$HOME/resources" > /dev/null'
        ' && PYTHONPATH="$HOME/resources/pykrita:/project" kritarunner -s krita_bench -f measure "$@"'
    )
    command = [str(repo / "tests" / "hosts" / "in-root"), "-d", str(project), "--", "sh", "-c", script, "sh"]
    command += [daemon.endpoint, "bench-token", str(args.runs), str(args.candidates), str(args.steps)]
    try:
        subprocess.run(command, capture_output=True, check=False, timeout=3600)
    finally:
        daemon.stop()
        shutil.rmtree(home, ignore_errors=True)
    report = project / "bench.json"
    if not report.exists():
        print("Krita wrote no results", file=sys.stderr)
        return 1
    results = json.loads(report.read_text())
    runs = results["runs"]
    print(
        f"Krita {results['krita']}, tiny profile, {SIDE}² RGBA/U8 document, {SELECTION}² soft selection "
        f"(region sent: {runs[0]['region']}), {args.candidates} candidates, "
        f"{args.steps or 'default'} steps"
    )
    print(f"{'run':>8} {'first preview':>14} {'last candidate':>15} {'slowest pump':>13}")
    for number, run in enumerate(runs, 1):
        if not run["ok"]:
            print(f"{number:>8} failed: {run['message']}")
            continue
        label = f"{number} cold" if number == 1 else str(number)
        print(
            f"{label:>8} {run['first_preview_s'] * 1e3:11.0f} ms {run['last_candidate_s'] * 1e3:12.0f} ms"
            f" {run['slowest_pump_s'] * 1e3:10.1f} ms"
        )
    warm = [r for r in runs[1:] if r["ok"]]
    if warm:
        print(
            f"{'median':>8} {statistics.median(r['first_preview_s'] for r in warm) * 1e3:11.0f} ms"
            f" {statistics.median(r['last_candidate_s'] for r in warm) * 1e3:12.0f} ms"
            f" {statistics.median(r['slowest_pump_s'] for r in warm) * 1e3:10.1f} ms   (warm runs)"
        )
    print("load average over 1/5/15 min: {:.1f} {:.1f} {:.1f} on {} CPUs".format(*os.getloadavg(), os.cpu_count()))
    return 0 if all(r["ok"] for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
