"""Stable Diffusion 1.x and 2.x: one CLIP text encoder, a UNet with 9 (inpainting) or 4 input channels."""

from __future__ import annotations

from pathlib import Path

from core_server.engines.families.family import IP_ADAPTER, Family, Pipelines

# ComfyUI's SD 1.5 latent → RGB factors.
LATENT_RGB = (
    (0.3512, 0.2297, 0.3227),
    (0.3250, 0.4974, 0.2350),
    (-0.2829, 0.1762, 0.2721),
    (-0.2120, -0.2616, -0.7177),
)


def build_tiny(folder: Path) -> None:
    import torch
    from diffusers import DDIMScheduler, StableDiffusionInpaintPipeline, UNet2DConditionModel

    from core_server.models import tiny

    tiny.quiet_progress()
    tokenizer = tiny.clip_tokenizer()
    # The sizes diffusers uses in its own pipeline tests.
    torch.manual_seed(tiny.SEED)
    unet = UNet2DConditionModel(
        sample_size=16,
        in_channels=9,
        out_channels=4,
        block_out_channels=(32, 64),
        layers_per_block=2,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
    )
    vae = tiny.vae()
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    pipe = StableDiffusionInpaintPipeline(
        vae=vae,
        text_encoder=tiny.clip_text_encoder(tokenizer),
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(folder, safe_serialization=True)


FAMILY = Family(
    name="sd15",
    title="Stable Diffusion 1.x/2.x",
    pipelines=Pipelines(
        inpaint="StableDiffusionInpaintPipeline",
        img2img="StableDiffusionImg2ImgPipeline",
        text2img="StableDiffusionPipeline",
    ),
    folder_classes=("StableDiffusionPipeline", "StableDiffusionInpaintPipeline", "StableDiffusionImg2ImgPipeline"),
    denoiser="unet",
    text_encoders=("text_encoder",),
    load_options={"safety_checker": None, "feature_extractor": None, "requires_safety_checker": False},
    native_side=512,
    min_side=256,
    latent_channels=4,
    latent_patch=1,
    latent_rgb=LATENT_RGB,
    default_steps=20,
    default_guidance=7.5,
    true_inpainting="with a 9-channel inpainting UNet; a plain UNet inpaints by img2img with the mask blended in",
    build_tiny=build_tiny,
    references=IP_ADAPTER,
)
