"""The buttons: start a job (texture, repair, variants), cancel it, show a candidate, apply one.

Starting reads what it needs from Blender (pixels, masks) on the main thread, hands the rest to the
connection's worker and returns at once; the pump takes it from there. Only `Apply to material`
changes Blender data at click time, so it is the operator that registers an undo step; the
candidate images get theirs when they arrive (pump.py). Applying a candidate also tells the daemon,
on the connection's worker, that the artist accepted it and rejected its undecided siblings.
"""

import logging

import bpy
from bpy.props import StringProperty

from . import document, pump
from .cocreate_client import tasks
from .cocreate_client.pb import cocreate_pb2 as pb
from .connection import BuildRequest, Connection
from .document import DocumentError
from .jobs import HISTORY, TextureJob
from .settings import connection_preferences

log = logging.getLogger(__name__)

_connection: Connection | None = None


def connection() -> Connection:
    global _connection
    if _connection is None:
        _connection = Connection()
    return _connection


def close_connection() -> None:
    global _connection
    if _connection is not None:
        _connection.close()
        _connection = None


def start_job(
    context: bpy.types.Context, kind: str, label: str, build: BuildRequest, source: str | None = None
) -> TextureJob:
    """Send a request (built on the worker from a session id) and make it the active job."""
    endpoint, token_file = connection_preferences(context)
    started = connection().start(endpoint, token_file, document.identity(), build)
    job = TextureJob(kind, label, started, source=source)
    HISTORY.begin(job)
    pump.watch()
    return job


def context_texture(context: bpy.types.Context) -> bpy.types.Image | None:
    """The texture to act on: the panel's choice, else the Image Editor's image, else the material's."""
    settings = context.scene.cocreate
    if settings.texture is not None:
        return settings.texture
    space = context.space_data
    if space is not None and space.type == "IMAGE_EDITOR" and space.image is not None:
        return space.image
    return document.base_color_image(context.active_object)


class _JobOperator:
    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return HISTORY.active is None


class COCREATE_OT_generate_texture(_JobOperator, bpy.types.Operator):
    """Make texture candidates from the prompt, tiling on the chosen axes"""

    bl_idname = "cocreate.generate_texture"
    bl_label = "Generate texture"
    bl_options = frozenset({"REGISTER"})

    def execute(self, context: bpy.types.Context) -> set[str]:
        s = context.scene.cocreate
        prompt, negative, size, seamless = s.prompt, s.negative_prompt, (s.width, s.height), s.seamless
        candidates, steps = s.candidates, s.steps

        def build(session_id: str) -> pb.GenerateRequest:  # runs on the connection's worker
            return tasks.texture(
                prompt,
                session_id=session_id,
                width=size[0],
                height=size[1],
                seamless=seamless,
                negative_prompt=negative,
                steps=steps,
                candidates=candidates,
                previews=True,
            )

        start_job(context, "texture", prompt.strip()[:40] or "texture", build)
        return {"FINISHED"}


class COCREATE_OT_repair_texture(_JobOperator, bpy.types.Operator):
    """Regenerate a region of the texture: selected faces' UV islands, transparent pixels or a painted mask"""

    bl_idname = "cocreate.repair_texture"
    bl_label = "Repair"
    bl_options = frozenset({"REGISTER"})

    def execute(self, context: bpy.types.Context) -> set[str]:
        s = context.scene.cocreate
        texture = context_texture(context)
        if texture is None:
            self.report({"ERROR"}, "Choose the texture to repair (or show it in the Image Editor).")
            return {"CANCELLED"}
        try:
            picture = document.read_image(texture)
            if s.mask_source == "faces":
                mask = document.selected_faces_mask(
                    context.active_object, picture.width, picture.height, whole_islands=s.whole_islands, margin=s.margin
                )
            elif s.mask_source == "alpha":
                mask = document.alpha_mask(picture)
            elif s.mask_image is None:
                raise DocumentError("Choose the mask image (white = regenerate).")
            else:
                mask = document.painted_mask(s.mask_image, picture.width, picture.height)
        except DocumentError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        if not any(mask.alpha):
            self.report({"ERROR"}, "The region to repair is empty.")
            return {"CANCELLED"}
        prompt, negative, seamless = s.fill_prompt, s.negative_prompt, s.seamless
        strength, candidates, steps = s.repair_strength, s.candidates, s.steps

        def build(session_id: str) -> pb.GenerateRequest:
            return tasks.texture(
                prompt,
                session_id=session_id,
                image=picture,
                mask=mask,
                seamless=seamless,
                negative_prompt=negative,
                strength=strength,
                steps=steps,
                candidates=candidates,
                previews=True,
            )

        start_job(context, "repair", f"{texture.name} repair", build, source=texture.name)
        return {"FINISHED"}


