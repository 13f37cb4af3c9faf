#!/usr/bin/env python3
"""cocreate for GIMP 3: Filters ▸ cocreate ▸ Expand Canvas, Fill Selection, Variants, Edit, Keep This Candidate,
More Like This, Less Like This, In Between These Two, Learn My Style.

Each procedure takes its settings as arguments, so scripts and batch mode call it through the PDB with
run-mode NONINTERACTIVE; interactively GIMP shows a dialog for the same arguments first. Every candidate
becomes a new layer (the first shown, the others hidden), and one run is one undo step. Keep This Candidate,
run on one of those layers, tells the daemon it was accepted and its sibling layers rejected, and removes
the siblings (one undo step too). More/Less Like This and In Between These Two paint the area of the chosen
candidate layers again, steered by them; Learn My Style trains a personal LoRA on what was kept in this
image's session, which the generating procedures then name in their LoRA setting. Expand, Fill, Variants and Edit
can follow a layer chosen as control image (its lines, edges, depth or pose) and a layer chosen as style reference.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("GimpUi", "3.0")
gi.require_version("Gegl", "0.4")
from cocreate_gimp.geometry import ANCHORS, GIMP_MAX_SIDE  # noqa: E402
from cocreate_gimp.guides import CONTROL_KINDS  # noqa: E402
from gi.repository import Gimp, GLib, GObject  # noqa: E402

if TYPE_CHECKING:
    from cocreate_gimp.document import GimpDocument
    from cocreate_gimp.plans import Options, Plan

# The rest of cocreate_gimp is imported inside the run functions: GIMP queries every plug-in at start-up, and
# that query should not load the client's gRPC stack (geometry, above, is plain arithmetic).
MakePlan = Callable[["GimpDocument"], "Plan"]

EXPAND = "plug-in-cocreate-expand"
FILL = "plug-in-cocreate-fill"
VARIANTS = "plug-in-cocreate-variants"
EDIT = "plug-in-cocreate-edit"
KEEP = "plug-in-cocreate-keep"
MORE = "plug-in-cocreate-more-like"
LESS = "plug-in-cocreate-less-like"
BETWEEN = "plug-in-cocreate-between"
LEARN = "plug-in-cocreate-learn"
MENU = "<Image>/Filters/cocreate"
RW = GObject.ParamFlags.READWRITE
INT_MAX = 2**31 - 1


def _choice(*items: tuple[str, str]) -> Gimp.Choice:
    choice = Gimp.Choice.new()
    for number, (nick, label) in enumerate(items):
        choice.add(nick, number, label, "")
    return choice


def _add_shared(procedure: Gimp.Procedure, prompt: str, strength: str | None) -> None:
    """The arguments every procedure takes, in dialog order; zero means the daemon's default.

    Mnemonics stay unique within each dialog and clear of its buttons' (_OK, _Cancel, _Reset, _Load Defaults).
    """
    procedure.add_string_argument("prompt", prompt, "What to paint (may be empty)", "", RW)
    procedure.add_string_argument("negative-prompt", "_Negative prompt", "What to avoid", "", RW)
    procedure.add_int_argument("candidates", "Can_didates", "How many layers to make, one per candidate", 1, 16, 3, RW)
    if strength is not None:
        procedure.add_double_argument("strength", "S_trength", strength, 0.0, 1.0, 0.0, RW)
    procedure.add_int_argument(
        "seed", "S_eed", "First candidate's seed, the next count up; -1: random", -1, INT_MAX, -1, RW
    )
    procedure.add_int_argument("steps", "_Steps", "Denoising steps; 0: the model's default", 0, 200, 0, RW)
    procedure.add_double_argument(
        "guidance", "_Guidance", "Prompt guidance; 0: the model's default", 0.0, 30.0, 0.0, RW
    )
    procedure.add_string_argument("lora", "Personal _LoRA", "A personal LoRA of the daemon; empty: none", "", RW)
    _add_model_and_guides(procedure)


def _add_model_and_guides(procedure: Gimp.Procedure) -> None:
    """The image model, and the layers that guide the candidates: a control image and a style reference.

    Most of these have no mnemonic: the letters left free by the other arguments and the buttons ran out."""
    procedure.add_string_argument(
        "model", "_Model", "An image model of the daemon (cocreate models list); empty: its default", "", RW
    )
    procedure.add_layer_argument(
        "control-layer", "Control layer", "A layer whose structure the candidates follow; none: no control", True, RW
    )
    procedure.add_choice_argument(
        "control-kind", "Control _kind", "What the control layer holds", _choice(*CONTROL_KINDS), "scribble", RW
    )
    procedure.add_double_argument(
        "control-strength", "Control strengt_h", "How firmly it is followed; 0: the default (1)", 0.0, 2.0, 0.0, RW
    )
    procedure.add_boolean_argument(
        "control-derive",
        "Control from the picture",
        "The control layer is an ordinary picture: the daemon makes the edges, depth or pose from it",
        False,
        RW,
    )
    procedure.add_layer_argument(
        "reference-layer",
        "Style reference",
        "A layer whose style the candidates take after; none: no reference",
        True,
        RW,
    )
    procedure.add_double_argument(
        "reference-strength", "Reference strength", "How much of its style; 0: the default (0.6)", 0.0, 1.0, 0.0, RW
    )


def _add_expand(procedure: Gimp.Procedure) -> None:
    procedure.add_choice_argument(
        "size-mode",
        "Grow _by",
        "How the new canvas size is given",
        _choice(("sides", "Pixels per side"), ("size", "Target size"), ("aspect", "Aspect ratio")),
        "sides",
        RW,
    )
    for side, default in (("left", 0), ("top", 0), ("right", 256), ("bottom", 0)):
        procedure.add_int_argument(side, side.title(), f"Pixels added on the {side}", 0, GIMP_MAX_SIDE, default, RW)
    procedure.add_int_argument("width", "_Width", "Target width (target size; 0: keep)", 0, GIMP_MAX_SIDE, 0, RW)
    procedure.add_int_argument("height", "Height", "Target height (target size; 0: keep)", 0, GIMP_MAX_SIDE, 0, RW)
    procedure.add_int_argument("aspect-width", "Aspect _x", "Aspect ratio, as 16 in 16:9", 1, 1000, 16, RW)
    procedure.add_int_argument("aspect-height", "Aspect _y", "Aspect ratio, as 9 in 16:9", 1, 1000, 9, RW)
    procedure.add_choice_argument(
        "anchor",
        "_Anchor",
        "Where the picture sits in the new canvas (target size and aspect ratio)",
        _choice(*((anchor, anchor.replace("-", " ").capitalize()) for anchor in ANCHORS)),
        "center",
        RW,
    )
    procedure.add_int_argument("feather", "_Feather", "Seam blended into the picture, in pixels", 1, 512, 16, RW)


def _expand_arguments(procedure: Gimp.Procedure) -> None:
    _add_shared(procedure, "_Prompt", None)
    _add_expand(procedure)


def _fill_arguments(procedure: Gimp.Procedure) -> None:
    _add_shared(procedure, "_Prompt", "How much to change; 0: the default (1, repaint fully)")


def _variants_arguments(procedure: Gimp.Procedure) -> None:
    _add_shared(procedure, "St_yle prompt", "How much to change; 0: the default (0.6)")


def _edit_arguments(procedure: Gimp.Procedure) -> None:
    procedure.add_string_argument("instruction", "_Instruction", "What to change, as in “make it night”", "", RW)
    procedure.add_int_argument("candidates", "Can_didates", "How many layers to make, one per candidate", 1, 16, 3, RW)
    procedure.add_int_argument(
        "seed", "S_eed", "First candidate's seed, the next count up; -1: random", -1, INT_MAX, -1, RW
    )
    procedure.add_int_argument("steps", "_Steps", "Denoising steps; 0: the model's default", 0, 200, 0, RW)
    procedure.add_double_argument(
        "guidance", "_Guidance", "Instruction guidance; 0: the model's default", 0.0, 30.0, 0.0, RW
    )
    _add_model_and_guides(procedure)


PROCEDURES: dict[str, tuple[str, str, Callable[[Gimp.Procedure], None]]] = {
    EXPAND: (
        "_Expand Canvas…",
        "Grow the canvas and paint the new area so it continues the picture; the old pixels stay as they are.",
        _expand_arguments,
    ),
    FILL: (
        "_Fill Selection…",
        "Repaint the selection from its surroundings, blended by the selection's soft edge.",
        _fill_arguments,
    ),
    VARIANTS: (
        "_Variants…",
        "Style variants of the selection, or of the whole layer when nothing is selected.",
        _variants_arguments,
    ),
    EDIT: (
        "E_dit…",
        "Change the selection (or the whole image) as an instruction says, such as “make it night”.",
        _edit_arguments,
    ),
}


def _options(config: Gimp.ProcedureConfig, has_strength: bool, has_prompt: bool = True) -> Options:
    from cocreate_gimp.guides import Guides
    from cocreate_gimp.plans import Options

    value = config.get_property
    seed = value("seed")
    return Options(
        # An empty string argument can arrive as None (GIMP's stored last values).
        prompt=value("prompt") or "" if has_prompt else "",
        negative_prompt=value("negative-prompt") or "" if has_prompt else "",
        candidates=value("candidates"),
        seed=None if seed < 0 else seed,
        steps=value("steps"),
        guidance=value("guidance"),
        strength=value("strength") if has_strength else 0.0,
        lora=value("lora") or "" if has_prompt else "",
        model=value("model") or "",
        guides=Guides(
            control_layer=value("control-layer"),
            control_kind=value("control-kind"),
            control_strength=value("control-strength"),
            control_derive=value("control-derive"),
            reference_layer=value("reference-layer"),
            reference_strength=value("reference-strength"),
        ),
    )


def _expand_plan(config: Gimp.ProcedureConfig, drawables: list[Gimp.Drawable]) -> MakePlan:
    from cocreate_gimp import geometry, plans

    value = config.get_property
    options = _options(config, has_strength=False)

    def make(document: GimpDocument) -> Plan:
        width, height, anchor = document.width, document.height, value("anchor")
        mode = value("size-mode")
        if mode == "size":
            sides = geometry.to_size(width, height, value("width") or width, value("height") or height, anchor)
        elif mode == "aspect":
            sides = geometry.to_aspect(width, height, value("aspect-width"), value("aspect-height"), anchor)
        else:
            sides = geometry.Sides(value("left"), value("top"), value("right"), value("bottom"))
        return plans.expand(document, sides, value("feather"), options)

    return make


def _fill_plan(config: Gimp.ProcedureConfig, drawables: list[Gimp.Drawable]) -> MakePlan:
    from cocreate_gimp import plans

    options = _options(config, has_strength=True)
    return lambda document: plans.fill(document, options)


def _variants_plan(config: Gimp.ProcedureConfig, drawables: list[Gimp.Drawable]) -> MakePlan:
    from cocreate_gimp import plans

    options = _options(config, has_strength=True)

    def make(document: GimpDocument) -> Plan:
        if document.selection_bounds() is not None:
            return plans.variants_of_selection(document, options)
        if len(drawables) != 1 or not isinstance(drawables[0], Gimp.Layer):
            raise plans.PlanError("Variants works on a selection, or on one layer: select an area or pick one layer.")
        return plans.variants_of_layer(document, drawables[0], options)

    return make


def _edit_plan(config: Gimp.ProcedureConfig, drawables: list[Gimp.Drawable]) -> MakePlan:
    from cocreate_gimp import plans

    options = _options(config, has_strength=False, has_prompt=False)
    instruction = config.get_property("instruction") or ""
    return lambda document: plans.edit(document, instruction, options)


PLANS: dict[str, Callable[[Gimp.ProcedureConfig, list[Gimp.Drawable]], MakePlan]] = {
    EXPAND: _expand_plan,
    FILL: _fill_plan,
    VARIANTS: _variants_plan,
    EDIT: _edit_plan,
}


def _failure(procedure: Gimp.Procedure, message: str) -> Gimp.ValueArray:
    error = GLib.Error.new_literal(Gimp.PlugIn.error_quark(), message, 0)
    return procedure.new_return_values(Gimp.PDBStatusType.EXECUTION_ERROR, error)


def _cancelled(procedure: Gimp.Procedure) -> Gimp.ValueArray:
    return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, GLib.Error())


def _declined(procedure: Gimp.Procedure, run_mode: Gimp.RunMode, config: Gimp.ProcedureConfig) -> bool:
    """Interactively, GIMP's dialog for the settings first: True when the person cancels it."""
    if run_mode != Gimp.RunMode.INTERACTIVE:
        return False
    from cocreate_gimp import dialog

    title = procedure.get_menu_label().replace("_", "").rstrip("…")  # "In _Between These Two…": the words
    return not dialog.ask(procedure, config, f"cocreate: {title}")


