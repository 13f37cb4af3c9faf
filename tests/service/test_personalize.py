"""Personal LoRAs from a session of a real daemon: the Personalize RPC (as the CLI and the plugin client
use it), its cancellation and its refusals, then the LoRA named in requests."""

from __future__ import annotations

import threading
from pathlib import Path

import grpc
import pytest
from cocreate_client import CocreateClient, Progress, Trained, tasks

from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc
from tests.support.daemon import Daemon

from .test_cli import cocreate
from .test_cocreation import INPAINT, UNKNOWN, decide, generate, turn_params

TRAINING = ("--steps", "10", "--rank", "4", "--learning-rate", "1e-2")


def personalize(stub: pb_grpc.CocreateStub, session_id: str, name: str, **fields: object) -> list[pb.PersonalizeEvent]:
    request = pb.PersonalizeRequest(session_id=session_id, name=name, rank=4, learning_rate=1e-2, **fields)
    return list(stub.Personalize(request, timeout=300))


def accepted_session(stub: pb_grpc.CocreateStub, session_id: str, seed: int) -> str:
    _, candidates = generate(stub, session_id, candidates=2, seed=seed)
    decide(stub, candidates[0], candidates[1:])
    return session_id


def staging_folders(daemon: Daemon) -> list[Path]:
    assert daemon.home is not None
    return list((daemon.home / "models").glob(".personalize-*"))


def test_personalize_a_session_from_the_cli_then_paint_with_the_lora(
    daemon: Daemon, stub: pb_grpc.CocreateStub, session_id: str
) -> None:
    assert daemon.home is not None
    accepted_session(stub, session_id, seed=70)

    trained = cocreate(
        "personalize", session_id, "--name", "my-style", *TRAINING, "--endpoint", daemon.endpoint, home=daemon.home
    )
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert "trained LoRA my-style on 1 pictures" in " ".join(trained.stdout.split())

    models = {m.name: m for m in stub.ListModels(pb.ListModelsRequest()).models}
    assert (models["my-style"].kind, models["my-style"].source) == ("lora", "personal")

    _, plain = generate(stub, session_id, candidates=1, seed=71, exploration=1.0)
    turn, adapted = generate(stub, session_id, candidates=1, seed=71, exploration=1.0, lora="my-style")
    assert adapted[0].image.rgba != plain[0].image.rgba, "the LoRA changes what the model paints"
    recorded = turn_params(stub, session_id, turn)["lora"]
    assert recorded["name"] == "my-style" and len(recorded["sha256"]) == 64

    _, replayed = generate(stub, session_id, candidates=1, seed=1, replay_turn_id=turn)
    assert replayed[0].image.rgba == adapted[0].image.rgba, "a replay uses the turn's LoRA again"


def test_the_rpc_streams_accepted_progress_and_done(
    daemon: Daemon, stub: pb_grpc.CocreateStub, session_id: str
) -> None:
    accepted_session(stub, session_id, seed=73)
    events = personalize(stub, session_id, "streamed", steps=5)
    kinds = [e.WhichOneof("event") for e in events]
    assert kinds[0] == "accepted" and kinds[-1] == "done" and set(kinds[1:-1]) <= {"queued", "progress"}
    assert len(events[0].accepted.job_id) == 32 and events[0].accepted.model == "tiny-image"
    steps = [e.progress for e in events if e.HasField("progress")]
    assert steps[-1].step == steps[-1].total == 5 and all(s.loss > 0 for s in steps)
    done = events[-1].done
    assert (done.status, done.lora, done.pictures, len(done.sha256)) == (pb.JOB_COMPLETED, "streamed", 1, 64)
    assert not staging_folders(daemon)


def test_the_plugin_client_trains_and_names_the_lora(
    daemon: Daemon, stub: pb_grpc.CocreateStub, session_id: str
) -> None:
    accepted_session(stub, session_id, seed=74)
    with CocreateClient(daemon.endpoint) as client:
        job = client.personalize(tasks.personalize(session_id, "from-a-plugin", steps=3, rank=4))
        result = job.wait(300)
        events = job.poll()
    assert result.ok and result.lora == "from-a-plugin", result.error
    assert [e.step for e in events if isinstance(e, Progress)][-1] == 3
    assert [e for e in events if isinstance(e, Trained)] == [Trained("from-a-plugin", 1, events[-2].sha256)]


