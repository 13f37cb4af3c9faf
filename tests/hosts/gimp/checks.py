"""Runs inside the real GIMP 3 (python-fu-eval) with the cocreate plug-in installed; writes what it saw.

    COCREATE_CHECKS=console|gui|offline gimp-console-3.0 -i --batch-interpreter python-fu-eval -b - --quit < checks.py

Each suite calls the plug-in's procedures through the PDB and records plain facts (sizes, layer names,
whether pixels are byte-identical) in /project/verdict-SUITE.json; tests/hosts/test_gimp_host.py judges
them. `gui` runs in the full GIMP under Xvfb and acts as a person at the keyboard: Ctrl+Z to undo, and the
plug-in's menu action (bound to Ctrl+Shift+Alt+E by the test profile's shortcutsrc) to open its dialog.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp, Gio  # noqa: E402

EXPAND, FILL, VARIANTS = "plug-in-cocreate-expand", "plug-in-cocreate-fill", "plug-in-cocreate-variants"
EDIT = "plug-in-cocreate-edit"
KEEP = "plug-in-cocreate-keep"
MORE, LESS, BETWEEN = "plug-in-cocreate-more-like", "plug-in-cocreate-less-like", "plug-in-cocreate-between"
LEARN = "plug-in-cocreate-learn"
CANDIDATE = "cocreate-candidate"  # the parasite on each candidate layer
RGBA8, RGBA16 = "R'G'B'A u8", "R'G'B'A u16"
FAST = {"steps": 2, "seed": 7}  # the tiny profile paints noise either way; two steps keep runs short


# ---------------------------------------------------------------- helpers


def pixels(drawable: Gimp.Drawable, fmt: str = RGBA8) -> bytes:
    width, height = drawable.get_width(), drawable.get_height()
    return bytes(drawable.get_buffer().get(Gegl.Rectangle.new(0, 0, width, height), 1.0, fmt, Gegl.AbyssPolicy.NONE))


def visible(image: Gimp.Image) -> bytes:
    merged = Gimp.Layer.new_from_visible(image, image, "check")
    try:
        return pixels(merged)
    finally:
        merged.delete()


def region(data: bytes, width: int, x: int, y: int, w: int, h: int, bpp: int = 4) -> bytes:
    return b"".join(data[((y + r) * width + x) * bpp : ((y + r) * width + x + w) * bpp] for r in range(h))


def offsets(layer: Gimp.Layer) -> list[int]:
    _, x, y = layer.get_offsets()
    return [x, y]


def candidate_tag(layer: Gimp.Layer) -> dict[str, Any] | None:
    parasite = layer.get_parasite(CANDIDATE)
    return None if parasite is None else json.loads(bytes(parasite.get_data()))


def layer_facts(image: Gimp.Image) -> list[dict[str, Any]]:
    return [
        {
            "name": layer.get_name(),
            "visible": layer.get_visible(),
            "offsets": offsets(layer),
            "size": [layer.get_width(), layer.get_height()],
            "bpp": layer.get_bpp(),
            "gray": layer.is_gray(),
            "tag": candidate_tag(layer),
        }
        for layer in image.get_layers()
    ]


def call(name: str, image: Gimp.Image, drawables: list[Gimp.Drawable], run_mode: Any = None, **args: Any) -> dict:
    procedure = Gimp.get_pdb().lookup_procedure(name)
    if procedure is None:
        return {"status": "MISSING", "error": f"{name} is not in the PDB"}
    config = procedure.create_config()
    config.set_property("run-mode", run_mode or Gimp.RunMode.NONINTERACTIVE)
    config.set_property("image", image)
    config.set_core_object_array("drawables", drawables)
    for key, value in args.items():
        config.set_property(key.replace("_", "-"), value)
    started = time.perf_counter()
    result = procedure.run(config)
    status = result.index(0)
    facts = {"status": status.value_nick.upper(), "seconds": round(time.perf_counter() - started, 2)}
    if status == Gimp.PDBStatusType.SUCCESS:
        facts["layers_returned"] = result.index(1)
    else:
        facts["error"] = Gimp.get_pdb().get_last_error()
    return facts


def picture(width: int, height: int, precision: Any = None, base: Any = Gimp.ImageBaseType.RGB) -> Gimp.Image:
    if precision is None:
        return Gimp.Image.new(width, height, base)
    return Gimp.Image.new_with_precision(width, height, base, precision)


def add_layer(
    image: Gimp.Image, name: str, w: int, h: int, kind: Any, fmt: str, data: bytes, **opts: Any
) -> Gimp.Layer:
    layer = Gimp.Layer.new(image, name, w, h, kind, opts.get("opacity", 100.0), Gimp.LayerMode.NORMAL)
    image.insert_layer(layer, None, 0)
    buffer = layer.get_buffer()
    buffer.set(Gegl.Rectangle.new(0, 0, w, h), fmt, data)
    buffer.flush()
    layer.set_offsets(*opts.get("at", (0, 0)))
    return layer


def rgb_pattern(w: int, h: int) -> bytes:
    return bytes(v for y in range(h) for x in range(w) for v in ((x * 7) % 256, (y * 11) % 256, (x * y) % 256))


def rgba_pattern(w: int, h: int) -> bytes:
    return bytes(v for y in range(h) for x in range(w) for v in (200, (x * 13) % 256, (y * 17) % 256, 40 + x % 200))


def two_layer_picture() -> tuple[Gimp.Image, Gimp.Layer, Gimp.Layer]:
    """96×64 RGB: an opaque background and a half-opaque, half-transparent layer off its corner."""
    image = picture(96, 64)
    background = add_layer(image, "background", 96, 64, Gimp.ImageType.RGB_IMAGE, "R'G'B' u8", rgb_pattern(96, 64))
    top = add_layer(
        image, "overlay", 40, 30, Gimp.ImageType.RGBA_IMAGE, RGBA8, rgba_pattern(40, 30), opacity=50.0, at=(20, 10)
    )
    return image, background, top


# ---------------------------------------------------------------- console suite


def expand_rgb() -> dict:
    """Grow the top by 16 and the right by 32 (feather 8): size, new layers, old pixels, the visible picture."""
    image, background, top = two_layer_picture()
    before = {"background": pixels(background), "overlay": pixels(top), "visible": visible(image)}
    facts = call(EXPAND, image, [top], size_mode="sides", top=16, right=32, feather=8, candidates=2, **FAST)
    after_visible = visible(image)
    # The old picture's interior beyond the 8 px seam (top rows and right columns) on the grown canvas.
    interior_before = region(before["visible"], 96, 0, 8, 96 - 8, 64 - 8)
    interior_after = region(after_visible, 128, 0, 16 + 8, 96 - 8, 64 - 8)
    new_area_alpha = region(after_visible, 128, 96, 0, 32, 80)[3::4] + region(after_visible, 128, 0, 0, 128, 16)[3::4]
    return {
        **facts,
        "size": [image.get_width(), image.get_height()],
        "layers": layer_facts(image),
        "background_identical": pixels(background) == before["background"],
        "overlay_identical": pixels(top) == before["overlay"],
        "visible_interior_identical": interior_after == interior_before,
        "new_area_opaque": new_area_alpha == b"\xff" * len(new_area_alpha),
    }


def soft_selection(image: Gimp.Image) -> None:
    Gimp.context_push()
    Gimp.context_set_feather(True)
    Gimp.context_set_feather_radius(6.0, 6.0)
    image.select_ellipse(Gimp.ChannelOps.REPLACE, 20, 16, 40, 30)
    Gimp.context_pop()


def fill() -> dict:
    """Fill a feathered ellipse: what changes, and where."""
    image, background, _top = two_layer_picture()
    soft_selection(image)
    selection = pixels(image.get_selection(), "Y u8")
    before, background_before = visible(image), pixels(background)
    facts = call(FILL, image, [background], prompt="a stone", candidates=2, **FAST)
    after = visible(image)
    changed = [i for i in range(96 * 64) if after[i * 4 : i * 4 + 4] != before[i * 4 : i * 4 + 4]]
    return {
        **facts,
        "size": [image.get_width(), image.get_height()],
        "layers": layer_facts(image),
        "changed": len(changed),
        "changed_outside_selection": sum(1 for i in changed if selection[i] == 0),
        "soft_values": len({v for v in selection if 0 < v < 255}),
        "background_identical": pixels(background) == background_before,
    }


def variants_of_layer() -> dict:
    """No selection: variants of the active layer keep its size, place and shape (alpha)."""
    image, _background, top = two_layer_picture()
    facts = call(VARIANTS, image, [top], prompt="ink drawing", candidates=1, **FAST)
    layers = image.get_layers()
    variant = layers[image.get_item_position(top) - 1] if image.get_item_position(top) else None
    return {
        **facts,
        "layers": layer_facts(image),
        "above_source": variant is not None and variant.get_name().startswith("cocreate variants"),
        "same_place": variant is not None and offsets(variant) == offsets(top),
        "same_alpha": variant is not None and pixels(variant)[3::4] == pixels(top)[3::4],
    }


def grayscale() -> dict:
    """A grayscale image: the candidates become grayscale layers, the old layer stays as it was."""
    image = picture(64, 48, base=Gimp.ImageBaseType.GRAY)
    gray = bytes((x * 3 + y) % 256 for y in range(48) for x in range(64))
    layer = add_layer(image, "gray", 64, 48, Gimp.ImageType.GRAY_IMAGE, "Y' u8", gray)
    facts = call(EXPAND, image, [layer], size_mode="sides", right=16, candidates=1, **FAST)
    return {
        **facts,
        "size": [image.get_width(), image.get_height()],
        "layers": layer_facts(image),
        "base_gray": image.get_base_type() == Gimp.ImageBaseType.GRAY,
        "old_identical": pixels(layer, "Y' u8") == gray,
    }


def high_bit_depth() -> dict:
    """A 16-bit image: 16-bit pixels survive untouched; candidates are 16-bit layers holding 8-bit detail."""
    image = picture(64, 48, precision=Gimp.Precision.U16_NON_LINEAR)
    # 16-bit values that are not multiples of 257: an 8-bit round trip would change them.
    channels = [(1000 + x * 37 + y * 101, 2000 + x * 53, 3000 + y * 29, 65535) for y in range(48) for x in range(64)]
    deep = b"".join(value.to_bytes(2, sys.byteorder) for pixel in channels for value in pixel)
    layer = add_layer(image, "deep", 64, 48, Gimp.ImageType.RGBA_IMAGE, RGBA16, deep)
    aspect = {"size_mode": "aspect", "aspect_width": 16, "aspect_height": 9, "anchor": "left"}
    facts = call(EXPAND, image, [layer], candidates=1, **aspect, **FAST)
    return {
        **facts,
        "size": [image.get_width(), image.get_height()],
        "layers": layer_facts(image),
        "precision_kept": image.get_precision() == Gimp.Precision.U16_NON_LINEAR,
        "old_identical_16bit": pixels(layer, RGBA16) == deep,
        "old_offsets": offsets(layer),
    }


def wider_than_the_daemon_takes() -> dict:
    """9000 px wide (the daemon takes 8192): grown on the right, only the band next to the new strip is sent."""
    image = picture(9000, 1200)
    row = bytes(v for x in range(9000) for v in ((x * 7) % 256, (x * 3) % 256, 60))
    layer = add_layer(image, "panorama", 9000, 1200, Gimp.ImageType.RGB_IMAGE, "R'G'B' u8", row * 1200)
    facts = call(EXPAND, image, [layer], size_mode="sides", right=512, candidates=1, **FAST)
    return {
        **facts,
        "size": [image.get_width(), image.get_height()],
        "layers": layer_facts(image),
        "old_identical": pixels(layer, "R'G'B' u8") == row * 1200,
    }


def keep_a_candidate() -> dict:
    """Expand with 3 candidates, save the XCF and open it again, then Keep This Candidate on the second one."""
    image, _background, top = two_layer_picture()
    made = call(EXPAND, image, [top], size_mode="sides", right=16, candidates=3, **FAST)
    path = Gio.File.new_for_path("/project/keep.xcf")
    saved = Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, image, path, None)
    image.delete()
    reloaded = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, path)
    before = layer_facts(reloaded)
    second = reloaded.get_layers()[1]
    facts = call(KEEP, reloaded, [second])
    return {
        **facts,
        "made": made,
        "saved": saved,
        "before": before,
        "kept_tag": candidate_tag(second) if second.is_valid() else None,
        "kept_visible": second.is_valid() and second.get_visible(),
        "size": [reloaded.get_width(), reloaded.get_height()],
        "layers": layer_facts(reloaded),
    }


def tags_of(image: Gimp.Image, prefix: str) -> list[dict[str, Any] | None]:
    return [candidate_tag(layer) for layer in image.get_layers() if layer.get_name().startswith(prefix)]


def steer_learn_and_paint_with_a_lora() -> dict:
    """Fill with 3 candidates and keep the second; More Like This on it, Less Like This and In Between These Two
    on the new ones; Learn My Style from the image's session; Fill again naming that LoRA."""
    image, background, _top = two_layer_picture()
    soft_selection(image)
    made = call(FILL, image, [background], prompt="a stone", candidates=3, **FAST)
    kept_layer = image.get_layers()[1]
    kept = call(KEEP, image, [kept_layer])
    more = call(MORE, image, [kept_layer], candidates=2)
    liked = list(image.get_layers()[:2])  # above the kept layer, the first of them on top
    order = [layer.get_name() for layer in image.get_layers()[:3]]
    less = call(LESS, image, [liked[0]], candidates=1)
    between = call(BETWEEN, image, liked, candidates=1)
    facts = {
        "made": made,
        "kept": {**kept, "tag": candidate_tag(kept_layer)},
        "more": {**more, "tags": [candidate_tag(layer) for layer in liked]},
        "order": order,
        "less": {**less, "tags": tags_of(image, "cocreate less like")},
        "between": {**between, "tags": tags_of(image, "cocreate between")},
        "between_one": call(BETWEEN, image, [kept_layer], candidates=1),
        "more_of_no_candidate": call(MORE, image, [background], candidates=1),
        "learned": call(LEARN, image, [], lora_name="gimp-style", steps=3),
    }
    painted = call(FILL, image, [background], candidates=1, lora="gimp-style", **FAST)
    return {**facts, "painted": {**painted, "tags": [candidate_tag(image.get_layers()[0])]}}


