"""Learn My Style: a personal LoRA trained by the daemon on what the artist kept in this image's session.

Plain state fed by the pump on GIMP's main thread, as apply.Apply is for generations.
"""

from __future__ import annotations

from collections.abc import Iterable

from cocreate_client.events import Accepted, Done, Event, Failed, Progress, Queued, Trained

from .apply import ProgressBar


class Learning:
    """Feeds one personalisation's events into a progress bar; `lora` is set once it is trained."""

    def __init__(self, progress: ProgressBar) -> None:
        self._progress = progress
        self.finished = False
        self.cancelled = False
        self.error: str | None = None
        self.lora = ""
        self.pictures = 0

    def handle(self, events: Iterable[Event]) -> bool:
        for event in events:
            if self.finished:
                break
            if isinstance(event, Accepted | Queued):
                ahead = event.queue_position if isinstance(event, Accepted) else event.position
                self._progress.text(f"cocreate: {ahead} job(s) ahead" if ahead else "cocreate: learning your style")
            elif isinstance(event, Progress) and event.total:
                self._progress.text(f"cocreate: learning your style, step {event.step} of {event.total}")
                self._progress.fraction(event.step / event.total)
            elif isinstance(event, Trained):
                self.lora, self.pictures = event.lora, event.pictures
            elif isinstance(event, Done):
                self.cancelled = event.cancelled
                self.close()
            elif isinstance(event, Failed):
                self.error = f"{event.message} ({event.code})"
                self.close()
        return self.finished

    def close(self) -> None:
        self.finished = True
