"""Tiny random-weight miniatures of the flow-matching transformer families (Flux.1, Flux.2 Klein, Z-Image,
Qwen-Image, Chroma), built from code on this machine like the rest of the tiny profile.

Each keeps its family's real layout where the painting code cares about it: the same pipeline and model
classes, the same latent channels (16; Flux.2: 32) and the same latent packing, so noise shaping, previews
and single-file detection see what a real checkpoint gives them. Only the widths, depths and the VAE's
downscale (4 instead of 8) are small. Tokenizers are byte-level and made offline; text encoders that the
pipelines read at fixed depths (Flux.2 takes layers 9, 18 and 27) keep those depths, at width 16.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from core_server.models import flow_checkpoints

TINY_FLUX = "tiny-flux"
TINY_FLUX_FILL = "tiny-flux-fill"
TINY_FLUX2_KLEIN = "tiny-flux2-klein"
TINY_Z_IMAGE = "tiny-z-image"
TINY_QWEN_IMAGE = "tiny-qwen-image"
TINY_CHROMA = "tiny-chroma"

SEED = 0
NATIVE_SIDE = 64  # px: the tiny VAEs' sample_size, the size the tiny models paint at
LATENT_CHANNELS = 16  # Flux.1, Chroma, Z-Image and Qwen-Image VAEs
FLUX2_LATENT_CHANNELS = 32
TEXT_WIDTH = 16
T5_LENGTH = 64  # tokens the tiny T5 tokenizer pads to at most
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
QWEN_SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)


def builders() -> dict[str, Callable[[Path], None]]:
    """{tiny model name: function that saves it as a diffusers folder}."""
    return {
        TINY_FLUX: build_flux,
        TINY_FLUX_FILL: build_flux_fill,
        TINY_FLUX2_KLEIN: build_flux2_klein,
        TINY_Z_IMAGE: build_z_image,
        TINY_QWEN_IMAGE: build_qwen_image,
        TINY_CHROMA: build_chroma,
    }


def build_flux(folder: Path) -> None:
    """Flux.1 [dev] (guidance embedded)."""
    _build_flux(folder, fill=False)


def build_flux_fill(folder: Path) -> None:
    _build_flux(folder, fill=True)


def _seeded(make: Callable[[], Any]) -> Any:
    import torch

    torch.manual_seed(SEED)
    return make()


def _flux_vae(latent_channels: int = LATENT_CHANNELS) -> Any:
    """The Flux VAE's layout (no quant convs; its shift and scale) at the tiny profile's size."""
    from core_server.models import tiny

    return tiny.vae(
        latent_channels, use_quant_conv=False, use_post_quant_conv=False, scaling_factor=0.3611, shift_factor=0.1159
    )


def _t5_tokenizer() -> Any:
    """A unigram vocabulary of single bytes' characters, as T5's sentencepiece model would split rare text."""
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import T5TokenizerFast

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -1.0)]
    pieces += [(char, -2.0) for char in sorted(ByteLevel.alphabet()) if char != "▁"]
    return T5TokenizerFast(vocab=pieces, extra_ids=0, model_max_length=T5_LENGTH)


def _t5_text_encoder(tokenizer: Any) -> Any:
    from transformers import T5Config, T5EncoderModel

    return _seeded(
        lambda: T5EncoderModel(
            T5Config(
                vocab_size=len(tokenizer),
                d_model=TEXT_WIDTH * 2,
                d_kv=8,
                d_ff=37,
                num_layers=2,
                num_heads=4,
                relative_attention_num_buckets=8,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
                decoder_start_token_id=tokenizer.pad_token_id,
            )
        )
    )


def byte_bpe(special_tokens: tuple[str, ...]) -> Any:
    """A byte-level BPE backend with these special tokens, merges learned from the tiny profile's corpus."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    from core_server.models import tiny

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=384,
        special_tokens=list(special_tokens),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(tiny.CORPUS.splitlines(), trainer)
    return backend


def _qwen_tokenizer() -> Any:
    """Byte-level BPE with Qwen's chat markers."""
    from transformers import Qwen2TokenizerFast

    tokenizer = Qwen2TokenizerFast(
        tokenizer_object=byte_bpe(QWEN_SPECIAL_TOKENS),
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=list(QWEN_SPECIAL_TOKENS[1:]),
        model_max_length=512,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def _qwen3_config(tokenizer: Any, layers: int) -> Any:
    from transformers import Qwen3Config

    return Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=TEXT_WIDTH,
        intermediate_size=TEXT_WIDTH,
        num_hidden_layers=layers,
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=8,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )


def _save(pipe: Any, folder: Path) -> None:
    pipe.save_pretrained(folder, safe_serialization=True)


