"""C2PA manifests on a real store: made on acceptance, embedded in PNG and JPEG, verified, broken by
one changed byte; the text sidecar round-trips; the certificate is made once, or is the user's own."""

from __future__ import annotations

import json
import stat
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from core_server.provenance import credentials, embed
from core_server.provenance.artifacts import SIDECAR, Provenance
from core_server.provenance.credentials import SigningError, load_credentials
from core_server.provenance.verify import verify_file
from core_server.sessions.images import decode_png, encode_png
from core_server.sessions.model import Candidate, Session, Turn
from core_server.sessions.store import SessionStore
from core_server.tasks import RGBAImage

MODEL_SHA = "ab" * 32
BLACK = RGBAImage(16, 16, bytes((0, 0, 0, 255)) * 256)
WHITE = RGBAImage(16, 16, bytes((255, 255, 255, 255)) * 256)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SessionStore]:
    with SessionStore(tmp_path / "sessions") as s:
        yield s


@pytest.fixture
def session(store: SessionStore) -> Session:
    return store.create_session("test", "doc-1", "Doc")


@pytest.fixture
def provenance(store: SessionStore, tmp_path: Path) -> Provenance:
    return Provenance(store, tmp_path / "provenance")


@pytest.fixture
def anchor(provenance: Provenance) -> Path:
    provenance.credentials()
    return provenance.directory / credentials.CA_FILE


def image_turn(store: SessionStore, session: Session, parent: str | None = None) -> tuple[Turn, list[Candidate]]:
    params = {"prompt": "a red apple", "image": {"width": 16, "height": 16}, "mask": None, "steps": 4}
    turn = store.start_turn(session.id, parent, "inpaint", params, [7, 8], "tiny-image", MODEL_SHA)
    return turn, store.finish_turn(turn.id, "completed", images=[BLACK, WHITE])


def text_turn(store: SessionStore, session: Session) -> tuple[Turn, list[Candidate]]:
    turn = store.start_turn(session.id, None, "continue_text", {"before": "Once"}, [3], "tiny-text", MODEL_SHA)
    return turn, store.finish_turn(turn.id, "completed", texts=["the cat sat on the mat"])


