"""The cocreate tab in the Image Editor's, the Shader Editor's and the 3D View's sidebars (N).

Each panel is declared once and registered for each editor it belongs in; Blender wants one class per editor.
The 3D View has Project texture and the Candidates; the two texture editors have the rest.
"""

import bpy

from . import document
from .jobs import HISTORY, Phase
from .operators import PICKED, context_texture

CATEGORY = "cocreate"


class _Panel:
    bl_region_type = "UI"
    bl_category = CATEGORY

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        space = context.space_data
        return space.type in ("IMAGE_EDITOR", "VIEW_3D") or getattr(space, "tree_type", "") == "ShaderNodeTree"


class GeneratePanel(_Panel):
    bl_label = "Generate texture"

    def draw(self, context: bpy.types.Context) -> None:
        s, layout = context.scene.cocreate, self.layout
        layout.prop(s, "prompt")
        layout.prop(s, "negative_prompt")
        row = layout.row(align=True)
        row.prop(s, "width")
        row.prop(s, "height")
        layout.prop(s, "seamless", expand=True)
        row = layout.row(align=True)
        row.prop(s, "candidates")
        row.prop(s, "steps")
        _model_rows(layout, context)
        layout.operator("cocreate.generate_texture", icon="TEXTURE")


class ProjectPanel(_Panel):
    bl_label = "Project texture"

    def draw(self, context: bpy.types.Context) -> None:
        s, layout = context.scene.cocreate, self.layout
        layout.label(text="Paints the selected meshes as the view sees them", icon="INFO")
        layout.prop(s, "prompt")
        layout.prop(s, "negative_prompt")
        row = layout.row(align=True)
        row.prop(s, "projection_size")
        row.prop(s, "depth_strength")
        layout.prop(s, "follow_normals")
        row = layout.row(align=True)
        row.prop(s, "candidates")
        row.prop(s, "steps")
        _model_rows(layout, context)
        layout.operator("cocreate.project_texture", icon="MOD_UVPROJECT")
        layout.operator("cocreate.bake_projection", icon="RENDER_STILL")


class RepairPanel(_Panel):
    bl_label = "Repair / fill"
    bl_options = frozenset({"DEFAULT_CLOSED"})

    def draw(self, context: bpy.types.Context) -> None:
        s, layout = context.scene.cocreate, self.layout
        _texture_row(layout, context)
        layout.prop(s, "mask_source")
        if s.mask_source == "faces":
            row = layout.row(align=True)
            row.prop(s, "whole_islands")
            row.prop(s, "margin")
        elif s.mask_source == "painted":
            layout.prop(s, "mask_image")
        layout.prop(s, "fill_prompt")
        layout.prop(s, "repair_strength")
        layout.prop(s, "seamless", expand=True)
        layout.operator("cocreate.repair_texture", icon="BRUSH_DATA")


class VariantsPanel(_Panel):
    bl_label = "Variants"
    bl_options = frozenset({"DEFAULT_CLOSED"})

    def draw(self, context: bpy.types.Context) -> None:
        s, layout = context.scene.cocreate, self.layout
        _texture_row(layout, context)
        layout.prop(s, "style_prompt")
        layout.prop(s, "variant_strength")
        layout.operator("cocreate.texture_variants", icon="DUPLICATE")


class StylePanel(_Panel):
    bl_label = "Learn my style"
    bl_options = frozenset({"DEFAULT_CLOSED"})

    def draw(self, context: bpy.types.Context) -> None:
        s, layout = context.scene.cocreate, self.layout
        layout.label(text="A personal LoRA from the candidates you applied")
        row = layout.row(align=True)
        row.prop(s, "lora_name")
        row.prop(s, "training_steps")
        layout.operator("cocreate.personalize", icon="BRUSHES_ALL")


class CandidatesPanel(_Panel):
    bl_label = "Candidates"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        job = HISTORY.active
        if job is not None:
            layout.progress(factor=job.fraction, type="BAR", text=job.status())
            layout.operator("cocreate.cancel", icon="CANCEL")
        last = HISTORY.finished[0] if HISTORY.finished else None
        if last is not None and last.phase is Phase.failed:
            layout.label(text=last.status(), icon="ERROR")
        latest = document.latest_candidates()  # from the file: a reopened one lists its candidates too
        if not latest:
            if job is None:
                layout.label(text="Generated textures appear here.")
            return
        in_image_editor = context.space_data.type == "IMAGE_EDITOR"
        for image in latest:
            name = image.name
            row = layout.row(align=True)
            if in_image_editor:
                row.operator("cocreate.show_candidate", text=name, icon="IMAGE_DATA").image = name
            else:
                row.label(text=name, icon="IMAGE_DATA")
            more = row.operator("cocreate.steer", text="", icon="ADD")
            more.image, more.how = name, "more"
            less = row.operator("cocreate.steer", text="", icon="REMOVE")
            less.image, less.how = name, "less"
            picked = name in PICKED
            row.operator(
                "cocreate.pick_candidate", text="", icon="CHECKBOX_HLT" if picked else "CHECKBOX_DEHLT", depress=picked
            ).image = name
            row.operator("cocreate.apply_to_material", text="", icon="MATERIAL").image = name
        layout.operator("cocreate.between", icon="ARROW_LEFTRIGHT", text="In between the two picked")


def _model_rows(layout: bpy.types.UILayout, context: bpy.types.Context) -> None:
    """The image model (with its family) and the LoRA, each from the daemon's lists."""
    s, window_manager = context.scene.cocreate, context.window_manager
    row = layout.row(align=True)
    row.prop_search(s, "model", window_manager, "cocreate_models", icon="NODE_TEXTURE")
    row.operator("cocreate.refresh_models", text="", icon="FILE_REFRESH")
    family = document.model_family(s.model.strip())
    if family:
        layout.label(text=f"Family: {family}", icon="INFO")
    layout.prop_search(s, "lora", window_manager, "cocreate_loras", icon="BRUSHES_ALL")


def _texture_row(layout: bpy.types.UILayout, context: bpy.types.Context) -> None:
    layout.prop(context.scene.cocreate, "texture")
    if context.scene.cocreate.texture is None:
        shown = context_texture(context)
        layout.label(text=f"Using: {shown.name}" if shown else "No texture shown here", icon="INFO")


TEXTURE_PANELS = (GeneratePanel, RepairPanel, VariantsPanel, StylePanel, CandidatesPanel)


def _for_editor(space_type: str, prefix: str, panels: tuple[type, ...] = TEXTURE_PANELS) -> list[type]:
    """The panels for one editor, with class names naming it (COCREATE_PT_image_generate, ...)."""
    made = []
    for panel in panels:
        name = f"COCREATE_PT_{prefix}_{panel.__name__.removesuffix('Panel').lower()}"
        made.append(type(name, (panel, bpy.types.Panel), {"bl_space_type": space_type, "bl_idname": name}))
    return made


CLASSES = (
    *_for_editor("IMAGE_EDITOR", "image"),
    *_for_editor("NODE_EDITOR", "shader"),
    *_for_editor("VIEW_3D", "view3d", (ProjectPanel, CandidatesPanel)),
)
