"""Stable Diffusion 3 / 3.5: an MMDiT transformer on 16-channel latents, two CLIP and an optional T5 text
encoder, flow matching. No inpainting variant: it inpaints by img2img with the mask blended in."""

from __future__ import annotations

from pathlib import Path

from core_server.engines.families.family import SEAMLESS, Family, Pipelines

# ComfyUI's SD3 latent → RGB factors.
LATENT_RGB = (
    (-0.0922, -0.0175, 0.0749),
    (0.0311, 0.0633, 0.0954),
    (0.1994, 0.0927, 0.0458),
    (0.0856, 0.0339, 0.0902),
    (0.0587, 0.0272, -0.0496),
    (-0.0006, 0.1104, 0.0309),
    (0.0978, 0.0306, 0.0427),
    (-0.0042, 0.1038, 0.1358),
    (-0.0194, 0.0020, 0.0669),
    (-0.0488, 0.0130, -0.0268),
    (0.0922, 0.0988, 0.0951),
    (-0.0278, 0.0524, -0.0542),
    (0.0332, 0.0456, 0.0895),
    (-0.0069, -0.0030, -0.0810),
    (-0.0596, -0.0465, -0.0293),
    (-0.1448, -0.1463, -0.1189),
)


def build_tiny(folder: Path) -> None:
    """Without the T5 encoder, as SD 3.5 runs when memory is short (the CLIP encoders carry the prompt)."""
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel, StableDiffusion3InpaintPipeline

    from core_server.models import tiny

    tiny.quiet_progress()
    tokenizer = tiny.clip_tokenizer()
    torch.manual_seed(tiny.SEED)
    transformer = SD3Transformer2DModel(
        sample_size=16,
        patch_size=2,
        in_channels=16,
        out_channels=16,
        num_layers=2,
        attention_head_dim=8,
        num_attention_heads=4,
        caption_projection_dim=32,
        joint_attention_dim=64,  # the two CLIP encodings side by side
        pooled_projection_dim=64,
    )
    pipe = StableDiffusion3InpaintPipeline(
        transformer=transformer,
        vae=tiny.vae(16, use_quant_conv=False, use_post_quant_conv=False, shift_factor=0.0609, scaling_factor=1.5035),
        text_encoder=tiny.clip_text_encoder(tokenizer, projection=True),
        text_encoder_2=tiny.clip_text_encoder(tokenizer, projection=True),
        text_encoder_3=None,
        tokenizer=tokenizer,
        tokenizer_2=tokenizer,
        tokenizer_3=None,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
    )
    pipe.save_pretrained(folder, safe_serialization=True)


FAMILY = Family(
    name="sd3",
    title="Stable Diffusion 3.5",
    pipelines=Pipelines(
        inpaint="StableDiffusion3InpaintPipeline",
        img2img="StableDiffusion3Img2ImgPipeline",
        text2img="StableDiffusion3Pipeline",
    ),
    folder_classes=("StableDiffusion3Pipeline", "StableDiffusion3InpaintPipeline", "StableDiffusion3Img2ImgPipeline"),
    denoiser="transformer",
    text_encoders=("text_encoder", "text_encoder_2", "text_encoder_3"),
    load_options={},
    native_side=1024,
    min_side=512,
    latent_channels=16,
    latent_patch=1,
    latent_rgb=LATENT_RGB,
    default_steps=28,
    default_guidance=4.5,
    true_inpainting="no inpainting variant: img2img with the mask blended in at every step",
    gpu_dtype="bfloat16",  # as Stability runs SD 3.5; its text encoders overflow float16
    refuses={SEAMLESS: "its transformer has no padded convolutions to wrap around, so the edges would not meet"},
    build_tiny=build_tiny,
)
