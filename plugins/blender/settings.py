"""What the panels edit: per-scene generation settings, and the add-on's connection preferences.

No `from __future__ import annotations` here: Blender reads these class annotations as property
definitions and needs them evaluated.
"""

import bpy
from bpy.props import (
    BoolProperty,
    CollectionProperty,
    EnumProperty,
    FloatProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)

SEAMLESS_ITEMS = (
    ("none", "None", "An ordinary picture: opposite edges do not match"),
    ("x", "X", "Left and right edges continue into each other"),
    ("y", "Y", "Top and bottom edges continue into each other"),
    ("both", "Both", "Tiles in every direction"),
)
MASK_ITEMS = (
    ("faces", "Selected faces", "The UV islands of the active mesh's selected faces (Edit Mode selection)"),
    ("alpha", "Transparency", "Where the texture is transparent"),
    ("painted", "Painted mask", "Where a mask image of the texture's size is white"),
)


class CocreateSettings(bpy.types.PropertyGroup):
    prompt: StringProperty(name="Prompt", description="What the texture shows")
    negative_prompt: StringProperty(name="Avoid", description="What it should not show")
    width: IntProperty(name="Width", default=512, min=64, max=8192, soft_max=2048, step=64, subtype="PIXEL")
    height: IntProperty(name="Height", default=512, min=64, max=8192, soft_max=2048, step=64, subtype="PIXEL")
    seamless: EnumProperty(name="Tiling", items=SEAMLESS_ITEMS, default="both", description="Axes the texture tiles on")
    candidates: IntProperty(name="Candidates", default=4, min=1, max=16, description="How many to make at once")
    # No hard cap here: the daemon has its own (`cocreate serve --max-steps`) and says so when it is passed.
    steps: IntProperty(
        name="Steps",
        default=0,
        min=0,
        max=100_000,
        soft_max=150,
        description="Denoising steps; 0 = the model's default",
    )
    model: StringProperty(
        name="Model", description="The daemon's image model (its family shows beside it); empty = the daemon's default"
    )
    lora: StringProperty(
        name="LoRA", description="A personal LoRA the candidates follow (Learn my style makes one); empty = none"
    )
    lora_name: StringProperty(
        name="Name", default="my-style", description="What Learn my style calls the LoRA it trains"
    )
    training_steps: IntProperty(
        name="Training steps", default=0, min=0, max=10_000, description="0 = the daemon's default"
    )
    # This file's co-creation session, kept with the file (a new file gets its own before it is ever saved).
    document_id: StringProperty(options={"HIDDEN"})

    texture: PointerProperty(
        name="Texture",
        type=bpy.types.Image,
        description="The texture to repair or vary; empty = the one shown in this editor or on the active material",
    )
    fill_prompt: StringProperty(name="Fill with", description="What the repaired region should show")
    mask_source: EnumProperty(name="Region", items=MASK_ITEMS, default="faces")
    mask_image: PointerProperty(name="Mask", type=bpy.types.Image, description="White = regenerate")
    whole_islands: BoolProperty(
        name="Whole UV islands",
        default=True,
        description="Repair every face on the selected faces' UV islands, not just the selected faces",
    )
    margin: IntProperty(
        name="Margin", default=0, min=0, max=64, subtype="PIXEL", description="Grow the region past the faces' edges"
    )
    repair_strength: FloatProperty(name="Strength", default=1.0, min=0.05, max=1.0, description="1 = paint anew")

    projection_size: IntProperty(
        name="Size",
        default=512,
        min=64,
        max=2048,
        subtype="PIXEL",
        description="The longer side of the picture painted through the view (the other follows the view's shape)",
    )
    depth_strength: FloatProperty(
        name="Follow depth", default=1.0, min=0.05, max=2.0, description="How closely the picture follows the depth"
    )
    follow_normals: BoolProperty(
        name="Follow normals",
        default=False,
        description="Also send the surfaces' normals as a control (the daemon needs a normal control model)",
    )

    style_prompt: StringProperty(name="Style", description="The look the variants take on")
    variant_strength: FloatProperty(
        name="Strength", default=0.6, min=0.05, max=1.0, description="How far the variants may move from the texture"
    )


class CocreateName(bpy.types.PropertyGroup):
    """One entry of the daemon's LoRA list (its `name` is all it holds)."""


class CocreateModel(bpy.types.PropertyGroup):
    """One of the daemon's image models: its `name` and family."""

    family: StringProperty(name="Family")


class CocreatePreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    endpoint: StringProperty(
        name="Daemon",
        description="unix:/path or HOST:PORT; empty = $COCREATE_ENDPOINT, else the user's local socket",
    )
    token_file: StringProperty(
        name="Token file",
        subtype="FILE_PATH",
        description="A file holding the token of a TCP daemon; empty = $COCREATE_TOKEN or $COCREATE_TOKEN_FILE",
    )

    def draw(self, context: bpy.types.Context) -> None:
        self.layout.prop(self, "endpoint")
        self.layout.prop(self, "token_file")


def connection_preferences(context: bpy.types.Context) -> tuple[str, str]:
    """(endpoint, token file) from the add-on's preferences; empty strings mean the client's defaults."""
    addon = context.preferences.addons.get(__package__)
    if addon is None:  # loaded as a plain package (the bpy wheel tests), not as an enabled add-on
        return "", ""
    prefs = addon.preferences
    return prefs.endpoint.strip(), bpy.path.abspath(prefs.token_file) if prefs.token_file else ""


CLASSES = (CocreateSettings, CocreateName, CocreateModel, CocreatePreferences)


def attach() -> None:
    bpy.types.Scene.cocreate = PointerProperty(type=CocreateSettings)
    # Not saved: the daemon's lists, filled by Refresh models.
    bpy.types.WindowManager.cocreate_loras = CollectionProperty(type=CocreateName)
    bpy.types.WindowManager.cocreate_models = CollectionProperty(type=CocreateModel)


def detach() -> None:
    del bpy.types.WindowManager.cocreate_models
    del bpy.types.WindowManager.cocreate_loras
    del bpy.types.Scene.cocreate
