"""One procedure call from start to end: plan from the image, ask the daemon, apply what comes back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cocreate_client import CocreateClient, CocreateError
from gi.repository import Gimp

from .apply import Apply
from .document import GimpDocument, GimpProgress
from .geometry import GeometryError
from .plans import Plan, PlanError
from .pump import Pump

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
    client = CocreateClient()
    try:
        plan.request.session_id = session_id(client, document)
        return _generate(client, document, plan, interactive=interactive)
    except CocreateError as error:
        return Outcome(0, error=f"cocreate: {error}")
    finally:
        client.close()


def _generate(client: CocreateClient, document: GimpDocument, plan: Plan, *, interactive: bool) -> Outcome:
    pump = Pump()
    job = client.generate(plan.request, on_event=pump.wake)
    window = None
    if interactive:
        from .dialog import ProgressWindow  # GTK only where there is a display

        window = ProgressWindow(f"cocreate {plan.task}", job.cancel)
    progress = GimpProgress(f"cocreate {plan.task}: sending the picture")
    apply = Apply(plan, document, progress)
    try:
        pump.run(job, apply)
    finally:
        apply.close()
        progress.end()
        if window is not None:
            window.close()
    if apply.error is not None:
        return Outcome(apply.layers, error=f"cocreate {plan.task}: {apply.error}")
    return Outcome(apply.layers, cancelled=apply.cancelled)
