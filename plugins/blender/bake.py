"""Bake a projected candidate into the object's own texture, on its own UV map: what a 3D artist does after
projecting one view, before projecting the next.

Each texel of the texture whose surface point the candidate's view sees (nothing of the projected
objects in front of it) takes the candidate's pixel there; every other texel keeps what it had,
so views baked one after another add up. Plain Python over the mesh's triangles: no render engine.
"""

from __future__ import annotations

from array import array

import bpy
from mathutils import Matrix, Vector
from mathutils.bvhtree import BVHTree
from mathutils.geometry import barycentric_transform

from . import document, projection
from .cocreate_client.pixels import Image
from .document import DocumentError

BAKED = " baked"  # the baked image's name: its texture's (baking again does not grow it)
VISIBLE_TOLERANCE = 1e-3  # a ray that stops this close to the texel's point (relative) reached it


def bake(obj: bpy.types.Object, candidate: bpy.types.Image) -> bpy.types.Image:
    """Bake `candidate` (a projected candidate made for `obj`) into the object's texture; returns the baked image.

    The texture is the image of the material's own Image Texture node (none: a blank one), read through
    the mesh's render UV map. The baked result is a new packed image that the node then shows, feeding
    Base Color again: the texture it started from is left as it was, so one undo goes back to it."""
    if not projection.is_projected(candidate) or obj.name not in candidate[projection.OBJECTS].split("\n"):
        raise DocumentError(f"{candidate.name!r} was not projected onto {obj.name!r}; project it first.")
    uv_name = _own_uv_map(obj)
    picture = document.read_image(candidate)
    material, bsdf = document.principled_material(obj)
    texture = _own_texture_node(material, bsdf)
    source = texture.image
    side = max(picture.width, picture.height)
    width, height = tuple(source.size) if source is not None else (side, side)
    values = array("f", bytes(4 * width * height * 4))
    if source is not None:
        if width < 1 or height < 1 or source.channels != 4:
            raise DocumentError(f"The texture {source.name!r} has no pixels Blender can read (is its file missing?).")
        source.pixels.foreach_get(values)
    world_to_clip = projection.stored_matrix(candidate)
    seen = _objects_tree(candidate[projection.OBJECTS].split("\n"))
    _bake_mesh(obj, uv_name, world_to_clip, seen, picture, values, width, height)
    name = source.name.removesuffix(BAKED) if source is not None else material.name
    baked = bpy.data.images.new(name + BAKED, width, height, alpha=True)
    baked.pixels.foreach_set(values)
    baked.update()
    baked.pack()
    texture.image = baked
    material.node_tree.links.new(texture.outputs["Color"], bsdf.inputs["Base Color"])
    material.node_tree.nodes.active = texture
    return baked


def _own_uv_map(obj: bpy.types.Object) -> str:
    """The UV map the artist unwrapped: the render one, unless that is a projection's."""
    layers = obj.data.uv_layers
    own = [layer for layer in layers if not layer.name.startswith(projection.UV_PREFIX)]
    if not own:
        raise DocumentError(f"{obj.name!r} has no UV map of its own to bake into; unwrap it first (U in Edit Mode).")
    render = next((layer for layer in own if layer.active_render), own[0])
    return render.name


def _own_texture_node(material: bpy.types.Material, bsdf: bpy.types.Node) -> bpy.types.Node:
    """The material's Image Texture other than the projection's (the one with an image first); a new one if none."""
    own = [
        node for node in material.node_tree.nodes if node.type == "TEX_IMAGE" and node.name != document.PROJECTION_NODE
    ]
    texture = next((node for node in own if node.image is not None), own[0] if own else None)
    if texture is None:
        texture = material.node_tree.nodes.new("ShaderNodeTexImage")
        texture.location = (bsdf.location.x - 300, bsdf.location.y)
    return texture


def _objects_tree(names: list[str]) -> BVHTree:
    """The projected objects in world space, for what hides what from the view."""
    depsgraph = bpy.context.evaluated_depsgraph_get()
    objects = [bpy.data.objects[name] for name in names if name in bpy.data.objects]
    return projection.world_tree(objects, depsgraph)


def _bake_mesh(
    obj: bpy.types.Object,
    uv_name: str,
    world_to_clip: Matrix,
    seen: BVHTree,
    picture: Image,
    values: array[float],
    width: int,
    height: int,
) -> None:
    mesh = obj.data
    mesh.calc_loop_triangles()
    uvs = mesh.uv_layers[uv_name].data
    to_world = obj.matrix_world
    clip_to_world = world_to_clip.inverted()
    colours = picture.rgba
    for triangle in mesh.loop_triangles:
        corners = [to_world @ mesh.vertices[v].co for v in triangle.vertices]
        texels = [Vector((*uvs[loop].uv * Vector((width, height)), 0.0)) for loop in triangle.loops]
        xs, ys = [t.x for t in texels], [t.y for t in texels]
        for row in range(max(0, int(min(ys))), min(height, int(max(ys)) + 1)):
            for column in range(max(0, int(min(xs))), min(width, int(max(xs)) + 1)):
                centre = Vector((column + 0.5, row + 0.5, 0.0))
                if not _inside(centre, texels):
                    continue
                point = barycentric_transform(centre, *texels, *corners)
                pixel = _seen_pixel(point, world_to_clip, clip_to_world, seen, picture)
                if pixel is not None:
                    start = 4 * (row * width + column)  # Blender's rows run bottom-up, as v does
                    values[start : start + 4] = array("f", (colours[pixel + c] / 255 for c in range(4)))


def _inside(point: Vector, corners: list[Vector]) -> bool:
    """Whether `point` lies in the 2D triangle (either winding, edges included)."""
    signs = [
        (b.x - a.x) * (point.y - a.y) - (b.y - a.y) * (point.x - a.x)
        for a, b in zip(corners, corners[1:] + corners[:1], strict=True)
    ]
    return all(s >= 0 for s in signs) or all(s <= 0 for s in signs)


def _seen_pixel(
    point: Vector, world_to_clip: Matrix, clip_to_world: Matrix, seen: BVHTree, picture: Image
) -> int | None:
    """The byte offset of the candidate's pixel the view sees at `point`, or None where it does not see it."""
    clip = world_to_clip @ point.to_4d()
    if clip.w <= 0:
        return None
    x, y = clip.x / clip.w, clip.y / clip.w
    if not (-1 <= x <= 1 and -1 <= y <= 1):
        return None
    near = clip_to_world @ Vector((x, y, -1, 1))
    origin = near.xyz / near.w
    toward = point - origin
    hit, _, _, distance = seen.ray_cast(origin, toward, toward.length * (1 + VISIBLE_TOLERANCE))
    if hit is None or distance < toward.length * (1 - VISIBLE_TOLERANCE):
        return None
    column = min(picture.width - 1, int((x + 1) / 2 * picture.width))
    row = min(picture.height - 1, int((1 - y) / 2 * picture.height))  # the picture's rows run top-down
    return 4 * (row * picture.width + column)
