"""The buttons: start a job (texture, repair, variants), cancel it, show a candidate, apply one, steer
from candidates (more like, less like, in between), learn the artist's style, list the daemon's LoRAs.

Starting reads what it needs from Blender (pixels, masks) on the main thread, hands the rest to the
connection's worker and returns at once; the pump takes it from there. Only `Apply to material`
changes Blender data at click time, so it is the operator that registers an undo step; the
candidate images get theirs when they arrive (pump.py). Applying a candidate also tells the daemon,
on the connection's worker, that the artist accepted it and rejected its undecided siblings.
"""

import logging
from concurrent.futures import Future

import bpy
from bpy.props import EnumProperty, StringProperty

from . import bake, document, projection, pump
from .cocreate_client import tasks
from .cocreate_client.convert import image_fields
from .cocreate_client.pb import cocreate_pb2 as pb
from .connection import BuildRequest, Connection, Model
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
    context: bpy.types.Context,
    kind: str,
    label: str,
    build: BuildRequest,
    source: str | None = None,
    skipped: frozenset[int] = frozenset(),
    projected: projection.Projection | None = None,
) -> TextureJob:
    """Send a request (built on the worker from a session id) and make it the active job."""
    endpoint, token_file = connection_preferences(context)
    started = connection().start(endpoint, token_file, document.identity(), build)
    job = TextureJob(
        kind,
        label,
        started,
        source=source,
        build=build,  # type: ignore[arg-type]
        skipped=skipped,
        projected=projected,
    )
    HISTORY.begin(job)
    pump.watch()
    return job


def with_lora(context: bpy.types.Context, build: BuildRequest) -> BuildRequest:
    """`build` naming the LoRA chosen in the panel, if any."""
    lora = context.scene.cocreate.lora.strip()
    return (lambda session_id: tasks.steered(build(session_id), lora=lora)) if lora else build  # type: ignore[arg-type]


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
        build = texture_request(context, s.width, s.height, s.seamless)
        start_job(context, "texture", s.prompt.strip()[:40] or "texture", build)
        return {"FINISHED"}


def texture_request(
    context: bpy.types.Context, width: int, height: int, seamless: str, controls: tuple[pb.Control, ...] = ()
) -> BuildRequest:
    """A texture request from the panel's prompt, candidates, steps, model and LoRA, read now (main thread)."""
    s = context.scene.cocreate
    prompt, negative, candidates, steps, model = s.prompt, s.negative_prompt, s.candidates, s.steps, s.model.strip()

    def build(session_id: str) -> pb.GenerateRequest:  # runs on the connection's worker
        request = tasks.texture(
            prompt,
            session_id=session_id,
            width=width,
            height=height,
            seamless=seamless,  # type: ignore[arg-type]
            negative_prompt=negative,
            steps=steps,
            candidates=candidates,
            previews=True,
            model=model,
        )
        request.controls.extend(controls)
        return request

    return with_lora(context, build)


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
        strength, candidates, steps, model = s.repair_strength, s.candidates, s.steps, s.model.strip()

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
                model=model,
            )

        start_job(context, "repair", f"{texture.name} repair", with_lora(context, build), source=texture.name)
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
        style, negative, strength, candidates, steps, model = (
            s.style_prompt,
            s.negative_prompt,
            s.variant_strength,
            s.candidates,
            s.steps,
            s.model.strip(),
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
                model=model,
            )

        start_job(context, "variants", f"{texture.name} variant", with_lora(context, build), source=texture.name)
        return {"FINISHED"}


