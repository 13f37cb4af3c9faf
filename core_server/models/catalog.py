"""The models cocreate knows: their names, kinds and weights, and the default model per kind.

Kept in models_dir()/models.json. Reading the catalog needs no torch: the tiny profile is built (with
torch) only on first use, when its folders are missing. Only pull() touches the network.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

from core_server.config import models_dir as default_models_dir
from core_server.engines.families import FAMILIES, family_of_folder
from core_server.engines.families.detect import Detected, detect
from core_server.engines.families.family import Family
from core_server.engines.families.single_file import config_folder, flow_config_folder
from core_server.models import (
    control_models,
    controlnet_files,
    depth_estimators,
    ip_adapter,
    redux,
    tiny_redux,
    tiny_reference,
)
from core_server.models.control_pulls import curated_kinds
from core_server.models.flow_checkpoints import TransformerCheckpoint, UnknownCheckpoint, detect_file
from core_server.models.tiny import TINY_IMAGE, TINY_TEXT, ensure_tiny_models, tiny_name
from core_server.models.tiny_control import TINY_CONTROLS
from core_server.tasks import EngineError

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
KINDS = ("image", "text")  # the kinds with a default model
LORA = "lora"  # a personal adapter for image models: named by a request, never a default
ADAPTER = "adapter"  # an IP-Adapter or Flux Redux (image encoder + weights) for references: chosen per family
CONTROL = "control"  # a ControlNet for one image family: found by family and control kind, never a default
ESTIMATOR = "estimator"  # a depth estimator deriving depth (and normal) control maps from a picture
A_MODEL = {
    "image": "an image model",
    "text": "a text model",
    LORA: "a LoRA",
    ADAPTER: "a reference adapter (IP-Adapter or Flux Redux)",
    CONTROL: "a control model",
    ESTIMATOR: "a depth estimator",
}
TINY_MODELS = {
    **{tiny_name(family): "image" for family in FAMILIES.values() if family.build_tiny},
    TINY_TEXT: "text",
    **{name: ADAPTER for name in tiny_reference.builders()},
    **dict.fromkeys(tiny_redux.BUILDERS, ADAPTER),
    **dict.fromkeys(TINY_CONTROLS, CONTROL),
}
TINY_DEFAULTS = {"image": TINY_IMAGE, "text": TINY_TEXT}
# Pickle-based weight files can run code when loaded; cocreate loads safetensors only.
PICKLE_SUFFIXES = (".bin", ".ckpt", ".pt", ".pth", ".pkl", ".pickle")
# What pull() downloads: weights as safetensors, configs, tokenizer files and chat templates.
PULL_PATTERNS = ["*.safetensors", "*.json", "*.txt", "*.model", "*.tiktoken", "*.jinja"]
# Half-precision copies diffusers saves beside the full ones: named part.fp16.safetensors.
VARIANT = re.compile(r"^(?P<stem>[^/]+)\.fp16\.safetensors$")
CLI_FIX = "Add one with `cocreate models add NAME PATH` or `cocreate models pull REPO`."
LORA_FIX = "Train one with `cocreate personalize SESSION_OR_FOLDER --name NAME` or `cocreate models add NAME FILE`."


class UnknownModel(LookupError):
    """No model of that name (or no default) in the catalog."""


class CatalogError(ValueError):
    """A model cannot be added or changed as asked: bad name, bad path, unsupported weights."""


class PullError(RuntimeError):
    """Downloading from the Hugging Face Hub failed: no network, unknown or gated repository."""


@dataclass(frozen=True)
class ModelEntry:
    name: str
    kind: str  # 'image' | 'text'
    source: str  # 'tiny' | 'local' | 'pulled'
    path: Path  # a diffusers or transformers folder, or one .safetensors image checkpoint
    sha256: str  # of the weights: the *.safetensors files in path order (a single file: its usual sha256)
    is_default: bool = False
    config: Path | None = None  # single-file checkpoints: the local diffusers folder describing the pipeline
    family: str = ""  # image and control models: the family (engines.families), "" for text models and LoRAs
    controls: tuple[str, ...] = ()  # control models: the ControlKind values it serves
    union: bool = False  # control models: one model for several kinds, picked per call


class ModelCatalog:
    """Thread- and process-safe: every change is a locked read-modify-write with an atomic file replace."""

    def __init__(self, models_dir: Path | None = None) -> None:
        self.models_dir = models_dir or default_models_dir()
        self.models_dir.mkdir(parents=True, exist_ok=True)
        self._file = self.models_dir / "models.json"
        self._lock = threading.RLock()
        self._file_lock = FileLock(self.models_dir / "models.json.lock")
        self._tiny_ready = False

    def list(self) -> list[ModelEntry]:
        with self._editing() as data:
            return sorted(
                (self._entry(data, name) for name in data["models"]), key=lambda entry: (entry.kind, entry.name)
            )

    def resolve(self, name: str, kind: str) -> ModelEntry:
        """The model called `name` ("" = the default for `kind`), with its sha256 brought up to date."""
        with self._editing() as data:
            name = name or data["defaults"].get(kind, "")
            record = data["models"].get(name)
            if record is None:
                known = ", ".join(sorted(n for n, r in data["models"].items() if r["kind"] == kind)) or "none"
                if kind == LORA:
                    raise UnknownModel(f"No LoRA called {name!r}; known LoRAs: {known}. {LORA_FIX}")
                raise UnknownModel(f"No {kind} model called {name!r}; known {kind} models: {known}. {CLI_FIX}")
            if record["kind"] != kind:
                raise EngineError(f"{name} is {A_MODEL[record['kind']]}, but this task needs {A_MODEL[kind]}.")
            path = self._full_path(record["path"])
            if not path.exists():
                raise EngineError(f"The files of {name} are gone from {path}; add the model again or remove it.")
            self._refresh_sha256(record)
            return self._entry(data, name)

    def control_for(self, family: str, kind: str) -> ModelEntry | None:
        """The installed control model serving `kind` for `family`: one the user added or pulled before a tiny
        one, a single-kind model before a union one, then by name."""
        with self._editing() as data:
            found = sorted(
                (record["source"] == "tiny", bool(record.get("union")), name)
                for name, record in data["models"].items()
                if record["kind"] == CONTROL and record.get("family") == family and kind in record.get("controls", [])
            )
        return self.resolve(found[0][2], CONTROL) if found else None

    def depth_estimator(self) -> ModelEntry | None:
        """An installed depth estimator: one the user added or pulled, then by name."""
        with self._editing() as data:
            found = sorted(
                (record["source"] == "tiny", name)
                for name, record in data["models"].items()
                if record["kind"] == ESTIMATOR
            )
        return self.resolve(found[0][1], ESTIMATOR) if found else None

    def add(
        self,
        name: str,
        path: str | Path,
        *,
        config: str | Path | None = None,
        prediction: str | None = None,
        controls: Sequence[str] = (),
    ) -> ModelEntry:
        """Register a local model in place (nothing is copied).

        `path` is a diffusers folder (model_index.json), a transformers folder (config.json), one
        .safetensors image checkpoint, a LoRA .safetensors file, a .gguf text model (run by llama.cpp) or a
        diffusers ControlNet folder (`controls`: the kinds it serves, when its name does not say).
        A checkpoint needs the config files of the pipeline it belongs to: `config` (a local diffusers
        folder) or its base model's configs in the Hugging Face cache. `prediction` (epsilon or v) says what
        a full UNet checkpoint added without `config` predicts, where its file cannot tell (SD 2.x).
        """
        _check_name(name)
        path = Path(path).expanduser().resolve()
        kind = _inspect(path)
        config_dir, family = None, ""
        flow = _flow_transformer(path) if kind == "image" and path.is_file() else None
        if kind == "image" and path.is_file() and flow is None:
            found = _detect(path)
            written = self.models_dir / "configs"
            config_dir, family = _single_file_config(path, found, config, written, prediction), found.family
        elif prediction is not None:
            raise CatalogError(f"--prediction is for a full Stable Diffusion checkpoint file; {path.name} is not one.")
        elif kind == CONTROL and path.is_file() and (control_file := _control_file(path)):
            config_dir = controlnet_files.write_config(control_file, self.models_dir / "configs")
        with self._editing() as data:
            if name in data["models"]:
                raise CatalogError(f"There is already a model called {name}; remove it first or pick another name.")
            if flow is not None:
                all_in_one = None if config is not None else _all_in_one_config(path, flow, self.models_dir / "configs")
                config_dir, family = (
                    (all_in_one, flow.family) if all_in_one else self._flow_base(data, path, flow, config)
                )
            data["models"][name] = self._record(
                kind, "local", path, config_dir, family, _control_info(path, name, controls, config_dir)
            )
            return self._entry(data, name)

    def _flow_base(
        self, data: dict[str, Any], path: Path, flow: TransformerCheckpoint, config: Any
    ) -> tuple[Path, str]:
        """The diffusers folder a lone transformer takes its VAE, text encoders and tokenizers from, and its family:
        `config`, else a model of the same family in the catalog (one the user added or pulled before a tiny one).
        A family sharing the transformer's layout (Qwen-Image-Edit's is Qwen-Image's) is chosen by its `config`."""
        family = FAMILIES[flow.family]
        sharing = [f for f in FAMILIES.values() if f.same_transformer_as == family.name]
        if config is not None:
            folder = Path(config).expanduser().resolve()
            chosen = family_of_folder(folder) if (folder / "model_index.json").is_file() else None
            if chosen is None or (chosen is not family and chosen not in sharing):
                titles = " or ".join(f.title for f in (family, *sharing))
                raise CatalogError(f"{folder} is not a diffusers folder of a {titles} model for {path.name}.")
            return folder, chosen.name
        candidates = [
            (record["source"] == "tiny", self._full_path(record["path"]))
            for record in data["models"].values()
            # a whole pipeline of the family: not a ControlNet or adapter of it
            if record.get("family") == family.name and (self._full_path(record["path"]) / "model_index.json").is_file()
        ]
        if not candidates:
            raise CatalogError(
                f"{path.name} holds a {family.title} {flow.describe()} alone; its VAE and text encoders come from "
                f"a diffusers folder of a {family.title} model. Pull one (see `cocreate models pull --help`) or "
                "pass --config FOLDER." + "".join(_sharing_hint(f) for f in sharing)
            )
        return min(candidates)[1], family.name

    def add_personal(self, name: str, weights: Path) -> ModelEntry:
        """Move a LoRA that `cocreate personalize` trained into models_dir/loras and register it; training
        again under the same name replaces it."""
        _check_name(name)
        if _inspect(weights) != LORA:
            raise CatalogError(f"{weights} holds no LoRA weights.")
        target = self.models_dir / "loras" / f"{name}.safetensors"
        with self._editing() as data:
            record = data["models"].get(name)
            if record is not None and record["source"] != "personal":
                raise CatalogError(f"There is already {A_MODEL[record['kind']]} called {name}; pick another name.")
            target.parent.mkdir(exist_ok=True)
            os.replace(weights, target)
            data["models"][name] = self._record(LORA, "personal", target, None)
            return self._entry(data, name)

    def remove(self, name: str) -> None:
        """Forget a model; the files of a pulled model or a personal LoRA are deleted too (cocreate made them)."""
        if name in TINY_MODELS:
            raise CatalogError(f"{name} is built in and cannot be removed.")
        with self._editing() as data:
            record = data["models"].pop(name, None)
            if record is None:
                raise UnknownModel(f"No model called {name!r}.")
            if data["defaults"].get(record["kind"]) == name:
                data["defaults"][record["kind"]] = TINY_DEFAULTS[record["kind"]]
            if record["source"] == "pulled":
                shutil.rmtree(self._full_path(record["path"]), ignore_errors=True)
            elif record["source"] == "personal":
                self._full_path(record["path"]).unlink(missing_ok=True)

    def set_default(self, kind: str, name: str) -> None:
        if kind not in KINDS:
            raise CatalogError(f"Kind must be one of {', '.join(KINDS)}, not {kind!r}.")
        with self._editing() as data:
            record = data["models"].get(name)
            if record is None:
                raise UnknownModel(f"No model called {name!r}. {CLI_FIX}")
            if record["kind"] != kind:
                raise CatalogError(f"{name} is {A_MODEL[record['kind']]}; it cannot be the default {kind} model.")
            data["defaults"][kind] = name

    def pull(self, repo: str, name: str | None = None, files: Sequence[str] = ()) -> ModelEntry:
        """Download `repo` from the Hugging Face Hub (safetensors, configs, tokenizer files only) and add it.

        `files`: exactly these (models.pulls.needed_files chose them); half-precision copies are then
        renamed to the plain names diffusers loads.

        The only network access in cocreate, and only when asked. HF_ENDPOINT and HF_TOKEN are honoured.
        """
        # Imported here: only this explicit call needs the Hub client.
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import GatedRepoError, HFValidationError, RepositoryNotFoundError

        name = name or repo.rstrip("/").rsplit("/", 1)[-1]
        _check_name(name)
        with self._editing() as data:
            if name in data["models"]:
                raise CatalogError(f"There is already a model called {name}; pick another name.")
        pulled = self.models_dir / "pulled"
        target = pulled / name
        # A failed pull leaves its partial download here, and the next try resumes it.
        staging = pulled / f".partial-{name}"
        # Read at call time: huggingface_hub reads HF_ENDPOINT once, at import.
        endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
        try:
            snapshot_download(repo, local_dir=staging, allow_patterns=list(files) or PULL_PATTERNS, endpoint=endpoint)
        except HFValidationError as error:
            raise CatalogError(f"{repo!r} is not a Hugging Face repository id (like 'org/name'): {error}") from error
        except GatedRepoError as error:
            raise PullError(f"{repo} is gated: accept its terms on the Hub, set HF_TOKEN and pull again.") from error
        except RepositoryNotFoundError as error:
            raise PullError(f"{repo} was not found on {endpoint} (or it is private); check the name.") from error
        except OSError as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise PullError(
                f"Could not download {repo} from {endpoint} ({reason}). Check the network connection "
                "(or HF_ENDPOINT), or add a model folder you already have with `cocreate models add NAME PATH`."
            ) from error
        for file in files:
            if (plain := without_variant(file)) != file:
                (staging / file).replace(staging / plain)
        try:
            kind = _inspect(staging)
        except CatalogError:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        shutil.rmtree(target, ignore_errors=True)
        os.replace(staging, target)
        with self._editing() as data:
            control = _control_info(target, name, curated_kinds(repo))
            data["models"][name] = self._record(kind, "pulled", target, None, control=control)
            return self._entry(data, name)

    # ------------------------------------------------------------ storage

    @contextlib.contextmanager
    def _editing(self) -> Iterator[dict[str, Any]]:
        """The catalog's data, locked against other threads and processes; written back if changed."""
        with self._lock, self._file_lock:
            data = self._read()
            if not self._tiny_ready:
                # The first read builds and registers the tiny profile, saved even if the caller then fails.
                unregistered = json.dumps(data, sort_keys=True)
                self._register_tiny(data)
                if json.dumps(data, sort_keys=True) != unregistered:
                    self._write(data)
            before = json.dumps(data, sort_keys=True)
            yield data
            if json.dumps(data, sort_keys=True) != before:
                self._write(data)

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self._file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            data = {}
        data.setdefault("models", {})
        data.setdefault("defaults", {})
        return data

    def _write(self, data: dict[str, Any]) -> None:
        # Readers see the old file or the new one, never half of either.
        staging = self._file.with_name(f".{self._file.name}.{os.getpid()}.{threading.get_ident()}")
        staging.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(staging, self._file)

    def _register_tiny(self, data: dict[str, Any]) -> None:
        for name, folder in ensure_tiny_models(self.models_dir).items():
            record = data["models"].get(name)
            if record is None or self._full_path(record["path"]) != folder:
                control = _control_info(folder, name, TINY_CONTROLS[name]) if name in TINY_CONTROLS else None
                data["models"][name] = self._record(TINY_MODELS[name], "tiny", folder, None, control=control)
        for kind in KINDS:
            if data["defaults"].get(kind) not in data["models"]:
                data["defaults"][kind] = TINY_DEFAULTS[kind]
        self._tiny_ready = True

    def _record(
        self,
        kind: str,
        source: str,
        path: Path,
        config: Path | None,
        family: str = "",
        control: control_models.ControlNetInfo | None = None,
    ) -> dict[str, Any]:
        record: dict[str, Any] = {
            "kind": kind,
            "source": source,
            "path": self._stored_path(path),
            "config": str(config) if config else None,
            "family": "",
            "sha256": "",
            "weights": [],
        }
        record["family"] = family or self._family(record)
        if control is not None:
            record.update(family=control.family, controls=list(control.kinds), union=control.union)
        self._refresh_sha256(record)
        return record

    def _entry(self, data: dict[str, Any], name: str) -> ModelEntry:
        record = data["models"][name]
        return ModelEntry(
            name=name,
            kind=record["kind"],
            source=record["source"],
            path=self._full_path(record["path"]),
            sha256=record["sha256"],
            is_default=data["defaults"].get(record["kind"]) == name,
            config=Path(record["config"]) if record["config"] else None,
            family=record.get("family") or self._family(record),
            controls=tuple(record.get("controls", ())),
            union=bool(record.get("union")),
        )

    def _family(self, record: dict[str, Any]) -> str:
        """For records written before families were recorded: read it from the folder."""
        path = Path(record["config"]) if record["config"] else self._full_path(record["path"])
        if record["kind"] == ADAPTER:
            return redux.FAMILY if redux.is_redux(path) else ip_adapter.family_of(path)
        if record["kind"] != "image" or not (path / "model_index.json").is_file():
            return ""
        family = family_of_folder(path)
        return family.name if family else ""

    def _refresh_sha256(self, record: dict[str, Any]) -> None:
        """Rehash the weights only when a file's size or mtime changed since the last hash."""
        files = _weight_files(self._full_path(record["path"]))
        stamp = []
        for file in files:
            stat = file.stat()
            stamp.append([str(file), stat.st_size, stat.st_mtime_ns])
        if stamp != record["weights"]:
            record["sha256"] = _sha256(files)
            record["weights"] = stamp

    def _stored_path(self, path: Path) -> str:
        # Models inside models_dir are stored relative to it, so the whole folder can move.
        return path.relative_to(self.models_dir).as_posix() if path.is_relative_to(self.models_dir) else str(path)

    def _full_path(self, stored: str) -> Path:
        return self.models_dir / stored