# ---------------------------------------------------------------- guides suite: other families, control layers, Edit


def expand_with_flux2_klein() -> dict:
    """Expand (right 32, bottom 16) painted by the tiny Flux.2 Klein model, a family other than SD 1.5."""
    image, background, top = two_layer_picture()
    before = {"background": pixels(background), "overlay": pixels(top)}
    facts = call(
        EXPAND, image, [top], size_mode="sides", right=32, bottom=16, candidates=2, model="tiny-flux2-klein", **FAST
    )
    return {
        **facts,
        "size": [image.get_width(), image.get_height()],
        "layers": layer_facts(image),
        "old_identical": pixels(background) == before["background"] and pixels(top) == before["overlay"],
    }


def line_layer(image: Gimp.Image) -> Gimp.Layer:
    """A transparent layer with black strokes, as a person scribbles the shapes to follow (80×50, off the corner)."""
    data = bytes(
        v for y in range(50) for x in range(80) for v in ((0, 0, 0, 255) if x % 20 < 2 or y % 16 < 2 else (0, 0, 0, 0))
    )
    lines = add_layer(image, "lines", 80, 50, Gimp.ImageType.RGBA_IMAGE, RGBA8, data, at=(8, 6))
    lines.set_visible(False)  # a guide, not part of the picture
    return lines