class COCREATE_OT_project_texture(_JobOperator, bpy.types.Operator):
    """Paint the selected meshes from the prompt as the camera (or this 3D View) sees them, following their depth"""

    bl_idname = "cocreate.project_texture"
    bl_label = "Project texture"
    bl_options = frozenset({"REGISTER"})

    def execute(self, context: bpy.types.Context) -> set[str]:
        s = context.scene.cocreate
        try:
            objects = projection.targets(context)
            view = projection.context_view(context, s.projection_size)
            maps = projection.render_maps(objects, view, context.evaluated_depsgraph_get())
        except DocumentError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        if not maps.covered:
            self.report({"ERROR"}, "The selected meshes are out of view: aim the camera (or the view) at them.")
            return {"CANCELLED"}
        controls = [pb.Control(kind=pb.CONTROL_DEPTH, image=image_fields(maps.depth), strength=s.depth_strength)]
        if s.follow_normals:
            controls.append(pb.Control(kind=pb.CONTROL_NORMAL, image=image_fields(maps.normal)))
        build = texture_request(context, view.width, view.height, "none", tuple(controls))
        projected = projection.Projection(view.world_to_clip, tuple(obj.name for obj in objects))
        start_job(context, "project", s.prompt.strip()[:40] or "projection", build, projected=projected)
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
    """Use this image as the Base Color texture of the active object's material, packed into the .blend
    (a projected candidate: of the meshes it was painted for, through a UV map projected from its view)"""

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
            if projection.is_projected(image):
                materials = projection.apply(image)
            else:
                materials = [document.apply_to_material(context.active_object, image)]
        except DocumentError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        self.report({"INFO"}, f"{image.name} is the Base Color of {', '.join(m.name for m in materials)}")
        try:
            decisions = document.choose_candidate(image)
            if decisions:
                connection().feedback(*connection_preferences(context), decisions)
        except Exception as error:  # the material is changed: telling the daemon must not undo the click
            log.exception("cocreate: could not send the artist's choice")
            self.report({"WARNING"}, f"The daemon was not told about the choice: {error}")
        return {"FINISHED"}


class COCREATE_OT_bake_projection(bpy.types.Operator):
    """Bake the projected candidate into the active object's own texture, on its own UV map, where the view sees it"""

    bl_idname = "cocreate.bake_projection"
    bl_label = "Bake into texture"
    bl_options = frozenset({"REGISTER", "UNDO"})

    image: StringProperty(name="Image", description="The projected candidate; empty = the one applied to the object")

    def execute(self, context: bpy.types.Context) -> set[str]:
        obj = context.active_object
        image = document.find_image(self.image) if self.image else projection.applied_image(obj)
        if image is None:
            self.report({"ERROR"}, "Apply a projected candidate to the active object first.")
            return {"CANCELLED"}
        try:
            texture = bake.bake(obj, image)
        except DocumentError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        self.report({"INFO"}, f"{image.name} is baked into {texture.name}")
        return {"FINISHED"}


# ---------------------------------------------------------------- steering from candidates

PICKED: list[str] = []  # the candidate images picked for In between, oldest first (two at most)
STEERED = {"more": "more like", "less": "less like", "between": "between"}


def steer(context: bpy.types.Context, how: str, images: list[bpy.types.Image]) -> TextureJob:
    """Ask again what the candidates' job asked, steered toward them, away from them, or between two.

    Raises DocumentError when the job that made them is not known any more (the file was reopened since)."""
    ids = [image.get(document.CANDIDATE_ID, "") for image in images]
    turn_id = images[0].get(document.TURN_ID, "")
    made = HISTORY.of_turn(turn_id)
    if not all(ids) or made is None or made.build is None:
        raise DocumentError(
            "Steering works on candidates made since this file was opened: make new ones, then steer from them."
        )
    original = made.build
    count = context.scene.cocreate.candidates
    extra = 2 if how == "between" else 0  # an interpolation's ends are the two candidates: no new image

    def build(session_id: str) -> pb.GenerateRequest:
        request = original(session_id)
        request.parent_turn_id = turn_id  # the session's tree: these grew from that turn
        request.candidates = count + extra
        named = {"more": request.more_like, "less": request.less_like, "between": request.interpolate}
        for field in named.values():  # a steered job's own steering gives way to this one's
            del field[:]
        named[how].extend(ids)
        return request

    skipped = frozenset({0, count + 1}) if how == "between" else frozenset()
    label = f"{made.label} {STEERED[how]}"
    return start_job(context, STEERED[how], label, build, source=made.source, skipped=skipped, projected=made.projected)


