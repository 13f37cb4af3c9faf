"""The widgets of an interactive run: the settings dialog, then a progress window with a Cancel button."""

from __future__ import annotations

from collections.abc import Callable

from gi.repository import Gimp, GimpUi, Gtk


def ask(procedure: Gimp.Procedure, config: Gimp.ProcedureConfig, title: str) -> bool:
    """GIMP's dialog for the procedure's arguments; False when the person cancels.

    A personal LoRA is picked from the daemon's list rather than typed."""
    GimpUi.init("cocreate")
    dialog = GimpUi.ProcedureDialog(procedure=procedure, config=config, title=title)
    names = [spec.name for spec in procedure.get_arguments()[3:]]  # after run-mode, image and drawables
    dialog.fill([name for name in names if name != "lora"])
    if "lora" in names:
        dialog.get_content_area().pack_start(_lora_row(config), False, False, 0)
        dialog.show_all()
    try:
        return bool(dialog.run())
    finally:
        dialog.destroy()


def _lora_row(config: Gimp.ProcedureConfig) -> Gtk.Box:
    from .runner import personal_loras

    chosen = config.get_property("lora") or ""
    choices = Gtk.ComboBoxText()
    choices.append("", "None")
    for name in dict.fromkeys([*personal_loras(), *([chosen] if chosen else [])]):
        choices.append(name, name)
    choices.set_active_id(chosen)
    choices.connect("changed", lambda box: config.set_property("lora", box.get_active_id() or ""))
    row = Gtk.Box(orientation=Gtk.Orientation.HORIZONTAL, spacing=6)
    label = Gtk.Label.new_with_mnemonic("Personal _LoRA")
    label.set_mnemonic_widget(choices)
    row.pack_start(label, False, False, 0)
    row.pack_start(choices, True, True, 0)
    return row


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
