"""A GGUF model's own tokenizer (inside llama.cpp), with the few tokenizer calls the text prompts make.

continue_text, rewrite_text, text_steering and the sampling loop's decoder are written against
transformers' tokenizer; this class answers the same calls from llama.cpp's vocabulary, so both
engines build the same prompts.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jinja2.ext
import llama_cpp
from jinja2.sandbox import ImmutableSandboxedEnvironment

_PIECE_BYTES = 256


@dataclass(frozen=True)
class Encoding:
    input_ids: list[int]


class GGUFTokenizer:
    def __init__(self, model: Any) -> None:
        """`model`: a llama_model pointer, which must outlive this tokenizer."""
        self._vocab = llama_cpp.llama_model_get_vocab(model)
        count = llama_cpp.llama_vocab_n_tokens(self._vocab)
        self._texts = [
            llama_cpp.llama_vocab_get_text(self._vocab, token).decode("utf-8", "replace") for token in range(count)
        ]
        bos, eos = llama_cpp.llama_vocab_bos(self._vocab), llama_cpp.llama_vocab_eos(self._vocab)
        self.bos_token_id = bos if bos >= 0 else None
        self.eos_token_id = eos if eos >= 0 else None
        self.all_special_ids = [token for token in range(count) if llama_cpp.llama_vocab_is_control(self._vocab, token)]
        self.end_ids = frozenset(token for token in range(count) if llama_cpp.llama_vocab_is_eog(self._vocab, token))
        fim = tuple(
            get(self._vocab)
            for get in (llama_cpp.llama_vocab_fim_pre, llama_cpp.llama_vocab_fim_suf, llama_cpp.llama_vocab_fim_mid)
        )
        # llama.cpp knows more FIM spellings than the prompts do (CodeLlama's <PRE>, ...).
        self.fim_ids: tuple[int, int, int] | None = fim if min(fim) >= 0 else None  # type: ignore[assignment]
        template = llama_cpp.llama_model_chat_template(model, None)
        self.chat_template = template.decode("utf-8") if template else None

    def __len__(self) -> int:
        return len(self._texts)

    def __call__(self, text: str, add_special_tokens: bool = True, verbose: bool = False) -> Encoding:
        return Encoding(self.encode(text, add_special_tokens=add_special_tokens))

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        """Special tokens written in the text are read as such, as transformers' tokenizers do."""
        data = text.encode("utf-8")
        room = len(data) + 8
        tokens = (llama_cpp.llama_token * room)()
        count = llama_cpp.llama_tokenize(self._vocab, data, len(data), tokens, room, add_special_tokens, True)
        if count < 0:
            raise ValueError(f"llama.cpp could not tokenize {len(data)} bytes of text")
        return list(tokens[:count])

    def decode(
        self, ids: Sequence[int], skip_special_tokens: bool = True, clean_up_tokenization_spaces: bool = False
    ) -> str:
        """Text of `ids`; an incomplete character at the end comes out as U+FFFD, as the decoder expects."""
        buffer = ctypes.create_string_buffer(_PIECE_BYTES)
        pieces = []
        for token in ids:
            length = llama_cpp.llama_token_to_piece(
                self._vocab, token, buffer, _PIECE_BYTES, 0, not skip_special_tokens
            )
            pieces.append(buffer.raw[: max(length, 0)])
        return b"".join(pieces).decode("utf-8", "replace")

    def get_vocab(self) -> dict[str, int]:
        return {text: token for token, text in enumerate(self._texts)}

    def apply_chat_template(
        self, messages: list[dict[str, str]], tokenize: bool = False, add_generation_prompt: bool = True
    ) -> str:
        """The model's own template (GGUF tokenizer.chat_template), rendered sandboxed as transformers does."""
        if not self.chat_template:
            raise ValueError("this model has no chat template")

        def raise_exception(message: str) -> None:
            raise ValueError(message)

        environment = ImmutableSandboxedEnvironment(
            trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols]
        )
        environment.globals["raise_exception"] = raise_exception
        return environment.from_string(self.chat_template).render(
            messages=messages,
            add_generation_prompt=add_generation_prompt,
            bos_token=self._text(self.bos_token_id),
            eos_token=self._text(self.eos_token_id),
        )

    def _text(self, token: int | None) -> str:
        return "" if token is None else self._texts[token]
