"""The widgets of an interactive run: the settings dialog, then a progress window with a Cancel button."""

from __future__ import annotations

from collections.abc import Callable

from gi.repository import Gimp, GimpUi, Gtk


def ask(procedure: Gimp.Procedure, config: Gimp.ProcedureConfig, title: str) -> bool:
    """GIMP's dialog for the procedure's arguments; False when the person cancels."""
    GimpUi.init("cocreate")
    dialog = GimpUi.ProcedureDialog(procedure=procedure, config=config, title=title)
    dialog.fill(None)
    try:
        return bool(dialog.run())
    finally:
        dialog.destroy()


class ProgressWindow:
    """Holds a GimpUi.ProgressBar, which takes over Gimp.progress_* calls while it exists."""

    def __init__(self, title: str, on_cancel: Callable[[], None]) -> None:
        GimpUi.init("cocreate")  # once per process; later calls return at once
        self._dialog = GimpUi.Dialog(title=title, role="cocreate-progress")
        self._dialog.add_button("_Cancel", Gtk.ResponseType.CANCEL)
        self._dialog.connect("response", lambda _dialog, _response: on_cancel())
        bar = GimpUi.ProgressBar()
        bar.set_size_request(360, -1)
        self._dialog.get_content_area().pack_start(bar, True, True, 12)
        self._dialog.show_all()

    def close(self) -> None:
        self._dialog.destroy()