def _answer(
    procedure: Gimp.Procedure, work: Callable[[], Any], value: Callable[[Any], GObject.Value]
) -> Gimp.ValueArray:
    """Run `work` (its result has `error`, maybe `cancelled`) and answer GIMP: failure, cancel, or `value`."""
    try:
        result = work()
    except Exception as error:  # a bug, not a person's mistake: answer GIMP anyway, with the trace on stderr
        traceback.print_exc()
        return _failure(procedure, f"cocreate: the plug-in failed ({error!r}); its output has the details.")
    if result.error is not None:
        return _failure(procedure, result.error)
    if getattr(result, "cancelled", False):
        return _cancelled(procedure)
    return Gimp.ValueArray.new_from_values(
        [GObject.Value(Gimp.PDBStatusType, Gimp.PDBStatusType.SUCCESS), value(result)]
    )


def _layers(result: Any) -> GObject.Value:
    return GObject.Value(GObject.TYPE_INT, result.layers)


def _run(
    procedure: Gimp.Procedure,
    run_mode: Gimp.RunMode,
    image: Gimp.Image,
    drawables: list[Gimp.Drawable],
    config: Gimp.ProcedureConfig,
    data: object,
) -> Gimp.ValueArray:
    if _declined(procedure, run_mode, config):
        return _cancelled(procedure)
    from cocreate_gimp import runner

    # A dialog, or Filters ▸ Repeat: a person is watching, so progress gets a window with a Cancel button.
    watched = run_mode != Gimp.RunMode.NONINTERACTIVE
    make_plan = PLANS[procedure.get_name()](config, drawables)
    return _answer(procedure, lambda: runner.execute(image, make_plan, interactive=watched), _layers)


