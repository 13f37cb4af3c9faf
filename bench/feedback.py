"""What keeping an edited picture costs the daemon: Feedback EDITED at growing sizes, through a real daemon.

    python bench/feedback.py                   # 1024², 2048², 4096²; 2 rounds each

Each round sends a new final image (the store keeps equal files once) for a fresh 64² candidate; the daemon
stores it as PNG and signs it (C2PA, with the candidate as its ingredient) before answering. Printed per
size: the best seconds, seconds per megapixel (flat when the path is proportional to the image), and how
far the daemon's peak and resident memory rose over its size before the first round (model loaded).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc
from tests.service.conftest import channel_for
from tests.service.images import gradient
from tests.support.daemon import running_daemon

MIB = 1 << 20


def memory(pid: int) -> dict[str, int]:
    """VmHWM (peak) and VmRSS (now) of a process, in bytes."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            fields[key] = int(value.split()[0]) * 1024
    return fields


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sides", type=int, nargs="+", default=[1024, 2048, 4096])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home, running_daemon(Path(home)) as daemon, channel_for(daemon) as channel:
        stub = pb_grpc.CocreateStub(channel)
        session = stub.CreateSession(pb.CreateSessionRequest(host="bench", document_name="feedback")).id
        inpaint = pb.GenerateRequest(session_id=session, candidates=1, inpaint=pb.InpaintTask(image=gradient()))
        list(stub.Generate(inpaint))  # loads the model: its memory is not the feedback's
        start = memory(daemon.process.pid)
        rng = random.Random(0)
        for side in args.sides:
            seconds = []
            for _ in range(args.rounds):
                candidate = next(e.candidate for e in stub.Generate(inpaint) if e.HasField("candidate"))
                tile = rng.randbytes(4096)  # photo-sized files: a repeated tile compresses like a painting, not noise
                final = pb.Image(width=side, height=side, rgba=tile * (side * side * 4 // len(tile)))
                began = time.perf_counter()
                stub.Feedback(
                    pb.FeedbackRequest(candidate_id=candidate.candidate_id, decision=pb.EDITED, final_image=final)
                )
                seconds.append(time.perf_counter() - began)
            now = memory(daemon.process.pid)
            best, megapixels = min(seconds), side * side / 1e6
            print(
                f"{side}²: {best:.2f} s ({best / megapixels:.3f} s/MP) · raw image {side * side * 4 // MIB} MiB"
                f" · daemon peak +{(now['VmHWM'] - start['VmRSS']) // MIB} MiB,"
                f" resident +{(now['VmRSS'] - start['VmRSS']) // MIB} MiB"
            )


if __name__ == "__main__":
    main()
