"""One procedure call from start to end: plan from the image, ask the daemon, apply what comes back.

`keep` is Keep This Candidate: tell the daemon which candidate the artist kept, then tidy the image.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cocreate_client import CocreateClient, CocreateError
from gi.repository import Gimp

from . import candidates, pump
from .apply import Apply
from .document import GimpDocument, GimpProgress, candidate_layers, candidate_tag, keep_layer
from .geometry import GeometryError
from .plans import Plan, PlanError

HOST = "gimp"


@dataclass(frozen=True)
class Outcome:
    layers: int  # candidate layers added
    cancelled: bool = False
    error: str | None = None  # for people; None when the run went through


def session_id(client: CocreateClient, document: GimpDocument) -> str:
    """The newest session of this image (found by the id saved in it), or a new one."""
    key = document.document_id()
    found = client.list_sessions(host=HOST, document_id=key, limit=1)
    return found[0].id if found else client.create_session(HOST, key, document.name()).id


def execute(image: Gimp.Image, make_plan: Callable[[GimpDocument], Plan], *, interactive: bool) -> Outcome:
    """Run a plan against the daemon ($COCREATE_ENDPOINT, else the user's socket), applying candidates as they come."""
    try:
        document = GimpDocument(image)
        plan = make_plan(document)
    except (PlanError, GeometryError) as error:
        return Outcome(0, error=str(error))
    client = CocreateClient(client_name="gimp")
    try:
        plan.request.session_id = session_id(client, document)
        return _generate(client, document, plan, interactive=interactive)
    except CocreateError as error:
        return Outcome(0, error=f"cocreate: {error}")
    finally:
        client.close()


def _generate(client: CocreateClient, document: GimpDocument, plan: Plan, *, interactive: bool) -> Outcome:
    waker = pump.Pump()
    job = client.generate(plan.request, on_event=waker.wake)
    window = None
    if interactive:
        from .dialog import ProgressWindow  # GTK only where there is a display

        window = ProgressWindow(f"cocreate {plan.task}", job.cancel)
    progress = GimpProgress(f"cocreate {plan.task}: sending the picture")
    apply = Apply(plan, document, progress)
    try:
        waker.run(job, apply)
    finally:
        apply.close()
        progress.end()
        if window is not None:
            window.close()
    if apply.error is not None:
        return Outcome(apply.layers, error=f"cocreate {plan.task}: {apply.error}")
    return Outcome(apply.layers, cancelled=apply.cancelled)


@dataclass(frozen=True)
class Kept:
    removed: int  # sibling candidate layers taken out of the image
    error: str | None = None  # for people; None when the daemon was told and the image tidied


def keep(image: Gimp.Image, drawables: list[Gimp.Drawable]) -> Kept:
    """The artist keeps the candidate on the one chosen layer: ACCEPTED for it, REJECTED for its siblings
    still in the image, then the siblings go (one undo step). The daemon hears first: when it cannot be
    told, the image stays as it was.
    """
    tag = candidate_tag(drawables[0]) if len(drawables) == 1 else None
    if tag is None:
        return Kept(0, error=candidates.NOT_A_CANDIDATE)
    kept = drawables[0]
    decisions, siblings = candidates.choose(tag, candidate_layers(image))
    progress = GimpProgress("cocreate: telling the daemon which candidate you kept")
    try:
        pump.wait(lambda: _send(decisions))  # off the main thread: GIMP's loop keeps running here
    except CocreateError as error:
        return Kept(0, error=f"cocreate: {error}")
    finally:
        progress.end()
    keep_layer(image, kept, siblings)
    return Kept(len(siblings))


def _send(decisions: list[tuple[str, candidates.Decision]]) -> None:
    with CocreateClient() as client:
        client.decide(decisions)
