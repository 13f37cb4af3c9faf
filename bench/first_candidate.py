"""Time to the first candidate after `cocreate serve --preload`, beside the model file's read time and the preload.

    python bench/first_candidate.py                          # the tiny profile's image model
    python bench/first_candidate.py --real-arch --model-home /work/bench-home --dtype float32
                                                             # SD1.5-inpainting, single-file, 256², 8 steps

One daemon starts with --preload and the model as its default image model. Printed side by side: the
model files' plain read time (warm page cache), the preload's load time (ModelStatus), and for --jobs
identical inpaints after it each one's seconds to its first candidate and to Done, with the daemon's own
stages. The first job minus the later ones is what the first job after a preload still pays for first-call
costs (lazily built parts, kernel choice; the preload does not warm the model up: that saved about 0.5 s of a
first job at the price of a whole small inpaint before the model counted as loaded).
The encode caches are off, so every job does the same work.

--real-arch reuses the real-size checkpoint bench/overhead.py builds under --model-home (registered in
place in this bench's own home; nothing is copied) and builds it there when it is missing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support, when run as a script
sys.path.insert(0, str(Path(__file__).resolve().parent))  # overhead

import grpc

from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc


def read_seconds(paths: list[Path]) -> float:
    start = time.perf_counter()
    for path in paths:
        with path.open("rb") as stream:
            while stream.read(64 << 20):
                pass
    return time.perf_counter() - start


def model_files(home: Path, real_arch: bool, model_home: Path | None) -> tuple[str, list[Path]]:
    """Register the model in this bench's home and make it the default image model; its name and files."""
    from core_server import config
    from core_server.models.catalog import ModelCatalog

    catalog = ModelCatalog(config.models_dir())
    if not real_arch:
        entry = catalog.resolve("tiny-image", "image")
        return entry.name, sorted(entry.path.rglob("*.safetensors"))
    from overhead import REAL_MODEL, real_checkpoint

    os.environ["COCREATE_HOME"] = str(model_home)  # where overhead.py keeps the 2.1 GB file
    checkpoint, folder = real_checkpoint()
    os.environ["COCREATE_HOME"] = str(home)
    if REAL_MODEL not in {e.name for e in catalog.list()}:
        catalog.add(REAL_MODEL, checkpoint, config=folder)
    catalog.set_default("image", REAL_MODEL)
    return REAL_MODEL, [checkpoint]


def until_loaded(stub: pb_grpc.CocreateStub, model: str, timeout: float) -> pb.ModelInfo:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        loaded = {m.name: m for m in stub.ModelStatus(pb.ModelStatusRequest()).loaded}
        if model in loaded:
            return loaded[model]
        time.sleep(0.2)
    raise TimeoutError(f"{model} was not preloaded within {timeout:.0f} s")


def one_job(stub: pb_grpc.CocreateStub, session: str, side: int, steps: int) -> tuple[float, float, dict[str, float]]:
    """Seconds to the first candidate and to Done, and Done's stages."""
    from overhead import GUIDANCE, SEED, picture

    rgba, alpha = picture(side)
    task = pb.InpaintTask(
        image=pb.Image(width=side, height=side, rgba=rgba),
        mask=pb.Mask(width=side, height=side, alpha=alpha),
        prompt="a bench",
        steps=steps,
        guidance=GUIDANCE,
    )
    request = pb.GenerateRequest(session_id=session, candidates=1, seed=SEED, previews=True, inpaint=task)
    start = time.perf_counter()
    first = 0.0
    for event in stub.Generate(request, timeout=3600):
        if event.HasField("candidate") and not first:
            first = time.perf_counter() - start
        if event.HasField("done"):
            return first, time.perf_counter() - start, {s.name: s.seconds for s in event.done.stages}
    raise RuntimeError("the stream ended without Done")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real-arch", action="store_true", help="the real-size SD1.5-inpainting checkpoint")
    parser.add_argument("--model-home", type=Path, help="--real-arch: the COCREATE_HOME holding (or to hold) it")
    parser.add_argument("--dtype", default="", help="COCREATE_DTYPE for the daemon (default: its own choice)")
    parser.add_argument("--jobs", type=int, default=3)
    parser.add_argument("--size", type=int, help="picture side (default 64, --real-arch 256)")
    parser.add_argument("--steps", type=int, help="default 4, --real-arch 8")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="cocreate-first-"))
    os.environ["COCREATE_HOME"] = str(home)
    model, files = model_files(home, args.real_arch, args.model_home or home)
    side = args.size or (256 if args.real_arch else 64)
    steps = args.steps or (8 if args.real_arch else 4)
    read = min(read_seconds(files) for _ in range(2))
    size_gib = sum(path.stat().st_size for path in files) / 2**30

    from core_server.launcher import launch

    env = {**os.environ, "COCREATE_ENCODE_CACHE_MB": "0"} | ({"COCREATE_DTYPE": args.dtype} if args.dtype else {})
    launched = time.perf_counter()
    daemon = launch(["--socket", str(home / "bench.sock"), "--preload"], env, 600)
    try:
        with grpc.insecure_channel(daemon.endpoint) as channel:
            stub = pb_grpc.CocreateStub(channel)
            info = until_loaded(stub, model, 1800)
            ready = time.perf_counter() - launched
            session = stub.CreateSession(pb.CreateSessionRequest(host="bench", document_id="first")).id
            jobs = [one_job(stub, session, side, steps) for _ in range(args.jobs)]
    finally:
        daemon.stop()
    for line in daemon.output:
        if " loaded " in line or "warm" in line:
            print("  daemon:", line.strip()[-150:])

    print(f"{model} ({size_gib:.2f} GiB, {info.dtype}): {side}², {steps} steps, 1 candidate, previews on")
    print(f"  file read (warm page cache)        {read:8.2f} s")
    print(f"  preload (ModelStatus load time)    {info.load_seconds:8.2f} s   ({ready:.2f} s from launch to loaded)")
    later = [first for first, _, _ in jobs[1:]]
    for number, (first, done, _) in enumerate(jobs, 1):
        print(f"  job {number}: first candidate {first:8.2f} s, Done {done:8.2f} s")
    if later:
        warm, first = statistics.median(later), jobs[0][0]
        print(f"  first job ÷ later jobs (to the first candidate): {first / warm:.3f} ({first - warm:+.2f} s)")
        print("  stages, first job vs median of the later ones (s):")
        for name, seconds in jobs[0][2].items():
            rest = statistics.median(stages.get(name, 0.0) for _, _, stages in jobs[1:])
            print(f"    {name:18} {seconds:8.3f} {rest:8.3f}")


if __name__ == "__main__":
    main()
