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