class COCREATE_OT_texture_variants(_JobOperator, bpy.types.Operator):
    """Make variants of the texture in the style of the prompt"""

    bl_idname = "cocreate.texture_variants"
    bl_label = "Variants"
    bl_options = frozenset({"REGISTER"})

    def execute(self, context: bpy.types.Context) -> set[str]:
        s = context.scene.cocreate
        texture = context_texture(context)
        if texture is None:
            self.report({"ERROR"}, "Choose the texture to vary (or show it in the Image Editor).")
            return {"CANCELLED"}
        try:
            picture = document.read_image(texture)
        except DocumentError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        style, negative, strength, candidates, steps = (
            s.style_prompt,
            s.negative_prompt,
            s.variant_strength,
            s.candidates,
            s.steps,
        )

        def build(session_id: str) -> pb.GenerateRequest:
            return tasks.variants(
                picture,
                session_id=session_id,
                style_prompt=style,
                negative_prompt=negative,
                strength=strength,
                steps=steps,
                candidates=candidates,
                previews=True,
            )

        start_job(context, "variants", f"{texture.name} variant", build, source=texture.name)
        return {"FINISHED"}


class COCREATE_OT_cancel(bpy.types.Operator):
    """Stop the running cocreate job; nothing it made is kept"""

    bl_idname = "cocreate.cancel"
    bl_label = "Cancel"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        # False when idle, so Esc (bound to this in the Window keymap) reaches everything else.
        return HISTORY.active is not None

    def execute(self, context: bpy.types.Context) -> set[str]:
        HISTORY.active.cancel()
        return {"FINISHED"}


class COCREATE_OT_show_candidate(bpy.types.Operator):
    """Show this candidate in the Image Editor"""

    bl_idname = "cocreate.show_candidate"
    bl_label = "Show"

    image: StringProperty(name="Image")

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return context.space_data is not None and context.space_data.type == "IMAGE_EDITOR"

    def execute(self, context: bpy.types.Context) -> set[str]:
        image = document.find_image(self.image)
        if image is None:
            return {"CANCELLED"}
        context.space_data.image = image
        return {"FINISHED"}


class COCREATE_OT_apply_to_material(bpy.types.Operator):
    """Use this image as the Base Color texture of the active object's material, packed into the .blend"""

    bl_idname = "cocreate.apply_to_material"
    bl_label = "Apply to material"
    bl_options = frozenset({"REGISTER", "UNDO"})

    image: StringProperty(name="Image", description="The image to apply; empty = the one shown in the Image Editor")

    def execute(self, context: bpy.types.Context) -> set[str]:
        space = context.space_data
        shown = space.image if space is not None and space.type == "IMAGE_EDITOR" else None
        image = document.find_image(self.image) if self.image else shown
        if image is None:
            self.report({"ERROR"}, "Choose the image to apply.")
            return {"CANCELLED"}
        try:
            material = document.apply_to_material(context.active_object, image)
        except DocumentError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        self.report({"INFO"}, f"{image.name} is the Base Color of {material.name}")
        try:
            decisions = document.choose_candidate(image)
            if decisions:
                connection().feedback(*connection_preferences(context), decisions)
        except Exception as error:  # the material is changed: telling the daemon must not undo the click
            log.exception("cocreate: could not send the artist's choice")
            self.report({"WARNING"}, f"The daemon was not told about the choice: {error}")
        return {"FINISHED"}


CLASSES = (
    COCREATE_OT_generate_texture,
    COCREATE_OT_repair_texture,
    COCREATE_OT_texture_variants,
    COCREATE_OT_cancel,
    COCREATE_OT_show_candidate,
    COCREATE_OT_apply_to_material,
)
