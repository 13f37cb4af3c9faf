"""The llama.cpp text engine: a GGUF model serving continue_text and rewrite_text, as engines.text does.

Same prompts (engines.text.TextPlanner), the same stop rules and streaming (sampling.CandidateText);
the model runs in llama.cpp, which on a laptop CPU is several times faster than torch, above all with
quantized weights.

How a request runs, in one llama.cpp context with a fixed, unified KV cache of `window` cells:
  1. Prefill: sequence 0 holds the last prompt's tokens. A new prompt keeps the run of leading tokens it
     shares with it and computes only the rest (an edit before the cursor ends the shared run there:
     nothing else to invalidate). Memory is the cache's fixed size, whatever the number of turns.
  2. The prompt's cells are shared with sequences 1..N (no copy), one per candidate; each step decodes
     one token for every candidate still running, in one batch, each drawn with its own seeded generator.
  3. The candidates' sequences are dropped; sequence 0 stays for the next turn.
Cancel is checked every token and, inside a long prefill, by llama.cpp's abort callback.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import llama_cpp
import numpy as np

from core_server.engines.continue_text import fim_token_ids
from core_server.engines.gguf_tokenizer import GGUFTokenizer
from core_server.engines.sampling import CandidateText, SamplingParams, emit_delta
from core_server.engines.text import TextPlanner
from core_server.tasks import Cancelled, CancelToken, Emit, EngineError, GenerationResult, StepEvent, Task

MAX_WINDOW = 8192  # cells in the KV cache: a model trained on longer text still gets this many
MAX_SEQUENCES = 16  # candidates in one request (the daemon's own limit is config.Limits.max_candidates)
PREFILL_BATCH = 512
# llama_ftype → what `dtype` reports
FILE_TYPES = {0: "float32", 1: "float16", 2: "q4_0", 3: "q4_1", 7: "q8_0", 8: "q5_0", 9: "q5_1", 15: "q4_k_m"}
_ABORTED = 2  # llama_decode's answer when the abort callback said stop
GGML_LOG_LEVEL_ERROR = 4

_backend_lock = threading.Lock()
_backend_ready = False


class LlamaTextEngine:
    """Serves continue_text and rewrite_text from one GGUF model through llama.cpp."""

    kind = "text"
    device = "cpu"

    def __init__(self, model: object, *, window: int | None = None, threads: int | None = None) -> None:
        """`model`: a llama_model pointer, owned (freed) by this engine from now on."""
        self._model = model
        self.window = min(window or llama_cpp.llama_model_n_ctx_train(model), MAX_WINDOW)
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = self.window
        params.n_batch = params.n_ubatch = PREFILL_BATCH
        params.n_seq_max = MAX_SEQUENCES + 1
        params.kv_unified = True  # the candidates share the prompt's cells
        params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED  # its float16 sums depend on cell order
        params.n_threads = params.n_threads_batch = threads or os.cpu_count() or 1
        self._context = llama_cpp.llama_init_from_model(model, params)
        if not self._context:
            llama_cpp.llama_model_free(model)
            raise EngineError(f"llama.cpp could not make a {self.window}-token context for this model (memory?).")
        self._memory = llama_cpp.llama_get_memory(self._context)
        self._tokenizer = GGUFTokenizer(model)
        self._vocab_size = llama_cpp.llama_vocab_n_tokens(llama_cpp.llama_model_get_vocab(model))
        fim = self._tokenizer.fim_ids or fim_token_ids(self._tokenizer)
        self._planner = TextPlanner(self._tokenizer, self.window, self._vocab_size, rows_share_window=True, fim=fim)
        self._eos = self._tokenizer.end_ids
        self._held: list[int] = []  # the tokens sequence 0 holds
        self._lock = threading.Lock()
        self._batch = llama_cpp.llama_batch_init(PREFILL_BATCH, 0, 1)
        self._cancel: CancelToken | None = None
        self._abort = llama_cpp.ggml_abort_callback(lambda _: self._cancel is not None and self._cancel.cancelled)
        llama_cpp.llama_set_abort_callback(self._context, self._abort, None)
        self.dtype = FILE_TYPES.get(_file_type(model), "gguf")
        self.memory_bytes = llama_cpp.llama_model_size(model) + _cache_bytes(model, self.window)
        self.last_prefill = (0, 0)  # (tokens reused, tokens computed) by the last request

    @classmethod
    def load(cls, path: Path, *, threads: int | None = None) -> LlamaTextEngine:
        _init_backend()
        params = llama_cpp.llama_model_default_params()
        model = llama_cpp.llama_model_load_from_file(str(path).encode(), params)
        if not model:
            raise EngineError(f"llama.cpp could not load the GGUF model at {path}; is the file complete?")
        return cls(model, threads=threads)

    def run(
        self, task: Task, seeds: Sequence[int], *, previews: bool, emit: Emit, cancel: CancelToken
    ) -> GenerationResult:
        if len(seeds) > MAX_SEQUENCES:
            raise EngineError(f"A llama.cpp model makes at most {MAX_SEQUENCES} candidates at once, not {len(seeds)}.")
        prompt, params = self._planner.plan(task, seeds)
        with self._lock:
            if self._model is None:
                raise EngineError("This model was unloaded; load it again to use it.")
            self._cancel = cancel
            try:
                return GenerationResult(texts=tuple(self._sample(prompt, seeds, params, emit, cancel)))
            finally:
                self._cancel = None
                for sequence in range(1, len(seeds) + 1):
                    llama_cpp.llama_memory_seq_rm(self._memory, sequence, -1, -1)

    def close(self) -> None:
        """Free the context and the weights; waits for a running job to end first."""
        with self._lock:
            if self._model is None:
                return
            llama_cpp.llama_batch_free(self._batch)
            llama_cpp.llama_free(self._context)
            llama_cpp.llama_model_free(self._model)
            self._model = None

    # ------------------------------------------------------------ the token loop

    def _sample(
        self, prompt: list[int], seeds: Sequence[int], params: SamplingParams, emit: Emit, cancel: CancelToken
    ) -> list[str]:
        generators = [np.random.Generator(np.random.PCG64(seed)) for seed in seeds]
        candidates = [CandidateText(self._tokenizer, params.stop) for _ in seeds]
        bias = None if params.logits_bias is None else params.logits_bias.numpy()

        # 1. Prefill what sequence 0 does not hold yet.
        cancel.check()
        logits = self._prefill(prompt)
        rows = {index: logits for index in range(len(seeds))}
        position = len(prompt)

        # 2. Decode: a token for each running candidate per step, all in one batch.
        for step in range(1, params.max_new_tokens + 1):
            cancel.check()
            tokens = {
                index: _draw(row if bias is None else row + bias, generators[index], params.temperature, params.top_p)
                for index, row in rows.items()
            }
            emit(StepEvent(step, params.max_new_tokens))
            for index, token in tokens.items():
                candidate = candidates[index]
                emit_delta(emit, index, candidate.finish() if token in self._eos else candidate.add(token))
            running = {index: token for index, token in tokens.items() if not candidates[index].done}
            if not running or step == params.max_new_tokens:
                break
            if step == 1:
                for index in range(len(seeds)):  # the prompt's cells, shared: no copy
                    llama_cpp.llama_memory_seq_cp(self._memory, 0, index + 1, -1, -1)
            rows = self._decode_step(running, position)
            position += 1

        # 3. Out of tokens: show what the stop rules were still holding back.
        for index, candidate in enumerate(candidates):
            if not candidate.done:
                emit_delta(emit, index, candidate.finish())
        return [candidate.text for candidate in candidates]

    def _prefill(self, prompt: list[int]) -> np.ndarray:
        """Sequence 0 brought to `prompt`; the logits after its last token."""
        # At least the last token is computed: its logits are what sampling needs.
        shared = min(_shared_length(self._held, prompt), len(prompt) - 1)
        llama_cpp.llama_memory_seq_rm(self._memory, 0, shared, -1)
        self._held = prompt[:shared]
        self.last_prefill = (shared, len(prompt) - shared)
        for start in range(shared, len(prompt), PREFILL_BATCH):
            chunk = prompt[start : start + PREFILL_BATCH]
            last = start + len(chunk) == len(prompt)
            self._fill(
                [(token, start + offset, 0, last and offset == len(chunk) - 1) for offset, token in enumerate(chunk)]
            )
            self._held = prompt[: start + len(chunk)]
        return self._logits(-1)  # the last output of the last batch

    def _decode_step(self, tokens: dict[int, int], position: int) -> dict[int, np.ndarray]:
        """One token for each running candidate (sequence index + 1) at `position`; their next logits."""
        order = list(tokens)
        self._fill([(tokens[index], position, index + 1, True) for index in order])
        return {index: self._logits(row) for row, index in enumerate(order)}

    def _fill(self, entries: list[tuple[int, int, int, bool]]) -> None:
        """Decode one batch of (token, position, sequence, wants logits)."""
        batch = self._batch
        for row, (token, position, sequence, logits) in enumerate(entries):
            batch.token[row] = token
            batch.pos[row] = position
            batch.n_seq_id[row] = 1
            batch.seq_id[row][0] = sequence
            batch.logits[row] = logits
        batch.n_tokens = len(entries)
        status = llama_cpp.llama_decode(self._context, batch)
        if status == _ABORTED:
            self.clear_prefix()
            raise Cancelled()
        if status != 0:
            self.clear_prefix()
            raise EngineError(
                f"llama.cpp could not run this request (status {status}): the {self.window}-token cache is full; "
                "ask for fewer candidates or tokens."
            )

    def _logits(self, row: int) -> np.ndarray:
        pointer = llama_cpp.llama_get_logits_ith(self._context, row)
        return np.ctypeslib.as_array(pointer, shape=(self._vocab_size,)).astype(np.float32)

    def clear_prefix(self) -> None:
        """Drop what the cache holds (after a failed or aborted decode it holds part of a batch)."""
        llama_cpp.llama_memory_clear(self._memory, True)
        self._held = []


def _draw(logits: np.ndarray, generator: np.random.Generator, temperature: float, top_p: float) -> int:
    """One token: temperature, then nucleus (top-p) filtering, then a draw from the candidate's generator."""
    scaled = logits / temperature
    probs = np.exp(scaled - scaled.max())
    probs /= probs.sum()
    order = np.argsort(-probs, kind="stable")
    sorted_probs = probs[order]
    # Drop every token after the most likely ones already cover top_p (the first always stays).
    keep = np.cumsum(sorted_probs) - sorted_probs <= top_p
    kept = sorted_probs * keep
    return int(order[generator.choice(len(kept), p=kept / kept.sum())])


