"""The daemon connection: one client per address, one session per .blend, reached off the main thread.

Connecting, opening a session, building a request (which copies the pixels) and sending the
artist's choice can take a moment, or long when no daemon answers; they run on one worker thread so
Blender's UI never waits. All of this object's state is touched on that thread only, so it needs no lock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

from .cocreate_client import CocreateClient, Job
from .cocreate_client.client import Decision
from .cocreate_client.pb import cocreate_pb2 as pb

log = logging.getLogger(__name__)

# session id → the request: a generation, or a personalisation (learning the artist's style)
BuildRequest = Callable[[str], pb.GenerateRequest | pb.PersonalizeRequest]


class Model(NamedTuple):
    kind: str  # image | lora
    name: str
    family: str  # image models: sd15, sdxl, flux2-klein, ...


class Connection:
    def __init__(self) -> None:
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cocreate-connect")
        self._client: CocreateClient | None = None
        self._address: tuple[str, str] = ("", "")
        self._sessions: dict[tuple[str, str], str] = {}

    def start(self, endpoint: str, token_file: str, document: tuple[str, str], build: BuildRequest) -> Future[Job]:
        """Connect (empty endpoint/token file: the client's defaults), open the session, send the request.

        `document` is the .blend's (id, name); the future gives the running Job or the error.
        """
        return self._worker.submit(self._start, endpoint, token_file, document, build)

    def _start(self, endpoint: str, token_file: str, document: tuple[str, str], build: BuildRequest) -> Job:
        client = self._client_for(endpoint, token_file)
        key = (endpoint, document[0])
        if key not in self._sessions:
            self._sessions[key] = client.create_session("blender", *document).id
        request = build(self._sessions[key])
        if isinstance(request, pb.PersonalizeRequest):
            return client.personalize(request)
        return client.generate(request)

    def models(self, endpoint: str, token_file: str) -> Future[list[Model]]:
        """The image models and LoRAs (personal ones among them) the daemon knows, sorted by kind and name."""
        return self._worker.submit(self._models, endpoint, token_file)

    def _models(self, endpoint: str, token_file: str) -> list[Model]:
        listed = self._client_for(endpoint, token_file).list_models()
        return sorted(Model(m.kind, m.name, m.family) for m in listed if m.kind in ("image", "lora"))

    def feedback(self, endpoint: str, token_file: str, decisions: list[tuple[str, Decision]]) -> Future[None]:
        """Tell the daemon what the artist did with candidates, (candidate id, decision) in order.

        Nothing waits on it: the future is for tests, a failure is only logged.
        """
        sent = self._worker.submit(self._feedback, endpoint, token_file, decisions)
        sent.add_done_callback(_log_failure)
        return sent

    def _feedback(self, endpoint: str, token_file: str, decisions: list[tuple[str, Decision]]) -> None:
        self._client_for(endpoint, token_file).decide(decisions)

    def _client_for(self, endpoint: str, token_file: str) -> CocreateClient:
        if self._client is None or self._address != (endpoint, token_file):
            if self._client is not None:
                self._client.close()
            token = Path(token_file).expanduser().read_text().strip() if token_file else None
            self._client = CocreateClient(endpoint or None, token=token, client_name="blender")
            self._address = (endpoint, token_file)
        return self._client

    def close(self) -> None:
        """Cancel what still runs and end both threads (the worker's and the client's)."""
        self._worker.shutdown(wait=True, cancel_futures=True)
        if self._client is not None:
            self._client.close()
            self._client = None


def _log_failure(sent: Future[None]) -> None:
    if not sent.cancelled() and sent.exception() is not None:
        log.warning("cocreate: the daemon did not get the artist's choice: %s", sent.exception())
