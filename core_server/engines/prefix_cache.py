"""The prefix cache: a prompt that starts like an earlier one reuses that earlier prompt's key/value cache.

The Engine protocol carries no session, so reuse is keyed by content. Each entry holds a prompt's token
ids, the model's keys and values for them (transformers' DynamicCache layers, batch of one) and the
logits that follow the last token. A new prompt takes the entry sharing its longest run of leading
tokens, copies that many positions into a fresh DynamicCache, and runs only the rest through the model.

Why this is exact: in a causal model the keys and values at a position depend only on the tokens up to
it, so the shared positions hold what a full prefill would compute. Editing the text before the cursor
changes its tokens from the edit on; the shared run then ends at the first changed token, and everything
after it is computed afresh. There is nothing else to invalidate.

What it buys: a second continuation on the same document, after a candidate was inserted or a few words
typed at the cursor, prefills only the new tokens; a regenerate of the same text prefills none. Once a
document outgrows the model's window the kept part starts at a different token every turn (it is
trimmed from the far end), so reuse stops there.

Bounded: entries are dropped least recently used once their tensors pass `max_bytes` or their number
passes `max_entries`, and an entry whose tokens begin a newer one's is dropped at once (the newer one
serves it). `max_bytes=0` turns the cache off. Models whose cache is not plain full attention (sliding
windows, linear attention, KV sharing) prefill in full every time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import DynamicCache, PreTrainedModel
from transformers.cache_utils import DynamicLayer


@dataclass(frozen=True)
class _Entry:
    tokens: tuple[int, ...]
    layers: tuple[tuple[torch.Tensor, torch.Tensor], ...]  # (keys, values) per layer: [1, heads, len, dim]
    logits: torch.Tensor  # after the last token: [1, vocab]
    nbytes: int


@dataclass
class PrefillReport:
    """What the last prefill did: how many prompt tokens came from the cache, how many were computed."""

    reused: int = 0
    computed: int = 0


class PrefixCache:
    """Not thread-safe: the text engine calls it under its own lock."""

    def __init__(self, max_bytes: int, max_entries: int = 8) -> None:
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self.last = PrefillReport()
        self._entries: list[_Entry] = []  # least recently used first

    @property
    def nbytes(self) -> int:
        return sum(entry.nbytes for entry in self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()

    def prefill(self, model: PreTrainedModel, prompt: Sequence[int]) -> tuple[DynamicCache, torch.Tensor]:
        """A batch-of-one cache holding `prompt`, and the logits for the token after it ([1, vocab])."""
        tokens = tuple(prompt)
        entry, shared = self._longest_match(tokens)
        if entry is not None and shared == len(tokens) == len(entry.tokens):
            self._entries.remove(entry)
            self._entries.append(entry)
            self.last = PrefillReport(reused=shared, computed=0)
            return _restore(model, entry, shared), entry.logits
        # At least the last token goes through the model: its logits are what sampling needs.
        reused = min(shared, len(tokens) - 1)
        cache = _restore(model, entry, reused) if entry is not None and reused else DynamicCache(config=model.config)
        logits = next_token_logits(model, torch.tensor([tokens[reused:]], device=model.device), cache)
        self.last = PrefillReport(reused=reused, computed=len(tokens) - reused)
        self._store(tokens, cache, logits)
        return cache, logits

    def _longest_match(self, tokens: tuple[int, ...]) -> tuple[_Entry | None, int]:
        best, best_shared = None, 0
        for entry in reversed(self._entries):  # most recent first, so it wins ties
            shared = _shared_length(entry.tokens, tokens)
            if shared > best_shared:
                best, best_shared = entry, shared
        return best, best_shared

    def _store(self, tokens: tuple[int, ...], cache: DynamicCache, logits: torch.Tensor) -> None:
        if not self.max_bytes or not all(
            type(layer) is DynamicLayer and layer.is_initialized for layer in cache.layers
        ):
            return
        # References, not copies: the cache's later growth (torch.cat) and batch repeat make new tensors.
        layers = tuple((layer.keys, layer.values) for layer in cache.layers)
        nbytes = logits.nbytes + sum(keys.nbytes + values.nbytes for keys, values in layers)
        if nbytes > self.max_bytes:
            return
        self._entries = [entry for entry in self._entries if tokens[: len(entry.tokens)] != entry.tokens]
        self._entries.append(_Entry(tokens, layers, logits, nbytes))
        while len(self._entries) > self.max_entries or self.nbytes > self.max_bytes:
            self._entries.pop(0)


def next_token_logits(model: PreTrainedModel, input_ids: torch.Tensor, cache: DynamicCache) -> torch.Tensor:
    """Run `input_ids` through the model on top of `cache` (which grows); the logits after the last one."""
    # `cache=`, not the `past_key_values=` that transformers 5.40 removes.
    output = model(input_ids=input_ids, cache=cache, use_cache=True, logits_to_keep=1)
    return output.logits[:, -1, :].float()


def _restore(model: PreTrainedModel, entry: _Entry, length: int) -> DynamicCache:
    """A new cache over the entry's first `length` positions.

    The layers hold views of the entry's tensors, not copies: a DynamicLayer never writes into its
    tensors, it replaces them (torch.cat as it grows, repeat_interleave for the batch), so the entry
    stays as it was.
    """
    cache = DynamicCache(config=model.config)
    for layer, (keys, values) in zip(cache.layers, entry.layers, strict=True):
        layer.lazy_initialization(keys, values)
        layer.keys, layer.values = keys[:, :, :length], values[:, :, :length]
    return cache


def _shared_length(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    for index, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return index
    return min(len(a), len(b))