def _build_flux(folder: Path, *, fill: bool) -> None:
    """Flux.1 Dev (guidance embedded); with `fill`, Flux.1 Fill: latents, masked latents and the mask packed."""
    from core_server.models import tiny

    tiny.quiet_progress()
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxFillPipeline, FluxInpaintPipeline

    vae = _flux_vae()
    scale = 2 ** (len(vae.config.block_out_channels) - 1)
    packed = LATENT_CHANNELS * 4
    # Fill takes [latents, masked-image latents, mask]: the mask at pixel scale, packed as 2x2 latent cells.
    transformer = flux_transformer(packed * 2 + scale * scale * 4 if fill else packed)
    clip, t5 = tiny.clip_tokenizer(), _t5_tokenizer()
    pipeline = FluxFillPipeline if fill else FluxInpaintPipeline
    _save(
        pipeline(
            scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0, use_dynamic_shifting=True),
            vae=vae,
            text_encoder=tiny.clip_text_encoder(clip),
            tokenizer=clip,
            text_encoder_2=_t5_text_encoder(t5),
            tokenizer_2=t5,
            transformer=transformer,
        ),
        folder,
    )


def flux_transformer(in_channels: int = LATENT_CHANNELS * 4) -> Any:
    """Flux.1 [dev]'s transformer (guidance embedded) at the tiny width; more input channels make Fill's."""
    from diffusers import FluxTransformer2DModel

    return _seeded(
        lambda: FluxTransformer2DModel(
            patch_size=1,
            in_channels=in_channels,
            out_channels=LATENT_CHANNELS * 4,
            num_layers=1,
            num_single_layers=1,
            attention_head_dim=16,
            num_attention_heads=2,
            joint_attention_dim=TEXT_WIDTH * 2,
            pooled_projection_dim=TEXT_WIDTH * 2,
            guidance_embeds=True,
            axes_dims_rope=flow_checkpoints.flux_rope(16),
        )
    )


def chroma_transformer() -> Any:
    from diffusers import ChromaTransformer2DModel

    return _seeded(
        lambda: ChromaTransformer2DModel(
            patch_size=1,
            in_channels=LATENT_CHANNELS * 4,
            num_layers=1,
            num_single_layers=1,
            attention_head_dim=16,
            num_attention_heads=2,
            joint_attention_dim=TEXT_WIDTH * 2,
            axes_dims_rope=flow_checkpoints.flux_rope(16),
            approximator_num_channels=8,
            approximator_hidden_dim=32,
            approximator_layers=1,
        )
    )


def build_chroma(folder: Path) -> None:
    from core_server.models import tiny

    tiny.quiet_progress()
    from diffusers import ChromaInpaintPipeline, FlowMatchEulerDiscreteScheduler

    transformer = chroma_transformer()
    t5 = _t5_tokenizer()
    _save(
        ChromaInpaintPipeline(
            scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0, use_dynamic_shifting=True),
            vae=_flux_vae(),
            text_encoder=_t5_text_encoder(t5),
            tokenizer=t5,
            transformer=transformer,
        ),
        folder,
    )


def flux2_vae() -> Any:
    from diffusers import AutoencoderKLFlux2

    return _seeded(
        lambda: AutoencoderKLFlux2(
            down_block_types=("DownEncoderBlock2D",) * 2,
            up_block_types=("UpDecoderBlock2D",) * 2,
            block_out_channels=(16, 32),
            layers_per_block=1,
            latent_channels=FLUX2_LATENT_CHANNELS,
            norm_num_groups=8,
            sample_size=NATIVE_SIDE,
        )
    )


def flux2_transformer(*, guidance_embeds: bool) -> Any:
    """The Flux.2 transformer of Klein (no guidance) and [dev] (guidance embedded) at the tiny profile's size."""
    from diffusers import Flux2Transformer2DModel

    return _seeded(
        lambda: Flux2Transformer2DModel(
            patch_size=1,
            in_channels=FLUX2_LATENT_CHANNELS * 4,
            num_layers=1,
            num_single_layers=1,
            attention_head_dim=16,
            num_attention_heads=2,
            joint_attention_dim=TEXT_WIDTH * 3,
            timestep_guidance_channels=32,
            axes_dims_rope=flow_checkpoints.flux2_rope(16),
            guidance_embeds=guidance_embeds,
        )
    )


def build_flux2_klein(folder: Path) -> None:
    from core_server.models import tiny

    tiny.quiet_progress()
    from diffusers import (
        FlowMatchEulerDiscreteScheduler,
        Flux2KleinInpaintPipeline,
    )
    from transformers import Qwen3ForCausalLM

    tokenizer = _qwen_tokenizer()
    # The pipeline stacks the hidden states after layers 9, 18 and 27, as the real 4B encoder has them.
    text_encoder = _seeded(lambda: Qwen3ForCausalLM(_qwen3_config(tokenizer, layers=28)))
    vae, transformer = flux2_vae(), flux2_transformer(guidance_embeds=False)
    _save(
        Flux2KleinInpaintPipeline(
            scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0, use_dynamic_shifting=True),
            vae=vae,
            text_encoder=text_encoder,
            tokenizer=tokenizer,
            transformer=transformer,
            is_distilled=True,
        ),
        folder,
    )


