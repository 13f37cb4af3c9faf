"""Stable Diffusion XL (and its fine-tunes: Pony, Illustrious, NoobAI): two CLIP text encoders, a UNet with
9 (inpainting) or 4 input channels, 1024² native."""

from __future__ import annotations

from pathlib import Path

from core_server.engines.families.family import IP_ADAPTER, Family, Pipelines

# ComfyUI's SDXL latent → RGB factors.
LATENT_RGB = (
    (0.3651, 0.4232, 0.4341),
    (-0.2533, -0.0042, 0.1068),
    (0.1076, 0.1111, -0.0362),
    (-0.3165, -0.2492, -0.2188),
)


def build_tiny(folder: Path, in_channels: int = 4) -> None:
    """A plain 4-channel UNet, as most SDXL checkpoints are (in_channels=9: an inpainting one)."""
    import torch
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLInpaintPipeline, UNet2DConditionModel

    from core_server.models import tiny

    tiny.quiet_progress()
    tokenizer = tiny.clip_tokenizer()
    # diffusers' own SDXL test sizes: pooled text (32) and six size conditions of 8 feed the time embedding.
    torch.manual_seed(tiny.SEED)
    unet = UNet2DConditionModel(
        sample_size=16,
        in_channels=in_channels,
        out_channels=4,
        block_out_channels=(32, 64),
        layers_per_block=2,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 2),
        projection_class_embeddings_input_dim=6 * 8 + 32,
        cross_attention_dim=64,
    )
    pipe = StableDiffusionXLInpaintPipeline(
        vae=tiny.vae(),
        text_encoder=tiny.clip_text_encoder(tokenizer),
        text_encoder_2=tiny.clip_text_encoder(tokenizer, projection=True),
        tokenizer=tokenizer,
        tokenizer_2=tokenizer,
        unet=unet,
        scheduler=EulerDiscreteScheduler(
            beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1
        ),
        requires_aesthetics_score=False,
        force_zeros_for_empty_prompt=True,
    )
    pipe.save_pretrained(folder, safe_serialization=True)


FAMILY = Family(
    name="sdxl",
    title="Stable Diffusion XL",
    pipelines=Pipelines(
        inpaint="StableDiffusionXLInpaintPipeline",
        img2img="StableDiffusionXLImg2ImgPipeline",
        text2img="StableDiffusionXLPipeline",
    ),
    folder_classes=(
        "StableDiffusionXLPipeline",
        "StableDiffusionXLInpaintPipeline",
        "StableDiffusionXLImg2ImgPipeline",
    ),
    denoiser="unet",
    text_encoders=("text_encoder", "text_encoder_2"),
    load_options={},
    native_side=1024,
    min_side=512,
    latent_channels=4,
    latent_patch=1,
    latent_rgb=LATENT_RGB,
    default_steps=20,
    default_guidance=6.0,
    true_inpainting="with a 9-channel inpainting UNet; a plain UNet inpaints by img2img with the mask blended in",
    build_tiny=build_tiny,
    references=IP_ADAPTER,
)