@pytest.mark.parametrize("how", ["Cancel", "closing the call"])
def test_cancel_stops_the_training_and_keeps_nothing(
    daemon: Daemon, stub: pb_grpc.CocreateStub, session_id: str, how: str
) -> None:
    accepted_session(stub, session_id, seed=75)
    name = "never-" + how.split()[0].lower()
    call = stub.Personalize(pb.PersonalizeRequest(session_id=session_id, name=name, steps=5000), timeout=300)
    accepted = next(call).accepted
    assert next(call).HasField("progress"), "training started"
    if how == "Cancel":
        assert stub.Cancel(pb.CancelRequest(job_id=accepted.job_id)).was_running
        assert [e.done.status for e in call if e.HasField("done")] == [pb.JOB_CANCELLED]
    else:
        call.cancel()
        stopped = threading.Event()
        for _ in range(100):  # the job leaves the worker within one step
            if not stub.ModelStatus(pb.ModelStatusRequest()).running_job_id:
                stopped.set()
                break
            stopped.wait(0.1)
        assert stopped.is_set(), "the daemon kept training for a caller that left"
    assert name not in {m.name for m in stub.ListModels(pb.ListModelsRequest()).models}
    assert not staging_folders(daemon)
    generate(stub, session_id, candidates=1, seed=76)  # the worker serves the next job


def test_personalize_refuses_what_it_cannot_train(daemon: Daemon, stub: pb_grpc.CocreateStub, session_id: str) -> None:
    generate(stub, session_id, candidates=1, seed=72)
    refusals = {
        "no accepted pictures": ({"session_id": session_id, "name": "empty"}, grpc.StatusCode.FAILED_PRECONDITION),
        "a path as name": ({"session_id": session_id, "name": "../evil"}, grpc.StatusCode.INVALID_ARGUMENT),
        "no name": ({"session_id": session_id}, grpc.StatusCode.INVALID_ARGUMENT),
        "not an id": ({"session_id": "nope", "name": "x"}, grpc.StatusCode.INVALID_ARGUMENT),
        "unknown session": ({"session_id": UNKNOWN, "name": "x"}, grpc.StatusCode.NOT_FOUND),
        "a base model's name": ({"session_id": session_id, "name": "tiny-image"}, grpc.StatusCode.FAILED_PRECONDITION),
        "unknown base model": ({"session_id": session_id, "name": "x", "model": "nope"}, grpc.StatusCode.NOT_FOUND),
        "too many steps": ({"session_id": session_id, "name": "x", "steps": 10**6}, grpc.StatusCode.INVALID_ARGUMENT),
        "a NaN learning rate": (
            {"session_id": session_id, "name": "x", "learning_rate": float("nan")},
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
    }
    messages = {}
    for what, (fields, code) in refusals.items():
        with pytest.raises(grpc.RpcError) as error:
            list(stub.Personalize(pb.PersonalizeRequest(**fields), timeout=60))
        assert error.value.code() == code, (what, error.value.details())
        messages[what] = error.value.details()
    assert "no accepted pictures yet: keep (accept) some candidates first" in messages["no accepted pictures"]
    assert "never a path" in messages["a path as name"]

    assert daemon.home is not None
    result = cocreate(
        "personalize", session_id, "--name", "empty", *TRAINING, "--endpoint", daemon.endpoint, home=daemon.home
    )
    assert result.returncode == 1 and "no accepted pictures yet" in " ".join(result.stderr.split())


def test_personalize_a_folder_in_the_cli_process(tmp_path: Path, daemon: Daemon) -> None:
    from PIL import Image

    pictures = tmp_path / "pictures"
    pictures.mkdir()
    Image.new("RGBA", (64, 64), (200, 40, 40, 255)).save(pictures / "red.png")
    (pictures / "red.txt").write_text("a red square")
    assert daemon.home is not None
    trained = cocreate("personalize", str(pictures), "--name", "from-folder", *TRAINING, home=daemon.home)
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert "trained LoRA from-folder on 1 pictures" in " ".join(trained.stdout.split())
    (tmp_path / "empty").mkdir()
    empty = cocreate("personalize", str(tmp_path / "empty"), "--name", "x", home=daemon.home)
    assert empty.returncode == 1 and "holds no pictures" in " ".join(empty.stderr.split())


def test_a_model_that_is_no_lora_is_refused_as_one(stub: pb_grpc.CocreateStub, session_id: str) -> None:
    request = pb.GenerateRequest(session_id=session_id, candidates=1, inpaint=INPAINT, lora="tiny-image")
    with pytest.raises(grpc.RpcError) as error:
        list(stub.Generate(request, timeout=60))
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION, error.value.details()
    assert "needs a LoRA" in error.value.details()