def _run_keep(
    procedure: Gimp.Procedure,
    run_mode: Gimp.RunMode,
    image: Gimp.Image,
    drawables: list[Gimp.Drawable],
    config: Gimp.ProcedureConfig,
    data: object,
) -> Gimp.ValueArray:
    from cocreate_gimp import runner

    return _answer(
        procedure,
        lambda: runner.keep(image, list(drawables)),
        lambda kept: GObject.Value(GObject.TYPE_INT, kept.removed),
    )


KEEP_BLURB = (
    "Keep the candidate on this layer: the daemon hears it was accepted and its sibling candidates rejected "
    "(which steers the next candidates), and the sibling layers leave the image."
)


def _create_keep(plug_in: Gimp.PlugIn) -> Gimp.Procedure:
    procedure = Gimp.ImageProcedure.new(plug_in, KEEP, Gimp.PDBProcType.PLUGIN, _run_keep, None)
    procedure.set_image_types("*")
    procedure.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.DRAWABLE)
    procedure.set_menu_label("_Keep This Candidate")
    procedure.add_menu_path(MENU)
    procedure.set_documentation(KEEP_BLURB, f"{KEEP_BLURB} Needs the cocreate daemon (`cocreate serve`).", KEEP)
    procedure.set_attribution("cocreate", "cocreate", "2026")
    procedure.add_int_return_value("removed", "Removed", "Sibling candidate layers removed", 0, INT_MAX, 0, RW)
    return procedure


