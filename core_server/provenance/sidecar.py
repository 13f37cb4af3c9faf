"""The manifest of a file that cannot embed one (text), as a signed JSON sidecar: <file>.json.

It holds the same manifest definitions an embedded manifest would (the AI output's, and what the
person kept, with the first as the second's parent ingredient), the SHA-256 of the file's bytes,
and an ECDSA/Ed25519/RSA-PSS signature over all of that by the same certificate that signs images.
`check` reports in C2PA's own terms and shape (validation codes, states Valid/Trusted/Invalid),
so one report serves both kinds of file.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import itertools
import json
import uuid
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from cryptography.x509.oid import NameOID

from .credentials import Credentials, SigningError
from .embed import ManifestStore

FORMAT = "cocreate.c2pa-sidecar"
VERSION = 1
SUFFIX = ".json"
TEXT = "text/plain; charset=utf-8"
_HASH: dict[str, type[hashes.HashAlgorithm]] = {
    "es256": hashes.SHA256,
    "es384": hashes.SHA384,
    "es512": hashes.SHA512,
    "ps256": hashes.SHA256,
}
_SIGNED = ("asset", "active_manifest", "manifests", "signed_at")  # the fields the signature covers


def make(
    definition: dict[str, Any],
    asset: bytes,
    credentials: Credentials,
    parent: tuple[dict[str, Any], dict[str, Any], bytes] | None = None,
) -> bytes:
    """The sidecar for `asset`; `parent` is (ingredient, the parent's manifest definition, the parent's bytes)."""
    label = _label()
    manifests = {label: dict(definition)}
    if parent is not None:
        ingredient, parent_definition, parent_asset = parent
        parent_label = _label()
        manifests[parent_label] = parent_definition
        link = {**ingredient, "hash": _sha256(parent_asset), "active_manifest": parent_label}
        manifests[label]["ingredients"] = [link]
    body = {
        "asset": {"media_type": TEXT, "alg": "sha256", "hash": _sha256(asset)},
        "active_manifest": label,
        "manifests": manifests,
        "signed_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
    }
    signature = _sign(credentials.private_key(), credentials.alg, _canonical(body))
    chain = [c.public_bytes(serialization.Encoding.PEM).decode() for c in credentials.certificates()]
    document = {
        "format": FORMAT,
        "version": VERSION,
        **body,
        "signature": {
            "alg": credentials.alg,
            "certificate_chain": chain,
            "value": base64.b64encode(signature).decode(),
        },
    }
    return json.dumps(document, indent=2, ensure_ascii=False).encode()


def is_sidecar(data: bytes) -> bool:
    """Whether `data` is a sidecar (by its format field), as opposed to any other JSON file."""
    try:
        return json.loads(data).get("format") == FORMAT
    except (ValueError, AttributeError):  # not JSON (UnicodeDecodeError is a ValueError), or not an object
        return False


def check(sidecar: bytes, asset: bytes | None, anchors: list[x509.Certificate]) -> ManifestStore:
    """Validate a sidecar against the file it describes (None: not found) and the trust anchors.

    Raises ValueError when it is not a sidecar at all (not JSON, another format, fields missing)."""
    try:
        document = json.loads(sidecar)
        if document.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} file")
        body = {key: document[key] for key in _SIGNED}
        signature = document["signature"]
        chain = [x509.load_pem_x509_certificate(pem.encode()) for pem in signature["certificate_chain"]]
        value = base64.b64decode(signature["value"], validate=True)
        signed_at = datetime.datetime.fromisoformat(body["signed_at"])
        manifests, label = body["manifests"], body["active_manifest"]
        expected_hash = body["asset"]["hash"]
        if label not in manifests:
            raise KeyError(f"the active manifest {label}")
    except (KeyError, TypeError, AttributeError, json.JSONDecodeError, UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"not a readable cocreate sidecar: {error}") from None
    if not chain:
        raise ValueError("not a readable cocreate sidecar: it names no certificate")
    payload = _canonical(body)  # before the report adds anything to the manifests

    success: list[dict[str, str]] = []
    failure: list[dict[str, str]] = []

    def note(ok: bool, good: tuple[str, str], bad: tuple[str, str]) -> None:
        code, explanation = good if ok else bad
        (success if ok else failure).append({"code": code, "explanation": explanation})

    leaf = chain[0]
    note(
        leaf.not_valid_before_utc <= signed_at <= leaf.not_valid_after_utc,
        ("claimSignature.insideValidity", "signed while the certificate was valid"),
        ("claimSignature.outsideValidity", "signed outside the certificate's validity"),
    )
    note(
        _verify(leaf.public_key(), signature.get("alg", ""), value, payload),
        ("claimSignature.validated", "sidecar signature valid"),
        ("claimSignature.mismatch", "the sidecar changed after it was signed"),
    )
    if asset is not None:
        note(
            _sha256(asset) == expected_hash,
            ("assertion.dataHash.match", "the file's hash matches the signed hash"),
            ("assertion.dataHash.mismatch", "the file changed after it was signed (hashes do not match)"),
        )
    trusted = _trusted(chain, anchors)
    info = {"subject": _names(leaf.subject), "issuer": _names(leaf.issuer), "serialNumber": f"{leaf.serial_number:x}"}
    for manifest in manifests.values():
        manifest["signature_info"] = {"alg": signature.get("alg", ""), "common_name": info["subject"].get("CN", "")}
    if trusted:
        success.append({"code": "signingCredential.trusted", "explanation": "the signer chains to a trust anchor"})
    else:
        failure.append({"code": "signingCredential.untrusted", "explanation": "signing certificate untrusted"})
    # As C2PA: an untrusted signer leaves an intact file Valid; any other failure makes it Invalid.
    broken = [f for f in failure if f["code"] != "signingCredential.untrusted"]
    state = "Invalid" if broken else "Trusted" if trusted else "Valid"
    return ManifestStore(
        state=state,
        active=label,
        manifests=manifests,
        certificates=dict.fromkeys(manifests, info),
        results={"activeManifest": {"success": success, "failure": failure}},
    )


def _label() -> str:
    return f"urn:cocreate:{uuid.uuid4()}"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _sign(key: PrivateKeyTypes, alg: str, data: bytes) -> bytes:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(_HASH[alg]()))
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, _pss(), hashes.SHA256())
    raise SigningError(f"cannot sign a sidecar with a {type(key).__name__}")


def _verify(key: PublicKeyTypes, alg: str, signature: bytes, data: bytes) -> bool:
    try:
        if isinstance(key, ec.EllipticCurvePublicKey) and alg in _HASH:
            key.verify(signature, data, ec.ECDSA(_HASH[alg]()))
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, _pss(), hashes.SHA256())
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _pss() -> padding.PSS:
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)


def _trusted(chain: list[x509.Certificate], anchors: list[x509.Certificate]) -> bool:
    """Each certificate issued by the next, and one of them an anchor or issued by one."""
    if not all(_issued_by(child, parent) for child, parent in itertools.pairwise(chain)):
        return False
    return any(cert == anchor or _issued_by(cert, anchor) for cert in chain for anchor in anchors)


def _issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _names(name: x509.Name) -> dict[str, str]:
    """Common and organisation name, keyed as C2PA readers report them."""
    found = {}
    for short, oid in (("CN", NameOID.COMMON_NAME), ("O", NameOID.ORGANIZATION_NAME)):
        attributes = name.get_attributes_for_oid(oid)
        if attributes:
            found[short] = str(attributes[0].value)
    return found
