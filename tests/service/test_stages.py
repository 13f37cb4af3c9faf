"""The daemon says where a job's time went: Done carries its seconds per stage, service and engine alike."""

from __future__ import annotations

import uuid

from core_server.pb import cocreate_pb2 as pb
from core_server.pb import cocreate_pb2_grpc as pb_grpc

from .images import disc, gradient


def test_done_names_every_stage_of_an_inpaint(stub: pb_grpc.CocreateStub, session_id: str) -> None:
    # A prompt and a picture no earlier test sent, so the daemon's encode caches cannot skip those stages.
    nonce = uuid.uuid4()
    image = gradient()
    image.rgba = nonce.bytes + image.rgba[len(nonce.bytes) :]
    request = pb.GenerateRequest(
        session_id=session_id,
        candidates=2,
        previews=True,
        inpaint=pb.InpaintTask(image=image, mask=disc(), steps=3, prompt=f"stages {nonce.hex}"),
    )
    done = list(stub.Generate(request, timeout=120))[-1].done
    stages = {stage.name: stage.seconds for stage in done.stages}
    expected = ["request", "queued", "model", "prepare", "text encoder", "vae encode", "unet", "previews", "vae decode"]
    also = {"turn start", "pipeline other", "composite", "progress events", "candidate events"}
    also |= {"png encode", "store writes", "store wait"}
    assert {*expected, *also} <= set(stages)
    assert [name for name in stages if name in expected] == expected  # in the order they ran
    assert all(seconds >= 0 for seconds in stages.values())
    # Parts of the job; progress events overlap the engine's work, the store overlaps the candidates' send.
    overlapping = ("request", "turn start", "progress events", "png encode", "store writes")
    worker = sum(seconds for name, seconds in stages.items() if name not in overlapping)
    assert worker <= done.elapsed_ms / 1000 + 0.05


def test_model_status_reports_how_long_a_load_took_and_its_peak_memory(
    stub: pb_grpc.CocreateStub, session_id: str
) -> None:
    request = pb.GenerateRequest(
        session_id=session_id, candidates=1, inpaint=pb.InpaintTask(image=gradient(), mask=disc(), steps=1)
    )
    list(stub.Generate(request, timeout=120))  # the image model is loaded now
    loaded = {m.name: m for m in stub.ModelStatus(pb.ModelStatusRequest()).loaded}["tiny-image"]
    assert loaded.load_seconds > 0
    # The daemon's peak while loading holds the interpreter, torch and the weights just read.
    assert loaded.load_peak_rss_bytes > loaded.memory_bytes