STEERING: dict[str, tuple[str, str, str]] = {
    MORE: ("more", "_More Like This…", "New candidates for the chosen candidate layers' area, like them."),
    LESS: ("less", "_Less Like This…", "New candidates for the chosen candidate layers' area, unlike them."),
    BETWEEN: (
        "between",
        "In _Between These Two…",
        "New candidates on the way from one chosen candidate layer to the other (choose two).",
    ),
}


def _run_steer(
    procedure: Gimp.Procedure,
    run_mode: Gimp.RunMode,
    image: Gimp.Image,
    drawables: list[Gimp.Drawable],
    config: Gimp.ProcedureConfig,
    data: object,
) -> Gimp.ValueArray:
    if _declined(procedure, run_mode, config):
        return _cancelled(procedure)
    from cocreate_gimp import runner

    how, count = STEERING[procedure.get_name()][0], config.get_property("candidates")
    watched = run_mode != Gimp.RunMode.NONINTERACTIVE
    return _answer(procedure, lambda: runner.steer(image, list(drawables), how, count, interactive=watched), _layers)


def _create_steer(plug_in: Gimp.PlugIn, name: str) -> Gimp.Procedure:
    _, label, blurb = STEERING[name]
    procedure = Gimp.ImageProcedure.new(plug_in, name, Gimp.PDBProcType.PLUGIN, _run_steer, None)
    procedure.set_image_types("*")
    procedure.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.DRAWABLE | Gimp.ProcedureSensitivityMask.DRAWABLES)
    procedure.set_menu_label(label)
    procedure.add_menu_path(MENU)
    procedure.set_documentation(blurb, f"{blurb} Needs the cocreate daemon (`cocreate serve`).", name)
    procedure.set_attribution("cocreate", "cocreate", "2026")
    procedure.add_int_argument("candidates", "Can_didates", "How many new candidate layers", 1, 14, 3, RW)
    procedure.add_int_return_value("layers", "Layers", "Candidate layers added", 0, 14, 0, RW)
    return procedure


