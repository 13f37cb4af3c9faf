"""What `cocreate serve --compile` costs once and saves after, on the tiny profile (or --model).

    python bench/compile.py [--model NAME] [--side 64] [--steps 8] [--repeat 3]

Two daemons, one with COCREATE_COMPILE=1, each serve the same inpaint: the first request pays the
model load (and the compile), the later ones show the steady time. Prints both, side by side.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from overhead import picture


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny-image")
    parser.add_argument("--side", type=int, default=64)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--home", type=Path, help="COCREATE_HOME holding the model (default: a temporary one)")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="cocreate-compile-"))

    from cocreate_client import CocreateClient, Image, Mask
    from cocreate_client import tasks as requests

    from core_server.launcher import launch

    rgba, alpha = picture(args.side)
    print(f"{args.model}, {args.side}², {args.steps} steps, N=1")
    print(f"{'':>10} {'first request s':>16} {'later (median) s':>17}")
    for name, extra in (("eager", {}), ("compiled", {"COCREATE_COMPILE": "1"})):
        env = {**os.environ, "COCREATE_HOME": str(home), **extra}
        daemon = launch(["--socket", str(home / f"{name}.sock")], env, 600)
        try:
            with CocreateClient(daemon.endpoint, timeout=3600) as client:
                session = client.create_session("bench", name).id
                times = []
                for _ in range(1 + args.repeat):
                    request = requests.inpaint(
                        Image(args.side, args.side, rgba),
                        mask=Mask(args.side, args.side, alpha),
                        session_id=session,
                        prompt="a bench",
                        steps=args.steps,
                        seed=1,
                        model=args.model,
                    )
                    start = time.perf_counter()
                    result = client.generate(request).wait(3600)
                    assert result.ok, result.error
                    times.append(time.perf_counter() - start)
        finally:
            daemon.stop()
        print(f"{name:>10} {times[0]:>16.2f} {statistics.median(times[1:]):>17.3f}", flush=True)


if __name__ == "__main__":
    main()