def guided(procedure: str, image: Gimp.Image, drawables: list, guides: list[Gimp.Layer], **args: Any) -> dict:
    """Run `procedure`; whether the guide layers (and every layer) stayed exactly as they were."""
    before = [pixels(layer) for layer in guides]
    names = [layer.get_name() for layer in image.get_layers()]
    facts = call(procedure, image, drawables, **args)
    return {
        **facts,
        "guides_untouched": [pixels(layer) for layer in guides] == before,
        "old_layers_kept": [n for n in (layer.get_name() for layer in image.get_layers()) if n in names] == names,
        "layers": layer_facts(image),
        "size": [image.get_width(), image.get_height()],
    }


def fill_with_a_control_layer() -> dict:
    """Fill a selection following a scribble layer (hidden, as a guide usually is)."""
    image, background, top = two_layer_picture()
    lines = line_layer(image)
    soft_selection(image)
    return guided(
        FILL,
        image,
        [background],
        [lines, top],
        prompt="a stone",
        candidates=2,
        control_layer=lines,
        control_kind="scribble",
        control_strength=0.8,
        **FAST,
    )


def expand_with_a_control_layer() -> dict:
    """Expand to the left following the scribble layer, which is read over the grown canvas."""
    image, background, _top = two_layer_picture()
    lines = line_layer(image)
    return guided(
        EXPAND,
        image,
        [background],
        [lines],
        size_mode="sides",
        left=24,
        right=0,
        candidates=1,
        control_layer=lines,
        control_kind="line-art",
        **FAST,
    )