LEARN_BLURB = (
    "Train a personal LoRA on the candidates kept in this image's session (Keep This Candidate), so later "
    "candidates follow your style: name it in the LoRA setting of Expand Canvas, Fill Selection or Variants."
)


def _run_learn(
    procedure: Gimp.Procedure,
    run_mode: Gimp.RunMode,
    image: Gimp.Image,
    drawables: list[Gimp.Drawable],
    config: Gimp.ProcedureConfig,
    data: object,
) -> Gimp.ValueArray:
    if _declined(procedure, run_mode, config):
        return _cancelled(procedure)
    from cocreate_gimp import runner

    name, steps = config.get_property("lora-name") or "", config.get_property("steps")
    watched = run_mode != Gimp.RunMode.NONINTERACTIVE
    return _answer(
        procedure,
        lambda: runner.learn(image, name, steps, interactive=watched),
        lambda learned: GObject.Value(GObject.TYPE_STRING, learned.lora),
    )


def _create_learn(plug_in: Gimp.PlugIn) -> Gimp.Procedure:
    procedure = Gimp.ImageProcedure.new(plug_in, LEARN, Gimp.PDBProcType.PLUGIN, _run_learn, None)
    procedure.set_image_types("*")
    procedure.set_sensitivity_mask(
        Gimp.ProcedureSensitivityMask.DRAWABLE
        | Gimp.ProcedureSensitivityMask.DRAWABLES
        | Gimp.ProcedureSensitivityMask.NO_DRAWABLES
    )
    procedure.set_menu_label("Learn My _Style…")
    procedure.add_menu_path(MENU)
    procedure.set_documentation(LEARN_BLURB, f"{LEARN_BLURB} Needs the cocreate daemon (`cocreate serve`).", LEARN)
    procedure.set_attribution("cocreate", "cocreate", "2026")
    procedure.add_string_argument(
        "lora-name", "_Name", "What the LoRA is called (letters, digits, . _ -)", "my-style", RW
    )
    procedure.add_int_argument("steps", "_Steps", "Training steps; 0: the daemon's default", 0, 10000, 0, RW)
    procedure.add_string_return_value("lora", "LoRA", "The personal LoRA trained", "", RW)
    return procedure


class Cocreate(Gimp.PlugIn):
    def do_query_procedures(self) -> list[str]:
        return [*PROCEDURES, KEEP, *STEERING, LEARN]

    def do_set_i18n(self, name: str) -> bool:
        return False  # English only for now

    def do_create_procedure(self, name: str) -> Gimp.Procedure:
        if name == KEEP:
            return _create_keep(self)
        if name in STEERING:
            return _create_steer(self, name)
        if name == LEARN:
            return _create_learn(self)
        label, blurb, add_arguments = PROCEDURES[name]
        procedure = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, _run, None)
        procedure.set_image_types("*")  # indexed images get a message saying how to convert them
        procedure.set_sensitivity_mask(
            Gimp.ProcedureSensitivityMask.DRAWABLE
            | Gimp.ProcedureSensitivityMask.DRAWABLES
            | Gimp.ProcedureSensitivityMask.NO_DRAWABLES
        )
        procedure.set_menu_label(label)
        procedure.add_menu_path(MENU)
        procedure.set_documentation(blurb, f"{blurb} Needs the cocreate daemon (`cocreate serve`).", name)
        procedure.set_attribution("cocreate", "cocreate", "2026")
        add_arguments(procedure)
        procedure.add_int_return_value("layers", "Layers", "Candidate layers added", 0, 16, 0, RW)
        return procedure


Gimp.main(Cocreate.__gtype__, sys.argv)
