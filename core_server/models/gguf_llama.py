"""A transformers Llama model and its tokenizer written as one GGUF file, the format llama.cpp runs.

Used for random-weight models made on this machine (the llama.cpp engine's tests, bench/text.py): the
same weights load in both engines. Quantized files are made from the F16 one by llama.cpp itself
(`quantize`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import numpy as np

FloatType = Literal["f32", "f16"]
QUANTIZED = {"q4_0": 2, "q8_0": 7}  # llama_ftype values


def random_llama(
    folder: Path,
    tokenizer_dir: Path,
    *,
    hidden: int,
    layers: int,
    heads: int,
    kv_heads: int,
    ffn: int,
    window: int,
    seed: int = 0,
) -> Path:
    """A LlamaForCausalLM of this shape with seeded random weights and the tokenizer from `tokenizer_dir`,
    saved as a transformers folder (safetensors)."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir, local_files_only=True)
    tokenizer.model_max_length = window
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=ffn,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=window,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


def write_gguf(model_dir: Path, path: Path, dtype: FloatType = "f32") -> Path:
    """The transformers LlamaForCausalLM folder `model_dir` (weights and a byte-level BPE tokenizer) as GGUF."""
    import gguf
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM

    model = LlamaForCausalLM.from_pretrained(model_dir, dtype=torch.float32, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    config = model.config
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(model_dir.name)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_rope_freq_base(config.rope_parameters["rope_theta"])
    writer.add_rope_dimension_count(config.hidden_size // config.num_attention_heads)
    writer.add_vocab_size(config.vocab_size)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32 if dtype == "f32" else gguf.LlamaFileType.MOSTLY_F16)
    _add_tokenizer(writer, tokenizer, config.vocab_size)

    heads, kv_heads = config.num_attention_heads, config.num_key_value_heads
    for name, tensor in model.state_dict().items():
        array = tensor.numpy()
        if name.endswith("q_proj.weight"):
            array = _rope_permute(array, heads)
        elif name.endswith("k_proj.weight"):
            array = _rope_permute(array, kv_heads)
        # Norms stay float32, as llama.cpp expects.
        writer.add_tensor(_gguf_name(name), array if array.ndim == 1 or dtype == "f32" else array.astype(np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def quantize(source: Path, path: Path, kind: str) -> Path:
    """`source` (an F16/F32 GGUF) quantized by llama.cpp to `kind` ('q4_0' or 'q8_0')."""
    import llama_cpp

    from core_server.engines.llama_text import quiet_log

    quiet_log()
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = QUANTIZED[kind]
    if llama_cpp.llama_model_quantize(str(source).encode(), str(path).encode(), params) != 0:
        raise RuntimeError(f"llama.cpp could not quantize {source} to {kind}")
    return path


def _add_tokenizer(writer: object, tokenizer: object, vocab_size: int) -> None:
    """A byte-level BPE tokenizer (GPT-2's scheme) as llama.cpp's 'gpt2' tokenizer model."""
    backend = json.loads(tokenizer.backend_tokenizer.to_str())  # type: ignore[attr-defined]
    vocab: dict[str, int] = tokenizer.get_vocab()  # type: ignore[attr-defined]
    tokens = [""] * vocab_size
    for token, index in vocab.items():
        tokens[index] = token
    special = set(tokenizer.all_special_ids)  # type: ignore[attr-defined]
    merges = [merge if isinstance(merge, str) else " ".join(merge) for merge in backend["model"]["merges"]]
    writer.add_tokenizer_model("gpt2")  # type: ignore[attr-defined]
    writer.add_tokenizer_pre("gpt-2")  # type: ignore[attr-defined]
    writer.add_token_list(tokens)  # type: ignore[attr-defined]
    writer.add_token_types([3 if index in special else 1 for index in range(vocab_size)])  # type: ignore[attr-defined]
    writer.add_token_merges(merges)  # type: ignore[attr-defined]
    writer.add_bos_token_id(tokenizer.bos_token_id)  # type: ignore[attr-defined]
    writer.add_eos_token_id(tokenizer.eos_token_id)  # type: ignore[attr-defined]
    writer.add_add_bos_token(False)  # type: ignore[attr-defined]
    if tokenizer.chat_template:  # type: ignore[attr-defined]
        writer.add_chat_template(tokenizer.chat_template)  # type: ignore[attr-defined]


def _gguf_name(name: str) -> str:
    """transformers' Llama tensor names as llama.cpp's."""
    fixed = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight"}
    fixed["lm_head.weight"] = "output.weight"
    if name in fixed:
        return fixed[name]
    _, _, layer, *rest = name.split(".")
    part = {
        "input_layernorm.weight": "attn_norm.weight",
        "self_attn.q_proj.weight": "attn_q.weight",
        "self_attn.k_proj.weight": "attn_k.weight",
        "self_attn.v_proj.weight": "attn_v.weight",
        "self_attn.o_proj.weight": "attn_output.weight",
        "post_attention_layernorm.weight": "ffn_norm.weight",
        "mlp.gate_proj.weight": "ffn_gate.weight",
        "mlp.up_proj.weight": "ffn_up.weight",
        "mlp.down_proj.weight": "ffn_down.weight",
    }[".".join(rest)]
    return f"blk.{layer}.{part}"


def _rope_permute(weights: np.ndarray, heads: int) -> np.ndarray:
    """transformers rotates the two halves of each head; llama.cpp rotates interleaved pairs."""
    rows = weights.shape[0]
    return weights.reshape(heads, 2, rows // heads // 2, *weights.shape[1:]).swapaxes(1, 2).reshape(weights.shape)
