"""The certificate that signs manifests: the user's own, or a local CA and signer made on first use.

Local files live in <data dir>/provenance/: ca.pem (the trust anchor `provenance verify` uses),
signer.pem (the signer's certificate, then the CA's) and signer.key (0600). The CA's private key is
never written: it signs the one leaf and is dropped, so nothing on disk can issue another.
C2PA refuses a self-signed signer, and wants ES256 with the emailProtection usage and key ids.

To sign with your own certificate set COCREATE_SIGNING_CERT (PEM, the signer first, then its
chain) and COCREATE_SIGNING_KEY (its PEM private key: EC P-256/384/521, Ed25519 or RSA).
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from filelock import FileLock

from core_server.files import write_atomic

CERT_ENV = "COCREATE_SIGNING_CERT"
KEY_ENV = "COCREATE_SIGNING_KEY"
CA_FILE = "ca.pem"
CERT_FILE = "signer.pem"
KEY_FILE = "signer.key"
CA_YEARS = 20
SIGNER_YEARS = 10
_CURVE_ALG = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}


class SigningError(Exception):
    """Nothing can be signed as configured: the message says which file, or what C2PA refused, and why."""


@dataclass(frozen=True)
class Credentials:
    chain_pem: bytes  # the signer's certificate first, then the certificates that issued it
    key_pem: bytes
    alg: str  # C2PA's name: es256, es384, es512, ed25519 or ps256
    origin: str  # where they came from, for messages

    def certificates(self) -> list[x509.Certificate]:
        return x509.load_pem_x509_certificates(self.chain_pem)

    def private_key(self) -> PrivateKeyTypes:
        return serialization.load_pem_private_key(self.key_pem, password=None)


def load_credentials(directory: Path) -> Credentials:
    """The user's own (COCREATE_SIGNING_CERT and _KEY), else the local ones in `directory`, made if absent."""
    cert, key = os.environ.get(CERT_ENV), os.environ.get(KEY_ENV)
    if cert or key:
        if not (cert and key):
            raise SigningError(f"set both {CERT_ENV} and {KEY_ENV} to sign with your own certificate")
        return _read(Path(cert), Path(key))
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    with FileLock(directory / ".lock"):  # two daemons on one home must not make two signers
        if not (directory / KEY_FILE).exists():
            _create(directory)
    return _read(directory / CERT_FILE, directory / KEY_FILE)


def local_anchor(directory: Path) -> Path | None:
    """The local CA certificate, if one was made: the anchor that makes local signatures trusted."""
    path = directory / CA_FILE
    return path if path.exists() else None


def _read(cert_path: Path, key_path: Path) -> Credentials:
    try:
        chain_pem, key_pem = cert_path.read_bytes(), key_path.read_bytes()
    except OSError as error:
        raise SigningError(f"cannot read {error.filename}: {error.strerror}") from None
    try:
        certificates = x509.load_pem_x509_certificates(chain_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
    except ValueError as error:
        raise SigningError(f"{cert_path} or {key_path} is not a PEM certificate chain and key: {error}") from None
    if certificates[0].public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo):
        raise SigningError(f"the key in {key_path} does not belong to the first certificate in {cert_path}")
    return Credentials(chain_pem, key_pem, _alg(key, key_path), str(cert_path))


def _alg(key: object, key_path: Path) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name in _CURVE_ALG:
        return _CURVE_ALG[key.curve.name]
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    if isinstance(key, rsa.RSAPrivateKey):
        return "ps256"
    raise SigningError(f"{key_path}: C2PA signs with EC P-256/384/521, Ed25519 or RSA keys only")


def _create(directory: Path) -> None:
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("cocreate local CA")
    ca = (
        _builder(ca_name, ca_name, ca_key.public_key(), now, CA_YEARS)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(key_cert_sign=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    signer = (
        _builder(_name("cocreate signer"), ca_name, key.public_key(), now, SIGNER_YEARS)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    # The key last: its presence is what says the set is complete.
    write_atomic(directory / CA_FILE, ca.public_bytes(pem), 0o644)
    write_atomic(directory / CERT_FILE, signer.public_bytes(pem) + ca.public_bytes(pem), 0o644)
    write_atomic(directory / KEY_FILE, key_pem, 0o600)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "cocreate"),
        ]
    )


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey, now: datetime.datetime, years: int
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))  # tolerate a clock a little behind
        .not_valid_after(now + datetime.timedelta(days=365 * years))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _usage(*, digital_signature: bool = False, key_cert_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=key_cert_sign,
        encipher_only=False,
        decipher_only=False,
    )
