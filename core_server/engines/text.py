"""The text engine: a causal language model serving continue_text and rewrite_text."""

from __future__ import annotations

import gc
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase
from transformers.utils import logging as transformers_logging

from core_server.engines.continue_text import continue_prompt, fim_token_ids
from core_server.engines.devices import choose_device, choose_dtype, dtype_name, memory_bytes
from core_server.engines.prefix_cache import PrefixCache
from core_server.engines.rewrite_text import rewrite_prompt
from core_server.engines.sampling import SamplingParams, sample
from core_server.engines.stopping import StopRules
from core_server.engines.text_steering import logit_bias, with_examples
from core_server.tasks import (
    TASK_NAMES,
    CancelToken,
    ContinueTextTask,
    Emit,
    EngineError,
    GenerationResult,
    RewriteTextTask,
    Task,
)

DEFAULT_MAX_NEW_TOKENS = 64
DEFAULT_TEMPERATURE = 0.8
DEFAULT_TOP_P = 0.95
# The prefix cache may hold a quarter of the weights' size in keys and values, within these bounds.
PREFIX_CACHE_MIN_BYTES = 64 << 20
PREFIX_CACHE_MAX_BYTES = 1 << 30


class TextEngine:
    """Serves continue_text and rewrite_text from one causal LM and its tokenizer."""

    kind = "text"

    def __init__(
        self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, *, prefix_cache_bytes: int | None = None
    ) -> None:
        """`prefix_cache_bytes`: the prefix cache's memory bound (0 turns it off); default a quarter of the
        weights' size, at least 64 MiB and at most 1 GiB."""
        self.device = model.device.type
        self.dtype = dtype_name(model.dtype)
        self.memory_bytes = memory_bytes(model)
        self.window = _context_window(model, tokenizer)
        if prefix_cache_bytes is None:
            prefix_cache_bytes = min(max(self.memory_bytes // 4, PREFIX_CACHE_MIN_BYTES), PREFIX_CACHE_MAX_BYTES)
        self.prefix_cache = PrefixCache(prefix_cache_bytes)
        self._model: PreTrainedModel | None = model
        self._tokenizer = tokenizer
        # Chat models often end a turn with a token of their own besides EOS; any of them ends a candidate.
        eos = model.generation_config.eos_token_id
        eos_ids = eos if isinstance(eos, list) else [eos]
        self._eos = frozenset(token for token in (*eos_ids, tokenizer.eos_token_id) if token is not None)
        self._lock = threading.Lock()
        self._device = model.device
        self._planner = TextPlanner.of(tokenizer, self.window, model.get_output_embeddings().weight.shape[0])

    @classmethod
    def load(cls, path: Path) -> TextEngine:
        device = choose_device()
        transformers_logging.disable_progress_bar()
        try:
            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True, trust_remote_code=False)
            model = AutoModelForCausalLM.from_pretrained(
                path,
                dtype=choose_dtype(device),
                local_files_only=True,
                use_safetensors=True,
                trust_remote_code=False,
            )
        except (OSError, ValueError) as error:
            raise EngineError(f"Could not load the text model at {path}: {error}") from error
        return cls(model.to(device).eval(), tokenizer)

    def run(
        self,
        task: Task,
        seeds: Sequence[int],
        *,
        previews: bool,
        emit: Emit,
        cancel: CancelToken,
    ) -> GenerationResult:
        prompt, params = self._planner.plan(task, seeds)
        if params.logits_bias is not None:
            params = replace(params, logits_bias=params.logits_bias.to(self._device))
        with self._lock:
            if self._model is None:
                raise EngineError("This model was unloaded; load it again to use it.")
            try:
                texts = sample(
                    self._model,
                    self._tokenizer,
                    prompt,
                    seeds,
                    params,
                    eos_token_ids=self._eos,
                    prefix_cache=self.prefix_cache,
                    emit=emit,
                    cancel=cancel,
                )
            except torch.OutOfMemoryError as error:
                self.prefix_cache.clear()
                torch.cuda.empty_cache()
                raise EngineError(
                    f"Out of GPU memory for {len(seeds)} candidates of {len(prompt)} + {params.max_new_tokens} tokens; "
                    "ask for fewer candidates or tokens."
                ) from error
        return GenerationResult(texts=tuple(texts))

    def close(self) -> None:
        """Drop the weights; waits for a running job to end first."""
        with self._lock:
            self._model = None
            self.prefix_cache.clear()
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


@dataclass(frozen=True)
class TextPlanner:
    """Turns a text task into a prompt and sampling parameters for one model, checked against its window.

    `rows_share_window`: the candidates' new tokens all sit in the one window beside the prompt (llama.cpp's
    unified cache) rather than each in its own row (a transformers batch)."""

    tokenizer: PreTrainedTokenizerBase
    window: int
    vocab_size: int  # the model's logits, which may outnumber the tokenizer's tokens
    rows_share_window: bool = False
    fim: tuple[int, int, int] | None = None

    @classmethod
    def of(cls, tokenizer: PreTrainedTokenizerBase, window: int, vocab_size: int, **kwargs: bool) -> TextPlanner:
        return cls(tokenizer, window, vocab_size, fim=fim_token_ids(tokenizer), **kwargs)

    def plan(self, task: Task, seeds: Sequence[int]) -> tuple[list[int], SamplingParams]:
        if not seeds:
            raise EngineError("Ask for at least one candidate.")
        rows = len(seeds) if self.rows_share_window else 1
        if isinstance(task, ContinueTextTask):
            prompt, max_new_tokens = self._continue_prompt(with_examples(task), rows)
            stop = StopRules(task.stop, task.stop_at)
        elif isinstance(task, RewriteTextTask):
            prompt, max_new_tokens = self._rewrite_prompt(with_examples(task), rows)
            stop = StopRules()
        else:
            name = TASK_NAMES.get(type(task), type(task).__name__)
            raise EngineError(f"A text model cannot run {name}; pick an image model.")
        params = SamplingParams(
            max_new_tokens=max_new_tokens,
            temperature=task.temperature or DEFAULT_TEMPERATURE,
            top_p=task.top_p or DEFAULT_TOP_P,
            stop=stop,
            logits_bias=logit_bias(self.tokenizer, task.steering, self.vocab_size, torch.device("cpu")),
        )
        if params.temperature < 0 or not 0 < params.top_p <= 1:
            raise EngineError(f"temperature must be > 0 and top_p in (0, 1], not {task.temperature} and {task.top_p}.")
        return prompt, params

    def _continue_prompt(self, task: ContinueTextTask, rows: int) -> tuple[list[int], int]:
        max_new_tokens = task.max_new_tokens or DEFAULT_MAX_NEW_TOKENS
        if max_new_tokens * rows >= self.window:
            raise EngineError(
                f"max_new_tokens {max_new_tokens} for {rows} candidate(s) leaves no room for the text in this "
                f"model's {self.window}-token window; ask for fewer."
            )
        room = self.window - max_new_tokens * rows
        return continue_prompt(self.tokenizer, task, room=room, fim=self.fim), max_new_tokens

    def _rewrite_prompt(self, task: RewriteTextTask, rows: int) -> tuple[list[int], int]:
        prompt = rewrite_prompt(self.tokenizer, task)
        room = (self.window - len(prompt)) // rows
        # By default leave room for a rewrite twice as long as the selection, as far as the window allows.
        selection = len(self.tokenizer(task.selection, add_special_tokens=False, verbose=False).input_ids)
        max_new_tokens = task.max_new_tokens or min(room, max(DEFAULT_MAX_NEW_TOKENS, 2 * selection))
        if not 0 < max_new_tokens <= room:
            raise EngineError(
                f"The selection and instruction take {len(prompt)} tokens, which leaves no room for a rewrite of "
                f"{task.max_new_tokens or 'any'} tokens in this model's {self.window}-token window. Select less text."
            )
        return prompt, max_new_tokens


def _context_window(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> int:
    """How many tokens the model attends to: its position limit, else the tokenizer's stated maximum."""
    window = getattr(model.config.get_text_config(), "max_position_embeddings", None)
    if window:
        return int(window)
    # Tokenizers without a limit report a huge sentinel.
    if tokenizer.model_max_length < 10_000_000:
        return int(tokenizer.model_max_length)
    raise EngineError("This model states no context length (max_position_embeddings); cocreate cannot trim for it.")
