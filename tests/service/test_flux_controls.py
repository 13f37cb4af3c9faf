"""Several controls at once on Flux.1 through a real daemon of its own (the ControlNets added here would be
picked by other tests' requests): one union ControlNet with several modes and several single-kind ones run
side by side with several candidates; each control's strength and start/end are its own; mixes the Flux
ControlNet pipeline cannot run are refused with FAILED_PRECONDITION naming them."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from core_server.models import ModelCatalog
from core_server.models.tiny_control import TINY_CONTROL_FLUX
from core_server.models.tiny_flow import TINY_FLUX
from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc
from tests.service.conftest import channel_for
from tests.support.daemon import running_daemon
from tests.support.tiny_controlnets import flux_controlnet

from .test_controls import control, inpaint, stripes

DEPTH, CANNY = "flux-depth", "flux-canny"  # single-kind ControlNets added to this daemon
SCHNELL_DEPTH = "flux-schnell-depth"


@pytest.fixture(scope="module")
def flux_stub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pb_grpc.CocreateStub]:
    home = tmp_path_factory.mktemp("flux-controls")
    with running_daemon(home) as daemon:
        catalog = ModelCatalog(home / "models")
        built = tmp_path_factory.mktemp("controlnets")
        for name, kind, seed, changes in (
            (DEPTH, "depth", 1, {}),
            (CANNY, "canny", 2, {}),
            (SCHNELL_DEPTH, "depth", 3, {"guidance_embeds": False}),
        ):
            folder = flux_controlnet(home, built / name, seed, num_mode=None, **changes)
            catalog.add(name, folder, controls=[kind])
        with channel_for(daemon) as channel:
            yield pb_grpc.CocreateStub(channel)


@pytest.fixture
def flux_session(flux_stub: pb_grpc.CocreateStub) -> str:
    return flux_stub.CreateSession(pb.CreateSessionRequest(host="test", document_id="flux-controls")).id


def candidates(stub: pb_grpc.CocreateStub, request: pb.GenerateRequest) -> list[bytes]:
    events = list(stub.Generate(request, timeout=300))
    assert events[-1].done.status == pb.JOB_COMPLETED, events[-1].done
    return [e.candidate.image.rgba for e in events if e.HasField("candidate")]


def flux(session: str, *controls: pb.Control, count: int = 1) -> pb.GenerateRequest:
    return inpaint(session, *controls, model=TINY_FLUX, candidates=count, exploration=1.0)


def union(kind: int, **fields: object) -> pb.Control:
    return control(kind, model=TINY_CONTROL_FLUX, **fields)


def test_two_modes_of_one_union_controlnet_change_every_candidate(
    flux_stub: pb_grpc.CocreateStub, flux_session: str
) -> None:
    one = candidates(flux_stub, flux(flux_session, union(pb.CONTROL_DEPTH), count=2))
    two = candidates(flux_stub, flux(flux_session, union(pb.CONTROL_DEPTH), union(pb.CONTROL_CANNY), count=2))
    assert len(two) == 2 and two[0] != two[1]
    assert two[0] != one[0] and two[1] != one[1]


def test_two_single_kind_controlnets_run_side_by_side(flux_stub: pb_grpc.CocreateStub, flux_session: str) -> None:
    depth = candidates(flux_stub, flux(flux_session, control(pb.CONTROL_DEPTH, model=DEPTH)))
    both = candidates(
        flux_stub, flux(flux_session, control(pb.CONTROL_DEPTH, model=DEPTH), control(pb.CONTROL_CANNY, model=CANNY))
    )
    assert both != depth
    # Without a model named, each kind takes its installed single-kind ControlNet.
    assert candidates(flux_stub, flux(flux_session, control(pb.CONTROL_DEPTH), control(pb.CONTROL_CANNY))) == both


def test_each_controls_window_and_strength_are_its_own(flux_stub: pb_grpc.CocreateStub, flux_session: str) -> None:
    depth = union(pb.CONTROL_DEPTH)
    alone = candidates(flux_stub, flux(flux_session, depth))
    both = candidates(flux_stub, flux(flux_session, depth, union(pb.CONTROL_CANNY)))
    late = candidates(flux_stub, flux(flux_session, depth, union(pb.CONTROL_CANNY, start=0.5)))
    faint = candidates(flux_stub, flux(flux_session, depth, union(pb.CONTROL_CANNY, strength=0.2)))
    assert len({alone[0], both[0], late[0], faint[0]}) == 4
    # Three steps: a window ending before the first step's end covers none, so only the first control steers.
    never = candidates(flux_stub, flux(flux_session, depth, union(pb.CONTROL_CANNY, end=0.3)))
    assert never == alone
    # The first control's window is its own too: the same cut on it leaves the second alone.
    canny_alone = candidates(flux_stub, flux(flux_session, union(pb.CONTROL_CANNY)))
    assert candidates(flux_stub, flux(flux_session, union(pb.CONTROL_DEPTH, end=0.3), union(pb.CONTROL_CANNY))) == (
        canny_alone
    )


@pytest.mark.parametrize(
    ("controls", "says"),
    [
        (
            (control(pb.CONTROL_DEPTH, model=DEPTH), union(pb.CONTROL_CANNY)),
            "Union and single-kind ControlNets cannot run together",
        ),
        (
            (control(pb.CONTROL_DEPTH, model=SCHNELL_DEPTH), control(pb.CONTROL_CANNY, model=CANNY)),
            f"{SCHNELL_DEPTH} and {CANNY} were made for different Flux.1 models",
        ),
        ((union(pb.CONTROL_NORMAL),), f"{TINY_CONTROL_FLUX} was trained for"),
    ],
)
def test_mixes_flux_cannot_run_are_refused(
    flux_stub: pb_grpc.CocreateStub, flux_session: str, controls: tuple, says: str
) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        candidates(flux_stub, flux(flux_session, *controls))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert says in (refused.value.details() or ""), refused.value.details()


def test_more_than_four_controls_are_invalid(flux_stub: pb_grpc.CocreateStub, flux_session: str) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        candidates(flux_stub, flux(flux_session, *[union(pb.CONTROL_DEPTH, image=stripes())] * 5))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