def fill_with_a_style_reference() -> dict:
    image, background, top = two_layer_picture()
    soft_selection(image)
    return guided(
        FILL,
        image,
        [background],
        [top],
        prompt="a stone",
        candidates=1,
        reference_layer=top,
        reference_strength=0.5,
        **FAST,
    )


def edit_a_selection(model: str = "tiny-flux2-klein") -> dict:
    """Edit: an instruction for the selected part, painted by a model that takes instructions."""
    image, background, _top = two_layer_picture()
    soft_selection(image)
    return guided(
        EDIT,
        image,
        [background],
        [background],
        instruction="make it night",
        candidates=1,
        model=model,
        **FAST,
    )


def edit_a_selection_with_qwen_image_edit() -> dict:
    return edit_a_selection("tiny-qwen-image-edit")


# ---------------------------------------------------------------- gui suite (full GIMP under Xvfb)


def gdk() -> Any:
    gi.require_version("Gdk", "3.0")
    gi.require_version("GdkX11", "3.0")
    gi.require_version("Gtk", "3.0")
    from gi.repository import Gdk, Gtk

    Gtk.init([])
    return Gdk


def press(xid: int, key: int, modifiers: Any) -> None:
    """A key pressed and released in the X window `xid`, as a person's keyboard would send it."""
    Gdk = gdk()
    from gi.repository import GdkX11

    window = GdkX11.X11Window.foreign_new_for_display(Gdk.Display.get_default(), xid)
    for kind in (Gdk.EventType.KEY_PRESS, Gdk.EventType.KEY_RELEASE):
        Gdk.test_simulate_key(window, 10, 10, key, modifiers, kind)
    Gdk.Display.get_default().flush()


