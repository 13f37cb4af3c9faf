"""One procedure call from start to end: plan from the image, ask the daemon, apply what comes back.

`keep` is Keep This Candidate: tell the daemon which candidate the artist kept, then tidy the image.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cocreate_client import CocreateClient, CocreateError, Job, tasks
from cocreate_client.pb import cocreate_pb2 as pb
from gi.repository import Gimp

from . import candidates, geometry, pump, steering
from .apply import Apply
from .document import GimpDocument, GimpProgress, candidate_layers, candidate_tag, keep_layer
from .geometry import GeometryError, Rect
from .learn import Learning
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
    progress = GimpProgress(f"cocreate {plan.task}: sending the picture")
    apply = Apply(plan, document, progress)
    _follow(client.generate, plan.request, apply, progress, f"cocreate {plan.task}", interactive=interactive)
    if apply.error is not None:
        return Outcome(apply.layers, error=f"cocreate {plan.task}: {apply.error}")
    return Outcome(apply.layers, cancelled=apply.cancelled)


def _follow(
    start: Callable[..., Job],
    request: object,
    handler: pump.Handler,
    progress: GimpProgress,
    title: str,
    *,
    interactive: bool,
) -> None:
    """Start a job and feed its events to `handler` until it ends; a watching person gets a Cancel button."""
    waker = pump.Pump()
    job = start(request, on_event=waker.wake)
    window = None
    if interactive:
        from .dialog import ProgressWindow  # GTK only where there is a display

        window = ProgressWindow(title, job.cancel)
    try:
        waker.run(job, handler)
    finally:
        handler.close()
        progress.end()
        if window is not None:
            window.close()


def steer(
    image: Gimp.Image, drawables: list[Gimp.Drawable], how: steering.How, count: int, *, interactive: bool
) -> Outcome:
    """New candidates for the area of the chosen candidate layers, steered by them (see steering.py)."""
    chosen = [(drawable, candidate_tag(drawable)) for drawable in drawables]
    tags = [tag for _, tag in chosen if tag is not None]
    if not chosen or len(tags) != len(chosen):
        return Outcome(0, error=steering.NOT_CANDIDATES)
    if how == "between" and len(tags) != 2:
        return Outcome(0, error=steering.NOT_TWO)
    layers = [layer for layer, _ in chosen]
    client = CocreateClient(client_name="gimp")
    try:
        document = GimpDocument(image)
        session, turn = _turn_of(client, document, tags[0])
        context = geometry.with_context(document.layers_area(layers), Rect(0, 0, document.width, document.height))
        geometry.check_sendable(context, "The chosen layers")
        groups = {tag.group for tag in tags}
        with document.hidden([layer for layer, tag in candidate_layers(image) if tag.group in groups]):
            picture = document.visible(context)
        painted = document.layers_alpha(layers, context)
        ids = [tag.candidate_id for tag in tags]
        plan = steering.plan(how, ids, turn, context, picture, painted, count, above=layers[0])
        plan.request.session_id = session
        plan.request.parent_turn_id = turn.id  # the session's tree: these grew from that turn
        return _generate(client, document, plan, interactive=interactive)
    except (PlanError, GeometryError) as error:
        return Outcome(0, error=str(error))
    except CocreateError as error:
        return Outcome(0, error=f"cocreate: {error}")
    finally:
        client.close()


def _turn_of(client: CocreateClient, document: GimpDocument, tag: candidates.Tag) -> tuple[str, pb.Turn]:
    """The session of this image holding the candidate's turn, and that turn."""
    for found in client.list_sessions(host=HOST, document_id=document.document_id(), limit=20):
        for turn in client.get_session(found.id).turns:
            if turn.id == tag.turn_id:
                return found.id, turn
    raise PlanError("cocreate: the daemon has no record of this candidate's turn in this image's sessions.")


@dataclass(frozen=True)
class Learned:
    lora: str  # "" when nothing was trained
    cancelled: bool = False
    error: str | None = None  # for people


def learn(image: Gimp.Image, name: str, steps: int, *, interactive: bool) -> Learned:
    """Learn My Style: the daemon trains personal LoRA `name` on the pictures kept in this image's session."""
    client = CocreateClient(client_name="gimp")
    try:
        document = GimpDocument(image)
        request = tasks.personalize(session_id(client, document), name, steps=steps)
        progress = GimpProgress("cocreate: sending the pictures you kept")
        learning = Learning(progress)
        _follow(client.personalize, request, learning, progress, "cocreate: Learn My Style", interactive=interactive)
    except PlanError as error:
        return Learned("", error=str(error))
    except CocreateError as error:
        return Learned("", error=f"cocreate: {error}")
    finally:
        client.close()
    if learning.error is not None:
        return Learned("", error=f"cocreate: {learning.error}")
    return Learned(learning.lora, cancelled=learning.cancelled)


def daemon_models() -> list[tuple[str, str, str]]:
    """(name, kind, shown text) of the daemon's image models and LoRAs, for the dialog's lists; [] when it is not
    running. An image model shows its family ("tiny-sdxl · sdxl")."""
    try:
        with CocreateClient(client_name="gimp", timeout=3.0) as client:
            models = client.list_models()
    except CocreateError:
        return []
    listed = [model for model in models if model.kind in ("image", "lora")]
    return sorted((m.name, m.kind, f"{m.name} · {m.family}" if m.family else m.name) for m in listed)


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
