"""The widgets of an interactive run: the settings dialog, then a progress window with a Cancel button."""

from __future__ import annotations

from collections.abc import Callable

from gi.repository import Gimp, GimpUi, Gtk

# Arguments picked from the daemon's lists rather than typed: (argument, its label, the "none" entry, model kind).
PICKED = (("model", "_Model", "The daemon's default", "image"), ("lora", "Personal _LoRA", "None", "lora"))
# Changed now and then: folded under one expander with the pickers, so the dialog fits a 768 px screen.
FOLDED = (
    "control-layer",
    "control-kind",
    "control-strength",
    "control-derive",
    "reference-layer",
    "reference-strength",
)
FOLD_TITLE = "Model, LoRA, control layer and style reference"


def ask(procedure: Gimp.Procedure, config: Gimp.ProcedureConfig, title: str) -> bool:
    """GIMP's dialog for the procedure's arguments; False when the person cancels.

    The image model and a personal LoRA are picked from the daemon's lists rather than typed; they and the
    guide layers fold away under one expander."""
    GimpUi.init("cocreate")
    dialog = GimpUi.ProcedureDialog(procedure=procedure, config=config, title=title)
    names = [spec.name for spec in procedure.get_arguments()[3:]]  # after run-mode, image and drawables
    picked = [entry for entry in PICKED if entry[0] in names]
    folded = [name for name in names if name in FOLDED]
    shown = [name for name in names if name not in folded and name not in {entry[0] for entry in picked}]
    if picked or folded:
        box = dialog.fill_box("cocreate-folded", folded)
        if picked:
            from .runner import daemon_models

            models = daemon_models()
            for position, (argument, label, none, kind) in enumerate(picked):
                row = _picker_row(config, argument, label, none, [(n, t) for n, k, t in models if k == kind])
                box.pack_start(row, False, False, 0)
                box.reorder_child(row, position)
        dialog.get_label("cocreate-folded-title", FOLD_TITLE, False, False)
        dialog.fill_expander("cocreate-folded-expander", "cocreate-folded-title", False, "cocreate-folded")
        shown.append("cocreate-folded-expander")
    dialog.fill(shown)
    dialog.show_all()
    try:
        return bool(dialog.run())
    finally:
        dialog.destroy()


def _picker_row(
    config: Gimp.ProcedureConfig, argument: str, label: str, none: str, choices: list[tuple[str, str]]
) -> Gtk.Box:
    """A list of (name, shown text) for a string argument; what it holds now stays listed."""
    chosen = config.get_property(argument) or ""
    box = Gtk.ComboBoxText()
    box.append("", none)
    entries = dict(choices)
    if chosen:
        entries.setdefault(chosen, chosen)
    for name, text in entries.items():
        box.append(name, text)
    box.set_active_id(chosen)
    box.connect("changed", lambda combo: config.set_property(argument, combo.get_active_id() or ""))
    row = Gtk.Box(orientation=Gtk.Orientation.HORIZONTAL, spacing=6)
    caption = Gtk.Label.new_with_mnemonic(label)
    caption.set_mnemonic_widget(box)
    row.pack_start(caption, False, False, 0)
    row.pack_start(box, True, True, 0)
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
