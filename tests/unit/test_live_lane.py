"""The live lane's bookkeeping: a newer live job supersedes its session's older one, and long jobs on
other models pause at their next step while live work is pending."""

import asyncio
import threading

from core_server.scheduler.jobs import Job
from core_server.scheduler.live import LiveLane, yield_to_live
from core_server.tasks import Cancelled, ContinueTextTask


def job(job_id: str, model: str, loop: asyncio.AbstractEventLoop, session: str = "", owner: str = "me") -> Job:
    """A live job of `session`, or a non-live one without a session."""
    task = ContinueTextTask(before="x")
    return Job(job_id, owner, task, (1,), model, None, False, loop, owner=owner, session=session, live=bool(session))


def test_the_newest_live_job_of_a_session_supersedes_the_older() -> None:
    loop = asyncio.new_event_loop()
    lane = LiveLane()
    first, other_session, second = job("1", "m", loop, "s"), job("2", "m", loop, "t"), job("3", "m", loop, "s")
    assert lane.push(first) is None
    assert lane.push(other_session) is None
    assert lane.push(second) is first and first.superseded
    assert not other_session.superseded
    assert lane.push(job("4", "m", loop, "s", owner="someone else")) is None, "owners do not supersede each other"
    lane.forget(first)  # no longer its session's newest: nothing to drop
    assert lane.push(job("5", "m", loop, "s")) is second
    loop.close()


def test_a_settled_result_is_no_longer_superseded() -> None:
    loop = asyncio.new_event_loop()
    lane = LiveLane()
    finished, superseded = job("1", "m", loop, "s"), job("2", "m", loop, "t")
    lane.push(finished)
    lane.push(superseded)
    assert lane.push(job("3", "m", loop, "t")) is superseded
    assert not lane.settle(superseded), "superseded before it finished: it stays cancelled"
    assert lane.settle(finished)
    assert lane.push(job("4", "m", loop, "s")) is None and not finished.superseded, "its result stands"
    loop.close()


def test_long_jobs_on_other_models_pause_while_live_work_is_pending() -> None:
    loop = asyncio.new_event_loop()
    other_model, same_model, live = job("a", "big", loop), job("b", "fast", loop), job("c", "fast", loop, "s")
    running = [other_model, same_model, live]
    assert yield_to_live(running, {"fast"}) == {"big"}, "the paused job's model stays loaded"
    assert other_model.cancel_token.paused
    assert not same_model.cancel_token.paused, "a pipeline runs one call at a time: the live job waits for it"
    yield_to_live(running, set())
    assert not other_model.cancel_token.paused
    loop.close()


def test_a_paused_job_holds_at_its_step_and_ends_when_cancelled() -> None:
    loop = asyncio.new_event_loop()
    paused = job("a", "big", loop)
    paused.cancel_token.pause()
    outcome: list[str] = []

    def step() -> None:
        try:
            paused.cancel_token.check()
            outcome.append("ran")
        except Cancelled:
            outcome.append("cancelled")

    worker = threading.Thread(target=step)
    worker.start()
    worker.join(0.2)
    assert worker.is_alive() and not outcome
    paused.cancel_token.cancel()
    worker.join(5)
    assert outcome == ["cancelled"]
    loop.close()


def test_few_step_models_are_told_by_name() -> None:
    from pathlib import Path

    from core_server.models.catalog import ModelEntry
    from core_server.models.few_step import is_few_step

    def entry(name: str, path: str = "/m/x") -> ModelEntry:
        return ModelEntry(name, "image", "local", Path(path), "")

    few = [entry("sdxl-lightning"), entry("sd-turbo"), entry("x", "/m/FLUX.1-schnell"), entry("lcm_dreamshaper")]
    few += [entry("Z-Image-Turbo"), entry("hyper-sd15")]
    assert all(is_few_step(e) for e in few)
    assert not any(is_few_step(e) for e in [entry("turbocharged"), entry("tiny-image"), entry("hyperreal-xl")])


def test_live_requests_pick_a_few_step_model_else_a_few_step_lora_of_the_family() -> None:
    from pathlib import Path

    from core_server.models.catalog import ModelEntry
    from core_server.models.few_step import LiveChoice, choose

    class Catalog:
        def __init__(self, *entries: ModelEntry) -> None:
            self.entries = {e.name: e for e in entries}

        def resolve(self, name: str, kind: str) -> ModelEntry:
            return self.entries[name or "base"]

        def list(self) -> list[ModelEntry]:
            return list(self.entries.values())

    def entry(name: str, kind: str = "image", family: str = "sdxl") -> ModelEntry:
        return ModelEntry(name, kind, "local", Path("/m") / name, "", family=family)

    base, lora = entry("base"), entry("sdxl-lightning-lora", "lora", "")
    other_family = entry("sd-turbo", family="sd15")
    assert choose(Catalog(base), "", "", "image") == LiveChoice(base, "", False)  # type: ignore[arg-type]
    assert choose(Catalog(base, lora), "", "", "image").lora == "sdxl-lightning-lora"  # type: ignore[arg-type]
    picked = choose(Catalog(base, lora, other_family, entry("sdxl-turbo")), "", "", "image")  # type: ignore[arg-type]
    assert (picked.model.name, picked.lora, picked.few_step) == ("sdxl-turbo", "", True), "the default's family first"
    assert choose(Catalog(base, other_family), "", "", "image").model.name == "sd-turbo"  # type: ignore[arg-type]
    assert choose(Catalog(base, entry("sd15-lcm", "lora", "")), "", "", "image").lora == ""  # type: ignore[arg-type]
    named = choose(Catalog(base, other_family), "base", "", "image")  # type: ignore[arg-type]
    assert (named.model.name, named.few_step) == ("base", False), "a model the request names is used"
