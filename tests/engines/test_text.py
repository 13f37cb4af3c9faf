"""The text engine end to end on the tiny profile: continue_text, rewrite_text, the sampling loop, the prefix cache."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import pytest
import torch
from tokenizers import Tokenizer, models
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
)

from core_server.engines import text as text_module
from core_server.engines.continue_text import continue_prompt, fim_token_ids
from core_server.engines.prefix_cache import PrefixCache
from core_server.engines.rewrite_text import rewrite_prompt
from core_server.engines.sampling import CandidateText, IncrementalDecoder
from core_server.engines.stopping import StopRules
from core_server.engines.text import TextEngine
from core_server.models import ModelCatalog
from core_server.tasks import (
    Cancelled,
    ContinueTextTask,
    Engine,
    EngineError,
    GenerationResult,
    InpaintTask,
    RewriteTextTask,
    StepEvent,
    StopAt,
    Task,
    TextDeltaEvent,
)
from tests.engines.support import Recorder, random_image


@pytest.fixture(scope="module")
def tokenizer(catalog: ModelCatalog) -> PreTrainedTokenizerBase:
    return AutoTokenizer.from_pretrained(catalog.resolve("tiny-text", "text").path, local_files_only=True)


@pytest.fixture(scope="module")
def tiny_model(catalog: ModelCatalog) -> PreTrainedModel:
    return AutoModelForCausalLM.from_pretrained(catalog.resolve("tiny-text", "text").path, local_files_only=True)


def run(engine: Engine, task: Task, seeds: Sequence[int] = (1,)) -> tuple[GenerationResult, Recorder]:
    recorder = Recorder()
    result = engine.run(task, seeds, previews=False, emit=recorder, cancel=recorder.token)
    return result, recorder


def texts(engine: Engine, task: Task, seeds: Sequence[int] = (1, 2, 3)) -> tuple[str, ...]:
    return run(engine, task, seeds)[0].texts


def prompt_tokens(tokenizer: PreTrainedTokenizerBase, before: str) -> list[int]:
    return continue_prompt(tokenizer, ContinueTextTask(before), room=200, fim=None)


def test_the_engine_uses_no_deprecated_transformers_api(text_engine: TextEngine) -> None:
    """transformers warns before it drops an API (`past_key_values=` goes in 5.40): any warning is an error here,
    through a cold prefill, a warm one from the prefix cache and batched decoding."""
    task = ContinueTextTask("Once upon a time", max_new_tokens=8)
    text_engine.prefix_cache.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        texts(text_engine, task, (1, 2))
        texts(text_engine, ContinueTextTask(task.before + " there", max_new_tokens=8), (1, 2))
    assert text_engine.prefix_cache.last.reused > 0


def test_engine_describes_itself(text_engine: TextEngine) -> None:
    assert (text_engine.kind, text_engine.device, text_engine.dtype) == ("text", "cpu", "float32")
    assert text_engine.memory_bytes > 100_000
    assert text_engine.window == 256


def test_candidates_stream_deltas_that_add_up_to_the_results(text_engine: Engine) -> None:
    result, recorder = run(text_engine, ContinueTextTask("Once upon a time", max_new_tokens=24), seeds=(1, 2, 3))

    assert len(result.texts) == 3
    for index, text in enumerate(result.texts):
        assert text and recorder.text(index) == text
    steps = recorder.steps
    assert [event.step for event in steps] == list(range(1, len(steps) + 1))
    assert all(event.total == 24 for event in steps) and len(steps) <= 24
    # Every token's StepEvent comes before the deltas it produced.
    assert isinstance(recorder.events[0], StepEvent)


def test_same_seeds_same_texts_different_seeds_differ(text_engine: Engine) -> None:
    task = ContinueTextTask("The painter", max_new_tokens=32)
    first, _ = run(text_engine, task, seeds=(7, 8))
    again, _ = run(text_engine, task, seeds=(7, 8))

    assert first.texts == again.texts
    assert first.texts[0] != first.texts[1]


def test_four_candidates_differ_and_each_reproduces_from_its_seed(text_engine: TextEngine) -> None:
    task = ContinueTextTask("A painter mixes colours on the palette", max_new_tokens=24)
    seeds = (11, 12, 13, 14)
    text_engine.prefix_cache.clear()
    first = texts(text_engine, task, seeds)
    again = texts(text_engine, task, seeds)

    assert len(set(first)) == 4
    assert again == first
    # A candidate depends on its own seed only, not on the others in its batch.
    assert texts(text_engine, task, (13,)) == (first[2],)


def test_stop_strings_cut_the_text_where_they_start(text_engine: Engine) -> None:
    task = ContinueTextTask("In the morning", max_new_tokens=48)
    (free,) = run(text_engine, task, seeds=(3,))[0].texts
    assert len(free) > 13
    stop = free[10:13]

    result, recorder = run(text_engine, ContinueTextTask(task.before, max_new_tokens=48, stop=(stop,)), seeds=(3,))

    assert result.texts == (free[: free.find(stop)],)
    assert recorder.text(0) == result.texts[0]  # the stop itself was never streamed


def test_stop_at_sentence_ends_the_text_after_its_punctuation(text_engine: Engine) -> None:
    # Seed 9 happens to write a sentence end (punctuation, then a space) within 64 tokens.
    before = "She wrote about the light on the water"
    (free,) = run(text_engine, ContinueTextTask(before, max_new_tokens=64), seeds=(9,))[0].texts
    end = StopRules(at=StopAt.SENTENCE).find_end(free)
    assert end is not None and end < len(free)

    task = ContinueTextTask(before, max_new_tokens=64, stop_at=StopAt.SENTENCE)
    result, recorder = run(text_engine, task, seeds=(9,))
    assert result.texts == (free[:end],)
    assert recorder.text(0) == result.texts[0]


def test_stop_rules_on_a_known_text(tokenizer: PreTrainedTokenizerBase) -> None:
    """Token by token through the real tokenizer: shown text never runs past a stop, the end is cut right."""
    text = "\n\nIt was late. The city slept 3.5 hours.\n\nMorning came."
    cases = {
        StopRules(at=StopAt.SENTENCE): "\n\nIt was late.",
        StopRules(at=StopAt.PARAGRAPH): "\n\nIt was late. The city slept 3.5 hours.",
        StopRules(strings=("city",)): "\n\nIt was late. The ",
        StopRules(strings=("nowhere",)): text,
    }
    for rules, expected in cases.items():
        candidate = CandidateText(tokenizer, rules)
        shown = ""
        for token in tokenizer(text, add_special_tokens=False).input_ids:
            shown += candidate.add(token)
            assert expected.startswith(shown)
            if candidate.done:
                break
        shown += candidate.finish()
        assert candidate.text == shown == expected


def test_stop_rules_hold_back_what_may_become_a_stop() -> None:
    rules = StopRules(strings=("END",), at=StopAt.SENTENCE)
    assert rules.pending("and then EN") == 2
    assert rules.pending("so it was.") == 1
    assert rules.pending('he said."') == 2
    assert rules.pending("plain") == 0
    assert rules.find_end("pi is 3.14 or so") is None
    assert rules.find_end("Done. Next") == len("Done.")
    assert rules.find_end("wait ENDgame") == len("wait ")
    assert StopRules(at=StopAt.PARAGRAPH).pending("one\n  ") == 3
    assert StopRules(at=StopAt.PARAGRAPH).find_end("\n\nopening blank line") is None


def test_multibyte_characters_come_out_whole(tokenizer: PreTrainedTokenizerBase) -> None:
    text = "日本語 and émigré 🎨 done"
    ids = tokenizer(text, add_special_tokens=False).input_ids
    assert len(ids) > len(text) / 2  # the rare characters are split into byte tokens
    decoder = IncrementalDecoder(tokenizer)
    deltas = [decoder.push(token) for token in ids]
    assert "".join(deltas) == text
    assert not any("\ufffd" in delta for delta in deltas)


def test_a_very_long_before_is_trimmed_keeping_its_end(text_engine: TextEngine, tokenizer) -> None:
    before = "The quick brown fox jumps over the lazy dog. " * 20_000 + "And at the very end, the sea."
    prompt = continue_prompt(tokenizer, ContinueTextTask(before), room=200, fim=None)
    assert len(prompt) <= 200
    assert before.endswith(tokenizer.decode(prompt))
    assert tokenizer.decode(prompt).endswith("And at the very end, the sea.")

    result, _ = run(text_engine, ContinueTextTask(before, after="x" * 50_000, max_new_tokens=64), seeds=(1, 2))
    assert len(result.texts) == 2


def test_an_empty_document_starts_from_the_start_token(text_engine: Engine, tokenizer) -> None:
    assert continue_prompt(tokenizer, ContinueTextTask(""), room=100, fim=None) == [tokenizer.eos_token_id]
    result, _ = run(text_engine, ContinueTextTask("", max_new_tokens=8))
    assert len(result.texts) == 1


def test_fill_in_the_middle_only_where_the_tokenizer_has_it(tokenizer: PreTrainedTokenizerBase) -> None:
    fim = fim_token_ids(tokenizer)
    assert fim is not None  # the tiny tokenizer has <|fim_prefix|> <|fim_suffix|> <|fim_middle|>
    task = ContinueTextTask("The sea was calm", after=" and the boats came home.")
    prompt = continue_prompt(tokenizer, task, room=100, fim=fim)
    prefix, suffix, middle = fim
    assert prompt[0] == prefix and prompt[-1] == middle
    assert tokenizer.decode(prompt[prompt.index(suffix) + 1 : -1]) == task.after

    plain = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]")))
    assert fim_token_ids(plain) is None
    assert continue_prompt(tokenizer, task, room=100, fim=None) == tokenizer(task.before).input_ids


def test_rewrite_uses_the_chat_template(text_engine: Engine, tokenizer: PreTrainedTokenizerBase) -> None:
    task = RewriteTextTask("the cat sat on the mat", instruction="More formal.")
    prompt = tokenizer.decode(rewrite_prompt(tokenizer, task))
    assert prompt.startswith("<|user|>\nRewrite the text below. More formal.")
    assert prompt.endswith("the cat sat on the mat<|endoftext|>\n<|assistant|>\n")

    result, recorder = run(text_engine, task, seeds=(1, 2))
    assert len(result.texts) == 2
    assert all(recorder.text(index) == text for index, text in enumerate(result.texts))


def test_rewrite_without_a_chat_template_uses_a_plain_prompt(catalog: ModelCatalog) -> None:
    tokenizer = AutoTokenizer.from_pretrained(catalog.resolve("tiny-text", "text").path, local_files_only=True)
    tokenizer.chat_template = None
    prompt = tokenizer.decode(rewrite_prompt(tokenizer, RewriteTextTask("short text")))
    assert prompt.startswith("Rewrite the text below.") and prompt.endswith("short text\n\nRewritten text:\n")


def test_cancel_stops_within_a_token_and_the_engine_goes_on(text_engine: TextEngine) -> None:
    task = ContinueTextTask("Once", max_new_tokens=32)
    text_engine.prefix_cache.clear()
    recorder = Recorder(cancel_after_step=1)
    with pytest.raises(Cancelled):
        text_engine.run(task, (1, 2), previews=False, emit=recorder, cancel=recorder.token)
    assert [event.step for event in recorder.steps] == [1]
    assert all(isinstance(event, StepEvent | TextDeltaEvent) for event in recorder.events)
    streamed = [recorder.text(0), recorder.text(1)]

    # The prefill the cancelled run cached serves the next run, and gives what a cold one gives.
    warm = texts(text_engine, task, (1, 2))
    assert text_engine.prefix_cache.last.computed == 0
    text_engine.prefix_cache.clear()
    assert texts(text_engine, task, (1, 2)) == warm
    assert all(text.startswith(part) for text, part in zip(warm, streamed, strict=True))


# ---------------------------------------------------------------- prefix cache


def test_a_warm_prefix_gives_the_same_tokens_as_a_cold_prefill(text_engine: TextEngine, tokenizer) -> None:
    cache = text_engine.prefix_cache
    before = "Once upon a time, in a small town by the sea, there lived a writer who loved long walks"
    task = ContinueTextTask(before, max_new_tokens=24)
    cache.clear()
    cold = texts(text_engine, task)
    assert (cache.last.reused, cache.last.computed) == (0, len(prompt_tokens(tokenizer, before)))

    # Regenerate: the same text again prefills nothing.
    assert texts(text_engine, task) == cold
    assert cache.last.computed == 0

    # The writer keeps the first candidate and continues after it: only the new tokens are computed.
    longer = ContinueTextTask(before + cold[0], max_new_tokens=24)
    warm = texts(text_engine, longer)
    shared = len(prompt_tokens(tokenizer, before)) - 1  # the last token may merge with the inserted text
    assert cache.last.reused >= shared
    assert cache.last.computed == len(prompt_tokens(tokenizer, longer.before)) - cache.last.reused
    cache.clear()
    assert texts(text_engine, longer) == warm


def test_an_edit_before_the_cursor_invalidates_the_cache_from_the_edit_on(text_engine: TextEngine, tokenizer) -> None:
    cache = text_engine.prefix_cache
    before = "She wrote about the light on the water, the gulls, and the fishermen mending their nets."
    edited = before.replace("light", "colour")
    cache.clear()
    texts(text_engine, ContinueTextTask(before, max_new_tokens=16))

    warm = texts(text_engine, ContinueTextTask(edited, max_new_tokens=16))
    unchanged = prompt_tokens(tokenizer, before.split("light")[0])
    assert cache.last.reused <= len(unchanged)
    assert (
        prompt_tokens(tokenizer, edited)[: cache.last.reused] == prompt_tokens(tokenizer, before)[: cache.last.reused]
    )
    cache.clear()
    assert texts(text_engine, ContinueTextTask(edited, max_new_tokens=16)) == warm

    # The cursor moved back: the shorter text is all cached but its last token, which gives the logits.
    shorter = ContinueTextTask(edited[:40], max_new_tokens=16)
    warm = texts(text_engine, shorter)
    assert (cache.last.reused, cache.last.computed) == (len(prompt_tokens(tokenizer, shorter.before)) - 1, 1)
    cache.clear()
    assert texts(text_engine, shorter) == warm


def test_fill_in_the_middle_reuses_the_text_before_the_cursor(text_engine: TextEngine, tokenizer) -> None:
    cache = text_engine.prefix_cache
    before, after = "The sea was calm and the boats", " came home before the storm."
    cache.clear()
    texts(text_engine, ContinueTextTask(before, after=after, max_new_tokens=8))
    warm = texts(text_engine, ContinueTextTask(before, after=" stayed out all night.", max_new_tokens=8))
    # <|fim_prefix|> and the text before the cursor are shared; the new text after it is computed.
    assert cache.last.reused >= len(tokenizer(before).input_ids)
    cache.clear()
    assert texts(text_engine, ContinueTextTask(before, after=" stayed out all night.", max_new_tokens=8)) == warm


def test_the_prefix_cache_stays_within_its_bounds(tiny_model: PreTrainedModel, tokenizer) -> None:
    prompts = [prompt_tokens(tokenizer, f"{word} is the word of the day, said the writer.") for word in "abcd"]
    one_entry = _entry_bytes(tiny_model, prompts[0])
    cache = PrefixCache(max_bytes=2 * one_entry + one_entry // 2)
    with torch.inference_mode():
        for prompt in prompts:
            cache.prefill(tiny_model, prompt)
            assert cache.nbytes <= cache.max_bytes
        assert len(cache) == 2
        cache.prefill(tiny_model, prompts[3])  # the newest stayed...
        assert cache.last.computed == 0
        cache.prefill(tiny_model, prompts[0])  # ...the least recently used went first
        assert cache.last.reused == 0

        # A prompt that begins a cached one replaces it rather than sitting beside it.
        cache.clear()
        cache.prefill(tiny_model, prompts[0][:10])
        cache.prefill(tiny_model, prompts[0])
        assert len(cache) == 1 and cache.last.reused == 10

        # Larger than the whole bound: computed, not kept. A zero bound keeps nothing.
        cache.prefill(tiny_model, prompts[0] * 4)
        assert len(cache) == 1
        off = PrefixCache(max_bytes=0)
        off.prefill(tiny_model, prompts[0])
        off.prefill(tiny_model, prompts[0])
        assert len(off) == 0 and off.last.reused == 0


def _entry_bytes(model: PreTrainedModel, prompt: list[int]) -> int:
    probe = PrefixCache(max_bytes=1 << 30)
    with torch.inference_mode():
        probe.prefill(model, prompt)
    return probe.nbytes


@pytest.mark.parametrize(
    ("task", "message"),
    [
        (ContinueTextTask("Once", max_new_tokens=256), "leaves no room"),
        (RewriteTextTask("word " * 400), "Select less text"),
        (InpaintTask(random_image(8, 8), None), "cannot run inpaint"),
        (ContinueTextTask("Once", top_p=1.5), "top_p in"),
    ],
)
def test_requests_the_model_cannot_serve_say_why(text_engine: Engine, task: Task, message: str) -> None:
    with pytest.raises(EngineError, match=message):
        run(text_engine, task)


def test_running_out_of_gpu_memory_is_an_engine_error(text_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    def out_of_memory(*args: object, **kwargs: object) -> None:
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(text_module, "sample", out_of_memory)
    with pytest.raises(EngineError, match="Out of GPU memory for 2 candidates"):
        run(text_engine, ContinueTextTask("Once"), seeds=(1, 2))
