"""Is a file's manifest intact, who signed it, and what chain of manifests led to it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import c2pa
from cryptography import x509

from . import embed, sidecar
from .embed import ManifestStore
from .manifest import ASSERTION

Verdict = Literal["intact", "altered", "missing"]
_MAGIC = {b"\x89PNG\r\n\x1a\n": embed.PNG, b"\xff\xd8\xff": embed.JPEG}
_UNTRUSTED = "signingCredential.untrusted"  # reported apart: it says nothing about the bytes
_TRUSTED = "signingCredential.trusted"


@dataclass(frozen=True)
class Link:
    """One manifest of the chain: the file's own first, then the ingredients it names."""

    label: str
    title: str
    relationship: str  # "active", or how the ingredient relates (parentOf, componentOf, ...)
    actions: list[str]  # e.g. "created (trainedAlgorithmicMedia)"
    signer: str  # "subject ← issuer", by common name
    facts: dict[str, Any] | None  # the org.cocreate.provenance assertion, when present


@dataclass(frozen=True)
class Verification:
    path: Path
    verdict: Verdict
    how: str = ""  # "embedded in image/png", "sidecar x.txt.json"
    trusted: bool = False  # the signer chains to one of the anchors
    chain: list[Link] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (C2PA status code, explanation)
    problem: str = ""  # why there is nothing to check, or why the manifest could not be read


def verify_file(path: Path, anchors: Sequence[Path] = ()) -> Verification:
    """Check `path`: an image with an embedded manifest, a text with a sidecar, or the sidecar itself."""
    data = path.read_bytes()
    anchors_pem = b"".join(anchor.read_bytes() for anchor in anchors)
    media_type = next((kind for magic, kind in _MAGIC.items() if data.startswith(magic)), None)
    if media_type is not None:
        try:
            store = embed.read(data, media_type, anchors_pem or None)
        except c2pa.C2paError as error:
            damaged = f"the manifest is damaged: {error}"
            return Verification(path, "altered", f"embedded in {media_type}", problem=damaged)
        if store is None:
            return Verification(path, "missing", problem=f"this {media_type} file carries no C2PA manifest")
        return _report(path, f"embedded in {media_type}", store)

    if path.name.endswith(sidecar.SUFFIX) and sidecar.is_sidecar(data):
        sidecar_path, asset_path = path, path.with_name(path.name[: -len(sidecar.SUFFIX)])
    else:
        sidecar_path, asset_path = path.with_name(path.name + sidecar.SUFFIX), path
    if not sidecar_path.exists():
        return Verification(path, "missing", problem=f"no embedded manifest, and no sidecar {sidecar_path.name}")
    if not asset_path.exists():
        return Verification(path, "missing", problem=f"{asset_path.name}, the file the sidecar describes, is not there")
    try:
        store = sidecar.check(
            sidecar_path.read_bytes(),
            asset_path.read_bytes(),
            x509.load_pem_x509_certificates(anchors_pem) if anchors_pem else [],
        )
    except ValueError as error:
        return Verification(path, "altered", f"sidecar {sidecar_path.name}", problem=str(error))
    return _report(path, f"sidecar {sidecar_path.name}", store)


def _report(path: Path, how: str, store: ManifestStore) -> Verification:
    results = store.results
    reports = [results.get("activeManifest", {})]
    reports += [delta.get("validationDeltas", {}) for delta in results.get("ingredientDeltas", [])]
    failures = [
        (item["code"], item.get("explanation", ""))
        for report in reports
        for item in report.get("failure", [])
        if item["code"] != _UNTRUSTED
    ]
    active = results.get("activeManifest", {})
    return Verification(
        path=path,
        verdict="altered" if store.state == "Invalid" else "intact",
        how=how,
        # From the code, not the state: an altered file's signer may still be a trusted one.
        trusted=any(item["code"] == _TRUSTED for item in active.get("success", [])),
        chain=_chain(store),
        failures=failures,
    )


def _chain(store: ManifestStore) -> list[Link]:
    links: list[Link] = []
    pending = [(store.active, "active")]
    seen: set[str] = set()
    while pending:
        label, relationship = pending.pop(0)
        if label in seen or label not in store.manifests:
            continue
        seen.add(label)
        manifest = store.manifests[label]
        links.append(
            Link(
                label=label,
                title=manifest.get("title", ""),
                relationship=relationship,
                actions=_actions(manifest),
                signer=_signer(manifest, store.certificates.get(label, {})),
                facts=next((a["data"] for a in manifest.get("assertions", []) if a.get("label") == ASSERTION), None),
            )
        )
        pending += [
            (i["active_manifest"], i.get("relationship", "ingredient"))
            for i in manifest.get("ingredients", [])
            if "active_manifest" in i
        ]
    return links


def _actions(manifest: dict[str, Any]) -> list[str]:
    names = []
    for assertion in manifest.get("assertions", []):
        if assertion.get("label", "").startswith("c2pa.actions"):
            for action in assertion.get("data", {}).get("actions", []):
                name = action.get("action", "?").removeprefix("c2pa.")
                source = action.get("digitalSourceType", "").rsplit("/", 1)[-1]
                names.append(f"{name} ({source})" if source else name)
    return names


def _signer(manifest: dict[str, Any], certificate: dict[str, Any]) -> str:
    subject = certificate.get("subject", {}).get("CN") or manifest.get("signature_info", {}).get("common_name", "?")
    issuer = certificate.get("issuer", {}).get("CN") or manifest.get("signature_info", {}).get("issuer", "?")
    return f"{subject} ← {issuer}"
