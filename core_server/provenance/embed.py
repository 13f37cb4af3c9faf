"""C2PA manifests embedded in PNG and JPEG files, through c2pa-python. Works offline: no timestamp
authority, no OCSP; trust comes from the anchors the caller passes."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import c2pa
from PIL import Image

from .credentials import Credentials, SigningError

PNG = "image/png"
JPEG = "image/jpeg"
JPEG_QUALITY = 95


@dataclass(frozen=True)
class ManifestStore:
    """What a C2PA reader found in a file."""

    state: str  # Valid (intact, signer not trusted), Trusted (intact, signer trusted) or Invalid
    active: str  # the label of the active manifest
    manifests: dict[str, dict[str, Any]]  # by label, as the reader's JSON has them
    certificates: dict[str, dict[str, Any]]  # by label: the signing certificate's subject, issuer, validity
    results: dict[str, Any]  # the reader's validation results

    @property
    def active_manifest(self) -> dict[str, Any]:
        return self.manifests[self.active]


def sign(
    definition: dict[str, Any],
    data: bytes,
    media_type: str,
    credentials: Credentials,
    parent: tuple[dict[str, Any], bytes] | None = None,
) -> bytes:
    """`data` with the manifest embedded; `parent` (ingredient definition, signed file of the same
    type) is added as an ingredient, its own manifest carried along."""
    try:
        signer = c2pa.Signer.from_info(
            c2pa.C2paSignerInfo(credentials.alg.encode(), credentials.chain_pem, credentials.key_pem, None)
        )
        with signer, c2pa.Builder.from_json(definition) as builder:
            if parent is not None:
                builder.add_ingredient_from_stream(parent[0], media_type, io.BytesIO(parent[1]))
            out = io.BytesIO()
            builder.sign(signer, media_type, io.BytesIO(data), out)
    except c2pa.C2paError as error:
        raise SigningError(f"C2PA could not sign with {credentials.origin}: {error}") from error
    return out.getvalue()


def read(data: bytes, media_type: str, anchors_pem: bytes | None = None) -> ManifestStore | None:
    """The file's manifests, validated (trusted only if the signer chains to `anchors_pem`); None if it has none.

    Raises c2pa.C2paError when the manifest is there but cannot be parsed (a damaged file)."""
    context = c2pa.Context.from_dict({"trust": {"trust_anchors": anchors_pem.decode()}}) if anchors_pem else None
    reader = c2pa.Reader.try_create(media_type, io.BytesIO(data), None, context)
    if reader is None:
        return None
    with reader:
        store = json.loads(reader.json())
        standard = json.loads(reader.crjson())
    certificates = {m["label"]: m.get("signature", {}).get("certificateInfo", {}) for m in standard["manifests"]}
    return ManifestStore(
        state=store.get("validation_state", "Invalid"),
        active=store["active_manifest"],
        manifests=store["manifests"],
        certificates=certificates,
        results=store.get("validation_results", {}),
    )


def to_jpeg(png: bytes) -> bytes:
    """JPEG has no alpha, so the picture is flattened onto white."""
    with Image.open(io.BytesIO(png)) as picture:
        rgba = picture.convert("RGBA")
    flat = Image.new("RGB", rgba.size, (255, 255, 255))
    flat.paste(rgba, mask=rgba.getchannel("A"))
    buffer = io.BytesIO()
    flat.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()
