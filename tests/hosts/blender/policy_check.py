"""Runs inside the root's Blender with the cocreate extension installed and enabled:

    blender -b --python policy_check.py -- ENDPOINT VERDICT_FILE

uses the extension's client for real (a 512x512 picture inpainted by the daemon: 1 MiB each way),
then asks Blender's own extension-policy check (what `blender --command extension list` prints) what
it finds: no module of ours at top level, nothing of ours on sys.path. Writes the verdict as JSON.
"""

from __future__ import annotations

import importlib
import json
import sys
import traceback
from typing import Any

import addon_utils

EXTENSION = "bl_ext.user_default.cocreate"
SIDE = 512


def use_the_client(endpoint: str, verdict: dict[str, Any]) -> None:
    client = importlib.import_module(f"{EXTENSION}.cocreate_client")
    pixels = importlib.import_module(f"{EXTENSION}.cocreate_client.pixels")
    tasks = importlib.import_module(f"{EXTENSION}.cocreate_client.tasks")
    rgba = bytes((x % 256, y % 256, 90, 255)[c] for y in range(SIDE) for x in range(SIDE) for c in range(4))
    low, high = SIDE // 4, SIDE * 3 // 4
    selection = bytes(255 if low <= x < high and low <= y < high else 0 for y in range(SIDE) for x in range(SIDE))
    with client.CocreateClient(endpoint, client_name="blender") as connected:
        verdict["shares_memory"] = connected.shares_memory()
        session = connected.create_session("blender", "policy-check", "policy.blend")
        request = tasks.inpaint(
            pixels.Image(SIDE, SIDE, rgba),
            mask=pixels.selection_to_mask(selection, SIDE, SIDE),
            session_id=session.id,
            prompt="moss",
            steps=2,
            candidates=2,
            seed=3,
        )
        result = connected.generate(request).wait(600)
    verdict["round_trip"] = {
        "ok": result.ok,
        "error": str(result.error),
        "sizes": sorted({(c.image.width, c.image.height) for c in result.candidates if c.image}),
        "candidates": len(result.candidates),
    }


def main() -> None:
    endpoint, verdict_file = sys.argv[sys.argv.index("--") + 1 :][:2]
    verdict: dict[str, Any] = {}
    try:
        verdict["enabled"] = EXTENSION in sys.modules or addon_utils.enable(EXTENSION, default_set=True) is not None
        use_the_client(endpoint, verdict)
        addon_utils._extensions_warnings_get._is_first = True  # computed again, now that everything is loaded
        verdict["policy_warnings"] = addon_utils._extensions_warnings_get().get(EXTENSION, [])
    except Exception:
        verdict["exception"] = traceback.format_exc()
    with open(verdict_file, "w") as out:
        json.dump(verdict, out, indent=2)


main()