# ---------------------------------------------------------------- checks


def _check_name(name: str) -> None:
    if not NAME_PATTERN.match(name):
        raise CatalogError(
            f"{name!r} is not a model name: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter "
            "or digit (a name, never a path)."
        )


def _inspect(path: Path) -> str:
    """The kind of model at `path` ('image' or 'text'); CatalogError if cocreate cannot run it."""
    if not path.exists():
        raise CatalogError(f"{path} does not exist.")
    if path.is_file():
        if path.suffix.lower() in PICKLE_SUFFIXES:
            raise CatalogError(_pickle_refusal(path))
        if path.suffix.lower() == ".gguf":
            _check_gguf(path)
            # a quantized transformer of a flow family (models.flow_checkpoints), else a text model for llama.cpp
            return "image" if _flow_transformer(path) else "text"
        if path.suffix.lower() != ".safetensors":
            raise CatalogError(
                f"{path.name} is not a model cocreate can load: give a diffusers folder, a transformers folder, "
                "one .safetensors checkpoint, a LoRA .safetensors file or a .gguf text model or transformer."
            )
        if _control_file(path) is not None:
            return CONTROL
        return LORA if _is_lora(path) else "image"
    if redux.is_redux(path):
        kind = ADAPTER
    elif (path / "model_index.json").is_file():
        kind = "image"
        _check_pipeline(path)
    elif control_models.read_config(path) is not None:
        kind = CONTROL
    elif depth_estimators.is_depth_estimator(path):
        kind = ESTIMATOR
    elif (path / "config.json").is_file():
        kind = "text"
        _check_causal_lm(path)
    elif ip_adapter.adapter_files(path) is not None:
        kind = ADAPTER
    else:
        raise CatalogError(
            f"{path} is neither a diffusers folder (model_index.json) nor a transformers folder (config.json)."
        )
    for folder in sorted({file.parent for file in path.rglob("*") if file.suffix.lower() in PICKLE_SUFFIXES}):
        if not any(folder.glob("*.safetensors")):
            raise CatalogError(_pickle_refusal(folder))
    if not _weight_files(path):
        raise CatalogError(f"{path} holds no .safetensors weights.")
    return kind