def top_level_windows() -> dict[int, bytes]:
    """X id → title of every top-level window (plug-in dialogs live in another process than this script)."""
    xlib = ctypes.cdll.LoadLibrary("libX11.so.6")
    xlib.XOpenDisplay.restype = ctypes.c_void_p
    xlib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    xlib.XDefaultRootWindow.restype = ctypes.c_ulong
    xlib.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
    window_list = ctypes.POINTER(ctypes.c_ulong)
    xlib.XQueryTree.argtypes = [
        ctypes.c_void_p,
        ctypes.c_ulong,
        window_list,
        window_list,
        ctypes.POINTER(window_list),
        ctypes.POINTER(ctypes.c_uint),
    ]
    xlib.XFetchName.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(ctypes.c_char_p)]
    display = xlib.XOpenDisplay(None)
    try:
        parent, children, count = ctypes.c_ulong(), window_list(), ctypes.c_uint()
        xlib.XQueryTree(
            display,
            xlib.XDefaultRootWindow(display),
            ctypes.byref(parent),
            ctypes.byref(parent),
            ctypes.byref(children),
            ctypes.byref(count),
        )
        titles = {}
        for i in range(count.value):
            name = ctypes.c_char_p()
            if xlib.XFetchName(display, children[i], ctypes.byref(name)) and name.value:
                titles[children[i]] = name.value
        return titles
    finally:
        xlib.XCloseDisplay(display)


def wait_for_window(title: str, timeout: float = 60) -> int | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [xid for xid, name in top_level_windows().items() if name == title.encode()]
        if found:
            time.sleep(0.5)  # mapped is not yet ready for keys
            return found[0]
        time.sleep(0.05)
    return None


def wait_until_gone(xid: int, timeout: float = 300) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if xid not in top_level_windows():
            return True
        time.sleep(0.2)
    return False


def press_ctrl_z(display: Gimp.Display) -> None:
    """Ctrl+Z sent to the image window, as a person would undo."""
    Gdk = gdk()
    press(
        int.from_bytes(display.get_window_handle().get_data(), sys.byteorder), Gdk.KEY_z, Gdk.ModifierType.CONTROL_MASK
    )


def undo() -> dict:
    """Expand in a displayed image, then one Ctrl+Z: the image is back as it was."""
    image, background, top = two_layer_picture()
    display = Gimp.Display.new(image)
    Gimp.displays_flush()
    before = {
        "size": [96, 64],
        "layers": layer_facts(image),
        "visible": visible(image),
        "background": pixels(background),
    }
    facts = call(EXPAND, image, [top], size_mode="sides", left=24, right=0, bottom=8, candidates=3, **FAST)
    grown = {"size": [image.get_width(), image.get_height()], "layer_count": len(image.get_layers())}
    time.sleep(0.5)  # let GIMP's window settle before the key arrives
    press_ctrl_z(display)
    deadline = time.monotonic() + 15
    while image.get_width() != 96 and time.monotonic() < deadline:
        time.sleep(0.2)
    return {
        **facts,
        "grown": grown,
        "size_after_undo": [image.get_width(), image.get_height()],
        "layers_restored": layer_facts(image) == before["layers"],
        "visible_restored": visible(image) == before["visible"],
        "background_restored": pixels(background) == before["background"],
    }


