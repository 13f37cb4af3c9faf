"""The candidate panel: a non-modal dialog over the document, the only module that builds UNO controls.

It shows a PanelState (status line, up to four candidates growing as they stream, the request's
options) and turns clicks into controller calls. The document stays editable while it is open.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import unohelper
from com.sun.star.awt import XActionListener, XTopWindowListener

from .commands import MAX_CANDIDATES, STOP_AT, Command, enabled
from .state import ACTION_TITLES, PanelState

log = logging.getLogger(__name__)

INSTRUCTIONS = ("Shorter", "More formal", "Simpler words", "More vivid", "Friendlier tone")
STOP_AT_LABELS = ("length only", "end of sentence", "end of paragraph")  # in STOP_AT's order
# Dialog units (the dialog font's average character width / 8 of its height).
WIDTH, ROW, ROW_TOP = 300, 50, 48
BUTTONS = ("regenerate", "reject", "stop", "close")


class Actions(Protocol):
    def pick(self, index: int) -> None: ...
    def regenerate(self, **options: Any) -> None: ...
    def reject(self) -> None: ...
    def stop(self) -> None: ...
    def close(self) -> None: ...


class Panel:
    def __init__(self, context: Any, frame: Any, actions: Actions) -> None:
        self._context = context
        self._frame = frame
        self._actions = actions
        self._dialog: Any = None
        self._action = ""  # which command the fields were last filled for

    def show(self, state: PanelState) -> None:
        dialog = self._dialog or self._build()
        model = dialog.getModel()
        model.Title = f"cocreate — {ACTION_TITLES.get(state.action, 'Writer')}"
        model.getByName("status").Label = state.message
        if state.phase == "starting" or state.action != self._action:
            self._fill_options(state)
        for index in range(MAX_CANDIDATES):
            shown = index < len(state.candidates)
            text = state.shown(index) if shown else ""
            field = model.getByName(f"text{index}")
            if field.Text != text:
                field.Text = text
            dialog.getControl(f"text{index}").setVisible(shown or index < state.count)
            dialog.getControl(f"pick{index}").setVisible(shown or index < state.count)
            model.getByName(f"pick{index}").Enabled = state.can_pick(index)
        for name in ("regenerate", "reject", "stop"):
            model.getByName(name).Enabled = enabled(Command(name), state)
        if not dialog.isVisible():
            dialog.setVisible(True)

    def hide(self) -> None:
        if self._dialog is not None:
            self._dialog.setVisible(False)

    def snapshot(self) -> dict[str, Any]:
        """What the dialog displays right now, read back from its controls."""
        if self._dialog is None:
            return {"visible": False}
        model = self._dialog.getModel()
        return {
            "visible": bool(self._dialog.isVisible()),
            "title": model.Title,
            "status": model.getByName("status").Label,
            "texts": [model.getByName(f"text{index}").Text for index in range(MAX_CANDIDATES)],
            "pick_enabled": [bool(model.getByName(f"pick{index}").Enabled) for index in range(MAX_CANDIDATES)],
        }

    def dispose(self) -> None:
        if self._dialog is not None:
            self._dialog.dispose()
            self._dialog = None

    # ------------------------------------------------------------ building

    def _build(self) -> Any:
        manager = self._context.ServiceManager
        model = manager.createInstanceWithContext("com.sun.star.awt.UnoControlDialogModel", self._context)
        model.Width, model.Height = WIDTH, ROW_TOP + MAX_CANDIDATES * ROW + 22
        model.Closeable, model.Moveable = True, True
        self._add(model, "FixedText", "status", 6, 4, WIDTH - 12, 22, MultiLine=True)
        self._add(model, "FixedText", "option_label", 6, 32, 48, 10)
        self._add(model, "ComboBox", "instruction", 56, 30, 150, 12, Dropdown=True, StringItemList=INSTRUCTIONS)
        self._add(model, "ListBox", "stop_at", 56, 30, 90, 12, Dropdown=True, StringItemList=STOP_AT_LABELS)
        self._add(model, "FixedText", "count_label", 212, 32, 48, 10, Label="Candidates:")
        limits = {"ValueMin": 1.0, "ValueMax": float(MAX_CANDIDATES)}
        self._add(model, "NumericField", "count", 262, 30, 32, 12, Spin=True, DecimalAccuracy=0, **limits)
        for index in range(MAX_CANDIDATES):
            top = ROW_TOP + index * ROW
            width, height = WIDTH - 58, ROW - 4
            self._add(model, "Edit", f"text{index}", 6, top, width, height, MultiLine=True, ReadOnly=True, VScroll=True)
            self._add(model, "Button", f"pick{index}", WIDTH - 48, top, 42, 14, Label=f"Use ~{index + 1}")
        bottom = ROW_TOP + MAX_CANDIDATES * ROW + 4
        labels = {"regenerate": "~Regenerate", "reject": "Re~ject all", "stop": "~Stop", "close": "~Close"}
        for position, name in enumerate(BUTTONS):
            left = WIDTH - 66 if name == "close" else 6 + position * 64
            self._add(model, "Button", name, left, bottom, 60, 14, Label=labels[name])

        dialog = manager.createInstanceWithContext("com.sun.star.awt.UnoControlDialog", self._context)
        dialog.setModel(model)
        listener = _Listener(self)
        for name in (*BUTTONS, *(f"pick{index}" for index in range(MAX_CANDIDATES))):
            dialog.getControl(name).setActionCommand(name)
            dialog.getControl(name).addActionListener(listener)
        dialog.addTopWindowListener(listener)
        toolkit = manager.createInstanceWithContext("com.sun.star.awt.Toolkit", self._context)
        dialog.createPeer(toolkit, self._frame.getContainerWindow())
        self._dialog = dialog
        return dialog

    @staticmethod
    def _add(model: Any, kind: str, name: str, x: int, y: int, width: int, height: int, **properties: Any) -> None:
        control = model.createInstance(f"com.sun.star.awt.UnoControl{kind}Model")
        control.Name = name
        control.PositionX, control.PositionY, control.Width, control.Height = x, y, width, height
        for key, value in properties.items():
            setattr(control, key, value)
        model.insertByName(name, control)

    def _fill_options(self, state: PanelState) -> None:
        """The request's options into the fields: once per command, so the writer's edits stay."""
        self._action = state.action
        dialog, model = self._dialog, self._dialog.getModel()
        variants = state.action == "variants"
        model.getByName("option_label").Label = "Instruction:" if variants else "Stop at:"
        dialog.getControl("instruction").setVisible(variants)
        dialog.getControl("stop_at").setVisible(not variants)
        model.getByName("instruction").Text = state.instruction
        if state.stop_at in STOP_AT:
            model.getByName("stop_at").SelectedItems = (STOP_AT.index(state.stop_at),)
        if state.count:
            model.getByName("count").Value = state.count

    # ------------------------------------------------------------ clicks

    def clicked(self, name: str) -> None:
        if name.startswith("pick"):
            self._actions.pick(int(name[4:]))
        elif name == "regenerate":
            self._actions.regenerate(**self._options())
        elif name == "reject":
            self._actions.reject()
        elif name == "stop":
            self._actions.stop()
        elif name == "close":
            self._actions.close()

    def _options(self) -> dict[str, Any]:
        model = self._dialog.getModel()
        options: dict[str, Any] = {"candidates": int(model.getByName("count").Value or 1)}
        if self._action == "variants":
            options["instruction"] = model.getByName("instruction").Text
        else:
            selected = model.getByName("stop_at").SelectedItems
            if selected:
                options["stop_at"] = STOP_AT[selected[0]]
        return options


class _Listener(unohelper.Base, XActionListener, XTopWindowListener):
    """Button clicks and the window's close box; never raises into LibreOffice."""

    def __init__(self, panel: Panel) -> None:
        self._panel = panel

    def actionPerformed(self, event: Any) -> None:
        try:
            self._panel.clicked(event.ActionCommand)
        except Exception:
            log.exception("cocreate: a panel button failed")

    def windowClosing(self, event: Any) -> None:
        try:
            self._panel.clicked("close")
        except Exception:
            log.exception("cocreate: closing the panel failed")

    def windowOpened(self, event: Any) -> None: ...
    def windowClosed(self, event: Any) -> None: ...
    def windowMinimized(self, event: Any) -> None: ...
    def windowNormalized(self, event: Any) -> None: ...
    def windowActivated(self, event: Any) -> None: ...
    def windowDeactivated(self, event: Any) -> None: ...
    def disposing(self, event: Any) -> None: ...
