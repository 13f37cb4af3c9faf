"""Flux Redux references through the real daemon on the tiny Flux.1 models and the tiny Redux built locally:
the reference changes what is painted at the same seed, its strength is honoured, it runs beside a control,
and what cannot be served is refused with FAILED_PRECONDITION saying what to pull."""

from __future__ import annotations

from pathlib import Path

import grpc
import numpy as np
import pytest

from core_server import tasks
from core_server.models import redux, tiny_flow
from core_server.models.catalog import ModelEntry
from core_server.models.tiny_redux import TINY_REDUX
from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc
from core_server.service import conditioning
from core_server.service.cocreation import Steered
from core_server.service.errors import FailedPrecondition

from .test_cocreation import turn_params
from .test_controls import stripes
from .test_reference_and_edit import checkered, inpaint, kept_pixels_are_identical, refusal, run

REDUX_MODELS = (tiny_flow.TINY_FLUX, tiny_flow.TINY_FLUX_FILL)


def pixels(candidate: pb.Candidate) -> np.ndarray:
    return np.frombuffer(candidate.image.rgba, np.uint8).astype(np.int16)


def distance(a: pb.Candidate, b: pb.Candidate) -> float:
    return float(np.abs(pixels(a) - pixels(b)).mean())


@pytest.mark.parametrize("model", REDUX_MODELS)
def test_a_redux_reference_changes_the_picture_with_its_strength(
    stub: pb_grpc.CocreateStub, session_id: str, model: str
) -> None:
    """(How each strength scales the reference's tokens is tests/engines/test_redux.py's: the tiny Flux models
    follow any text tokens only faintly, so distances here say little.)"""
    _, (plain,) = run(stub, inpaint(session_id, model, seed=11))
    faint_turn, (faint,) = run(stub, inpaint(session_id, model, pb.Reference(image=checkered(), strength=0.3), seed=11))
    _, (strong,) = run(stub, inpaint(session_id, model, pb.Reference(image=checkered(), strength=1.0), seed=11))
    assert len({plain.image.rgba, faint.image.rgba, strong.image.rgba}) == 3
    assert distance(strong, plain) > 0.05
    kept_pixels_are_identical(strong)
    recorded = turn_params(stub, session_id, faint_turn)["references"]
    assert recorded[0]["adapter"]["name"] == TINY_REDUX and recorded[0]["strength"] == pytest.approx(0.3)
    _, (again,) = run(stub, inpaint(session_id, model, pb.Reference(image=checkered(), strength=1.0), seed=11))
    assert again.image.rgba == strong.image.rgba, "the same seed and reference make the same candidate"
    _, (plain_again,) = run(stub, inpaint(session_id, model, seed=11))
    assert plain_again.image.rgba == plain.image.rgba, "without references nothing of the last one is left"


def test_two_references_and_a_reference_beside_a_control(stub: pb_grpc.CocreateStub, session_id: str) -> None:
    model = tiny_flow.TINY_FLUX
    one = pb.Reference(image=checkered(), strength=1.0)
    other = pb.Reference(image=checkered(24), strength=1.0)
    _, (first,) = run(stub, inpaint(session_id, model, one, seed=5))
    _, (both,) = run(stub, inpaint(session_id, model, one, other, seed=5))
    assert both.image.rgba != first.image.rgba
    controlled = inpaint(session_id, model, one, seed=5, controls=[pb.Control(kind=pb.CONTROL_DEPTH, image=stripes())])
    _, (steered,) = run(stub, controlled)
    assert steered.image.rgba != first.image.rgba


@pytest.mark.parametrize(
    ("model", "reference", "says"),
    [
        (tiny_flow.TINY_FLUX, pb.Reference(image=checkered(), kind=pb.REFERENCE_FACE), "not a face's identity"),
        (
            tiny_flow.TINY_FLUX,
            pb.Reference(image=checkered(), model=redux.PULL_NAME),
            f"`cocreate models pull {redux.PULL_NAME}`",
        ),
        (tiny_flow.TINY_FLUX, pb.Reference(image=checkered(), model="tiny-ip-adapter-sdxl"), "not Flux.1"),
        ("tiny-sd3", pb.Reference(image=checkered()), "Stable Diffusion 3.5 models take no reference images"),
    ],
)
def test_what_redux_cannot_serve_is_refused(
    stub: pb_grpc.CocreateStub, session_id: str, model: str, reference: pb.Reference, says: str
) -> None:
    error = refusal(stub, inpaint(session_id, model, reference))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert says in (error.details() or "")


def test_with_no_redux_installed_the_refusal_names_the_pull(tmp_path: Path) -> None:
    """The tiny profile always has its Redux, so this catalog lists none: what a real install without it sees."""

    class NoAdapters:
        def list(self) -> list:
            return []

    image = tasks.RGBAImage(2, 2, bytes(16))
    task = tasks.InpaintTask(image=image, mask=None, references=(tasks.Reference(image=image),))
    model = ModelEntry("flux-dev", "image", "pulled", tmp_path, "", family="flux-fill")
    with pytest.raises(FailedPrecondition) as refused:
        conditioning.resolve(NoAdapters(), model, Steered(task, (1,), {}))  # type: ignore[arg-type]
    assert f"`cocreate models pull {redux.PULL_NAME}`" in str(refused.value) and redux.REPO in str(refused.value)
