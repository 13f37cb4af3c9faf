"""Engines run tasks on loaded models; they import torch, diffusers and transformers, never grpc or asyncio."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core_server.tasks import CancelToken, Emit, Engine, EngineError, PersonalizeTask

if TYPE_CHECKING:
    from core_server.models.catalog import ModelEntry


def load_engine(entry: ModelEntry) -> Engine:
    """Load the model's weights on the chosen device (see engines.devices) as a ready engine.

    Raises EngineError when the model cannot be loaded or run here.
    """
    # Imported here, so that importing this package (the scheduler does) does not load torch.
    if entry.kind == "image":
        from core_server.engines.image import ImageEngine

        return ImageEngine.load(entry.path, family=entry.family, config=entry.config)
    if entry.kind == "text" and entry.path.suffix.lower() == ".gguf":
        from core_server.engines.llama_text import LlamaTextEngine

        return LlamaTextEngine.load(entry.path)
    if entry.kind == "text":
        from core_server.engines.text import TextEngine

        return TextEngine.load(entry.path)
    raise EngineError(f"{entry.name} has kind {entry.kind!r}; cocreate runs 'image' and 'text' models.")


def train_lora(entry: ModelEntry, task: PersonalizeTask, emit: Emit, cancel: CancelToken) -> None:
    """The scheduler's Trainer: a personal LoRA for the image model `entry` (see engines.personalize)."""
    from core_server.engines.personalize import train

    train(entry, task, emit, cancel)
