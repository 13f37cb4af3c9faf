"""The UNO entry point: the protocol handler behind every vnd.cocreate.writer: URL, one co-creation per document.

A dispatch may arrive on any thread (the menu's, or a UNO bridge thread for a macro or a test), so it
only posts the command to the main thread. Status listeners (menus, toolbars, macros) hear whether
each command can run now; those of vnd.cocreate.writer:panel also get the panel's state as JSON.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import asdict
from typing import Any

import uno
import unohelper
from cocreate_client import CocreateClient
from com.sun.star.document import XDocumentEventListener
from com.sun.star.frame import XDispatch, XDispatchProvider
from com.sun.star.lang import XInitialization, XServiceInfo
from com.sun.star.uno import RuntimeException

from .commands import Command, enabled, parse
from .controller import Controller
from .document import WriterDocument
from .panel import Panel
from .state import PanelState
from .threads import HostThreads

log = logging.getLogger(__name__)


class ProtocolHandler(unohelper.Base, XInitialization, XDispatchProvider, XServiceInfo):
    IMPLEMENTATION = "org.cocreate.writer.ProtocolHandler"
    SERVICES = ("com.sun.star.frame.ProtocolHandler",)

    def __init__(self, context: Any, *arguments: Any) -> None:
        self._context = context
        self._frame: Any = None

    def initialize(self, arguments: Any) -> None:
        if arguments:
            self._frame = arguments[0]

    def queryDispatch(self, url: Any, target: str, flags: int) -> Any:
        command = parse(url.Complete)
        if command is None or self._frame is None or not _is_writer(self._frame):
            return None
        return Dispatch(self._context, self._frame, command)

    def queryDispatches(self, requests: Any) -> tuple[Any, ...]:
        return tuple(self.queryDispatch(r.FeatureURL, r.FrameName, r.SearchFlags) for r in requests)

    def getImplementationName(self) -> str:
        return self.IMPLEMENTATION

    def supportsService(self, name: str) -> bool:
        return name in self.SERVICES

    def getSupportedServiceNames(self) -> tuple[str, ...]:
        return self.SERVICES


class Dispatch(unohelper.Base, XDispatch):
    def __init__(self, context: Any, frame: Any, command: Command) -> None:
        self._context = context
        self._frame = frame
        self._command = command

    def dispatch(self, url: Any, arguments: Any) -> None:
        options = {argument.Name: argument.Value for argument in arguments}
        session = writer_session(self._context, self._frame)
        host_threads(self._context).post(lambda: session.controller.run(self._command, options))

    def addStatusListener(self, listener: Any, url: Any) -> None:
        writer_session(self._context, self._frame).add_listener(listener, url, self._command, self)

    def removeStatusListener(self, listener: Any, url: Any) -> None:
        writer_session(self._context, self._frame).remove_listener(listener, url)


class WriterSession(unohelper.Base, XDocumentEventListener):
    """One open document's controller, panel and status listeners; ends when the document closes."""

    def __init__(self, context: Any, frame: Any, model: Any) -> None:
        self._model = model
        self._lock = threading.Lock()
        self._listeners: list[tuple[Any, Any, Command, Any]] = []  # (listener, url, command, source)
        self.controller = Controller(
            WriterDocument(model), _PanelView(self), shared_client, host_threads(context), self._publish
        )
        self.panel = Panel(context, frame, self.controller)
        model.addDocumentEventListener(self)

    # ------------------------------------------------------------ status

    def add_listener(self, listener: Any, url: Any, command: Command, source: Any) -> None:
        with self._lock:
            self._listeners.append((listener, url, command, source))
        self._send(listener, url, command, source, self.controller.state)

    def remove_listener(self, listener: Any, url: Any) -> None:
        with self._lock:
            self._listeners = [e for e in self._listeners if not (e[0] == listener and e[1].Complete == url.Complete)]

    def _publish(self, state: PanelState) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener, url, command, source in listeners:
            self._send(listener, url, command, source, state)

    def _send(self, listener: Any, url: Any, command: Command, source: Any, state: PanelState) -> None:
        event = uno.createUnoStruct("com.sun.star.frame.FeatureStateEvent")
        event.Source, event.FeatureURL, event.IsEnabled, event.Requery = source, url, enabled(command, state), False
        if command.name == "panel":  # a string State on a toolbar item would become its label: only here
            shown = [state.shown(index) for index in range(len(state.candidates))]
            event.State = json.dumps({"state": asdict(state), "shown": shown, "panel": self.panel.snapshot()})
        try:
            listener.statusChanged(event)
        except RuntimeException:  # the listener is gone (DisposedException, a closed bridge)
            self.remove_listener(listener, url)

    # ------------------------------------------------------------ document events

    def documentEventOccured(self, event: Any) -> None:
        try:
            self.controller.document_event(event.EventName)
            if event.EventName == "OnUnload":
                _end_session(self._model)
                self.panel.dispose()
        except Exception:
            log.exception("cocreate: handling %s failed", event.EventName)

    def disposing(self, event: Any) -> None:
        _end_session(self._model)


class _PanelView:
    """The controller's view is the session's panel, which is made after the controller (it calls it)."""

    def __init__(self, session: WriterSession) -> None:
        self._session = session

    def show(self, state: PanelState) -> None:
        self._session.panel.show(state)

    def hide(self) -> None:
        self._session.panel.hide()


# ---------------------------------------------------------------- process-wide state

_lock = threading.RLock()  # a new session takes it again for the shared threads
_sessions: dict[str, WriterSession] = {}
_client: CocreateClient | None = None
_threads: HostThreads | None = None


def writer_session(context: Any, frame: Any) -> WriterSession:
    model = frame.getController().getModel()
    key = str(model.RuntimeUID)
    with _lock:
        session = _sessions.get(key)
        if session is None:
            session = _sessions[key] = WriterSession(context, frame, model)
        return session


def _end_session(model: Any) -> None:
    with _lock:
        _sessions.pop(str(model.RuntimeUID), None)


def shared_client() -> CocreateClient:
    """One client for every document: COCREATE_ENDPOINT / COCREATE_TOKEN, else the local socket."""
    global _client
    with _lock:
        if _client is None:
            _client = CocreateClient(client_name="libreoffice")
        return _client


def host_threads(context: Any) -> HostThreads:
    global _threads
    with _lock:
        if _threads is None:
            _threads = HostThreads(context)
        return _threads


def _is_writer(frame: Any) -> bool:
    controller = frame.getController()
    model = controller.getModel() if controller is not None else None
    return model is not None and model.supportsService("com.sun.star.text.TextDocument")
