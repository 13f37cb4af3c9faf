"""The only module that reads or changes Blender data: images, mesh UVs, materials.

Everything above it speaks cocreate_client's Image and Mask (RGBA8, rows top-down); Blender's float
pixels with rows bottom-up stay in here. Each function is plain and synchronous, so the job pump, the
operators and the tests (real Blender and the bpy wheel) all call the same code.
"""

from __future__ import annotations

import time
import uuid
from array import array
from typing import TYPE_CHECKING

import bmesh
import bpy

from .cocreate_client import pixels
from .cocreate_client.pixels import Image, Mask
from .uv_mask import UVFaces, faces_to_mask

if TYPE_CHECKING:
    from .cocreate_client.client import Decision
    from .connection import Model


class DocumentError(Exception):
    """Blender data that cannot serve the request; the message tells the artist what to do."""


def identity() -> tuple[str, str]:
    """The .blend's (id, name) for its co-creation session: an id made on first use and saved with the file
    (so every new, unsaved file has its own session, and a file keeps its session when saved)."""
    settings = bpy.context.scene.cocreate
    if not settings.document_id:
        settings.document_id = uuid.uuid4().hex
    return settings.document_id, bpy.path.basename(bpy.data.filepath) or "untitled"


def adopt_lora(name: str) -> None:
    """A LoRA just trained: listed, and chosen for the next candidates."""
    known = bpy.context.window_manager.cocreate_loras
    if name not in known:
        known.add().name = name
    bpy.context.scene.cocreate.lora = name


def list_models(models: list[Model]) -> None:
    """The daemon's image models (with their family) and LoRAs, for the Model and LoRA fields' lists."""
    window_manager = bpy.context.window_manager
    window_manager.cocreate_models.clear()
    window_manager.cocreate_loras.clear()
    for model in models:
        if model.kind == "image":
            entry = window_manager.cocreate_models.add()
            entry.name, entry.family = model.name, model.family
        else:
            window_manager.cocreate_loras.add().name = model.name


def model_family(name: str) -> str:
    """The family of a listed image model ("" when the list does not hold it)."""
    entry = bpy.context.window_manager.cocreate_models.get(name)
    return entry.family if entry is not None else ""


# ---------------------------------------------------------------- images


def read_image(image: bpy.types.Image) -> Image:
    """The image's pixels as RGBA8, rows top-down (float images are taken as they are, not converted)."""
    width, height = image.size
    if width < 1 or height < 1 or image.channels != 4:  # Blender hands every image it reads to Python as RGBA
        raise DocumentError(f"The image {image.name!r} has no pixels Blender can read (is its file missing?).")
    values = array("f", bytes(4 * width * height * 4))
    image.pixels.foreach_get(values)
    return pixels.from_float_bottom_up(width, height, values)


def alpha_mask(image: Image) -> Mask:
    """Regenerate where the texture is transparent: mask = 255 - alpha."""
    return Mask(image.width, image.height, image.rgba[3::4].translate(bytes(range(255, -1, -1))))


def painted_mask(mask_image: bpy.types.Image, width: int, height: int) -> Mask:
    """A painted mask (white = regenerate) from its red channel; it must match the texture's size."""
    if tuple(mask_image.size) != (width, height):
        raise DocumentError(
            f"The mask {mask_image.name!r} is {mask_image.size[0]}×{mask_image.size[1]} but the texture is "
            f"{width}×{height}; paint the mask at the texture's size."
        )
    painted = read_image(mask_image)
    return Mask(width, height, painted.rgba[0::4])


def new_image(name: str, picture: Image) -> bpy.types.Image:
    """A new image holding `picture`, packed into the .blend so it survives saving and undo."""
    image = bpy.data.images.new(name, picture.width, picture.height, alpha=True)
    write_pixels(image, picture)
    image.pack()
    return image


def write_pixels(image: bpy.types.Image, picture: Image) -> None:
    if tuple(image.size) != (picture.width, picture.height):
        image.scale(picture.width, picture.height)
    image.pixels.foreach_set(pixels.to_float_bottom_up(picture))
    image.update()


