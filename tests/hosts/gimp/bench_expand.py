"""Runs inside gimp-console (python-fu-eval) for bench/gimp.py: one Expand, timed phase by phase.

The plug-in's own modules do the work, called in the order its procedure calls them, so each phase can
be timed alone: GIMP side (read the visible picture and plan; grow the canvas and write the layers),
transfer (the job's wall time less what the daemon reports) and the daemon. Settings come from
COCREATE_BENCH (JSON); the timings go to /project/bench.json.
"""

from __future__ import annotations

import json
import os
import sys
import time

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp  # noqa: E402

sys.path.insert(0, os.path.join(os.environ["GIMP3_DIRECTORY"], "plug-ins", "cocreate"))
from cocreate_client import CocreateClient, Done  # noqa: E402
from cocreate_gimp import plans  # noqa: E402
from cocreate_gimp.apply import Apply  # noqa: E402
from cocreate_gimp.document import GimpDocument  # noqa: E402
from cocreate_gimp.geometry import Sides  # noqa: E402


class Quiet:
    """A progress bar that shows nothing: the bench measures the work, not the status bar."""

    def text(self, message: str) -> None:
        pass

    def fraction(self, value: float) -> None:
        pass


def picture(width: int, height: int) -> Gimp.Image:
    image = Gimp.Image.new(width, height, Gimp.ImageBaseType.RGB)
    layer = Gimp.Layer.new(image, "photo", width, height, Gimp.ImageType.RGB_IMAGE, 100.0, Gimp.LayerMode.NORMAL)
    image.insert_layer(layer, None, 0)
    row = bytes(v for x in range(width) for v in (x % 256, (x * 3) % 256, 128))
    buffer = layer.get_buffer()
    buffer.set(Gegl.Rectangle.new(0, 0, width, height), "R'G'B' u8", row * height)
    buffer.flush()
    return image


def one_run(client: CocreateClient, session_id: str, settings: dict) -> dict[str, float]:
    image = picture(settings["width"], settings["height"])
    options = plans.Options(candidates=settings["candidates"], seed=1, steps=settings["steps"])

    started = time.perf_counter()
    document = GimpDocument(image)
    plan = plans.expand(document, Sides(right=settings["right"]), 16, options)
    planned = time.perf_counter()

    plan.request.session_id = session_id
    job = client.generate(plan.request)
    result = job.wait(600)
    answered = time.perf_counter()
    events = job.poll()
    if not result.ok:
        raise RuntimeError(f"the job failed: {result.error}")
    daemon = next(event.elapsed_ms for event in events if isinstance(event, Done)) / 1000

    apply = Apply(plan, document, Quiet())
    apply.handle(events)
    applied = time.perf_counter()
    assert image.get_width() == settings["width"] + settings["right"] and apply.layers == settings["candidates"]
    image.delete()
    return {
        "gimp_read_and_plan": planned - started,
        "transfer": answered - planned - daemon,
        "daemon": daemon,
        "gimp_apply": applied - answered,
        "total": applied - started,
    }


def procedure_call(settings: dict) -> float:
    """The same Expand as a script calls it: the PDB procedure, plug-in process start included."""
    image = picture(settings["width"], settings["height"])
    procedure = Gimp.get_pdb().lookup_procedure("plug-in-cocreate-expand")
    config = procedure.create_config()
    values = {
        "run-mode": Gimp.RunMode.NONINTERACTIVE,
        "image": image,
        "size-mode": "sides",
        "right": settings["right"],
        "candidates": settings["candidates"],
        "steps": settings["steps"],
        "seed": 1,
    }
    for key, value in values.items():
        config.set_property(key, value)
    started = time.perf_counter()
    result = procedure.run(config)
    elapsed = time.perf_counter() - started
    if result.index(0) != Gimp.PDBStatusType.SUCCESS:
        raise RuntimeError(f"the procedure failed: {Gimp.get_pdb().get_last_error()}")
    image.delete()
    return elapsed


def main() -> None:
    settings = json.loads(os.environ["COCREATE_BENCH"])
    with CocreateClient() as client:
        session_id = client.create_session("gimp-bench", "bench", "bench").id
        one_run(client, session_id, settings)  # warm: the daemon loads the model on first use
        runs = [one_run(client, session_id, settings) for _ in range(settings["repeat"])]
    calls = [procedure_call(settings) for _ in range(settings["repeat"])]
    with open("/project/bench.json", "w") as out:
        json.dump({"gimp": Gimp.version(), "runs": runs, "procedure_calls": calls}, out)


main()
