"""SD 3.5, Qwen-Image and Z-Image ControlNets in the catalog (the tiny ones registered for their kinds, the Hub's
by short name with their licence, a union's kinds from the curated list when its name does not say them) and a
ControlNet made for another size of the transformer refused before it runs; the steering of a family's own
pipeline makes what diffusers' ControlNet pipeline of that family makes."""

from __future__ import annotations

import shutil
from pathlib import Path

import diffusers
import numpy as np
import pytest
import torch
from diffusers import SD3ControlNetModel, StableDiffusion3InpaintPipeline, ZImageControlNetModel
from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution

from core_server.engines import control_steering
from core_server.engines.families import FAMILIES
from core_server.models import ModelCatalog
from core_server.models.catalog import CONTROL
from core_server.models.control_models import QWEN_UNION_KINDS, read_config
from core_server.models.control_pulls import curated_kinds, pull_hint
from core_server.models.pulls import resolve
from core_server.tasks import EngineError

QWEN_UNION = "InstantX/Qwen-Image-ControlNet-Union"


def test_the_tiny_controls_are_registered_for_their_kinds(catalog: ModelCatalog) -> None:
    for family, kind, name in (
        ("sd3", "normal", "tiny-control-sd3"),
        ("qwen-image", "depth", "tiny-control-qwen-image"),
        ("z-image", "pose", "tiny-control-z-image"),
    ):
        entry = catalog.control_for(family, kind)
        assert entry is not None and (entry.name, entry.family, entry.union) == (name, family, False)
    assert catalog.control_for("qwen-image", "normal") is None, "InstantX's union reads no normal maps"


def test_short_names_licences_and_hints() -> None:
    assert resolve("sd35-blur") == ("stabilityai/stable-diffusion-3.5-large-controlnet-blur", "sd35-blur")
    assert resolve("qwen-image-union")[0] == QWEN_UNION
    assert curated_kinds("stabilityai/stable-diffusion-3.5-large-controlnet-blur") == ("tile",)
    assert "licence stabilityai-ai-community; for SD 3.5 Large (8B) only" in pull_hint("sd3", "depth")
    assert "Z-Image-Turbo-Fun-Controlnet-Union-2.1 (licence apache-2.0)" in pull_hint("z-image", "canny")


def test_a_pulled_union_is_registered_for_the_kinds_its_card_lists(catalog: ModelCatalog, tmp_path: Path) -> None:
    fresh = ModelCatalog(Path(shutil.copytree(catalog.models_dir, tmp_path / "models")))
    folder = shutil.copytree(catalog.resolve("tiny-control-qwen-image", CONTROL).path, tmp_path / "union")
    added = fresh.add("qwen-image-union", folder, controls=curated_kinds(QWEN_UNION))
    assert (added.family, added.controls) == ("qwen-image", QWEN_UNION_KINDS)


def test_a_controlnet_for_another_transformer_size_is_refused(catalog: ModelCatalog) -> None:
    folder = catalog.resolve("tiny-sd3", "image").path
    pipe = StableDiffusion3InpaintPipeline.from_pretrained(folder, text_encoder_3=None, tokenizer_3=None)
    wider = SD3ControlNetModel(
        num_layers=1,
        attention_head_dim=8,
        num_attention_heads=8,
        joint_attention_dim=64,
        caption_projection_dim=64,
        pooled_projection_dim=64,
        sample_size=16,
    )
    with pytest.raises(EngineError, match=r"transformer 64 wide; this model's is 32 .*SD 3.5 Large"):
        control_steering.pipeline(pipe, FAMILIES["sd3"], [wider.to(torch.float32)])


REFERENCE_PIPELINES = {
    "sd3": ("StableDiffusion3ControlNetPipeline", {"guidance_scale": 4.5}),
    "qwen-image": ("QwenImageControlNetPipeline", {"true_cfg_scale": 4.0}),
    "z-image": ("ZImageControlNetPipeline", {"guidance_scale": 0.0}),
}


@pytest.mark.parametrize("family", list(REFERENCE_PIPELINES))
def test_the_steering_matches_diffusers_controlnet_pipeline(
    catalog: ModelCatalog, family: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Text to image, where diffusers has a ControlNet pipeline for each: the family's own pipeline steered by
    the hook makes the same picture as diffusers' ControlNet pipeline (which samples the VAE's latents; here
    their mode, as the steering takes)."""
    monkeypatch.setattr(DiagonalGaussianDistribution, "sample", lambda self, generator=None: self.mode())
    info = FAMILIES[family]
    no_t5 = {"text_encoder_3": None, "tokenizer_3": None} if family == "sd3" else {}
    folder = catalog.resolve(f"tiny-{family}", "image").path
    pipe = getattr(diffusers, info.pipelines.text2img).from_pretrained(folder, **no_t5)
    net = _reference_net(family, catalog)
    reference_name, guidance = REFERENCE_PIPELINES[family]
    control = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    asked = {"prompt": "a house", "negative_prompt": "blurry", "height": 64, "width": 64, "num_inference_steps": 3}
    asked |= {"output_type": "np", **guidance}
    steered = control_steering.pipeline(pipe, info, [net], info.pipelines.text2img)
    ours = steered(
        generator=torch.Generator().manual_seed(5),
        control_image=[control],
        controlnet_conditioning_scale=[0.8],
        control_guidance_start=[0.0],
        control_guidance_end=[1.0],
        **asked,
    ).images
    reference_class = getattr(diffusers, reference_name)
    modules, _ = reference_class._get_signature_keys(reference_class)
    reference = reference_class(
        **{key: pipe.components.get(key) for key in modules if key != "controlnet"}, controlnet=net
    )
    if info.prepare is not None:
        info.prepare(reference)
    # diffusers' ControlNet pipelines take a tensor map as it is: in the VAE's [-1, 1], as the steering makes it.
    theirs = reference(
        generator=torch.Generator().manual_seed(5),
        control_image=control * 2 - 1,
        controlnet_conditioning_scale=0.8,
        **asked,
    ).images
    assert np.abs(ours - theirs).max() < 1e-5
    without = steered(
        generator=torch.Generator().manual_seed(5),
        control_image=[control],
        controlnet_conditioning_scale=[0.0],
        control_guidance_start=[0.0],
        control_guidance_end=[1.0],
        **asked,
    ).images
    assert np.abs(ours - without).mean() > 1e-3, "the control changes the picture"


def _reference_net(family: str, catalog: ModelCatalog) -> torch.nn.Module:
    """The tiny ControlNet; for Z-Image one reading the map alone (1.0's kind), which diffusers' text-to-image
    pipeline takes as it is (the tiny one is a 2.x, whose mask and kept picture it would fill with zeros)."""
    if family != "z-image":
        path = catalog.resolve(f"tiny-control-{family}", CONTROL).path
        return getattr(diffusers, read_config(path)["_class_name"]).from_pretrained(path)
    torch.manual_seed(0)
    net = ZImageControlNetModel(
        control_layers_places=[0, 1], control_in_dim=16, dim=32, n_refiner_layers=1, n_heads=2, n_kv_heads=2
    )
    with torch.no_grad():
        for parameter in net.parameters():
            if not parameter.any():
                parameter.normal_(0.0, 0.05)
    return net
