"""Short names for `cocreate models pull`: a curated set of Hub repositories that exist, with the family
each belongs to, its licence and about how much it downloads, said before the download starts.

Only the diffusers folders are fetched (model_index.json and one folder per part): several of these
repositories also hold the same weights again as single files at their root, which would double the
download.
"""

from __future__ import annotations

from dataclasses import dataclass

# The parts of a diffusers pipeline: its index and each component's folder, safetensors weights only.
DIFFUSERS_FOLDERS = ("model_index.json", "*/*.safetensors", "*/*.json", "*/*.txt", "*/*.model", "*/*.jinja")


@dataclass(frozen=True)
class Pullable:
    name: str
    repo: str
    family: str  # engines.families name
    licence: str
    gigabytes: float  # about what the diffusers folders hold
    note: str = ""

    def describe(self) -> str:
        note = f"; {self.note}" if self.note else ""
        return f"{self.name}: {self.repo} ({self.family}), about {self.gigabytes:g} GB, licence {self.licence}{note}"


NON_COMMERCIAL = "FLUX.1 [dev] Non-Commercial License"
PULLABLE = {
    entry.name: entry
    for entry in (
        Pullable("flux-schnell", "black-forest-labs/FLUX.1-schnell", "flux", "Apache-2.0", 34, "4 steps"),
        Pullable("flux-dev", "black-forest-labs/FLUX.1-dev", "flux", NON_COMMERCIAL, 34, "gated: accept its terms"),
        Pullable(
            "flux-fill", "black-forest-labs/FLUX.1-Fill-dev", "flux-fill", NON_COMMERCIAL, 34, "gated: accept its terms"
        ),
        Pullable("flux2-klein", "black-forest-labs/FLUX.2-klein-4B", "flux2-klein", "Apache-2.0", 16, "4 steps"),
        Pullable("z-image-turbo", "Tongyi-MAI/Z-Image-Turbo", "z-image", "Apache-2.0", 21, "8 steps"),
        Pullable("qwen-image", "Qwen/Qwen-Image", "qwen-image", "Apache-2.0", 58),
        Pullable("chroma", "lodestones/Chroma1-HD", "chroma", "Apache-2.0", 28),
    )
}


def pullable(name: str) -> Pullable | None:
    """The curated entry a short name stands for; None for anything else (a repository id)."""
    return PULLABLE.get(name)
