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

from . import document, projection
from .cocreate_client import pixels
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
    seen, reach = _objects_tree(candidate[projection.OBJECTS].split("\n"))
    _bake_mesh(obj, uv_name, world_to_clip, seen, reach, picture, values, width, height)
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


def _objects_tree(names: list[str]) -> tuple[BVHTree, float]:
    """The projected objects in world space, for what hides what from the view, and a length longer than
    any of them (how far back an orthographic view's rays start)."""
    depsgraph = bpy.context.evaluated_depsgraph_get()
    objects = [bpy.data.objects[name] for name in names if name in bpy.data.objects]
    corners = [obj.matrix_world @ Vector(corner) for obj in objects for corner in obj.bound_box]
    low = Vector([min(c[i] for c in corners) for i in range(3)])
    high = Vector([max(c[i] for c in corners) for i in range(3)])
    return projection.world_tree(objects, depsgraph), 2 * (high - low).length + 1


def _bake_mesh(
    obj: bpy.types.Object,
    uv_name: str,
    world_to_clip: Matrix,
    seen: BVHTree,
    reach: float,
    picture: Image,
    values: array[float],
    width: int,
    height: int,
) -> None:
    """Rasterise each triangle in texture space; a texel's surface point and its clip position are affine in
    the texel's position, so each texel costs a few multiply-adds, one ray and a slice copy."""
    mesh = obj.data
    mesh.calc_loop_triangles()
    uvs = mesh.uv_layers[uv_name].data
    to_clip = world_to_clip @ obj.matrix_world
    eye, direction = _viewer(world_to_clip)
    back = direction * reach  # orthographic: from the texel's point to where its ray starts, behind every mesh
    colours = pixels.rgba8_to_floats(picture.rgba)
    to_texels = Vector((width, height))
    for triangle in mesh.loop_triangles:
        t0, t1, t2 = (uvs[loop].uv * to_texels for loop in triangle.loops)
        e1, e2 = t1 - t0, t2 - t0
        area = e1.x * e2.y - e1.y * e2.x
        if abs(area) < 1e-12:  # no texel lies in it
            continue
        c0, c1, c2 = (mesh.vertices[v].co for v in triangle.vertices)
        p0, p1, p2 = (obj.matrix_world @ c for c in (c0, c1, c2))
        q0, q1, q2 = (to_clip @ c.to_4d() for c in (c0, c1, c2))
        d1, d2, r1, r2 = p1 - p0, p2 - p0, q1 - q0, q2 - q0
        xs, ys = (t0.x, t1.x, t2.x), (t0.y, t1.y, t2.y)
        for row in range(max(0, int(min(ys))), min(height, int(max(ys)) + 1)):
            for column in range(max(0, int(min(xs))), min(width, int(max(xs)) + 1)):
                # q = t0 + a·e1 + b·e2 for the texel's centre q: inside when a, b ≥ 0 and a + b ≤ 1
                x, y = column + 0.5 - t0.x, row + 0.5 - t0.y
                a, b = (x * e2.y - y * e2.x) / area, (e1.x * y - e1.y * x) / area
                if a < 0 or b < 0 or a + b > 1:
                    continue
                pixel = _seen_pixel(p0 + d1 * a + d2 * b, q0 + r1 * a + r2 * b, eye, back, seen, picture)
                if pixel is not None:
                    start = 4 * (row * width + column)  # Blender's rows run bottom-up, as v does
                    values[start : start + 4] = colours[pixel : pixel + 4]


def _viewer(world_to_clip: Matrix) -> tuple[Vector | None, Vector]:
    """A perspective view's eye (the point its clip x, y and w all vanish at), or None and an orthographic
    view's direction."""
    rows = [world_to_clip[i] for i in (0, 1, 3)]
    linear = Matrix([row[:3] for row in rows])
    if abs(linear.determinant()) > 1e-12:
        return linear.inverted() @ Vector([-row[3] for row in rows]), Vector()
    clip_to_world = world_to_clip.inverted()
    near, far = clip_to_world @ Vector((0, 0, -1, 1)), clip_to_world @ Vector((0, 0, 1, 1))
    return None, (far.xyz / far.w - near.xyz / near.w).normalized()


def _seen_pixel(
    point: Vector, clip: Vector, eye: Vector | None, back: Vector, seen: BVHTree, picture: Image
) -> int | None:
    """The float offset of the candidate's pixel the view sees at `point`, or None where it does not see it."""
    if clip.w <= 0:
        return None
    x, y = clip.x / clip.w, clip.y / clip.w
    if not (-1 <= x <= 1 and -1 <= y <= 1):
        return None
    origin = eye if eye is not None else point - back
    toward = point - origin
    length = toward.length
    hit, _, _, distance = seen.ray_cast(origin, toward, length * (1 + VISIBLE_TOLERANCE))
    if hit is None or distance < length * (1 - VISIBLE_TOLERANCE):  # something of the projected meshes is nearer
        return None
    column = min(picture.width - 1, int((x + 1) / 2 * picture.width))
    row = min(picture.height - 1, int((1 - y) / 2 * picture.height))  # the picture's rows run top-down
    return 4 * (row * picture.width + column)
