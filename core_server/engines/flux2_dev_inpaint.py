"""FLUX.2 [dev] painting into a mask: diffusers 0.42 ships FLUX.2 [dev] only as text-to-image (Flux2Pipeline),
and inpainting only for Klein. The two share the transformer's layout, the VAE and the inpainting loop; they
differ in the text encoder (Mistral Small 3.1 read at layers 10, 20 and 30, not Qwen3 at 9, 18 and 27) and in
guidance, which [dev] embeds in the transformer instead of running a second, unconditioned pass. So this is
Klein's inpainting pipeline with [dev]'s prompt encoding, and the guidance given to every transformer call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from diffusers import AutoencoderKLFlux2, FlowMatchEulerDiscreteScheduler, Flux2Transformer2DModel
from diffusers.pipelines.flux2.pipeline_flux2 import Flux2Pipeline
from diffusers.pipelines.flux2.pipeline_flux2_klein_inpaint import Flux2KleinInpaintPipeline
from diffusers.pipelines.flux2.system_messages import SYSTEM_MESSAGE
from transformers import AutoTokenizer, Mistral3ForConditionalGeneration

MISTRAL_LAYERS = (10, 20, 30)  # the hidden states FLUX.2 [dev] stacks, as Flux2Pipeline reads them


class Flux2DevInpaintPipeline(Flux2KleinInpaintPipeline):
    def __init__(
        self,
        scheduler: FlowMatchEulerDiscreteScheduler,
        vae: AutoencoderKLFlux2,
        text_encoder: Mistral3ForConditionalGeneration,
        tokenizer: Any,
        transformer: Flux2Transformer2DModel,
        is_distilled: bool = True,  # guidance-distilled: no unconditioned pass (see _embed_guidance)
    ) -> None:
        super().__init__(scheduler, vae, text_encoder, tokenizer, transformer, is_distilled=True)
        self.system_message = SYSTEM_MESSAGE
        self.tokenizer_max_length = 512
        transformer.register_forward_pre_hook(self._embed_guidance, with_kwargs=True)

    @classmethod
    def from_pretrained(cls, folder: Any, **options: Any) -> Any:  # type: ignore[override]
        """Black Forest Labs' tokenizer folder holds a Pixtral processor, which needs torchvision; for text
        prompts the pipeline only calls its tokenizer's chat template, so the tokenizer alone is loaded."""
        if "tokenizer" not in options and (Path(folder) / "tokenizer").is_dir():
            options["tokenizer"] = AutoTokenizer.from_pretrained(Path(folder) / "tokenizer", local_files_only=True)
        return super().from_pretrained(folder, **options)

    def _embed_guidance(self, module: Any, args: tuple, kwargs: dict[str, Any]) -> tuple[tuple, dict[str, Any]]:
        """Klein's loop passes guidance=None; [dev] takes the request's guidance scale as an input."""
        if kwargs.get("guidance") is None:
            batch = kwargs["hidden_states"].shape[0]
            device = kwargs["hidden_states"].device
            kwargs["guidance"] = torch.full((batch,), float(self._guidance_scale), device=device)
        return args, kwargs

    def check_inputs(self, *args: Any, guidance_scale: float | None = None, **kwargs: Any) -> None:
        # Klein's check warns that guidance is ignored by distilled models; here it is embedded, not ignored.
        super().check_inputs(*args, guidance_scale=1.0, **kwargs)

    _get_mistral_3_small_prompt_embeds = staticmethod(Flux2Pipeline._get_mistral_3_small_prompt_embeds)

    def encode_prompt(self, *args: Any, text_encoder_out_layers: Any = None, **kwargs: Any) -> Any:
        return Flux2Pipeline.encode_prompt(self, *args, text_encoder_out_layers=MISTRAL_LAYERS, **kwargs)  # type: ignore[arg-type]
