"""cocreate for Blender: seamless textures, texture repair and variants, and textures projected onto meshes
through the view, from the local cocreate daemon.

document.py and projection.py (depth maps, projected UVs) are the only modules that touch Blender data;
jobs.py holds plain job state and the apply step; pump.py advances the running job from a Blender timer;
connection.py talks to the daemon off the main thread through the bundled, pure-Python cocreate_client.
"""

import bpy
from bpy.app.handlers import persistent

from . import operators, panels, pump, settings
from .jobs import HISTORY

CLASSES = (*settings.CLASSES, *operators.CLASSES, *panels.CLASSES)
_keymap_items: list[tuple[bpy.types.KeyMap, bpy.types.KeyMapItem]] = []


@persistent
def _forget_jobs(*_args: object) -> None:
    """Another .blend is loading: the running job's candidates belong to the one being closed."""
    HISTORY.clear()
    pump.stop()


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    settings.attach()
    bpy.app.handlers.load_pre.append(_forget_jobs)
    keyconfig = bpy.context.window_manager.keyconfigs.addon
    if keyconfig is not None:  # None in background mode
        keymap = keyconfig.keymaps.new(name="Window", space_type="EMPTY")
        _keymap_items.append((keymap, keymap.keymap_items.new("cocreate.cancel", "ESC", "PRESS")))


def unregister() -> None:
    for keymap, item in _keymap_items:
        keymap.keymap_items.remove(item)
    _keymap_items.clear()
    bpy.app.handlers.load_pre.remove(_forget_jobs)
    HISTORY.clear()
    pump.stop()
    operators.close_connection()
    settings.detach()
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
