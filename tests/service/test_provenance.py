"""Provenance through a real daemon: what Feedback keeps is signed, GetProvenance hands it to a
plugin, `sessions export` carries every manifest, `cocreate provenance verify` tells intact from altered."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import grpc
import pytest
from cocreate_client import CocreateClient

from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc
from core_server.provenance.verify import verify_file
from core_server.sessions.images import decode_png
from tests.support.daemon import Daemon

from .images import disc, gradient
from .test_generate import generate


def anchor(daemon: Daemon) -> Path:
    assert daemon.home is not None
    return daemon.home / "provenance" / "ca.pem"


def candidates_of(events: list[pb.GenerateEvent]) -> list[pb.Candidate]:
    return [e.candidate for e in events if e.HasField("candidate")]


def cocreate(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    environment = dict(os.environ, COCREATE_HOME=str(home), COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "core_server", *args], env=environment, capture_output=True, text=True, timeout=300
    )


def test_an_accepted_candidate_comes_back_signed(
    stub: pb_grpc.CocreateStub, daemon: Daemon, session_id: str, tmp_path: Path
) -> None:
    events = generate(stub, session_id, "inpaint", candidates=2, seed=5)
    turn_id = events[0].accepted.turn_id
    chosen = candidates_of(events)[1]
    feedback = stub.Feedback(pb.FeedbackRequest(candidate_id=chosen.candidate_id, decision=pb.ACCEPTED))

    signed = stub.GetProvenance(pb.GetProvenanceRequest(candidate_id=chosen.candidate_id))
    assert signed.media_type == "image/png" and signed.feedback_id == feedback.feedback_id
    assert not signed.human_edited and signed.file_name.endswith(".png")
    assert decode_png(signed.data).data == chosen.image.rgba
    path = tmp_path / signed.file_name
    path.write_bytes(signed.data)
    result = verify_file(path, [anchor(daemon)])
    assert result.verdict == "intact" and result.trusted

    turn = next(t for t in stub.GetSession(pb.GetSessionRequest(session_id=session_id)).turns if t.id == turn_id)
    facts = result.chain[0].facts
    assert facts is not None
    assert facts["model"] == {"name": turn.model, "sha256": turn.model_sha256}
    assert facts["parameters"] == json.loads(turn.params_json)
    assert (facts["seed"], facts["session_id"], facts["turn_id"]) == (6, session_id, turn_id)
    assert facts["parent_turn_id"] is None and facts["decision"] == "accepted" and not facts["human_edited"]
    manifest = json.loads(signed.manifest_json)
    assert manifest["title"] == signed.file_name

    jpeg = stub.GetProvenance(
        pb.GetProvenanceRequest(candidate_id=chosen.candidate_id, format=pb.PROVENANCE_FORMAT_JPEG)
    )
    assert jpeg.media_type == "image/jpeg"
    (tmp_path / jpeg.file_name).write_bytes(jpeg.data)
    assert verify_file(tmp_path / jpeg.file_name, [anchor(daemon)]).verdict == "intact"


def test_an_edited_region_is_what_gets_signed(
    stub: pb_grpc.CocreateStub, daemon: Daemon, session_id: str, tmp_path: Path
) -> None:
    (candidate,) = candidates_of(generate(stub, session_id, "inpaint", candidates=1, seed=9))
    width = candidate.image.width
    painted = bytes((200, 30, 30, 255)) * (width * 8) + candidate.image.rgba[width * 8 * 4 :]
    final = pb.Image(width=width, height=candidate.image.height, rgba=painted)
    stub.Feedback(pb.FeedbackRequest(candidate_id=candidate.candidate_id, decision=pb.EDITED, final_image=final))

    signed = stub.GetProvenance(pb.GetProvenanceRequest(candidate_id=candidate.candidate_id))
    assert signed.human_edited and decode_png(signed.data).data == painted
    path = tmp_path / signed.file_name
    path.write_bytes(signed.data)
    result = verify_file(path, [anchor(daemon)])
    assert result.verdict == "intact"
    assert [link.relationship for link in result.chain] == ["active", "parentOf"]
    assert result.chain[0].actions == ["opened", "edited (humanEdits)"]


def test_a_kept_text_gets_a_sidecar(
    stub: pb_grpc.CocreateStub, daemon: Daemon, session_id: str, tmp_path: Path
) -> None:
    (candidate,) = candidates_of(generate(stub, session_id, "continue_text", candidates=1, seed=2))
    final = candidate.text + " and then it rained."
    stub.Feedback(pb.FeedbackRequest(candidate_id=candidate.candidate_id, decision=pb.EDITED, final_text=final))
    signed = stub.GetProvenance(pb.GetProvenanceRequest(candidate_id=candidate.candidate_id))
    assert signed.media_type == "application/json" and signed.text == final and signed.human_edited
    (tmp_path / "passage.txt").write_text(signed.text, encoding="utf-8")
    (tmp_path / "passage.txt.json").write_bytes(signed.data)
    result = verify_file(tmp_path / "passage.txt", [anchor(daemon)])
    assert result.verdict == "intact" and result.trusted
    assert result.chain[0].facts is not None and result.chain[0].facts["candidate_id"] == candidate.candidate_id


def test_export_carries_every_manifest_and_the_analytics(
    stub: pb_grpc.CocreateStub, daemon: Daemon, session_id: str, tmp_path: Path
) -> None:
    images = candidates_of(generate(stub, session_id, "inpaint", candidates=2, seed=1))
    texts = candidates_of(generate(stub, session_id, "continue_text", candidates=1, seed=1))
    stub.Feedback(pb.FeedbackRequest(candidate_id=images[0].candidate_id, decision=pb.ACCEPTED))
    stub.Feedback(pb.FeedbackRequest(candidate_id=images[1].candidate_id, decision=pb.REJECTED))

    archive = b"".join(c.data for c in stub.ExportSession(pb.ExportSessionRequest(session_id=session_id)))
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        zf.extractall(tmp_path)
        names = set(zf.namelist())
    image_ids, text_id = [c.candidate_id for c in images], texts[0].candidate_id
    assert {f"provenance/{i}.png" for i in image_ids} <= names
    assert {f"provenance/{text_id}.txt", f"provenance/{text_id}.txt.json"} <= names
    for name in (*(f"provenance/{i}.png" for i in image_ids), f"provenance/{text_id}.txt"):
        assert verify_file(tmp_path / name, [anchor(daemon)]).verdict == "intact", name

    index = {entry["candidate_id"]: entry for entry in json.loads((tmp_path / "provenance.json").read_text())}
    assert set(index) == {*image_ids, text_id}
    assert index[image_ids[0]]["manifest"]["assertions"][1]["data"]["decision"] == "accepted"
    assert index[text_id]["sidecar"] == f"provenance/{text_id}.txt.json"

    analytics = json.loads((tmp_path / "analytics.json").read_text())
    assert analytics["sessionId"] == session_id and analytics["turns"] == 2
    assert analytics["rejectionRate"] == 0.5 and analytics["turnsToAccept"] == 1


def test_cli_verifies_intact_and_altered_files(
    stub: pb_grpc.CocreateStub, daemon: Daemon, session_id: str, tmp_path: Path
) -> None:
    assert daemon.home is not None
    (candidate,) = candidates_of(generate(stub, session_id, "inpaint", candidates=1, seed=4))
    stub.Feedback(pb.FeedbackRequest(candidate_id=candidate.candidate_id, decision=pb.ACCEPTED))
    path = tmp_path / "kept.png"
    got = cocreate(
        "provenance", "get", candidate.candidate_id, str(path), "--endpoint", daemon.endpoint, home=daemon.home
    )
    assert got.returncode == 0, got.stdout + got.stderr

    intact = cocreate("provenance", "verify", str(path), home=daemon.home)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert (
        "INTACT" in intact.stdout
        and "signer: trusted" in intact.stdout
        and "cocreate signer ← cocreate local CA" in intact.stdout
    )
    assert f"turn {candidate_turn(stub, session_id)}" in intact.stdout

    data = bytearray(path.read_bytes())
    data[-20] ^= 0x01  # inside the last IDAT chunk's data (12 bytes of IEND and 4 of CRC come after it)
    altered = tmp_path / "altered.png"
    altered.write_bytes(bytes(data))
    result = cocreate("provenance", "verify", str(altered), home=daemon.home)
    assert result.returncode == 1
    assert "ALTERED" in result.stdout and "assertion.dataHash.mismatch" in result.stdout, result.stdout

    untrusted = cocreate("provenance", "verify", str(path), home=tmp_path / "elsewhere")
    assert untrusted.returncode == 0 and "not trusted" in untrusted.stdout


def candidate_turn(stub: pb_grpc.CocreateStub, session_id: str) -> str:
    return stub.GetSession(pb.GetSessionRequest(session_id=session_id)).turns[-1].id


def test_the_plugin_client_fetches_the_manifest_for_what_it_applied(
    daemon: Daemon, session_id: str, tmp_path: Path
) -> None:
    with CocreateClient(daemon.endpoint) as client:
        job = client.generate(
            pb.GenerateRequest(
                session_id=session_id,
                candidates=1,
                seed=3,
                inpaint=pb.InpaintTask(image=gradient(32, 32), mask=disc(32, 32), steps=2),
            )
        )
        result = job.wait(timeout=120)
        (applied,) = result.candidates
        client.feedback(applied.candidate_id, "accepted")
        signed = client.get_provenance(applied.candidate_id, "jpeg")
        with pytest.raises(ValueError, match="image_format"):
            client.get_provenance(applied.candidate_id, "gif")  # type: ignore[arg-type]
    assert signed.media_type == "image/jpeg" and signed.feedback_id
    (tmp_path / signed.file_name).write_bytes(signed.data)
    assert verify_file(tmp_path / signed.file_name, [anchor(daemon)]).verdict == "intact"


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (pb.GetProvenanceRequest(candidate_id="../x"), grpc.StatusCode.INVALID_ARGUMENT),
        (pb.GetProvenanceRequest(candidate_id="0" * 32), grpc.StatusCode.NOT_FOUND),
    ],
)
def test_bad_provenance_requests(
    stub: pb_grpc.CocreateStub, request_: pb.GetProvenanceRequest, code: grpc.StatusCode
) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        stub.GetProvenance(request_)
    assert raised.value.code() == code and "candidate" in raised.value.details()


def test_an_unknown_format_is_refused(stub: pb_grpc.CocreateStub, session_id: str) -> None:
    (candidate,) = candidates_of(generate(stub, session_id, "continue_text", candidates=1, seed=1))
    with pytest.raises(grpc.RpcError) as raised:
        stub.GetProvenance(pb.GetProvenanceRequest(candidate_id=candidate.candidate_id, format=99))  # type: ignore[arg-type]
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "format" in raised.value.details()
