"""Save the X screen ($DISPLAY) as a PNG, as the X server holds it (what a person would see).

    python3 grab_screen.py OUT.png          (the host root's python3, which has GTK's gi)

Used by the screenshot tests of hosts that cannot save their own window (Blender's GL read-back stays
black under Xvfb) and by the Writer one.
"""

from __future__ import annotations

import sys

import gi

gi.require_version("Gdk", "3.0")
gi.require_version("Gtk", "3.0")
from gi.repository import Gdk, Gtk  # noqa: E402


def grab(path: str) -> tuple[int, int]:
    """The whole screen into `path`; its size."""
    Gtk.init([])
    root = Gdk.get_default_root_window()
    shot = Gdk.pixbuf_get_from_window(root, 0, 0, root.get_width(), root.get_height())
    shot.savev(path, "png", [], [])
    return shot.get_width(), shot.get_height()


if __name__ == "__main__":
    print("grabbed", *grab(sys.argv[1]), flush=True)
