"""Project texture: the selected objects' depth and normals seen through a camera or the 3D View, and the
chosen candidate laid back onto their meshes through that same view.

The maps are ray cast against the objects' evaluated meshes with mathutils' BVH tree rather than
rendered: no render engine, GPU or window is needed, so background Blender (tests, a render farm)
makes exactly what the UI makes. Applying a candidate adds a UV map projected from the view (what
UV ▸ Project from View makes, computed here without a 3D View) and wires the image through it into
the Principled BSDF's Base Color. The candidate is not baked into the artist's own texture: the
projection stays non-destructive and one undo takes it back; Blender's Bake moves it onto another UV
map when wanted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import bmesh
import bpy
from mathutils import Matrix, Vector
from mathutils.bvhtree import BVHTree

from . import document
from .cocreate_client.pixels import Image
from .document import DocumentError

SIZE_MULTIPLE = 8  # the canvas sides: what every image family paints without rounding
FARTHEST_GREY = 32  # depth: the nearest hit is white, the farthest this grey; nothing hit is black
MAX_UV_MAPS = 8  # Blender's limit per mesh

# Custom properties on a projected candidate image, saved with the .blend: applying it after a reload still projects.
VIEW_MATRIX = "cocreate_projection"  # the view's clip-from-world matrix, 16 floats, row by row
OBJECTS = "cocreate_projected_objects"  # the objects it was made for, one name per line
UV_MAP = "cocreate_uv_map"  # the name of the UV map it is laid on through
UV_PREFIX = "cocreate view "  # a projection's UV map: this and the start of its turn id

UV_NODE = "cocreate projection UV"


@dataclass(frozen=True)
class View:
    """A camera or 3D View at the size of the canvas painted through it."""

    world_to_view: Matrix  # into the camera's space: it looks down -z
    view_to_clip: Matrix  # its projection (perspective or orthographic)
    width: int
    height: int

    @property
    def world_to_clip(self) -> Matrix:
        return self.view_to_clip @ self.world_to_view


@dataclass(frozen=True)
class Projection:
    """What a projected candidate needs to be laid onto the meshes: the view and the objects."""

    world_to_clip: Matrix
    objects: tuple[str, ...]


@dataclass(frozen=True)
class Maps:
    depth: Image  # grey, near = white (the convention of depth ControlNets)
    normal: Image  # view-space normals: x right = red, y up = green, toward the viewer = blue
    covered: int  # pixels that see one of the objects


def canvas_size(aspect: float, long_side: int) -> tuple[int, int]:
    """Width and height with the view's aspect, the longer side `long_side`, both multiples of 8."""

    def side(length: float) -> int:
        return max(SIZE_MULTIPLE, round(length / SIZE_MULTIPLE) * SIZE_MULTIPLE)

    return (side(long_side), side(long_side / aspect)) if aspect >= 1 else (side(long_side * aspect), side(long_side))


def camera_view(scene: bpy.types.Scene, depsgraph: bpy.types.Depsgraph, long_side: int) -> View:
    """The scene camera's view, with the aspect of the scene's render size."""
    camera = scene.camera
    if camera is None:
        raise DocumentError("Add a camera to the scene (or run Project texture from a 3D View).")
    render = scene.render
    aspect = render.resolution_x * render.pixel_aspect_x / (render.resolution_y * render.pixel_aspect_y)
    width, height = canvas_size(aspect, long_side)
    to_clip = camera.calc_matrix_camera(depsgraph, x=width, y=height)
    return View(camera.matrix_world.inverted(), to_clip, width, height)


def viewport_view(region: bpy.types.Region, region_3d: bpy.types.RegionView3D, long_side: int) -> View:
    """What a 3D View shows, with the aspect of its region."""
    width, height = canvas_size(region.width / max(region.height, 1), long_side)
    return View(region_3d.view_matrix.copy(), region_3d.window_matrix.copy(), width, height)


def context_view(context: bpy.types.Context, long_side: int) -> View:
    """Through the 3D View the operator runs in unless it looks through the camera; the camera otherwise."""
    region_3d = context.region_data if context.space_data and context.space_data.type == "VIEW_3D" else None
    if region_3d is not None and region_3d.view_perspective != "CAMERA" and context.region is not None:
        return viewport_view(context.region, region_3d, long_side)
    return camera_view(context.scene, context.evaluated_depsgraph_get(), long_side)


