"""Flux Redux on the tiny Flux.1 model and the tiny Redux: the reference's tokens follow the prompt's, scaled
by the reference's strength, and a damaged Redux folder is refused by name."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from core_server.engines.families import flux
from core_server.engines.reference import References
from core_server.models import ModelCatalog, redux
from core_server.models.pulls import needed_files, resolve
from core_server.models.tiny_redux import TINY_REDUX
from core_server.tasks import Adapter, EngineError, Reference
from tests.engines.support import load_on_cpu, random_image

PROMPT = "a red apple"


def test_reference_tokens_follow_the_prompt_scaled_by_strength(catalog: ModelCatalog) -> None:
    engine = load_on_cpu(catalog.resolve("tiny-flux", "image"))
    entry = catalog.resolve(TINY_REDUX, "adapter")
    adapter = Adapter(entry.name, str(entry.path), entry.sha256)
    pipe = engine._pipe  # type: ignore[attr-defined]
    references = References()

    def options(*strengths: float) -> dict:
        given = tuple(Reference(random_image(40, 24, seed=3), strength=s, adapter=adapter) for s in strengths)
        return references.call_options(pipe, flux.FAMILY, given, 64, PROMPT)

    prompt_embeds, pooled, _ = pipe.encode_prompt(prompt=PROMPT, prompt_2=None)
    full, half, two = options(1.0), options(0.5), options(1.0, 0.25)
    text = prompt_embeds.shape[1]
    assert full["prompt"] is None
    torch.testing.assert_close(full["pooled_prompt_embeds"], pooled, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(full["prompt_embeds"][:, :text], prompt_embeds, atol=1e-4, rtol=1e-4)
    tokens = full["prompt_embeds"][:, text:]
    assert tokens.shape[1] > 0 and tokens.abs().mean() > 0.1
    torch.testing.assert_close(half["prompt_embeds"][:, text:], tokens * 0.5)
    torch.testing.assert_close(two["prompt_embeds"][:, text:], torch.cat([tokens, tokens * 0.25], dim=1))
    assert references.memory_bytes > 0
    references.close()
    assert references.memory_bytes == 0
    engine.close()


def test_a_redux_folder_missing_a_part_is_refused_by_name(catalog: ModelCatalog, tmp_path: Path) -> None:
    engine = load_on_cpu(catalog.resolve("tiny-flux", "image"))
    broken = tmp_path / "redux"
    shutil.copytree(catalog.resolve(TINY_REDUX, "adapter").path, broken)
    shutil.rmtree(broken / redux.EMBEDDER)
    reference = Reference(random_image(8, 8), adapter=Adapter("broken-redux", str(broken), ""))
    with pytest.raises(EngineError, match=f"broken-redux at .* lacks {redux.EMBEDDER}; pull it again"):
        References().call_options(engine._pipe, flux.FAMILY, (reference,), 64, PROMPT)  # type: ignore[attr-defined]
    engine.close()


def test_a_redux_folder_is_added_as_a_flux_adapter_and_pulled_by_name(catalog: ModelCatalog, tmp_path: Path) -> None:
    folder = tmp_path / "FLUX.1-Redux-dev"
    shutil.copytree(catalog.resolve(TINY_REDUX, "adapter").path, folder)
    entry = catalog.add("my-redux", folder)
    assert (entry.kind, entry.family) == ("adapter", "flux")
    catalog.remove("my-redux")
    assert resolve(redux.PULL_NAME) == (redux.REPO, redux.PULL_NAME)
    # Only the diffusers parts: not the BFL single file (the same weights again), the licence or the picture.
    repo_files = [*redux.PULL_FILES, "flux1-redux-dev.safetensors", "LICENSE.md", "redux.png", "README.md"]
    assert needed_files(repo_files) == sorted(redux.PULL_FILES)