def _control_info(
    path: Path, name: str, asked: Sequence[str] = (), config_dir: Path | None = None
) -> control_models.ControlNetInfo | None:
    """A ControlNet's family and kinds (a folder's, or a file's with the config written for it); None for other
    models. CatalogError when it serves no family cocreate runs, or when neither its name nor the user says what
    kind of map it reads."""
    described = config_dir if path.is_file() and config_dir else path
    config = control_models.read_config(described) if described.is_dir() else None
    if config is None:
        if asked:
            raise CatalogError(f"{path} is no diffusers ControlNet folder (config.json naming a ControlNet class).")
        return None
    unknown = sorted(set(asked) - set(control_models.ALL_KINDS))
    if unknown:
        raise CatalogError(f"unknown control kind {', '.join(unknown)}; use {', '.join(control_models.ALL_KINDS)}.")
    info = control_models.inspect(path, config, name, tuple(asked))
    if info.family not in FAMILIES:
        raise CatalogError(f"{path.name} is a ControlNet for {info.family}, a family cocreate does not run.")
    if not info.kinds:
        raise CatalogError(
            f"{path.name} is a {info.family} ControlNet, but neither its name nor its config says what map it reads; "
            f"add it with --control KIND ({', '.join(control_models.ALL_KINDS)})."
        )
    return info


