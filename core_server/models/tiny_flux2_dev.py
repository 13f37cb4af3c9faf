"""The tiny FLUX.2 [dev]: Klein's miniature transformer and VAE with guidance embedded, and a 30-layer,
16-wide Mistral 3 (a one-layer Pixtral vision tower beside it, as the class has one) whose tokenizer is a
byte-level BPE with a chat template in Mistral's markers: the real model's tokenizer is a Pixtral processor
(which needs torchvision); for text prompts the pipeline only calls its apply_chat_template."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core_server.models import flow_checkpoints, tiny, tiny_flow

SPECIAL_TOKENS = ("<unk>", "<s>", "</s>", "<pad>", "[INST]", "[/INST]", "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]", "[IMG]")
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'system' %}"
    "[SYSTEM_PROMPT]{{ m['content'][0]['text'] }}[/SYSTEM_PROMPT]"
    "{% else %}[INST]{{ m['content'][0]['text'] }}[/INST]{% endif %}{% endfor %}"
)


def _tokenizer() -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=384,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(tiny.CORPUS.splitlines(), trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        chat_template=CHAT_TEMPLATE,
    )


def _text_encoder(tokenizer: Any) -> Any:
    from transformers import Mistral3Config, Mistral3ForConditionalGeneration, MistralConfig, PixtralVisionConfig

    width = tiny_flow.TEXT_WIDTH
    text = MistralConfig(
        vocab_size=len(tokenizer),
        hidden_size=width,
        intermediate_size=width,
        num_hidden_layers=30,  # the pipeline stacks the states after layers 10, 20 and 30
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=8,
        max_position_embeddings=1024,
        pad_token_id=tokenizer.pad_token_id,
    )
    vision = PixtralVisionConfig(
        hidden_size=width, intermediate_size=width, num_hidden_layers=1, num_attention_heads=2, head_dim=8, patch_size=4
    )
    config = Mistral3Config(
        text_config=text, vision_config=vision, image_token_index=tokenizer.convert_tokens_to_ids("[IMG]")
    )
    return Mistral3ForConditionalGeneration(config)


def build(folder: Path) -> None:
    tiny.quiet_progress()
    from diffusers import AutoencoderKLFlux2, FlowMatchEulerDiscreteScheduler, Flux2Transformer2DModel

    from core_server.engines.flux2_dev_inpaint import Flux2DevInpaintPipeline

    tokenizer = _tokenizer()
    text_encoder = tiny_flow._seeded(lambda: _text_encoder(tokenizer))
    channels = tiny_flow.FLUX2_LATENT_CHANNELS
    vae = tiny_flow._seeded(
        lambda: AutoencoderKLFlux2(
            down_block_types=("DownEncoderBlock2D",) * 2,
            up_block_types=("UpDecoderBlock2D",) * 2,
            block_out_channels=(16, 32),
            layers_per_block=1,
            latent_channels=channels,
            norm_num_groups=8,
            sample_size=tiny_flow.NATIVE_SIDE,
        )
    )
    transformer = tiny_flow._seeded(
        lambda: Flux2Transformer2DModel(
            patch_size=1,
            in_channels=channels * 4,
            num_layers=1,
            num_single_layers=1,
            attention_head_dim=16,
            num_attention_heads=2,
            joint_attention_dim=tiny_flow.TEXT_WIDTH * 3,
            timestep_guidance_channels=32,
            axes_dims_rope=flow_checkpoints.flux2_rope(16),
            guidance_embeds=True,
        )
    )
    pipe = Flux2DevInpaintPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0, use_dynamic_shifting=True),
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        transformer=transformer,
    )
    pipe.save_pretrained(folder, safe_serialization=True)
