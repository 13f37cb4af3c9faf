"""More Like This, Less Like This and In Between These Two: new candidates for the area of chosen candidate layers.

The area is where the chosen layers paint (their alpha); the daemon paints it again with the settings of the
turn that made them (prompt, steps, strength, LoRA), steered toward or away from those candidates, or walking
from one to the other. Plain data, no GIMP: runner.py reads the layers and the turn.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from cocreate_client import tasks
from cocreate_client.pb import cocreate_pb2 as pb
from cocreate_client.pixels import Image, Mask

from .geometry import Rect
from .plans import Plan, PlanError

How = Literal["more", "less", "between"]
NAMES: dict[How, str] = {"more": "more like", "less": "less like", "between": "between"}
NOT_CANDIDATES = (
    "cocreate: choose cocreate candidate layers (ones that Expand Canvas, Fill Selection or Variants made) in the "
    "Layers panel first."
)
NOT_TWO = "cocreate: In Between These Two needs exactly two candidate layers chosen in the Layers panel."


def plan(
    how: How,
    candidate_ids: list[str],
    turn: pb.Turn,
    context: Rect,
    image: Image,
    painted: Mask,
    candidates: int,
    above: object,
) -> Plan:
    """Paint `painted` (over `context`, the visible `image` of it) again as `turn` did, steered by `how`.

    `candidates` counts the new layers; an interpolation also asks for its two ends, which get no layer."""
    if how == "between" and len(candidate_ids) != 2:
        raise PlanError(NOT_TWO)
    if not 1 <= candidates <= 14:
        raise PlanError(f"Ask for 1 to 14 candidates, not {candidates}.")
    params: dict[str, Any] = json.loads(turn.params_json or "{}")
    count = candidates + 2 if how == "between" else candidates
    shared = {
        "session_id": "",
        "negative_prompt": str(params.get("negative_prompt") or ""),
        "steps": int(params.get("steps") or 0),
        "guidance": float(params.get("guidance") or 0.0),
        "candidates": count,
        "seed": None,
    }
    if turn.task == "variants":
        prompt = str(params.get("style_prompt") or "")
        strength = float(params.get("strength") or 0.0)
        request = tasks.variants(image, mask=painted, style_prompt=prompt, strength=strength, **shared)
    else:  # inpaint and expand: paint the area again from its surroundings
        prompt = str(params.get("prompt") or "")
        strength = float(params.get("strength") or 0.0) if turn.task == "inpaint" else 0.0
        request = tasks.inpaint(image, mask=painted, prompt=prompt, strength=strength, **shared)
    lora = (params.get("lora") or {}).get("name", "")
    ids = {"more_like": candidate_ids} if how == "more" else {"less_like": candidate_ids}
    if how == "between":
        ids = {"interpolate": candidate_ids}
    request = tasks.steered(request, lora=lora, **ids)
    skipped = frozenset({0, count - 1}) if how == "between" else frozenset()
    return Plan(NAMES[how], prompt, request, None, painted, (context.x, context.y), above=above, skipped=skipped)
