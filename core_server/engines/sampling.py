"""The token loop behind both text tasks: N candidates of one prompt, sampled as one batch over a KV cache.

Kept deliberately plain (no generate()): prefill (through the prefix cache), then one forward per
token for all rows, each row drawing from its own generator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from core_server.engines.prefix_cache import PrefixCache, next_token_logits
from core_server.engines.stopping import StopRules
from core_server.tasks import CancelToken, Emit, StepEvent, TextDeltaEvent

# Below this, logits / temperature overflows (1e-40 makes inf, then NaN probabilities): such a
# temperature means "always the most likely token", so it is served as exactly that.
GREEDY_BELOW = 1e-3


@dataclass(frozen=True)
class SamplingParams:
    max_new_tokens: int
    temperature: float
    top_p: float
    stop: StopRules = field(default_factory=StopRules)
    logits_bias: torch.Tensor | None = None  # [vocab], added at every step: feedback (engines.text_steering)


@torch.inference_mode()
def sample(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompt: Sequence[int],
    seeds: Sequence[int],
    params: SamplingParams,
    *,
    eos_token_ids: frozenset[int],
    prefix_cache: PrefixCache,
    emit: Emit,
    cancel: CancelToken,
) -> list[str]:
    """One continuation of `prompt` per seed; row i draws every token with a generator seeded from seeds[i].

    After each token: StepEvent(token_index, max_new_tokens), then a TextDeltaEvent for each candidate
    whose text grew. A candidate ends at an EOS token or a stop; the loop ends when all have ended.
    """
    generators = [torch.Generator(model.device).manual_seed(seed) for seed in seeds]
    candidates = [CandidateText(tokenizer, params.stop) for _ in seeds]

    # 1. Prefill: run the prompt once (what the prefix cache does not already hold).
    cancel.check()
    cache, logits = prefix_cache.prefill(model, prompt)
    logits = logits.expand(len(seeds), -1)

    # 2. Decode: one token for every row per step. Rows that ended keep running with the batch
    #    (simpler than shrinking the cache); their tokens are ignored.
    for step in range(1, params.max_new_tokens + 1):
        cancel.check()
        biased = logits if params.logits_bias is None else logits + params.logits_bias
        tokens = _sample(biased, generators, params.temperature, params.top_p)
        emit(StepEvent(step, params.max_new_tokens))
        for index, (candidate, token) in enumerate(zip(candidates, tokens.tolist(), strict=True)):
            if not candidate.done:
                emit_delta(emit, index, candidate.finish() if token in eos_token_ids else candidate.add(token))
        if all(candidate.done for candidate in candidates) or step == params.max_new_tokens:
            break
        if step == 1:
            # Every candidate gets its own copy of the prompt's cache, only now: the first tokens
            # came from the prefill's logits alone, so they are out without waiting for the copy.
            cache.batch_repeat_interleave(len(seeds))
        logits = next_token_logits(model, tokens[:, None], cache)

    # 3. Out of tokens: show what the stop rules were still holding back.
    for index, candidate in enumerate(candidates):
        if not candidate.done:
            emit_delta(emit, index, candidate.finish())
    return [candidate.text for candidate in candidates]


def _sample(
    logits: torch.Tensor, generators: Sequence[torch.Generator], temperature: float, top_p: float
) -> torch.Tensor:
    """One token per row: temperature, then nucleus (top-p) filtering, then a draw from the row's generator."""
    if temperature < GREEDY_BELOW:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits / temperature, dim=-1)
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    # Drop every token after the most likely ones already cover top_p (the first always stays).
    outside = sorted_probs.cumsum(dim=-1) - sorted_probs > top_p
    probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs.masked_fill(outside, 0.0))
    return torch.cat(
        [torch.multinomial(row, 1, generator=generator) for row, generator in zip(probs, generators, strict=True)]
    )


def emit_delta(emit: Emit, index: int, text: str) -> None:
    if text:
        emit(TextDeltaEvent(index, text))


class CandidateText:
    """One row's text as it grows: whole characters only, shown once no stop can claim them."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, stop: StopRules) -> None:
        self._decoder = IncrementalDecoder(tokenizer)
        self._stop = stop
        self.text = ""
        self.shown = 0  # characters of text already emitted
        self.done = False

    def add(self, token: int) -> str:
        """Take one token; return the text that became safe to show."""
        self.text += self._decoder.push(token)
        end = self._stop.find_end(self.text)
        if end is not None:
            self.text = self.text[:end]
            return self.finish()
        return self._show(len(self.text) - self._stop.pending(self.text))

    def finish(self) -> str:
        self.done = True
        return self._show(len(self.text))

    def _show(self, upto: int) -> str:
        delta = self.text[self.shown : upto]
        self.shown += len(delta)
        return delta


class IncrementalDecoder:
    """Token ids in, text out as soon as it forms whole characters (one character may span tokens)."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase) -> None:
        self._tokenizer = tokenizer
        self._ids: list[int] = []
        # Decode a window starting a token or so back rather than from the first token: cheap, and
        # tokenizers that drop a leading space at the start of a decode (SentencePiece) still agree.
        self._prefix = 0
        self._read = 0

    def push(self, token: int) -> str:
        self._ids.append(token)
        before = self._decode(self._ids[self._prefix : self._read])
        after = self._decode(self._ids[self._prefix :])
        # U+FFFD at the end: the last token stopped inside a multi-byte character; wait for the rest.
        if len(after) <= len(before) or after.endswith("\ufffd"):
            return ""
        self._prefix, self._read = self._read, len(self._ids)
        return after[len(before) :]

    def _decode(self, ids: list[int]) -> str:
        return self._tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)
