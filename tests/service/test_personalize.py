"""`cocreate personalize` on a real session of a real daemon, then the LoRA named in requests."""

from __future__ import annotations

import grpc
import pytest

from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc
from tests.support.daemon import Daemon

from .test_cli import cocreate
from .test_cocreation import INPAINT, decide, generate, turn_params

TRAINING = ("--steps", "10", "--rank", "4", "--learning-rate", "1e-2")


def test_personalize_a_session_then_paint_with_the_lora(
    daemon: Daemon, stub: pb_grpc.CocreateStub, session_id: str
) -> None:
    assert daemon.home is not None
    _, first = generate(stub, session_id, candidates=2, seed=70)
    decide(stub, first[0], first[1:])

    trained = cocreate("personalize", session_id, "--name", "my-style", *TRAINING, home=daemon.home)
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert "trained LoRA my-style on 1 pictures" in " ".join(trained.stdout.split())

    models = {m.name: m for m in stub.ListModels(pb.ListModelsRequest()).models}
    assert (models["my-style"].kind, models["my-style"].source) == ("lora", "personal")

    _, plain = generate(stub, session_id, candidates=1, seed=71, exploration=1.0)
    turn, adapted = generate(stub, session_id, candidates=1, seed=71, exploration=1.0, lora="my-style")
    assert adapted[0].sha256 != plain[0].sha256, "the LoRA changes what the model paints"
    recorded = turn_params(stub, session_id, turn)["lora"]
    assert recorded["name"] == "my-style" and len(recorded["sha256"]) == 64

    _, replayed = generate(stub, session_id, candidates=1, seed=1, replay_turn_id=turn)
    assert replayed[0].sha256 == adapted[0].sha256, "a replay uses the turn's LoRA again"


def test_personalize_refuses_a_session_with_nothing_accepted(
    daemon: Daemon, stub: pb_grpc.CocreateStub, session_id: str
) -> None:
    assert daemon.home is not None
    generate(stub, session_id, candidates=1, seed=72)
    result = cocreate("personalize", session_id, "--name", "empty", *TRAINING, home=daemon.home)
    assert result.returncode == 1
    assert "no accepted pictures yet" in " ".join(result.stderr.split())
    unknown = cocreate("personalize", "no-such-folder", "--name", "x", home=daemon.home)
    assert unknown.returncode == 1 and "neither a folder nor a session id" in " ".join(unknown.stderr.split())


def test_a_model_that_is_no_lora_is_refused_as_one(stub: pb_grpc.CocreateStub, session_id: str) -> None:
    request = pb.GenerateRequest(session_id=session_id, candidates=1, inpaint=INPAINT, lora="tiny-image")
    with pytest.raises(grpc.RpcError) as error:
        list(stub.Generate(request, timeout=60))
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION, error.value.details()
    assert "needs a LoRA" in error.value.details()
