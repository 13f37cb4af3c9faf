"""The llama.cpp text engine on a tiny random-weight GGUF model written here (llama shape, the tiny tokenizer)."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from core_server.engines import load_engine
from core_server.engines.llama_text import LlamaTextEngine
from core_server.engines.rewrite_text import rewrite_prompt
from core_server.engines.stopping import StopRules
from core_server.models import ModelCatalog
from core_server.models.gguf_llama import random_llama, write_gguf
from core_server.tasks import (
    Cancelled,
    ContinueTextTask,
    GenerationResult,
    RewriteTextTask,
    StepEvent,
    StopAt,
    Task,
    TextDeltaEvent,
)
from tests.engines.support import Recorder


@pytest.fixture(scope="module")
def gguf_file(catalog: ModelCatalog, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tiny-llama")
    tokenizer = catalog.resolve("tiny-text", "text").path
    model = random_llama(folder / "hf", tokenizer, hidden=64, layers=2, heads=4, kv_heads=2, ffn=128, window=256)
    return write_gguf(model, folder / "tiny-llama.gguf")


@pytest.fixture(scope="module")
def engine(gguf_file: Path) -> Iterator[LlamaTextEngine]:
    loaded = LlamaTextEngine.load(gguf_file)
    yield loaded
    loaded.close()


def run(engine: LlamaTextEngine, task: Task, seeds: Sequence[int] = (1,)) -> tuple[GenerationResult, Recorder]:
    recorder = Recorder()
    return engine.run(task, seeds, previews=False, emit=recorder, cancel=recorder.token), recorder


def texts(engine: LlamaTextEngine, task: Task, seeds: Sequence[int] = (1, 2, 3)) -> tuple[str, ...]:
    return run(engine, task, seeds)[0].texts


def test_a_gguf_file_registers_as_a_text_model_and_loads_on_llama_cpp(gguf_file: Path, tmp_path: Path) -> None:
    catalog = ModelCatalog(tmp_path / "models")
    entry = catalog.add("tiny-gguf", gguf_file)
    assert entry.kind == "text" and len(entry.sha256) == 64
    loaded = load_engine(entry)
    try:
        assert isinstance(loaded, LlamaTextEngine)
        assert (loaded.kind, loaded.device, loaded.dtype, loaded.window) == ("text", "cpu", "float32", 256)
    finally:
        loaded.close()
    for module in ("llama_text", "gguf_tokenizer"):  # engines never import grpc
        assert "grpc" not in Path(sys.modules[f"core_server.engines.{module}"].__file__ or "").read_text()


def test_n_candidates_differ_stream_tagged_by_candidate_and_reproduce_from_their_seeds(engine) -> None:
    task = ContinueTextTask("A painter mixes colours on the palette", max_new_tokens=24)
    first, recorder = run(engine, task, (11, 12, 13, 14))
    assert len(set(first.texts)) == 4
    for index, text in enumerate(first.texts):
        assert text and recorder.text(index) == text  # the deltas of candidate i add up to its text
    assert isinstance(recorder.events[0], StepEvent)
    assert [event.step for event in recorder.steps] == list(range(1, len(recorder.steps) + 1))
    engine.clear_prefix()
    assert texts(engine, task, (11, 12, 13, 14)) == first.texts
    assert texts(engine, task, (13,)) == (first.texts[2],)  # a candidate depends on its own seed only


def test_stop_strings_and_sentence_ends(engine) -> None:
    task = ContinueTextTask("In the morning", max_new_tokens=48)
    (free,) = texts(engine, task, (3,))
    stop = free[10:13]
    result, recorder = run(engine, ContinueTextTask(task.before, max_new_tokens=48, stop=(stop,)), (3,))
    assert result.texts == (free[: free.find(stop)],)
    assert recorder.text(0) == result.texts[0]

    # The first seed whose free text holds a sentence end: with stop_at=sentence it ends right there.
    before = "She wrote about the light on the water"
    for seed in range(1, 30):
        (free,) = texts(engine, ContinueTextTask(before, max_new_tokens=64), (seed,))
        end = StopRules(at=StopAt.SENTENCE).find_end(free)
        if end is not None and end < len(free):
            break
    else:
        pytest.fail("no seed wrote a sentence end")
    stopped = texts(engine, ContinueTextTask(before, max_new_tokens=64, stop_at=StopAt.SENTENCE), (seed,))
    assert stopped == (free[:end],)


def test_a_warm_prefix_gives_the_same_tokens_as_none(engine) -> None:
    before = "Once upon a time, in a small town by the sea, there lived a writer who loved long walks"
    task = ContinueTextTask(before, max_new_tokens=24)
    engine.clear_prefix()
    cold = texts(engine, task)
    assert engine.last_prefill[0] == 0
    assert texts(engine, task) == cold  # regenerate: only the last token is computed again
    assert engine.last_prefill[1] == 1

    longer = ContinueTextTask(before + cold[0], max_new_tokens=24)
    warm = texts(engine, longer)
    assert engine.last_prefill[0] > 10
    engine.clear_prefix()
    assert texts(engine, longer) == warm

    # An edit before the cursor: reuse ends at the edit, and the result is what a cold run gives.
    edited = ContinueTextTask(before.replace("small", "large") + cold[0], max_new_tokens=24)
    warm = texts(engine, edited)
    assert 0 < engine.last_prefill[0] < len(before) // 4
    engine.clear_prefix()
    assert texts(engine, edited) == warm


def test_cancel_mid_stream_stops_within_a_token_and_the_engine_goes_on(engine) -> None:
    task = ContinueTextTask("Once", max_new_tokens=32)
    engine.clear_prefix()
    recorder = Recorder(cancel_after_step=3)
    with pytest.raises(Cancelled):
        engine.run(task, (1, 2), previews=False, emit=recorder, cancel=recorder.token)
    assert [event.step for event in recorder.steps] == [1, 2, 3]
    streamed = [recorder.text(0), recorder.text(1)]
    after = texts(engine, task, (1, 2))
    assert all(text.startswith(part) for text, part in zip(after, streamed, strict=True))


def test_fill_in_the_middle_and_the_chat_template_as_the_transformers_engine_builds_them(
    engine, catalog: ModelCatalog
) -> None:
    hf = AutoTokenizer.from_pretrained(catalog.resolve("tiny-text", "text").path, local_files_only=True)
    task = RewriteTextTask("The sea was calm.", "Shorter")
    assert rewrite_prompt(engine._tokenizer, task) == rewrite_prompt(hf, task)
    prompt, _ = engine._planner.plan(ContinueTextTask("The sea", after=" the storm.", max_new_tokens=4), (1,))
    assert engine._planner.fim is not None and prompt[-1] == engine._planner.fim[2]
    rewritten, recorder = run(engine, RewriteTextTask("The sea was calm.", "Shorter", max_new_tokens=12), (1, 2))
    assert len(rewritten.texts) == 2 and all(isinstance(e, StepEvent | TextDeltaEvent) for e in recorder.events)
