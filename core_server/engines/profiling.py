"""Stage timings for work that runs inside the diffusers pipeline: each module's forward calls, summed.

On a GPU the times are those of launching the work (kernels run asynchronously); on the CPU, of doing it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator
from typing import Any

from torch import nn

from core_server.stages import Stages


@contextlib.contextmanager
def timed_modules(stages: Stages, modules: Iterable[tuple[str, nn.Module]], rest: str) -> Iterator[None]:
    """Within the block, every forward call of each (name, module) adds its seconds to stage `name` (several
    modules may share one); the block's time not counted by any stage goes to stage `rest`."""
    counted_before, started_block = stages.total(), time.perf_counter()
    handles = []
    for name, module in modules:
        started: list[float] = []

        def before(module: nn.Module, args: Any, started: list[float] = started) -> None:
            started.append(time.perf_counter())

        def after(module: nn.Module, args: Any, output: Any, name: str = name, started: list[float] = started) -> None:
            stages.add(name, time.perf_counter() - started.pop())

        handles += [module.register_forward_pre_hook(before), module.register_forward_hook(after)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
        stages.add(rest, time.perf_counter() - started_block - (stages.total() - counted_before))
