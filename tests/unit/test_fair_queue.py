import asyncio

from core_server.scheduler.fair_queue import FairQueue
from core_server.scheduler.jobs import Job
from core_server.tasks import ContinueTextTask


def job(job_id: str, client: str, loop: asyncio.AbstractEventLoop) -> Job:
    return Job(job_id, client, ContinueTextTask(before="x"), (1,), "tiny-text", None, False, loop)


def test_clients_take_turns_and_order_is_predicted() -> None:
    loop = asyncio.new_event_loop()
    queue = FairQueue()
    for name in ("a1", "a2", "a3"):
        queue.push(job(name, "a", loop))
    queue.push(job("b1", "b", loop))
    queue.push(job("b2", "b", loop))
    predicted = [j.id for j in queue.in_service_order()]
    served = []
    while (j := queue.pop()) is not None:
        served.append(j.id)
    assert served == ["a1", "b1", "a2", "b2", "a3"]
    assert predicted == served
    loop.close()


def test_remove_keeps_the_rest() -> None:
    loop = asyncio.new_event_loop()
    queue = FairQueue()
    queue.push(job("a1", "a", loop))
    queue.push(job("b1", "b", loop))
    assert queue.remove("a1") is not None
    assert queue.remove("zz") is None
    assert [j.id for j in queue.in_service_order()] == ["b1"]
    assert len(queue) == 1
    loop.close()


def test_steps_coalesce_for_a_slow_reader() -> None:
    from core_server.scheduler.jobs import Finished
    from core_server.tasks import GenerationResult, StepEvent, TextDeltaEvent

    async def scenario() -> list[object]:
        j = job("j", "a", asyncio.get_running_loop())
        for step in range(1, 101):
            j.publish(StepEvent(step, 100))
            if step == 50:
                j.publish(TextDeltaEvent(0, "x"))
        j.publish(Finished(GenerationResult()))
        await asyncio.sleep(0)  # let the deliveries run, as a busy loop would
        return [await j.next_event() for _ in range(3)]

    first, delta, last = asyncio.run(scenario())
    assert first == StepEvent(100, 100), "the reader gets the newest step, not 100 buffered ones"
    assert delta == TextDeltaEvent(0, "x")
    assert isinstance(last, Finished)
