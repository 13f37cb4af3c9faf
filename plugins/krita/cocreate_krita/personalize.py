"""Learning a personal LoRA from the pictures the painter kept in this document's session.

The daemon trains it (Personalize) in its job queue; this follows the job as the docker's timer
pumps it, says how far it got, and names the LoRA once it is there. Main thread only; never blocks.
"""

from __future__ import annotations

from collections.abc import Callable

from cocreate_client import CocreateClient
from cocreate_client.events import Accepted, Done, Failed, Progress, Queued, Trained
from cocreate_client.jobs import Job
from cocreate_client.pb import cocreate_pb2 as pb


class Training:
    def __init__(
        self,
        client: CocreateClient,
        request: pb.PersonalizeRequest,
        say: Callable[[str], None],
        failed: Callable[[Failed], None],
    ) -> None:
        self.name = name = request.name
        self.lora = ""  # set once the daemon trained it
        self.progress = (0, 0)
        self._say, self._failed = say, failed
        self._job: Job | None = client.personalize(request)
        self._say(f"Learning “{name}” from the pictures you kept…")

    @property
    def running(self) -> bool:
        return self._job is not None

    def cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()
            self._say(f"Stopping “{self.name}”…")

    def pump(self) -> bool:
        """Take in the job's events; True when something changed."""
        if self._job is None:
            return False
        events = self._job.poll()
        for event in events:
            if isinstance(event, Accepted) and event.queue_position:
                self._say(f"Queued at {event.queue_position}…")
            elif isinstance(event, Queued):
                self._say(f"Queued at {event.position}…")
            elif isinstance(event, Progress):
                self.progress = (event.step, event.total)
                self._say(f"Learning “{self.name}”: step {event.step} of {event.total}")
            elif isinstance(event, Trained):
                self.lora = event.lora
                self._say(f"Learned “{event.lora}” from {event.pictures} kept pictures: pick it under LoRA.")
            elif isinstance(event, Done):
                self._job = None
                if event.cancelled:
                    self._say(f"Stopped learning “{self.name}”.")
            elif isinstance(event, Failed):
                self._job = None
                self._failed(event)
        return bool(events)
