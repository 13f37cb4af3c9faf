"""The GIMP 3 side of cocreate: expand the canvas, fill a selection, style variants, keep a candidate.

Pure modules (geometry, masks, plans, apply, candidates) import nothing from GIMP, so tests drive them outside it;
document.py is the only module reading or changing an image, dialog.py the only one with widgets,
pump.py the only one running GLib's main loop. Those three import gi.repository directly: the plug-in
(cocreate.py), or a script inside GIMP, picks the Gimp 3.0 / GimpUi 3.0 / Gegl 0.4 versions first.
"""
