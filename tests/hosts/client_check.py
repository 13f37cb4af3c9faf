"""Runs in the host root's python3 with only the client bundle: health, session, inpaint, continue_text.

    python3 client_check.py ENDPOINT TOKEN [SIDE]     (from the bundle folder, bound at /project)

SIDE (default 64) is the inpainted picture's side: 256 or more sends 256 KiB or more, which goes
through shared memory where client and daemon share /dev/shm, and on the wire where they do not.

Writes verdict.json beside itself, whatever happens; tests/hosts/test_client_in_host_python.py reads it.
"""

from __future__ import annotations

import json
import platform
import sys
import traceback
from importlib.abc import MetaPathFinder
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FORBIDDEN = ("grpc", "numpy", "PIL")
DEPENDENCIES = ("grpclib", "h2", "hpack", "hyperframe", "multidict", "google.protobuf")
VENDORED_TOP_LEVEL = {"google", "grpclib", "h2", "hpack", "hyperframe", "multidict", "typing_extensions"}


class Forbid(MetaPathFinder):
    """Refuses compiled stacks a host may have installed, and remembers who asked."""

    def __init__(self) -> None:
        self.attempts: list[str] = []

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name.split(".")[0] in FORBIDDEN:
            self.attempts.append(name)
            raise ImportError(f"{name} is forbidden in this check")


def run(endpoint: str, token: str, side: int, verdict: dict[str, object]) -> None:
    from cocreate_client import CocreateClient, TextDelta, pixels, tasks
    from cocreate_client._vendor.google.protobuf.internal import api_implementation

    verdict["protobuf_implementation"] = api_implementation.Type()
    with CocreateClient(endpoint, token=token) as client:
        verdict["health"] = client.health().version or "(no version)"
        verdict["shares_memory"] = client.shares_memory()
        session = client.create_session("host-check", "doc-1", "Host check")
        verdict["session"] = bool(session.id)

        rgba = bytes((x % 64 * 4, y % 64 * 4, 128, 255)[c] for y in range(side) for x in range(side) for c in range(4))
        image = pixels.Image(side, side, rgba)
        low, high = side // 4, side * 3 // 4
        selection = bytes(255 if low <= x < high and low <= y < high else 0 for y in range(side) for x in range(side))
        request = tasks.inpaint(
            image,
            session_id=session.id,
            prompt="a red square",
            candidates=2,
            seed=7,
            steps=2,
            mask=pixels.selection_to_mask(selection, side, side),
            previews=True,
        )
        job = client.generate(request)
        result = job.wait(300)
        events = [type(e).__name__ for e in job.poll()]
        kept = all(
            c.image is not None
            and all(
                c.image.rgba[i * 4 : i * 4 + 4] == image.rgba[i * 4 : i * 4 + 4]
                for i in range(side * side)
                if selection[i] == 0
            )
            for c in result.candidates
        )
        verdict["inpaint"] = {
            "ok": result.ok,
            "error": str(result.error),
            "first": events[:1],
            "last": events[-1:],
            "candidates": sorted(c.index for c in result.candidates),
            "sizes": sorted({(c.image.width, c.image.height) for c in result.candidates if c.image}),
            "unmasked_kept": kept,
        }

        # A fixed seed: an unseeded tiny model sometimes ends at once, with no text to check.
        job = client.generate(tasks.continue_text("Once upon a time", session_id=session.id, max_new_tokens=8, seed=7))
        result = job.wait(300)
        verdict["continue_text"] = {
            "ok": result.ok,
            "error": str(result.error),
            "deltas": sum(isinstance(e, TextDelta) for e in job.poll()),
            "text": result.candidates[0].text if result.candidates else None,
        }


def problems(verdict: dict[str, Any], side: int = 64) -> list[str]:
    """What is wrong with a verdict this script wrote; empty when the bundle worked."""
    if "exception" in verdict:
        return [verdict["exception"]]
    found = []
    if verdict["protobuf_implementation"] != "python":
        found.append(f"protobuf ran as {verdict['protobuf_implementation']}, not the vendored pure Python")
    if verdict["forbidden_attempts"] or verdict["forbidden_loaded"]:
        found.append(f"compiled stacks imported: {verdict['forbidden_attempts'] + verdict['forbidden_loaded']}")
    outside = {k: v for k, v in verdict["dependencies_from"].items() if "/cocreate_client/_vendor/" not in v}
    if outside:
        found.append(f"dependencies not from the bundle: {outside}")
    if verdict["top_level"]:
        found.append(f"the bundle's dependencies were imported as the host's own: {verdict['top_level']}")
    inpaint, text = verdict["inpaint"], verdict["continue_text"]
    if not inpaint["ok"]:
        found.append(f"inpaint failed: {inpaint['error']}")
    elif (inpaint["first"], inpaint["last"], inpaint["candidates"]) != (["Accepted"], ["Done"], [0, 1]):
        found.append(f"inpaint events: {inpaint}")
    elif inpaint["sizes"] != [[side, side]] or not inpaint["unmasked_kept"]:
        found.append(f"inpaint pixels: {inpaint}")
    if not text["ok"] or not text["deltas"] or not text["text"]:
        found.append(f"continue_text: {text}")
    return found


def main() -> None:
    endpoint, token = sys.argv[1], sys.argv[2]
    side = int(sys.argv[3]) if len(sys.argv) > 3 else 64
    forbid = Forbid()
    sys.meta_path.insert(0, forbid)
    sys.path.insert(0, str(HERE))  # the bundle, and nothing else of ours
    verdict: dict[str, object] = {"python": platform.python_version()}
    try:
        run(endpoint, token, side, verdict)
    except Exception:
        verdict["exception"] = traceback.format_exc()
    verdict["forbidden_attempts"] = forbid.attempts
    verdict["forbidden_loaded"] = [m for m in sys.modules if m.split(".")[0] in FORBIDDEN]
    verdict["dependencies_from"] = {
        name: str(getattr(sys.modules.get(f"cocreate_client._vendor.{name}"), "__file__", None))
        for name in DEPENDENCIES
    }
    verdict["top_level"] = sorted({m for m in sys.modules if m.split(".")[0] in VENDORED_TOP_LEVEL})
    (HERE / "verdict.json").write_text(json.dumps(verdict, indent=2))


if __name__ == "__main__":
    main()
