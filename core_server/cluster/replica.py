"""The Ray Serve deployment that holds engines of one kind ('image' or 'text') on a replica.

Models are multiplexed by name: Serve routes a job to a replica that has its model loaded when it can,
and a replica keeps its last few models (least recently used goes first). A job's events stream back
as tagged tuples, the first naming the replica (for health and the fault test)."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import AsyncIterator, Sequence
from typing import Any

from ray import serve

from ..scheduler.jobs import PausableToken
from ..scheduler.live import PAUSED_STAGE
from ..tasks import Cancelled, Engine, EngineError, EngineEvent, Task
from .binding import bind_replica_server_to_node_ip
from .pausing import Hardware, follow_board

log = logging.getLogger(__name__)
MODELS_PER_REPLICA = 2

# What a replica yields, in order: ("started", replica_id, pid, node_id, Hardware), then ("event", EngineEvent)*,
# then ("stage", name, seconds) for the time it held the job for live work (cluster.pausing) if any, then one of
# ("result", GenerationResult), ("cancelled",), ("refused", message), ("failed", message).
Message = tuple[Any, ...]


class _Loaded:
    """A loaded engine; Serve's multiplexer calls __del__ when it evicts the model, which frees it now."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __del__(self) -> None:
        self.engine.close()


class EngineReplica:
    def __init__(self, kind: str) -> None:
        bind_replica_server_to_node_ip()
        self.kind = kind
        self._entries: dict[str, Any] = {}  # model name -> catalog entry, as the front resolved it
        self._loading: dict[str, asyncio.Future[_Loaded]] = {}
        self._load_lock = threading.Lock()

    @serve.multiplexed(max_num_models_per_replica=MODELS_PER_REPLICA)
    async def _engine(self, model: str) -> _Loaded:
        # A call cancelled while its model loads leaves the load running in its thread: the next call
        # waits for that load instead of starting a second one (two loads at once break diffusers).
        loading = self._loading.get(model)
        if loading is None or (loading.done() and loading.exception() is not None):
            loading = self._loading[model] = asyncio.ensure_future(asyncio.to_thread(self._load, model))
        try:
            return await asyncio.shield(loading)
        finally:
            if loading.done():
                self._loading.pop(model, None)

    def _load(self, model: str) -> _Loaded:
        from ..engines import load_engine  # torch: only where engines run

        with self._load_lock:
            log.info("replica loads %s", model)
            return _Loaded(load_engine(self._entries[model]))

    async def generate(
        self,
        task: Task,
        seeds: Sequence[int],
        previews: bool,
        entry: Any,
        session: str = "",
        job_id: str = "",
        board: Any = None,
    ) -> AsyncIterator[Message]:
        """Run one job (model: the request's multiplexed model id); `session` is for the router only; the
        front's `board` (cluster.pausing) says when `job_id` holds for live work."""
        context, hardware = serve.get_replica_context(), Hardware.here()
        yield ("started", context.replica_id.unique_id, os.getpid(), _node_id(), hardware)
        model = serve.get_multiplexed_model_id()
        self._entries[model] = entry
        try:
            loaded = await self._engine(model)
        except EngineError as error:
            yield ("refused", str(error))
            return
        loop = asyncio.get_running_loop()
        messages: asyncio.Queue[Message] = asyncio.Queue()
        cancel = PausableToken()
        finished = threading.Event()
        if board is not None:
            if await board.holds.remote(job_id, hardware):  # held from its first step
                cancel.pause()
            follow = (board, job_id, hardware, cancel, finished)
            threading.Thread(target=follow_board, args=follow, daemon=True).start()

        def emit(event: EngineEvent) -> None:
            loop.call_soon_threadsafe(messages.put_nowait, ("event", event))

        def work() -> Message:
            try:
                return ("result", loaded.engine.run(task, seeds, previews=previews, emit=emit, cancel=cancel))
            except Cancelled:
                return ("cancelled",)
            except EngineError as error:
                return ("refused", str(error))
            except Exception as error:
                log.exception("job failed on replica")
                return ("failed", f"{type(error).__name__}: {error}")

        running = loop.run_in_executor(None, work)
        running.add_done_callback(lambda done: messages.put_nowait(done.result()))
        try:
            while True:
                message = await messages.get()
                if message[0] != "event" and cancel.held_s:
                    yield ("stage", PAUSED_STAGE, cancel.held_s)
                yield message
                if message[0] != "event":
                    return
        finally:  # the front cancelled the call (or left): the engine stops at its next step
            finished.set()
            cancel.cancel()


def _node_id() -> str:
    import ray

    return ray.get_runtime_context().get_node_id()
