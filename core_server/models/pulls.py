"""`cocreate models pull`: short names for image models that exist on the Hub, and which of a repo's
files a pull needs (configs, tokenizers, one copy of each part's weights; no pickles, ONNX or
single-file duplicates), so the size and licence can be shown before anything is downloaded.

Only plan() touches the network; choosing files is plain code, tested offline.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass

from core_server.models import depth_estimators, redux
from core_server.models.catalog import VARIANT, CatalogError, PullError
from core_server.models.control_pulls import CURATED_CONTROLS_BY_NAME


@dataclass(frozen=True)
class Curated:
    name: str  # what `models pull NAME` takes and registers the model as
    repo: str
    family: str  # engines.families
    include: tuple[str, ...] = ()  # exactly these of the repo's files; () = what needed_files() picks


# h94/IP-Adapter holds many adapters; each short name takes one with the image encoder it was trained on (ViT-H).
IP_ADAPTER_ENCODER = ("models/image_encoder/config.json", "models/image_encoder/model.safetensors")
# Diffusers folders of each family, with an inpainting model where one exists (README "Image model families").
CURATED: tuple[Curated, ...] = (
    Curated("sd15-inpaint", "stable-diffusion-v1-5/stable-diffusion-inpainting", "sd15"),
    Curated("sd15", "stable-diffusion-v1-5/stable-diffusion-v1-5", "sd15"),
    Curated("sd2-inpaint", "stabilityai/stable-diffusion-2-inpainting", "sd15"),
    Curated("sdxl-inpaint", "diffusers/stable-diffusion-xl-1.0-inpainting-0.1", "sdxl"),
    Curated("sdxl", "stabilityai/stable-diffusion-xl-base-1.0", "sdxl"),
    Curated("sd35-medium", "stabilityai/stable-diffusion-3.5-medium", "sd3"),
    Curated("flux-schnell", "black-forest-labs/FLUX.1-schnell", "flux"),
    Curated("flux-dev", "black-forest-labs/FLUX.1-dev", "flux"),
    Curated("flux-fill", "black-forest-labs/FLUX.1-Fill-dev", "flux-fill"),
    Curated("flux2-klein", "black-forest-labs/FLUX.2-klein-4B", "flux2-klein"),
    Curated("z-image-turbo", "Tongyi-MAI/Z-Image-Turbo", "z-image"),
    Curated("qwen-image", "Qwen/Qwen-Image", "qwen-image"),
    Curated("chroma", "lodestones/Chroma1-HD", "chroma"),
    Curated("flux-kontext", "black-forest-labs/FLUX.1-Kontext-dev", "flux-kontext"),
    Curated("qwen-image-edit", "Qwen/Qwen-Image-Edit-2509", "qwen-image-edit"),
    # IP-Adapters for reference images (README "Reference images").
    Curated("ip-adapter-sd15", "h94/IP-Adapter", "sd15", (*IP_ADAPTER_ENCODER, "models/ip-adapter_sd15.safetensors")),
    Curated(
        "ip-adapter-sdxl",
        "h94/IP-Adapter",
        "sdxl",
        (*IP_ADAPTER_ENCODER, "sdxl_models/ip-adapter_sdxl_vit-h.safetensors"),
    ),
    # Flux Redux for reference images on Flux.1 [dev], [schnell] and Fill (gated, non-commercial licence).
    Curated(redux.PULL_NAME, redux.REPO, redux.FAMILY, redux.PULL_FILES),
)
CURATED_BY_NAME = {entry.name: entry for entry in CURATED}

SMALL_FILES = (".json", ".txt", ".model", ".tiktoken", ".jinja")
SKIPPED_PARTS = {"safety_checker"}  # cocreate never runs it


@dataclass(frozen=True)
class Plan:
    repo: str
    name: str
    files: tuple[str, ...]
    size_bytes: int
    licence: str
    gated: bool

    def describe(self) -> str:
        gated = " (gated: accept its terms on the Hub and set HF_TOKEN)" if self.gated else ""
        return (
            f"{self.repo}: {len(self.files)} files, {self.size_bytes / 2**30:.1f} GiB, licence {self.licence}{gated}; "
            f"registered as {self.name}"
        )


def resolve(name_or_repo: str) -> tuple[str, str]:
    """(repo, default model name) for a short name or an 'org/name' repository id."""
    curated = CURATED_BY_NAME.get(name_or_repo) or CURATED_CONTROLS_BY_NAME.get(name_or_repo)
    if curated is not None:
        return curated.repo, curated.name
    if name_or_repo == depth_estimators.PULL_NAME:  # derives depth (and normal) control maps (README "Control")
        return depth_estimators.REPO, depth_estimators.PULL_NAME
    if "/" not in name_or_repo:
        names = ", ".join([*CURATED_BY_NAME, *CURATED_CONTROLS_BY_NAME, depth_estimators.PULL_NAME])
        raise CatalogError(f"{name_or_repo!r} is no short name cocreate knows ({names}) nor a repo id like 'org/name'.")
    return name_or_repo, name_or_repo.rstrip("/").rsplit("/", 1)[-1]


def needed_files(files: Sequence[str]) -> list[str]:
    """What a pull downloads of a repo's files: small config and tokenizer files, and per folder one copy
    of the safetensors weights (the fp16 one when it is unsharded, as the GPU runs it). A diffusers repo's
    top-level checkpoints repeat its parts in one file and are left out."""
    diffusers_repo = "model_index.json" in files
    chosen: list[str] = []
    by_folder: dict[str, list[str]] = {}
    for path in files:
        folder, name = posixpath.split(path)
        if folder.split("/")[0] in SKIPPED_PARTS:
            continue
        if name.endswith(SMALL_FILES):
            chosen.append(path)
        elif name.endswith(".safetensors") and not (diffusers_repo and not folder):
            by_folder.setdefault(folder, []).append(path)
    for weights in by_folder.values():
        half = [path for path in weights if VARIANT.match(posixpath.basename(path))]
        full = [path for path in weights if ".fp16" not in posixpath.basename(path)]
        chosen += half if len(half) == 1 and len(full) <= 1 else full
    return sorted(chosen)


def plan(name_or_repo: str, name: str | None) -> Plan:
    """Ask the Hub what the pull would fetch (file list and sizes, licence); nothing is downloaded."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HFValidationError, RepositoryNotFoundError

    repo, default_name = resolve(name_or_repo)
    try:
        info = HfApi().model_info(repo, files_metadata=True)
    except HFValidationError as error:
        raise CatalogError(f"{repo!r} is not a Hugging Face repository id (like 'org/name'): {error}") from error
    except RepositoryNotFoundError as error:
        raise PullError(f"{repo} was not found on the Hub (or it is private); check the name.") from error
    except Exception as error:  # the Hub's HTTP client raises its own connection errors, not OSError
        raise PullError(f"Could not ask the Hub about {repo} ({error}); check the network connection.") from error
    sizes = {sibling.rfilename: sibling.size or 0 for sibling in info.siblings or []}
    curated = CURATED_BY_NAME.get(name_or_repo)
    files = [f for f in curated.include if f in sizes] if curated and curated.include else needed_files(list(sizes))
    card = info.card_data.to_dict() if info.card_data else {}
    licence = str(card.get("license_name") or card.get("license") or "not stated")
    return Plan(repo, name or default_name, tuple(files), sum(sizes[f] for f in files), licence, bool(info.gated))
