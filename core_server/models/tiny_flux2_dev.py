"""The tiny FLUX.2 [dev]: Klein's miniature transformer and VAE with guidance embedded, and a 30-layer,
16-wide Mistral 3 (a one-layer Pixtral vision tower beside it, as the class has one) whose tokenizer is a
byte-level BPE with a chat template in Mistral's markers: the real model's tokenizer is a Pixtral processor
(which needs torchvision); for text prompts the pipeline only calls its apply_chat_template."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core_server.models import tiny, tiny_flow

SPECIAL_TOKENS = ("<unk>", "<s>", "</s>", "<pad>", "[INST]", "[/INST]", "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]", "[IMG]")
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'system' %}"
    "[SYSTEM_PROMPT]{{ m['content'][0]['text'] }}[/SYSTEM_PROMPT]"
    "{% else %}[INST]{{ m['content'][0]['text'] }}[/INST]{% endif %}{% endfor %}"
)


def _tokenizer() -> Any:
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=tiny_flow.byte_bpe(SPECIAL_TOKENS),
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
    from diffusers import FlowMatchEulerDiscreteScheduler

    from core_server.engines.flux2_dev_inpaint import Flux2DevInpaintPipeline

    tokenizer = _tokenizer()
    text_encoder = tiny_flow._seeded(lambda: _text_encoder(tokenizer))
    vae, transformer = tiny_flow.flux2_vae(), tiny_flow.flux2_transformer(guidance_embeds=True)
    pipe = Flux2DevInpaintPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0, use_dynamic_shifting=True),
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        transformer=transformer,
    )
    pipe.save_pretrained(folder, safe_serialization=True)