def scratch_image(name: str, picture: Image) -> bpy.types.Image:
    """An unpacked image to show work in progress in, made or reused; remove it with `remove_image`."""
    image = bpy.data.images.get(name)
    if image is None:
        image = bpy.data.images.new(name, picture.width, picture.height, alpha=True)
    write_pixels(image, picture)
    return image


def find_image(name: str) -> bpy.types.Image | None:
    return bpy.data.images.get(name)


def remove_image(name: str) -> None:
    image = bpy.data.images.get(name)
    if image is not None:
        bpy.data.images.remove(image)


def show_image(image: bpy.types.Image, *, instead_of: str | None = None) -> None:
    """Show `image` in every Image Editor (only those showing `instead_of`, when given)."""
    for window in bpy.context.window_manager.windows:
        for area in window.screen.areas:
            for space in area.spaces:
                if space.type == "IMAGE_EDITOR" and (
                    instead_of is None or (space.image is not None and space.image.name == instead_of)
                ):
                    space.image = image


# ---------------------------------------------------------------- candidates and the artist's choice

# Custom properties on a candidate image: saved with the .blend, so the choice can be made after a reload.
CANDIDATE_ID = "cocreate_candidate_id"  # the daemon's candidate
TURN_ID = "cocreate_turn_id"  # the job (turn) that made it: its siblings share it
DECISION = "cocreate_decision"  # "accepted" or "rejected" once told to the daemon; absent before
MADE = "cocreate_made"  # when it landed (seconds since the epoch): the newest turn's candidates are listed


def mark_candidate(image: bpy.types.Image, candidate_id: str, turn_id: str) -> None:
    """Tag a candidate image; it keeps a fake user, so it is saved with the .blend before anything uses it."""
    image[CANDIDATE_ID] = candidate_id
    image[TURN_ID] = turn_id
    image[MADE] = time.time()
    image.use_fake_user = True


def latest_candidates() -> list[bpy.types.Image]:
    """The candidate images of the newest turn in this file (a reopened file's too), in their order."""
    tagged = [image for image in bpy.data.images if image.get(TURN_ID) and image.get(CANDIDATE_ID)]
    if not tagged:
        return []
    newest = max(tagged, key=lambda image: image.get(MADE, 0.0))[TURN_ID]
    return sorted((image for image in tagged if image[TURN_ID] == newest), key=lambda image: image.get(MADE, 0.0))


def choose_candidate(image: bpy.types.Image) -> list[tuple[str, Decision]]:
    """The artist kept `image`: record it as accepted and its undecided siblings as rejected.

    Returns the decisions that are new, for the daemon: none when `image` is no candidate or was
    accepted already; a sibling rejected before is not sent again, one accepted before stays accepted.
    """
    candidate_id = image.get(CANDIDATE_ID)
    if not candidate_id or image.get(DECISION) == "accepted":
        return []
    image[DECISION] = "accepted"
    decisions: list[tuple[str, Decision]] = [(candidate_id, "accepted")]
    turn_id = image.get(TURN_ID)
    for sibling in bpy.data.images:
        sibling_id = sibling.get(CANDIDATE_ID)
        undecided = sibling_id not in (None, candidate_id) and not sibling.get(DECISION)
        if undecided and turn_id and sibling.get(TURN_ID) == turn_id:
            sibling[DECISION] = "rejected"
            decisions.append((sibling_id, "rejected"))
    return decisions


# ---------------------------------------------------------------- meshes


def uv_faces(obj: bpy.types.Object | None) -> UVFaces:
    """The active UV map's faces of a mesh object, with the selection made in Edit Mode."""
    if obj is None or obj.type != "MESH":
        raise DocumentError("Make a mesh the active object: its selected faces give the region to repair.")
    # In Edit Mode the mesh's own UV data is empty until Blender leaves it; the edit mesh is current.
    editing = obj.mode == "EDIT"
    mesh = bmesh.from_edit_mesh(obj.data) if editing else bmesh.new()
    try:
        if not editing:
            mesh.from_mesh(obj.data)
        uv_layer = mesh.loops.layers.uv.active
        if uv_layer is None:
            raise DocumentError(f"{obj.name!r} has no UV map; unwrap it first (U in Edit Mode).")
        return UVFaces(
            vertices=[[loop.vert.index for loop in face.loops] for face in mesh.faces],
            uvs=[[tuple(loop[uv_layer].uv) for loop in face.loops] for face in mesh.faces],
            selected=[face.select for face in mesh.faces],
        )
    finally:
        if not editing:
            mesh.free()