def _control_file(file: Path) -> controlnet_files.ControlNetFile | None:
    """The ControlNet a .safetensors file holds, None when it holds none; CatalogError for one it cannot load."""
    try:
        return controlnet_files.detect(file)
    except controlnet_files.NotAControlNet:
        return None
    except EngineError as error:
        raise CatalogError(str(error)) from error


def _check_gguf(file: Path) -> None:
    with file.open("rb") as stream:
        if stream.read(4) != b"GGUF":
            raise CatalogError(f"{file.name} is named .gguf but is not a GGUF file (it does not start with 'GGUF').")


def _is_lora(file: Path) -> bool:
    """A LoRA file: every tensor an adapter's (diffusers, peft and kohya all name them lora_…)."""
    from safetensors import safe_open

    try:
        with safe_open(str(file), framework="numpy") as weights:
            keys = list(weights.keys())
    except Exception as error:  # safetensors raises its own error types for a damaged header
        raise CatalogError(f"{file.name} is not a readable .safetensors file: {error}") from error
    return bool(keys) and all("lora" in key.lower() or key.endswith(".alpha") for key in keys)


def _pickle_refusal(path: Path) -> str:
    return (
        f"{path} has its weights in a pickle format (.bin/.ckpt/.pt), which can run code when loaded; "
        "cocreate loads safetensors only. Use a .safetensors version of the model."
    )


