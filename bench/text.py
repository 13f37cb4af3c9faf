"""The text engine's two speed-ups, side by side in one run: the prefix cache and batched candidates.

    python bench/text.py                          # 2,000-token context, N = 4, GPT-2 shape 4 x 256, CPU
    python bench/text.py --layers 12 --width 768  # GPT-2 small's shape (random weights); meant for a GPU

The tiny profile's model has a 256-token window, so the bench builds its own variant: the tiny
profile's tokenizer with a GPT-2-shaped model of random weights and a 4,096-token window (no download).

1. Time to first token on a 2,000-token document (the first StepEvent of a run), median of --repeat:
   cold (empty prefix cache); warm after the writer kept a candidate and continues after it; warm
   regenerate (the same text); and after an edit near the start of the document (the cache is
   invalidated from the edit on, so it is cold again).
2. N = 4 candidates as one batch vs four runs of one, --new-tokens each, with the prefix cache off so
   that only batching differs.

    python bench/text.py --versus-llama-cpp        # the two engines on one 0.5B llama shape, CPU

3. (--versus-llama-cpp, instead of 1 and 2) The transformers engine and the llama.cpp engine on the
   same random-weight llama model (by default 0.5B parameters: 24 layers x 1024, 16 heads, 4 KV heads,
   MLP 4096, and the tiny vocabulary), written once as a transformers folder and converted to GGUF F16
   and Q4_0: time to first token cold and warm (continuing after a kept candidate), and decoding
   tokens per second for N = 1 and N = 4, each with the llama.cpp/transformers ratio. Same threads.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerBase

from core_server.engines.devices import choose_device, choose_dtype
from core_server.engines.llama_text import LlamaTextEngine
from core_server.engines.text import TextEngine
from core_server.models.gguf_llama import quantize, random_llama, write_gguf
from core_server.models.tiny import CORPUS, TINY_TEXT, ensure_tiny_models
from core_server.tasks import CancelToken, ContinueTextTask, Engine, EngineEvent, StepEvent

WINDOW = 4096
SEEDS = (1, 2, 3, 4)


def build_engine(tokenizer: PreTrainedTokenizerBase, layers: int, width: int, cache_bytes: int) -> TextEngine:
    device = choose_device()
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=WINDOW,
        n_embd=width,
        n_layer=layers,
        n_head=max(1, width // 64),
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    model = GPT2LMHeadModel(config).to(device=device, dtype=choose_dtype(device)).eval()
    return TextEngine(model, tokenizer, prefix_cache_bytes=cache_bytes)


def document(tokenizer: PreTrainedTokenizerBase, tokens: int) -> str:
    """English from the tiny corpus, cut to `tokens` tokens."""
    text = CORPUS * (1 + tokens // 50)
    return tokenizer.decode(tokenizer(text).input_ids[:tokens])


def first_token_seconds(engine: Engine, task: ContinueTextTask, seeds: tuple[int, ...] = SEEDS) -> float:
    start = time.perf_counter()
    first: list[float] = []

    def emit(event: EngineEvent) -> None:
        if isinstance(event, StepEvent) and not first:
            first.append(time.perf_counter() - start)

    engine.run(task, seeds, previews=False, emit=emit, cancel=CancelToken())
    return first[0]


def run_seconds(engine: TextEngine, task: ContinueTextTask, seeds: tuple[int, ...]) -> float:
    start = time.perf_counter()
    engine.run(task, seeds, previews=False, emit=lambda event: None, cancel=CancelToken())
    return time.perf_counter() - start


def median(repeat: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(repeat))


def decode_rate(engine: Engine, task: ContinueTextTask, seeds: tuple[int, ...]) -> float:
    """Tokens per second after the first (all candidates together): the decoding speed. A random model
    ends a candidate now and then (its end-of-text token): such a run is tried again with other seeds."""
    for attempt in range(10):
        steps: list[float] = []
        engine.run(
            task,
            tuple(seed + 100 * attempt for seed in seeds),
            previews=False,
            emit=lambda event, steps=steps: steps.append(time.perf_counter()) if isinstance(event, StepEvent) else None,
            cancel=CancelToken(),
        )
        if len(steps) == task.max_new_tokens:
            return len(seeds) * (len(steps) - 1) / (steps[-1] - steps[0])
    raise RuntimeError("every run ended early")


def versus_llama_cpp(args: argparse.Namespace, tokenizer_dir: Path, work: Path) -> None:
    """Section 3: one random-weight llama model in both engines, side by side."""
    shape = {"hidden": args.width, "layers": args.layers, "heads": args.width // 64, "kv_heads": args.width // 256}
    folder = random_llama(work / "llama", tokenizer_dir, ffn=4 * args.width, window=WINDOW, **shape)
    f16 = write_gguf(folder, work / "llama-f16.gguf", "f16")
    q4 = quantize(f16, work / "llama-q4_0.gguf", "q4_0")
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    before = document(tokenizer, args.context)
    task = ContinueTextTask(before, max_new_tokens=8)
    kept = ContinueTextTask(before + " and then the harbour woke.", max_new_tokens=8)
    long_run = ContinueTextTask(before, max_new_tokens=args.new_tokens)
    threads = torch.get_num_threads()
    print(
        f"llama shape {args.layers} layers x {args.width}, random weights, {args.context}-token context, "
        f"{args.new_tokens} new tokens, CPU, {threads} threads; median of {args.repeat}"
    )
    print(f"  {'':<22}{'first token cold':>22}{'warm':>22}{'tokens/s N=1':>22}{'tokens/s N=4':>22}")
    base: list[float] = []  # the transformers row: first token cold, warm (seconds); tokens/s for N = 1, 4
    for name, load in (
        ("transformers", lambda: TextEngine.load(folder)),  # in the dtype the daemon picks (engines.devices)
        ("llama.cpp F16", lambda: LlamaTextEngine.load(f16, threads=threads)),
        ("llama.cpp Q4_0", lambda: LlamaTextEngine.load(q4, threads=threads)),
    ):
        engine = load()
        name = f"{name} {engine.dtype}" if isinstance(engine, TextEngine) else name
        clear = engine.prefix_cache.clear if isinstance(engine, TextEngine) else engine.clear_prefix

        def cold(engine: Engine = engine, clear: Callable[[], None] = clear) -> float:
            clear()
            return first_token_seconds(engine, task, (1,))

        def warm(engine: Engine = engine, clear: Callable[[], None] = clear) -> float:
            clear()
            first_token_seconds(engine, task, (1,))  # the turn before, which the next one builds on
            return first_token_seconds(engine, kept, (1,))

        row = [
            median(args.repeat, cold),
            median(args.repeat, warm),
            *(median(args.repeat, lambda e=engine, s=seeds: decode_rate(e, long_run, s)) for seeds in ((1,), SEEDS)),
        ]
        engine.close()
        cells = [f"{row[0] * 1e3:.0f} ms", f"{row[1] * 1e3:.0f} ms", f"{row[2]:.1f}", f"{row[3]:.1f}"]
        if base:  # each as llama.cpp's speed-up over transformers: > 1 is faster
            ratios = (base[0] / row[0], base[1] / row[1], row[2] / base[2], row[3] / base[3])
            cells = [f"{cell} ({ratio:.1f}x)" for cell, ratio in zip(cells, ratios, strict=True)]
        else:
            base = row
        print(f"  {name:<22}" + "".join(f"{cell:>22}" for cell in cells), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--context", type=int, default=2000, help="tokens before the cursor")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--new-tokens", type=int, default=64, help="tokens per candidate in the batching runs")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, help="torch CPU threads (1 gives steadier figures on a busy machine)")
    parser.add_argument(
        "--versus-llama-cpp",
        action="store_true",
        help="section 3 only: the transformers and llama.cpp engines on one llama model (default 24 x 1024)",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory(prefix="cocreate-bench-text-") as home:
        folder = ensure_tiny_models(Path(home))[TINY_TEXT]
        if args.versus_llama_cpp:
            if "--layers" not in sys.argv:
                args.layers, args.width = 24, 1024
            return versus_llama_cpp(args, folder, Path(home))
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    engine = build_engine(tokenizer, args.layers, args.width, cache_bytes=1 << 30)
    before = document(tokenizer, args.context)
    task = ContinueTextTask(before, max_new_tokens=8)
    cache = engine.prefix_cache
    print(
        f"GPT-2 shape {args.layers} layers x {args.width}, random weights, {WINDOW}-token window, "
        f"on {engine.device} ({engine.dtype}, {torch.get_num_threads()} threads); N = {len(SEEDS)} candidates"
    )

    # 1. Time to first token.
    kept = engine.run(
        ContinueTextTask(before, max_new_tokens=32), (9,), previews=False, emit=lambda e: None, cancel=CancelToken()
    ).texts[0]
    edited = "An" + before[2:]

    def cold() -> float:
        cache.clear()
        return first_token_seconds(engine, task)

    def after_kept() -> float:
        cache.clear()
        first_token_seconds(engine, task)  # the first turn, which filled the cache
        return first_token_seconds(engine, ContinueTextTask(before + kept, max_new_tokens=8))

    def regenerate() -> float:
        cache.clear()
        first_token_seconds(engine, task)
        return first_token_seconds(engine, task)

    def after_edit() -> float:
        cache.clear()
        first_token_seconds(engine, task)
        return first_token_seconds(engine, ContinueTextTask(edited, max_new_tokens=8))

    prompt = len(tokenizer(before).input_ids)
    print(f"\ntime to first token, {prompt}-token context (median of {args.repeat}):")
    base = median(args.repeat, cold)
    print(f"  cold, empty prefix cache                    {base * 1e3:9.1f} ms")
    for name, measure in (
        ("warm, continuing after a kept candidate", after_kept),
        ("warm, regenerate (same text)", regenerate),
        ("edit near the start (invalidated)", after_edit),
    ):
        seconds = median(args.repeat, measure)
        report = f"reused {cache.last.reused}, computed {cache.last.computed} tokens"
        print(f"  {name:<43} {seconds * 1e3:9.1f} ms   cold/this {base / seconds:6.1f}x   ({report})")

    # 2. Batched vs sequential, the prefix cache off.
    cache.max_bytes = 0
    cache.clear()
    print(f"\nN = {len(SEEDS)} candidates x {args.new_tokens} tokens, prefix cache off (median of {args.repeat}):")
    for context in (args.context, 100):
        long_task = ContinueTextTask(document(tokenizer, context), max_new_tokens=args.new_tokens)
        batched = median(args.repeat, lambda task=long_task: run_seconds(engine, task, SEEDS))
        sequential = median(
            args.repeat, lambda task=long_task: sum(run_seconds(engine, task, (seed,)) for seed in SEEDS)
        )
        print(
            f"  {context:>5}-token context: one batch {batched:7.3f} s   {len(SEEDS)} runs of one {sequential:7.3f} s"
            f"   sequential/batched {sequential / batched:5.2f}x"
        )


if __name__ == "__main__":
    main()
