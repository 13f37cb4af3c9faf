"""A GGUF model added with `cocreate models add` serves Continue through a real daemon, on llama.cpp."""

from __future__ import annotations

from pathlib import Path

from cocreate_client import CocreateClient, TextDelta, tasks

from core_server.models import ModelCatalog
from core_server.models.gguf_llama import random_llama, write_gguf
from core_server.models.tiny import TINY_TEXT, ensure_tiny_models
from tests.service.test_cli import cocreate
from tests.support.daemon import running_daemon


def test_a_gguf_model_added_from_the_cli_streams_candidates_from_the_daemon(tmp_path: Path) -> None:
    home = tmp_path / "home"
    tokenizer = ensure_tiny_models(tmp_path / "models")[TINY_TEXT]
    folder = random_llama(tmp_path / "hf", tokenizer, hidden=64, layers=2, heads=4, kv_heads=2, ffn=128, window=256)
    gguf = write_gguf(folder, tmp_path / "tiny-llama.gguf")
    added = cocreate("models", "add", "tiny-gguf", str(gguf), home=home)
    assert added.returncode == 0, added.stderr
    assert ModelCatalog(home / "models").resolve("tiny-gguf", "text").path == gguf

    with running_daemon(home) as daemon, CocreateClient(daemon.endpoint) as client:
        session = client.create_session("libreoffice", "file:///story.odt", "story.odt").id
        request = tasks.continue_text(
            "The harbour was quiet", session_id=session, model="tiny-gguf", candidates=3, max_new_tokens=12, seed=5
        )
        deltas: list[TextDelta] = []
        result = client.generate(request, on_event=lambda e: deltas.append(e) if isinstance(e, TextDelta) else None)
        done = result.wait(timeout=300)
        again = client.generate(request).wait(timeout=300)
        (turn, _) = client.get_session(session).turns
    assert done.ok, done.error
    texts = [candidate.text for candidate in done.candidates]
    assert len(set(texts)) == 3 and {delta.index for delta in deltas} == {0, 1, 2}
    assert [candidate.text for candidate in again.candidates] == texts  # the same seed, the same candidates
    assert turn.model == "tiny-gguf" and [candidate.seed for candidate in turn.candidates] == [5, 6, 7]