def _shared_length(a: Sequence[int], b: Sequence[int]) -> int:
    for index, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return index
    return min(len(a), len(b))


def _file_type(model: object) -> int:
    buffer = ctypes.create_string_buffer(32)
    if llama_cpp.llama_model_meta_val_str(model, b"general.file_type", buffer, 32) < 0:
        return -1
    return int(buffer.value or -1)


def _cache_bytes(model: object, window: int) -> int:
    """The KV cache: keys and values in float16 for every layer and cell."""
    layers, width = llama_cpp.llama_model_n_layer(model), llama_cpp.llama_model_n_embd(model)
    kv_width = width * llama_cpp.llama_model_n_head_kv(model) // max(llama_cpp.llama_model_n_head(model), 1)
    return 2 * 2 * layers * kv_width * window


def _init_backend() -> None:
    """Once per process: llama.cpp's backends, and its log kept to errors."""
    global _backend_ready
    with _backend_lock:
        if not _backend_ready:
            quiet_log()
            llama_cpp.llama_backend_init()
            _backend_ready = True


def quiet_log() -> None:
    """llama.cpp logs every tensor it loads and every cache change to stderr: keep its errors only.
    (llama-cpp-python's own filter reads ggml's newer log levels one off, so warnings pass as errors.)"""
    llama_cpp.llama_log_set(_errors_only, ctypes.c_void_p(0))


@llama_cpp.llama_log_callback
def _errors_only(level: int, text: bytes, data: ctypes.c_void_p) -> None:
    if level == GGML_LOG_LEVEL_ERROR:
        os.write(2, text)