def targets(context: bpy.types.Context) -> list[bpy.types.Object]:
    """The selected meshes (the active one when none is selected)."""
    chosen = [obj for obj in context.selected_objects if obj.type == "MESH"]
    active = context.active_object
    if not chosen and active is not None and active.type == "MESH":
        chosen = [active]
    if not chosen:
        raise DocumentError("Select the meshes to texture.")
    return chosen


def render_maps(objects: Sequence[bpy.types.Object], view: View, depsgraph: bpy.types.Depsgraph) -> Maps:
    """Depth and normal maps of `objects` alone, one ray per canvas pixel centre."""
    tree = world_tree(objects, depsgraph)
    to_world = view.world_to_clip.inverted()
    rotation = view.world_to_view.to_3x3()
    width, height = view.width, view.height
    depths: list[float | None] = []
    normals: list[Vector | None] = []
    for row in range(height):  # top-down, as Image rows run
        y = 1 - (row + 0.5) / height * 2
        for column in range(width):
            x = (column + 0.5) / width * 2 - 1
            near, far = to_world @ Vector((x, y, -1, 1)), to_world @ Vector((x, y, 1, 1))
            origin = near.xyz / near.w
            direction = far.xyz / far.w - origin
            location, normal, _, _ = tree.ray_cast(origin, direction, direction.length)
            if location is None:
                depths.append(None)
                normals.append(None)
                continue
            depths.append(-(view.world_to_view @ location).z)
            seen = rotation @ normal
            if seen.dot(rotation @ direction) > 0:  # the back of a face: it faces the viewer from this side
                seen.negate()
            normals.append(seen.normalized())
    return Maps(
        _depth_image(width, height, depths), _normal_image(width, height, normals), len(depths) - depths.count(None)
    )


def world_tree(objects: Sequence[bpy.types.Object], depsgraph: bpy.types.Depsgraph) -> BVHTree:
    """The objects' evaluated faces in world space, for rays."""
    vertices: list[Vector] = []
    polygons: list[tuple[int, ...]] = []
    for obj in objects:
        evaluated = obj.evaluated_get(depsgraph)
        mesh = evaluated.to_mesh()
        try:
            offset = len(vertices)
            vertices += [evaluated.matrix_world @ vertex.co for vertex in mesh.vertices]
            polygons += [tuple(offset + index for index in polygon.vertices) for polygon in mesh.polygons]
        finally:
            evaluated.to_mesh_clear()
    if not polygons:
        raise DocumentError("The selected meshes have no faces to texture.")
    return BVHTree.FromPolygons(vertices, polygons)


def _depth_image(width: int, height: int, depths: list[float | None]) -> Image:
    hits = [depth for depth in depths if depth is not None]
    near, far = (min(hits), max(hits)) if hits else (0.0, 0.0)
    scale = (255 - FARTHEST_GREY) / (far - near) if far > near else 0.0
    rgba = bytearray()
    for depth in depths:
        grey = 0 if depth is None else round(255 - (depth - near) * scale)
        rgba += bytes((grey, grey, grey, 255))
    return Image(width, height, bytes(rgba))


def _normal_image(width: int, height: int, normals: list[Vector | None]) -> Image:
    rgba = bytearray()
    for normal in normals:
        if normal is None:
            rgba += b"\x00\x00\x00\xff"
        else:
            rgba += bytes((*(min(255, max(0, round((c + 1) * 127.5))) for c in normal), 255))
    return Image(width, height, bytes(rgba))


# ---------------------------------------------------------------- laying a candidate on


def mark(image: bpy.types.Image, projection: Projection, turn_id: str) -> None:
    """Tag a candidate with the view and objects it was painted for (its siblings share the UV map)."""
    image[VIEW_MATRIX] = [value for row in projection.world_to_clip for value in row]
    image[OBJECTS] = "\n".join(projection.objects)
    image[UV_MAP] = f"{UV_PREFIX}{turn_id[:8]}"