class COCREATE_OT_steer(_JobOperator, bpy.types.Operator):
    """New candidates like this one, or unlike it"""

    bl_idname = "cocreate.steer"
    bl_label = "More or less like this"

    image: StringProperty(name="Image")
    how: EnumProperty(
        name="How",
        items=(("more", "More like this", "Toward this candidate"), ("less", "Less like this", "Away from it")),
    )

    def execute(self, context: bpy.types.Context) -> set[str]:
        image = document.find_image(self.image)
        if image is None:
            return {"CANCELLED"}
        try:
            steer(context, self.how, [image])
        except DocumentError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        return {"FINISHED"}


class COCREATE_OT_pick_candidate(bpy.types.Operator):
    """Pick this candidate (or drop it) for In between: the newest two picked are its ends"""

    bl_idname = "cocreate.pick_candidate"
    bl_label = "Pick"

    image: StringProperty(name="Image")

    def execute(self, context: bpy.types.Context) -> set[str]:
        if self.image in PICKED:
            PICKED.remove(self.image)
        else:
            PICKED.append(self.image)
            del PICKED[:-2]
        return {"FINISHED"}


class COCREATE_OT_between(_JobOperator, bpy.types.Operator):
    """New candidates on the way from one picked candidate to the other"""

    bl_idname = "cocreate.between"
    bl_label = "In between"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return super().poll(context) and len(picked_images()) == 2

    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            steer(context, "between", picked_images())
        except DocumentError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        PICKED.clear()
        return {"FINISHED"}


def picked_images() -> list[bpy.types.Image]:
    return [image for name in PICKED if (image := document.find_image(name)) is not None]


# ---------------------------------------------------------------- personal LoRAs


class COCREATE_OT_personalize(_JobOperator, bpy.types.Operator):
    """Train a personal LoRA on the candidates applied in this file's session, for the next candidates"""

    bl_idname = "cocreate.personalize"
    bl_label = "Learn my style"

    def execute(self, context: bpy.types.Context) -> set[str]:
        s = context.scene.cocreate
        name, steps, model = s.lora_name.strip(), s.training_steps, s.model.strip()
        if not name:
            self.report({"ERROR"}, "Name the LoRA first.")
            return {"CANCELLED"}
        start_job(
            context,
            "personalize",
            name,
            lambda session_id: tasks.personalize(session_id, name, model=model, steps=steps),
        )
        return {"FINISHED"}


_listing: Future[list[Model]] | None = None  # the daemon's models and LoRAs, on their way


class COCREATE_OT_refresh_models(bpy.types.Operator):
    """Ask the daemon which image models and LoRAs it has, for the Model and LoRA fields' lists"""

    bl_idname = "cocreate.refresh_models"
    bl_label = "Refresh models"

    def execute(self, context: bpy.types.Context) -> set[str]:
        global _listing
        _listing = connection().models(*connection_preferences(context))
        if not bpy.app.timers.is_registered(models_arrived):
            bpy.app.timers.register(models_arrived, first_interval=0.1)
        return {"FINISHED"}


def models_arrived() -> float | None:
    """Timer: once the list came, show it (main thread); tests call it directly, as timers do not run headless."""
    global _listing
    if _listing is None:
        return None
    if not _listing.done():
        return 0.1
    listing, _listing = _listing, None
    try:
        document.list_models(listing.result())
    except Exception as error:  # no daemon: the fields still take a typed name
        log.warning("cocreate: could not list the daemon's models: %s", error)
    return None


CLASSES = (
    COCREATE_OT_generate_texture,
    COCREATE_OT_repair_texture,
    COCREATE_OT_texture_variants,
    COCREATE_OT_project_texture,
    COCREATE_OT_cancel,
    COCREATE_OT_show_candidate,
    COCREATE_OT_apply_to_material,
    COCREATE_OT_bake_projection,
    COCREATE_OT_steer,
    COCREATE_OT_pick_candidate,
    COCREATE_OT_between,
    COCREATE_OT_personalize,
    COCREATE_OT_refresh_models,
)
