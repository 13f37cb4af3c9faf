"""What a manifest states about a candidate, as C2PA manifest definitions (plain dicts, no signing).

Two shapes: the AI output itself (`c2pa.created` by the model), and what a person kept after
changing it (`c2pa.opened` the AI output as its parent ingredient, then `c2pa.edited` by hand).
Both carry the `org.cocreate.provenance` assertion: model and its file hash, task parameters, seed,
session, turn and parent turn, the decision and whether a human edited the output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import __version__
from ..sessions.model import Candidate, Feedback, Turn

ASSERTION = "org.cocreate.provenance"
ACTIONS = "c2pa.actions.v2"
_SOURCE = "http://cv.iptc.org/newscodes/digitalsourcetype/"
AI_GENERATED = _SOURCE + "trainedAlgorithmicMedia"
AI_EDITED = _SOURCE + "compositeWithTrainedAlgorithmicMedia"
HUMAN_EDITS = _SOURCE + "humanEdits"
PARENT_LABEL = "ai-output"  # the ingredient id a human edit's `c2pa.opened` names
_FROM_INPUT = {"inpaint", "expand", "variants", "rewrite_text"}  # tasks that rework the person's own input
_AGENT = {"name": "cocreate", "version": __version__}


@dataclass(frozen=True)
class Origin:
    """A candidate, the turn that made it, and the decision the manifest records (None: not decided)."""

    turn: Turn
    candidate: Candidate
    feedback: Feedback | None = None

    @property
    def human_edited(self) -> bool:
        """EDITED, or a final artifact that differs from the candidate (both stored as PNG / UTF-8)."""
        f = self.feedback
        return f is not None and (
            f.decision == "edited" or (f.final_sha256 is not None and f.final_sha256 != self.candidate.sha256)
        )

    @property
    def ai_edited_input(self) -> bool:
        """The model reworked the person's picture or text rather than making something new."""
        repairs_texture = self.turn.task == "texture" and self.turn.params.get("image") is not None
        return self.turn.task in _FROM_INPUT or repairs_texture


def facts(origin: Origin) -> dict[str, Any]:
    turn, candidate, feedback = origin.turn, origin.candidate, origin.feedback
    return {
        "ai": "edited" if origin.ai_edited_input else "generated",
        "task": turn.task,
        "model": {"name": turn.model, "sha256": turn.model_sha256},
        "parameters": turn.params,
        "seed": candidate.seed,
        "session_id": turn.session_id,
        "turn_id": turn.id,
        "parent_turn_id": turn.parent_id,
        "candidate_id": candidate.id,
        "candidate_index": candidate.index,
        "candidate_sha256": candidate.sha256,
        "decision": feedback.decision if feedback else None,
        "feedback_id": feedback.id if feedback else None,
        "final_sha256": feedback.final_sha256 if feedback else None,
        "human_edited": origin.human_edited,
    }


def ai_output(origin: Origin, title: str) -> dict[str, Any]:
    """The manifest of the candidate as the model made it."""
    created = {
        "action": "c2pa.created",
        "digitalSourceType": AI_EDITED if origin.ai_edited_input else AI_GENERATED,
        "softwareAgent": _AGENT,
        "description": f"{origin.turn.task} by the model {origin.turn.model} (seed {origin.candidate.seed})",
    }
    return _definition(title, [created], origin)


def human_edit(origin: Origin, title: str) -> dict[str, Any]:
    """The manifest of what the person kept after changing the candidate (its parent ingredient)."""
    actions = [
        {"action": "c2pa.opened", "softwareAgent": _AGENT, "parameters": {"ingredientIds": [PARENT_LABEL]}},
        {
            "action": "c2pa.edited",
            "digitalSourceType": HUMAN_EDITS,
            "description": "changed by hand after cocreate generated it",
        },
    ]
    return _definition(title, actions, origin)


def parent_ingredient(title: str) -> dict[str, Any]:
    return {"title": title, "relationship": "parentOf", "label": PARENT_LABEL}


def _definition(title: str, actions: list[dict[str, Any]], origin: Origin) -> dict[str, Any]:
    return {
        "claim_generator_info": [_AGENT],
        "title": title,
        "assertions": [
            {"label": ACTIONS, "data": {"actions": actions}},
            {"label": ASSERTION, "data": facts(origin)},
        ],
    }