def build_z_image(folder: Path) -> None:
    from core_server.models import tiny

    tiny.quiet_progress()
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, ZImageInpaintPipeline, ZImageTransformer2DModel
    from transformers import Qwen3Model

    tokenizer = _qwen_tokenizer()
    transformer = _seeded(
        lambda: ZImageTransformer2DModel(
            all_patch_size=(2,),
            all_f_patch_size=(1,),
            in_channels=LATENT_CHANNELS,
            dim=32,
            n_layers=2,
            n_refiner_layers=1,
            n_heads=2,
            n_kv_heads=2,
            cap_feat_dim=TEXT_WIDTH,
            axes_dims=list(flow_checkpoints.z_image_rope(16)),
            axes_lens=[256, 32, 32],
        )
    )
    # Made with torch.empty: give them values, so the saved file is the same on every machine.
    with torch.no_grad():
        transformer.x_pad_token.fill_(1.0)
        transformer.cap_pad_token.fill_(1.0)
    _save(
        ZImageInpaintPipeline(
            scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
            vae=_flux_vae(),
            text_encoder=_seeded(lambda: Qwen3Model(_qwen3_config(tokenizer, layers=2))),
            tokenizer=tokenizer,
            transformer=transformer,
        ),
        folder,
    )


def build_qwen_image(folder: Path) -> None:
    from core_server.models import tiny

    tiny.quiet_progress()
    from diffusers import (
        AutoencoderKLQwenImage,
        FlowMatchEulerDiscreteScheduler,
        QwenImageInpaintPipeline,
        QwenImageTransformer2DModel,
    )
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    tokenizer = _qwen_tokenizer()
    ids = tokenizer.convert_tokens_to_ids
    text_encoder = _seeded(
        lambda: Qwen2_5_VLForConditionalGeneration(
            Qwen2_5_VLConfig(
                text_config={
                    "vocab_size": len(tokenizer),
                    "hidden_size": TEXT_WIDTH,
                    "intermediate_size": TEXT_WIDTH,
                    "num_hidden_layers": 2,
                    "num_attention_heads": 2,
                    "num_key_value_heads": 2,
                    "rope_scaling": {"mrope_section": [1, 1, 2], "rope_type": "default", "type": "default"},
                    "rope_theta": 1000000.0,
                    "bos_token_id": ids("<|endoftext|>"),
                    "eos_token_id": ids("<|im_end|>"),
                    "pad_token_id": ids("<|endoftext|>"),
                },
                vision_config={
                    "depth": 1,
                    "hidden_size": TEXT_WIDTH,
                    "intermediate_size": TEXT_WIDTH,
                    "num_heads": 2,
                    "out_hidden_size": TEXT_WIDTH,
                },
                vocab_size=len(tokenizer),
                image_token_id=ids("<|image_pad|>"),
                video_token_id=ids("<|video_pad|>"),
                vision_start_token_id=ids("<|vision_start|>"),
                vision_end_token_id=ids("<|vision_end|>"),
            )
        )
    )
    # The video VAE of Qwen-Image (a frame axis, causal 3D convolutions), two downscales instead of three.
    vae = _seeded(
        lambda: AutoencoderKLQwenImage(
            base_dim=16,
            z_dim=LATENT_CHANNELS,
            dim_mult=[1, 2, 2],
            num_res_blocks=1,
            temperal_downsample=[False, True],
            latents_mean=[0.0] * LATENT_CHANNELS,
            latents_std=[1.0] * LATENT_CHANNELS,
        )
    )
    # Qwen-Image's VAE states no training size; this one says it paints at NATIVE_SIDE, as the others do
    # (diffusers keeps the key and notes it as unexpected when loading).
    vae.register_to_config(sample_size=NATIVE_SIDE)
    transformer = _seeded(
        lambda: QwenImageTransformer2DModel(
            patch_size=2,
            in_channels=LATENT_CHANNELS * 4,
            out_channels=LATENT_CHANNELS,
            num_layers=2,
            attention_head_dim=16,
            num_attention_heads=2,
            joint_attention_dim=TEXT_WIDTH,
            axes_dims_rope=flow_checkpoints.qwen_rope(16),
        )
    )
    _save(
        QwenImageInpaintPipeline(
            scheduler=FlowMatchEulerDiscreteScheduler(shift=1.0, use_dynamic_shifting=True),
            vae=vae,
            text_encoder=text_encoder,
            tokenizer=tokenizer,
            transformer=transformer,
        ),
        folder,
    )
