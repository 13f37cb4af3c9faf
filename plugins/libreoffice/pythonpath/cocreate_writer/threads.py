"""LibreOffice's main thread and one worker thread: UNO work happens on the first, waiting on the second.

`post` goes through com.sun.star.awt.AsyncCallback, which runs the callback from the main event
loop; that is the only way back onto the main thread. Callbacks never raise into LibreOffice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import unohelper
from com.sun.star.awt import XCallback

log = logging.getLogger(__name__)


class _Callback(unohelper.Base, XCallback):
    def __init__(self, callback: Callable[[], None]) -> None:
        self._callback = callback

    def notify(self, data: Any) -> None:
        try:
            self._callback()
        except Exception:
            log.exception("cocreate: a main-thread callback failed")


class HostThreads:
    def __init__(self, context: Any) -> None:
        self._async = context.ServiceManager.createInstanceWithContext("com.sun.star.awt.AsyncCallback", context)
        # One worker: sessions and feedback go out in the order they were made.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cocreate-writer")

    def post(self, callback: Callable[[], None]) -> None:
        self._async.addCallback(_Callback(callback), None)

    def background(self, work: Callable[[], Any], then: Callable[[Any, BaseException | None], None]) -> None:
        def finished(future: Future[Any]) -> None:
            error = future.exception()
            result = None if error is not None else future.result()
            self.post(lambda: then(result, error))

        self._worker.submit(work).add_done_callback(finished)