def change_one_pixel_byte(png: bytes) -> bytes:
    """Flip one bit inside the picture's own IDAT chunk (not the manifest's caBX, not a CRC)."""
    position = 8
    while position < len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        if png[position + 4 : position + 8] == b"IDAT":
            altered = bytearray(png)
            altered[position + 8 + length // 2] ^= 0x01
            return bytes(altered)
        position += 12 + length
    raise AssertionError("no IDAT chunk")


# ---------------------------------------------------------------- the certificate


def test_the_local_certificate_is_made_once_as_c2pa_wants_it(tmp_path: Path) -> None:
    directory = tmp_path / "provenance"
    first = load_credentials(directory)
    assert stat.S_IMODE((directory / credentials.KEY_FILE).stat().st_mode) == 0o600
    assert first.alg == "es256"
    leaf, ca = first.certificates()
    assert leaf.issuer == ca.subject != leaf.subject, "C2PA refuses a self-signed signer"
    leaf.verify_directly_issued_by(ca)
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    leaf.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    assert x509.load_pem_x509_certificate((directory / credentials.CA_FILE).read_bytes()) == ca
    assert load_credentials(directory) == first, "made on first use only"


def test_a_user_can_sign_with_their_own_certificate(
    store: SessionStore, session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = load_credentials(tmp_path / "elsewhere")  # any CA-issued signer will do
    monkeypatch.setenv(credentials.CERT_ENV, str(tmp_path / "elsewhere" / credentials.CERT_FILE))
    monkeypatch.setenv(credentials.KEY_ENV, str(tmp_path / "elsewhere" / credentials.KEY_FILE))
    provenance = Provenance(store, tmp_path / "provenance")
    assert provenance.credentials() == own
    assert not (tmp_path / "provenance").exists(), "no local certificate is made when the user names one"

    _, candidates = image_turn(store, session)
    signed = tmp_path / "own.png"
    signed.write_bytes(provenance.artifact(candidates[0].id).data)
    assert verify_file(signed, [tmp_path / "elsewhere" / credentials.CA_FILE]).trusted
    assert not verify_file(signed).trusted

    monkeypatch.delenv(credentials.KEY_ENV)
    with pytest.raises(SigningError, match=credentials.KEY_ENV):
        load_credentials(tmp_path / "provenance")


# ---------------------------------------------------------------- images


def test_an_accepted_candidate_carries_a_manifest_that_verifies(
    store: SessionStore, session: Session, provenance: Provenance, anchor: Path, tmp_path: Path
) -> None:
    root, _ = image_turn(store, session)
    turn, candidates = image_turn(store, session, parent=root.id)
    feedback = store.add_feedback(candidates[1].id, "accepted")
    signed = provenance.record(feedback)
    assert signed.media_type == embed.PNG and not signed.human_edited
    assert store.get_provenance(feedback.id) is not None, "kept with the session when accepted"
    assert decode_png(signed.data) == WHITE, "the pixels are the candidate's"

    path = tmp_path / signed.file_name
    path.write_bytes(signed.data)
    result = verify_file(path, [anchor])
    assert result.verdict == "intact" and result.trusted and not result.failures
    assert verify_file(path).verdict == "intact" and not verify_file(path).trusted, "no anchor: intact, untrusted"
    (link,) = result.chain
    assert link.actions == ["created (compositeWithTrainedAlgorithmicMedia)"], "an inpaint edits with AI"
    assert link.signer == "cocreate signer ← cocreate local CA"
    assert link.facts == {
        "ai": "edited",
        "task": "inpaint",
        "model": {"name": "tiny-image", "sha256": MODEL_SHA},
        "parameters": {"prompt": "a red apple", "image": {"width": 16, "height": 16}, "mask": None, "steps": 4},
        "seed": 8,
        "session_id": session.id,
        "turn_id": turn.id,
        "parent_turn_id": root.id,
        "candidate_id": candidates[1].id,
        "candidate_index": 1,
        "candidate_sha256": candidates[1].sha256,
        "decision": "accepted",
        "feedback_id": feedback.id,
        "final_sha256": None,
        "human_edited": False,
    }
    assert provenance.artifact(candidates[1].id).data == signed.data, "asking again returns the kept file"


def test_one_changed_byte_makes_verify_report_the_image_altered(
    store: SessionStore, session: Session, provenance: Provenance, anchor: Path, tmp_path: Path
) -> None:
    _, candidates = image_turn(store, session)
    path = tmp_path / "altered.png"
    path.write_bytes(change_one_pixel_byte(provenance.artifact(candidates[0].id).data))
    result = verify_file(path, [anchor])
    assert result.verdict == "altered"
    assert "assertion.dataHash.mismatch" in [code for code, _ in result.failures]


def test_a_human_edit_is_signed_with_the_ai_output_as_its_parent(
    store: SessionStore, session: Session, provenance: Provenance, anchor: Path, tmp_path: Path
) -> None:
    _, candidates = image_turn(store, session)
    final = RGBAImage(16, 16, WHITE.data[: 16 * 4 * 4] + BLACK.data[16 * 4 * 4 :])  # four rows painted over
    feedback = store.add_feedback(candidates[0].id, "edited", final_image=final)
    signed = provenance.record(feedback)
    assert signed.human_edited and signed.file_name.endswith("-final.png")
    assert decode_png(signed.data) == final, "what is signed is what the person left"

    path = tmp_path / signed.file_name
    path.write_bytes(signed.data)
    result = verify_file(path, [anchor])
    assert result.verdict == "intact" and result.trusted
    kept, made = result.chain
    assert kept.relationship == "active" and kept.actions == ["opened", "edited (humanEdits)"]
    assert kept.facts is not None and kept.facts["human_edited"] and kept.facts["decision"] == "edited"
    assert made.relationship == "parentOf" and made.actions == ["created (compositeWithTrainedAlgorithmicMedia)"]
    assert made.facts is not None and not made.facts["human_edited"] and made.facts["decision"] is None


def test_jpeg_embeds_the_manifest_too(
    store: SessionStore, session: Session, provenance: Provenance, anchor: Path, tmp_path: Path
) -> None:
    _, candidates = image_turn(store, session)
    signed = provenance.artifact(candidates[0].id, embed.JPEG)
    assert signed.media_type == embed.JPEG and signed.data[:3] == b"\xff\xd8\xff"
    path = tmp_path / signed.file_name
    path.write_bytes(signed.data)
    assert verify_file(path, [anchor]).verdict == "intact"


def test_a_file_without_a_manifest_says_so(tmp_path: Path) -> None:
    path = tmp_path / "plain.png"
    path.write_bytes(encode_png(BLACK))
    result = verify_file(path)
    assert result.verdict == "missing" and "no C2PA manifest" in result.problem
    settings = tmp_path / "settings.json"
    settings.write_text('{"format": "something else"}')
    assert verify_file(settings).verdict == "missing", "a JSON file is not taken for a sidecar"


# ---------------------------------------------------------------- texts


def test_the_text_sidecar_round_trips(
    store: SessionStore, session: Session, provenance: Provenance, anchor: Path, tmp_path: Path
) -> None:
    turn, (candidate,) = text_turn(store, session)
    feedback = store.add_feedback(candidate.id, "edited", final_text="the cat sat on a mat")
    signed = provenance.record(feedback)
    assert signed.media_type == SIDECAR and signed.text == "the cat sat on a mat"
    assert signed.file_name.endswith(".txt.json")
    text, sidecar = tmp_path / "story.txt", tmp_path / "story.txt.json"
    text.write_text(signed.text, encoding="utf-8")
    sidecar.write_bytes(signed.data)

    for path in (text, sidecar):  # either file names the pair
        result = verify_file(path, [anchor])
        assert result.verdict == "intact" and result.trusted and not result.failures
    kept, made = result.chain
    assert kept.facts is not None and kept.facts["human_edited"] and kept.facts["turn_id"] == turn.id
    assert kept.facts["model"] == {"name": "tiny-text", "sha256": MODEL_SHA} and kept.facts["seed"] == 3
    assert made.relationship == "parentOf" and made.actions == ["created (trainedAlgorithmicMedia)"]
    assert signed.manifest["title"] == kept.title and signed.manifest["ingredients"][0]["relationship"] == "parentOf"

    text.write_text("the cat sat on a hat", encoding="utf-8")
    altered = verify_file(text, [anchor])
    assert altered.verdict == "altered" and ("assertion.dataHash.mismatch" in [c for c, _ in altered.failures])

    text.write_text(signed.text, encoding="utf-8")
    document = json.loads(signed.data)
    document["manifests"][document["active_manifest"]]["assertions"][1]["data"]["seed"] = 4
    sidecar.write_text(json.dumps(document))
    forged = verify_file(text, [anchor])
    assert forged.verdict == "altered" and "claimSignature.mismatch" in [c for c, _ in forged.failures]

    sidecar.unlink()
    assert verify_file(text).verdict == "missing"