def keep_then_undo() -> dict:
    """In a displayed image: Expand with 3 candidates, Keep This Candidate (interactive) on the second, one Ctrl+Z."""
    image, _background, top = two_layer_picture()
    display = Gimp.Display.new(image)
    Gimp.displays_flush()
    made = call(EXPAND, image, [top], size_mode="sides", right=16, candidates=3, **FAST)
    before = layer_facts(image)
    facts = call(KEEP, image, [image.get_layers()[1]], run_mode=Gimp.RunMode.INTERACTIVE)
    kept = [layer["name"] for layer in layer_facts(image)]
    time.sleep(0.5)  # let GIMP's window settle before the key arrives
    press_ctrl_z(display)
    deadline = time.monotonic() + 15
    while len(image.get_layers()) != len(before) and time.monotonic() < deadline:
        time.sleep(0.2)
    return {**facts, "made": made, "kept": kept, "restored": layer_facts(image) == before}


def open_expand_dialog(image: Gimp.Image) -> int | None:
    """Filters ▸ cocreate ▸ Expand Canvas, through the shortcut the test profile gives it; the dialog's X id."""
    display = Gimp.Display.new(image)
    Gimp.displays_flush()
    time.sleep(1)  # the new image window maps
    Gdk = gdk()
    xid = int.from_bytes(display.get_window_handle().get_data(), sys.byteorder)
    modifiers = Gdk.ModifierType.CONTROL_MASK | Gdk.ModifierType.SHIFT_MASK | Gdk.ModifierType.MOD1_MASK
    press(xid, Gdk.KEY_e, modifiers)
    return wait_for_window("cocreate: Expand Canvas")


def dialog_values(**values: object) -> None:
    """What the dialog opens with: GIMP's record of the last interactive run's settings, as if typed then."""
    settings = os.path.join(os.environ["GIMP3_DIRECTORY"], "plug-in-settings")
    os.makedirs(settings, exist_ok=True)
    lines = [f"({key.replace('_', '-')} {json.dumps(value)})" for key, value in values.items()]
    with open(os.path.join(settings, f"GimpProcedureConfigRun-{EXPAND}.last"), "w") as out:
        out.write("# settings\n\n" + "\n".join(lines) + "\n\n# end of settings\n")


def dialog_then_progress(cancel: bool) -> dict:
    """A person's run: the settings dialog, OK (Alt+O), the progress window, and Escape there when cancelling."""
    # Jobs long enough to see the progress window, and for an Escape to arrive while it runs.
    dialog_values(size_mode="sides", right=32, candidates=1 if cancel else 2, steps=200 if cancel else 20, seed=7)
    image, _background, _top = two_layer_picture()
    before = layer_facts(image)
    Gdk = gdk()
    facts: dict[str, Any] = {"dialog": False, "progress_window": False, "progress_closed": False}
    dialog = open_expand_dialog(image)
    if dialog is None:
        return facts
    facts["dialog"] = True
    press(dialog, Gdk.KEY_o, Gdk.ModifierType.MOD1_MASK)
    progress = wait_for_window("cocreate expand")
    if progress is None:
        return facts
    facts["progress_window"] = True
    if cancel:
        facts["escape_while_running"] = progress in top_level_windows()
        press(progress, Gdk.KEY_Escape, Gdk.ModifierType(0))
    facts["progress_closed"] = wait_until_gone(progress)
    time.sleep(1)  # the plug-in returns after closing its window
    return {
        **facts,
        "size": [image.get_width(), image.get_height()],
        "layers": layer_facts(image),
        "unchanged": layer_facts(image) == before and image.get_width() == 96,
    }


def dialog_ok() -> dict:
    return dialog_then_progress(cancel=False)


def dialog_cancel() -> dict:
    return dialog_then_progress(cancel=True)