def selected_faces_mask(
    obj: bpy.types.Object | None, width: int, height: int, *, whole_islands: bool, margin: int
) -> Mask:
    """The selected faces' UV islands (or just the faces) rasterised at the texture's size."""
    faces = uv_faces(obj)
    if not any(faces.selected):
        raise DocumentError(f"No face of {obj.name!r} is selected; select the faces to repair in Edit Mode.")
    return Mask(width, height, faces_to_mask(faces, width, height, whole_islands=whole_islands, margin=margin))


# ---------------------------------------------------------------- materials

PROJECTION_NODE = "cocreate projection"  # the Image Texture node a projected candidate feeds Base Color from


def apply_to_material(obj: bpy.types.Object | None, image: bpy.types.Image) -> bpy.types.Material:
    """Make `image`, packed, the Base Color texture of the Principled BSDF in the object's active material.

    A missing material, node tree, Principled BSDF or Image Texture node is created; an Image
    Texture already feeding Base Color gets the new image, so the rest of the material stays as it was.
    """
    material, bsdf = principled_material(obj)
    nodes, links = material.node_tree.nodes, material.node_tree.links
    base_color = bsdf.inputs["Base Color"]
    feeding = base_color.links[0].from_node if base_color.is_linked else None
    # A projection's node reads its image through the view's UV map: a plain texture gets a node of its own.
    reusable = feeding is not None and feeding.type == "TEX_IMAGE" and feeding.name != PROJECTION_NODE
    texture = feeding if reusable else None
    if texture is None:
        texture = nodes.new("ShaderNodeTexImage")
        texture.location = (bsdf.location.x - 300, bsdf.location.y)
        links.new(texture.outputs["Color"], base_color)
    if image.packed_file is None:
        image.pack()
    texture.image = image
    nodes.active = texture  # the texture Blender shows and paints on
    return material


def principled_material(obj: bpy.types.Object | None) -> tuple[bpy.types.Material, bpy.types.Node]:
    """The object's active material and its Principled BSDF, each made (and linked up) when missing."""
    if obj is None or not hasattr(obj.data, "materials"):
        raise DocumentError("Make an object that can hold materials (a mesh, say) the active object.")
    material = obj.active_material
    if material is None:
        material = bpy.data.materials.new(f"{obj.name} texture")
        if obj.material_slots:
            obj.active_material = material
        else:
            obj.data.materials.append(material)
    if bpy.app.version < (5, 0, 0):
        material.use_nodes = True  # always on from Blender 5, where the switch is deprecated
    nodes, links = material.node_tree.nodes, material.node_tree.links
    bsdf = next((node for node in nodes if node.type == "BSDF_PRINCIPLED"), None)
    if bsdf is None:
        bsdf = nodes.new("ShaderNodeBsdfPrincipled")
        output = next((n for n in nodes if n.type == "OUTPUT_MATERIAL" and n.is_active_output), None)
        if output is None:
            output = nodes.new("ShaderNodeOutputMaterial")
            output.location = (bsdf.location.x + 300, bsdf.location.y)
        links.new(bsdf.outputs["BSDF"], output.inputs["Surface"])
    return material, bsdf


def base_color_image(obj: bpy.types.Object | None) -> bpy.types.Image | None:
    """The image feeding the active material's Base Color, if any (what the Shader Editor panels act on)."""
    material = obj.active_material if obj is not None else None
    if material is None or material.node_tree is None:
        return None
    for node in material.node_tree.nodes:
        if node.type == "BSDF_PRINCIPLED" and node.inputs["Base Color"].is_linked:
            source = node.inputs["Base Color"].links[0].from_node
            if source.type == "TEX_IMAGE":
                return source.image
    return None
