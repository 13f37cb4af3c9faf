"""The main-thread side of a running job: a Blender timer advances it and draws its progress.

The timer runs only while a job is active, so an idle Blender has no cocreate wake-ups. Each tick
drains what the client thread queued (jobs.advance), shows progress in the status bar and redraws
the cocreate panels; it never waits on the daemon.
"""

from __future__ import annotations

import logging

import bpy

from .jobs import HISTORY, advance, fail

log = logging.getLogger(__name__)

INTERVAL = 0.1  # seconds between ticks while a job runs
PANEL_SPACES = ("IMAGE_EDITOR", "NODE_EDITOR", "VIEW_3D")


def watch() -> None:
    """Start ticking (the job was just put in HISTORY.active)."""
    if not bpy.app.timers.is_registered(tick):
        bpy.app.timers.register(tick, first_interval=INTERVAL)


def tick() -> float | None:
    """One step of the active job; returns the delay to the next tick, None once nothing runs."""
    job = HISTORY.active
    if job is not None:
        try:
            advance(job)
        except Exception as error:  # Blender drops a timer that raises, which would strand the job
            log.exception("cocreate: applying the job's events failed")
            fail(job, f"internal error: {error}")
        if job.finished:
            HISTORY.end()
            if job.images:
                _undo_push(f"cocreate: {job.kind} candidates")
    _show_status()
    _redraw_panels()
    return INTERVAL if HISTORY.active is not None else None


def stop() -> None:
    """Stop ticking and clear the status bar (the add-on is being disabled)."""
    if bpy.app.timers.is_registered(tick):
        bpy.app.timers.unregister(tick)
    _set_status(None)


def _show_status() -> None:
    _set_status(_draw_status if HISTORY.active is not None else None)


def _draw_status(header: bpy.types.Header, context: bpy.types.Context) -> None:
    job = HISTORY.active
    if job is None:
        return
    row = header.layout.row(align=True)
    row.label(text="cocreate", icon="TEXTURE")
    row.progress(factor=job.fraction, type="BAR", text=job.status())
    row.label(text="Esc to cancel")


def _set_status(draw: object) -> None:
    for window in bpy.context.window_manager.windows:
        window.workspace.status_text_set(draw)


def _redraw_panels() -> None:
    for window in bpy.context.window_manager.windows:
        for area in window.screen.areas:
            if area.type in PANEL_SPACES:
                area.tag_redraw()


def _undo_push(message: str) -> None:
    """The candidate images appear outside any operator, so their undo step is pushed here."""
    windows = bpy.context.window_manager.windows
    if windows:
        with bpy.context.temp_override(window=windows[0]):
            bpy.ops.ed.undo_push(message=message)