def is_projected(image: bpy.types.Image) -> bool:
    return VIEW_MATRIX in image and OBJECTS in image


def stored_matrix(image: bpy.types.Image) -> Matrix:
    """The clip-from-world matrix of the view a projected candidate was painted through."""
    values = list(image[VIEW_MATRIX])
    return Matrix([values[i : i + 4] for i in range(0, 16, 4)])


def apply(image: bpy.types.Image) -> list[bpy.types.Material]:
    """Lay the candidate onto each object it was made for: a UV map from its view, and the material's
    Base Color fed by the image through that UV map. Returns the materials, in the objects' order."""
    world_to_clip = stored_matrix(image)
    names = image[OBJECTS].split("\n")
    missing = [name for name in names if name not in bpy.data.objects]
    if missing:
        raise DocumentError(f"{', '.join(map(repr, missing))} no longer exist; project the texture again.")
    uv_map = image[UV_MAP]
    materials = []
    for name in names:
        obj = bpy.data.objects[name]
        project_uvs(obj, world_to_clip, uv_map)
        materials.append(_wire(obj, image, uv_map))
    return materials


def applied_image(obj: bpy.types.Object | None) -> bpy.types.Image | None:
    """The projected candidate the object's material shows, if any."""
    material = obj.active_material if obj is not None else None
    node = material.node_tree.nodes.get(document.PROJECTION_NODE) if material and material.node_tree else None
    return node.image if node is not None else None


def project_uvs(obj: bpy.types.Object, world_to_clip: Matrix, name: str) -> None:
    """Make (or remake) UV map `name`: each corner where the view sees it, (0, 0) bottom left to (1, 1) top right."""
    if name not in obj.data.uv_layers and len(obj.data.uv_layers) >= MAX_UV_MAPS:
        raise DocumentError(
            f"{obj.name!r} has {MAX_UV_MAPS} UV maps, Blender's most; remove one to project another view."
        )
    to_clip = world_to_clip @ obj.matrix_world
    # In Edit Mode the edit mesh is current and the mesh's own data is overwritten on leaving it.
    editing = obj.mode == "EDIT"
    mesh = bmesh.from_edit_mesh(obj.data) if editing else bmesh.new()
    try:
        if not editing:
            mesh.from_mesh(obj.data)
        layer = mesh.loops.layers.uv.get(name) or mesh.loops.layers.uv.new(name)
        for vertex in mesh.verts:
            clip = to_clip @ vertex.co.to_4d()
            uv = ((clip.x / clip.w + 1) / 2, (clip.y / clip.w + 1) / 2) if clip.w > 0 else (0.0, 0.0)  # w ≤ 0: behind
            for loop in vertex.link_loops:
                loop[layer].uv = uv
        if editing:
            bmesh.update_edit_mesh(obj.data)
        else:
            mesh.to_mesh(obj.data)
    finally:
        if not editing:
            mesh.free()


def _wire(obj: bpy.types.Object, image: bpy.types.Image, uv_map: str) -> bpy.types.Material:
    """Base Color ← the projection's Image Texture ← a UV Map node naming `uv_map`.

    The node that fed Base Color before stays in the material, unlinked, for the artist to go back to."""
    material, bsdf = document.principled_material(obj)
    nodes, links = material.node_tree.nodes, material.node_tree.links
    texture = nodes.get(document.PROJECTION_NODE) or nodes.new("ShaderNodeTexImage")
    texture.name = texture.label = document.PROJECTION_NODE
    texture.location = (bsdf.location.x - 300, bsdf.location.y - 300)
    texture.extension = "EXTEND"  # faces beyond the view's edges take the nearest edge pixel, not black
    uv_node = nodes.get(UV_NODE) or nodes.new("ShaderNodeUVMap")
    uv_node.name = uv_node.label = UV_NODE
    uv_node.location = (texture.location.x - 250, texture.location.y)
    uv_node.uv_map = uv_map
    links.new(uv_node.outputs["UV"], texture.inputs["Vector"])
    links.new(texture.outputs["Color"], bsdf.inputs["Base Color"])
    if image.packed_file is None:
        image.pack()
    texture.image = image
    nodes.active = texture
    return material
