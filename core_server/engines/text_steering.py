"""Feedback for the text model, built outside the token loop: accepted passages become context the
model continues after, and a logit bias leans toward their tokens and away from rejected texts'."""

from __future__ import annotations

from dataclasses import replace
from typing import TypeVar

import torch
from transformers import PreTrainedTokenizerBase

from core_server.tasks import ContinueTextTask, RewriteTextTask, TextSteering

# Logit shifts at full strength (exploration 0): e^1.5 ≈ 4.5 times likelier, e^-3 ≈ 20 times less.
LIKE_BIAS = 1.5
AVOID_BIAS = 3.0
EXAMPLE_SEPARATOR = "\n\n"

T = TypeVar("T", ContinueTextTask, RewriteTextTask)


def with_examples(task: T) -> T:
    """The task with the accepted passages in front: before the text (continue; trimming drops them first
    when the window is full) or as a style to match (rewrite)."""
    steering = task.steering
    if steering is None or not steering.examples:
        return task
    if isinstance(task, ContinueTextTask):
        return replace(task, before=EXAMPLE_SEPARATOR.join((*steering.examples, task.before)))
    style = EXAMPLE_SEPARATOR.join(steering.examples)
    return replace(task, instruction=f"{task.instruction} Match the style of these passages:\n{style}".strip())


def logit_bias(
    tokenizer: PreTrainedTokenizerBase, steering: TextSteering | None, vocab_size: int, device: torch.device
) -> torch.Tensor | None:
    """[vocab] float32 added to every step's logits; None without steering."""
    if steering is None or steering.strength <= 0:
        return None
    bias = torch.zeros(vocab_size, dtype=torch.float32)
    liked = _token_ids(tokenizer, steering.examples, vocab_size)
    # A token the person kept in an accepted passage is not held against them for a rejected one.
    avoided = _token_ids(tokenizer, steering.avoid, vocab_size) - liked
    for ids, shift in ((liked, LIKE_BIAS), (avoided, -AVOID_BIAS)):
        if ids:
            bias[sorted(ids)] += shift * steering.strength
    return bias.to(device)


def _token_ids(tokenizer: PreTrainedTokenizerBase, texts: tuple[str, ...], vocab_size: int) -> set[int]:
    ids = {token for text in texts for token in tokenizer(text, add_special_tokens=False).input_ids}
    return {token for token in ids if token < vocab_size and token not in tokenizer.all_special_ids}
