"""The tiny profile: small random-weight models built on this machine, so cocreate works offline with no setup.

One image model per family (each family module says how to build its own, from the parts here) and one
text model. All are saved in the standard formats (diffusers / transformers folders, safetensors weights) and load
through the same from_pretrained path as real models. Weights are seeded, so every machine builds the same
files. They paint noise and write gibberish; they exist to exercise the whole system quickly.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core_server.engines.families import FAMILIES
from core_server.engines.families.family import Family
from core_server.models import tiny_control, tiny_redux, tiny_reference

TINY_IMAGE = "tiny-image"
TINY_TEXT = "tiny-text"
# Bump when the recipe changes, so existing installs build the new models beside the old ones.
RECIPE_VERSION = 1

SEED = 0
TEXT_WINDOW = 256  # small, so trimming long documents is exercised
TEXT_VOCAB_SIZE = 384
FIM_TOKENS = ("<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>")
END_OF_TEXT = "<|endoftext|>"
CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}" + END_OF_TEXT + "\n"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
# The tiny tokenizer learns its merges from this text; any English with a few accents will do.
CORPUS = """\
The quick brown fox jumps over the lazy dog. A painter mixes colours on the palette, then steps back.
Once upon a time, in a small town by the sea, there lived a writer who loved long walks at dawn.
She wrote about the light on the water, the gulls, and the fishermen mending their nets.
"Where are you going?" asked the child. "To the market," said her mother, "and then home again."
It was the best of times; it was the worst of times. Nothing is certain but change.
Café, naïve, déjà vu, crème brûlée: words borrowed from French keep their accents.
In the morning the city wakes slowly. Shops open, buses hum, and the bakery smells of fresh bread.
Texture, light and shadow give a picture depth. Brick, stone, wood, moss, rust and marble.
"""

# Seeding uses torch's process-wide generator, so builds in one process take turns.
_BUILD_LOCK = threading.Lock()


def ensure_tiny_models(models_dir: Path) -> dict[str, Path]:
    """Build the tiny models under models_dir/tiny/ unless they exist; return {name: folder}.

    Safe to call from several processes at once: each builds in a private folder and renames it into
    place, and a loser of that race drops its copy (the files are identical).
    """
    root = models_dir / "tiny" / f"v{RECIPE_VERSION}"
    builders: dict[str, Callable[[Path], None]] = {
        tiny_name(family): family.build_tiny for family in FAMILIES.values() if family.build_tiny is not None
    }
    builders[TINY_TEXT] = _build_tiny_text
    builders.update(tiny_reference.builders())  # after the tiny UNets they are shaped for
    builders.update(tiny_control.BUILDERS)
    builders.update(tiny_redux.BUILDERS)
    folders = {name: root / name for name in builders}
    for name, folder in folders.items():
        if not folder.is_dir():
            root.mkdir(parents=True, exist_ok=True)
            _build_atomically(builders[name], folder)
    return folders


def tiny_name(family: Family) -> str:
    """The tiny model of a family: tiny-image for SD 1.5 (the default since the start), tiny-FAMILY for the rest."""
    return TINY_IMAGE if family.name == "sd15" else f"tiny-{family.name}"


def _build_atomically(build: Callable[[Path], None], folder: Path) -> None:
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        with _BUILD_LOCK:
            build(staging)
        os.rename(staging, folder)
    except OSError:
        if not folder.is_dir():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def clip_tokenizer() -> Any:
    """A byte-level CLIP tokenizer with no merges: every byte alone and at a word's end, plus CLIP's markers."""
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import CLIPTokenizer

    alphabet = sorted(ByteLevel.alphabet())
    tokens = [*alphabet, *(char + "</w>" for char in alphabet), "<|startoftext|>", END_OF_TEXT]
    vocab = {token: index for index, token in enumerate(tokens)}
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)


def clip_text_encoder(tokenizer: Any, *, projection: bool = False) -> Any:
    """A 32-wide CLIP text encoder for `tokenizer`; with a text projection when the family pools it (SDXL, SD3)."""
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    vocab = tokenizer.get_vocab()
    config = CLIPTextConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=5,
        num_attention_heads=4,
        max_position_embeddings=77,
        layer_norm_eps=1e-05,
        projection_dim=32,
        bos_token_id=vocab["<|startoftext|>"],
        eos_token_id=vocab[END_OF_TEXT],
        pad_token_id=vocab[END_OF_TEXT],
    )
    torch.manual_seed(SEED)
    return (CLIPTextModelWithProjection if projection else CLIPTextModel)(config)


def vae(latent_channels: int = 4, **options: Any) -> Any:
    """A 3-level VAE (latents at 1/4 of the pixels) for speed."""
    import torch
    from diffusers import AutoencoderKL

    torch.manual_seed(SEED)
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        latent_channels=latent_channels,
        block_out_channels=(16, 32, 64),
        down_block_types=("DownEncoderBlock2D",) * 3,
        up_block_types=("UpDecoderBlock2D",) * 3,
        norm_num_groups=16,
        sample_size=64,
        **options,
    )


def quiet_progress() -> None:
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()


def _build_tiny_text(folder: Path) -> None:
    # Imported here: only the first run builds models, and listing models should not load torch.
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    # Byte-level BPE as GPT-2 does it, its merges learned from the built-in corpus.
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=TEXT_VOCAB_SIZE,
        special_tokens=[END_OF_TEXT, *FIM_TOKENS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(CORPUS.splitlines(), trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=END_OF_TEXT,
        eos_token=END_OF_TEXT,
        pad_token=END_OF_TEXT,
        additional_special_tokens=list(FIM_TOKENS),
        model_max_length=TEXT_WINDOW,
    )
    tokenizer.chat_template = CHAT_TEMPLATE

    end_of_text = backend.token_to_id(END_OF_TEXT)
    torch.manual_seed(SEED)
    model = GPT2LMHeadModel(
        GPT2Config(
            vocab_size=backend.get_vocab_size(),
            n_positions=TEXT_WINDOW,
            n_embd=64,
            n_layer=2,
            n_head=4,
            bos_token_id=end_of_text,
            eos_token_id=end_of_text,
        )
    )
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