def screenshot() -> dict:
    """The Expand Canvas dialog (model, LoRA and guide layers under its expander) over three Fill candidates,
    the Layers panel listing them; the whole screen saved to /project/screenshot-gimp.png."""
    image = picture(480, 320)
    add_layer(image, "background", 480, 320, Gimp.ImageType.RGB_IMAGE, "R'G'B' u8", rgb_pattern(480, 320))
    image.select_ellipse(Gimp.ChannelOps.REPLACE, 140, 80, 200, 160)
    made = call(FILL, image, image.get_layers(), prompt="a stone", candidates=3, **FAST)
    dialog = open_expand_dialog(image)
    if dialog is None:
        return {"made": made, "dialog": False}
    time.sleep(2)  # GTK draws the dialog and the docks
    Gdk = gdk()
    root = Gdk.get_default_root_window()
    shot = Gdk.pixbuf_get_from_window(root, 0, 0, root.get_width(), root.get_height())
    saved = shot.savev("/project/screenshot-gimp.png", "png", [], [])
    press(dialog, Gdk.KEY_Escape, Gdk.ModifierType(0))
    wait_until_gone(dialog, 30)
    return {"made": made, "dialog": True, "saved": saved, "size": [shot.get_width(), shot.get_height()]}


# ---------------------------------------------------------------- offline suite (no daemon at the endpoint)


def daemon_down() -> dict:
    image, _background, top = two_layer_picture()
    before = layer_facts(image)
    facts = call(EXPAND, image, [top], size_mode="sides", right=32, candidates=1, **FAST)
    return {**facts, "size": [image.get_width(), image.get_height()], "unchanged": layer_facts(image) == before}


def indexed() -> dict:
    image, _background, top = two_layer_picture()
    image.convert_indexed(Gimp.ConvertDitherType.NONE, Gimp.ConvertPaletteType.GENERATE, 16, False, False, "")
    return call(EXPAND, image, [top], size_mode="sides", right=32, candidates=1, **FAST)


def fill_without_selection() -> dict:
    image, _background, top = two_layer_picture()
    return call(FILL, image, [top], candidates=1, **FAST)


def nothing_to_expand() -> dict:
    image, _background, top = two_layer_picture()
    return call(EXPAND, image, [top], size_mode="sides", right=0, candidates=1, **FAST)


def keep_a_layer_that_is_no_candidate() -> dict:
    image, background, _top = two_layer_picture()
    before = layer_facts(image)
    return {**call(KEEP, image, [background]), "unchanged": layer_facts(image) == before}


def keep_with_the_daemon_down() -> dict:
    """Two layers tagged as candidates of one turn (as Expand would make them); no daemon answers."""
    image, background, top = two_layer_picture()
    for index, layer in enumerate((background, top)):
        tag = {"candidate": f"{index:032x}", "turn": "a" * 32, "job": "b" * 32, "index": index}
        layer.attach_parasite(Gimp.Parasite.new(CANDIDATE, Gimp.PARASITE_PERSISTENT, json.dumps(tag).encode()))
    top.set_visible(False)
    before = layer_facts(image)
    return {**call(KEEP, image, [top]), "unchanged": layer_facts(image) == before}


SUITES: dict[str, list[Callable[[], dict]]] = {
    "console": [
        expand_rgb,
        fill,
        variants_of_layer,
        grayscale,
        high_bit_depth,
        wider_than_the_daemon_takes,
        keep_a_candidate,
        steer_learn_and_paint_with_a_lora,
    ],
    "guides": [
        expand_with_flux2_klein,
        fill_with_a_control_layer,
        expand_with_a_control_layer,
        fill_with_a_style_reference,
        edit_a_selection,
        edit_a_selection_with_qwen_image_edit,
    ],
    "gui": [undo, keep_then_undo, dialog_ok, dialog_cancel],
    "screenshot": [screenshot],
    "offline": [
        daemon_down,
        indexed,
        fill_without_selection,
        nothing_to_expand,
        keep_a_layer_that_is_no_candidate,
        keep_with_the_daemon_down,
    ],
}


def main() -> None:
    suite = os.environ["COCREATE_CHECKS"]
    verdict: dict[str, Any] = {"gimp": Gimp.version()}
    for check in SUITES[suite]:
        try:
            verdict[check.__name__] = check()
        except Exception:
            verdict[check.__name__] = {"exception": traceback.format_exc()}
    with open(f"/project/verdict-{suite}.json", "w") as out:
        json.dump(verdict, out, indent=2)


main()
