"""Runs in the real Blender with a window (Xvfb): the cocreate tab of the Image Editor's sidebar showing
a job's candidates, the X screen saved by tests/hosts/grab_screen.py (Blender's own screenshot operator
reads back a black frame from Xvfb's software GL); then Blender quits.

    xvfb-run blender --python screenshot.py -- ENDPOINT TOKEN_FILE OUT.png

Timers run here (a window exists), so the add-on's pump lands the candidates as it does for a person.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import traceback

import bpy

EXTENSION = "bl_ext.user_default.cocreate"
GIVE_UP_S = 600.0
endpoint, token_file, out = sys.argv[sys.argv.index("--") + 1 :]


def editor() -> tuple[bpy.types.Window, bpy.types.Area]:
    """The window, and its largest area turned into an Image Editor with the sidebar open."""
    window = bpy.context.window_manager.windows[0]
    area = max(window.screen.areas, key=lambda a: a.width * a.height)
    if area.type != "IMAGE_EDITOR":
        area.type = "IMAGE_EDITOR"
        area.spaces[0].show_region_ui = True
    return window, area


def start() -> None:
    try:
        preferences = bpy.context.preferences.addons[EXTENSION].preferences
        preferences.endpoint, preferences.token_file = endpoint, token_file
        settings = bpy.context.scene.cocreate
        settings.prompt, settings.width, settings.height, settings.candidates, settings.steps = (
            "mossy cobblestones",
            256,
            256,
            4,
            8,
        )
        window, area = editor()
        with bpy.context.temp_override(window=window, area=area):
            bpy.ops.cocreate.generate_texture()
        bpy.app.timers.register(wait_for_candidates, first_interval=0.5)
    except Exception:
        traceback.print_exc()
        quit_blender()


def wait_for_candidates() -> float | None:
    jobs = importlib.import_module(f"{EXTENSION}.jobs")
    if jobs.HISTORY.active is not None:
        return 0.5
    print("cocreate job:", jobs.HISTORY.finished[0].status() if jobs.HISTORY.finished else "none", flush=True)
    _, area = editor()
    for region in area.regions:
        if region.type == "UI":
            region.active_panel_category = "cocreate"
    area.tag_redraw()
    bpy.app.timers.register(shoot, first_interval=2.0)  # a few redraws: the tab, the candidates' icons
    return None


def shoot() -> None:
    try:
        import gpu

        print("gpu:", gpu.platform.vendor_get(), gpu.platform.renderer_get(), flush=True)
        grabbed = subprocess.run(
            ["python3", "/project/tests/hosts/grab_screen.py", out], capture_output=True, text=True
        )
        print(grabbed.stdout, grabbed.stderr, flush=True)
    except Exception:
        traceback.print_exc()
    quit_blender()


def quit_blender() -> None:
    sys.stdout.flush()
    bpy.ops.wm.quit_blender()


# Blender runs --python scripts before it shows its splash, so this keeps the splash off the picture.
bpy.context.preferences.view.show_splash = False
bpy.app.timers.register(start, first_interval=1.0)
bpy.app.timers.register(quit_blender, first_interval=GIVE_UP_S)