def _check_pipeline(path: Path) -> None:
    if family_of_folder(path) is None:
        index = json.loads((path / "model_index.json").read_text(encoding="utf-8"))
        titles = ", ".join(family.title for family in FAMILIES.values())
        raise CatalogError(
            f"{path.name} is a {index.get('_class_name', 'diffusers')} model; cocreate runs these families of "
            f"image models: {titles}."
        )


def _check_causal_lm(path: Path) -> None:
    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    architectures = config.get("architectures") or []
    if not any(name.endswith(("ForCausalLM", "LMHeadModel")) for name in architectures):
        raise CatalogError(
            f"{path.name} is not a causal language model (config.json architectures: {architectures or 'none'})."
        )
    if not any((path / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")):
        raise CatalogError(f"{path.name} has no tokenizer files (tokenizer.json or tokenizer_config.json).")


def _sharing_hint(family: Family) -> str:
    return (
        f" A {family.title} transformer has these names and shapes too: to add the file as {family.title}, pass "
        f"--config FOLDER of a {family.title} model."
    )


def _flow_transformer(path: Path) -> TransformerCheckpoint | None:
    """A flow family's lone transformer (any layout, GGUF too), or None for other checkpoints."""
    try:
        found = detect_file(path)
    except UnknownCheckpoint as error:
        raise CatalogError(str(error)) from error
    if found is not None and found.family not in FAMILIES:
        titles = ", ".join(family.title for family in FAMILIES.values())
        raise CatalogError(f"{path.name} is a {found.family} {found.describe()}; cocreate runs {titles}.")
    return found


def _all_in_one_config(path: Path, flow: TransformerCheckpoint, written: Path) -> Path | None:
    """The configs written for a Flux.1 / Chroma file holding its VAE and text encoders (ComfyUI's all-in-one
    layout), or None for a transformer alone."""
    try:
        return flow_config_folder(written, path, flow)
    except EngineError as error:
        raise CatalogError(str(error)) from error


def _detect(checkpoint: Path) -> Detected:
    try:
        return detect(checkpoint)
    except EngineError as error:
        raise CatalogError(str(error)) from error


def _single_file_config(
    checkpoint: Path, found: Detected, config: str | Path | None, written: Path, prediction: str | None = None
) -> Path:
    """The local diffusers folder that describes a single-file checkpoint's pipeline: `config`, one
    written under `written` for the families cocreate ships the files of, or the HF cache's."""
    if config is not None:
        if prediction is not None:
            raise CatalogError("--prediction is for files added without --config: the folder's scheduler says it.")
        folder = Path(config).expanduser().resolve()
        if not (folder / "model_index.json").is_file():
            raise CatalogError(f"{folder} is not a diffusers folder (no model_index.json) for {checkpoint.name}.")
        family = family_of_folder(folder)
        if family is None or family.name != found.family:
            raise CatalogError(
                f"{checkpoint.name} is a {found.describe()} checkpoint, but {folder.name} describes a "
                f"{family.title if family else 'model of no family cocreate runs'}; give a folder of the same family."
            )
        return folder
    if not found.complete:
        raise CatalogError(
            f"{checkpoint.name} is a {found.describe()}: it has no VAE or text encoders; "
            "add it with --config naming a diffusers folder of the same family to take them from."
        )
    try:
        shipped = config_folder(written, found, checkpoint, prediction)
    except EngineError as error:
        raise CatalogError(str(error)) from error
    if shipped is not None:
        return shipped
    # Imported here: this reads the checkpoint and needs torch. diffusers would fetch the base model's
    # configs from the Hub even with local_files_only, so look them up in the local cache ourselves.
    from diffusers.loaders.single_file_utils import fetch_diffusers_config, load_single_file_checkpoint
    from huggingface_hub import snapshot_download

    try:
        repo = fetch_diffusers_config(load_single_file_checkpoint(str(checkpoint), local_files_only=True))[
            "pretrained_model_name_or_path"
        ]
    except (OSError, ValueError, KeyError) as error:
        raise CatalogError(
            f"{checkpoint.name} looks like a {found.describe()}, but diffusers cannot read it: {error}"
        ) from error
    try:
        return Path(snapshot_download(repo, local_files_only=True, allow_patterns=["*.json", "*.txt"]))
    except OSError as error:
        raise CatalogError(
            f"{checkpoint.name} is a {found.describe()} checkpoint of the {repo} kind; building its pipeline needs "
            "that model's config and tokenizer files, which are not on this machine. Download them once "
            f"(`hf download {repo} --include '*.json' '*.txt'`) and add the checkpoint again, or pass a local "
            "diffusers folder of the same family as --config."
        ) from error


# ---------------------------------------------------------------- weights


def without_variant(path: str) -> str:
    """unet/diffusion_pytorch_model.fp16.safetensors → unet/diffusion_pytorch_model.safetensors."""
    folder, _, name = path.rpartition("/")
    match = VARIANT.match(name)
    return f"{folder}/{match['stem']}.safetensors".lstrip("/") if match else path


def _weight_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = [file for file in path.rglob("*.safetensors") if not _hidden(file, path)]
    return sorted(files, key=lambda file: file.relative_to(path).as_posix())


def _hidden(file: Path, root: Path) -> bool:
    # pulled models keep huggingface_hub's download metadata in .cache/
    return any(part.startswith(".") for part in file.relative_to(root).parts)


def _sha256(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for file in files:
        with file.open("rb") as stream:
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()
