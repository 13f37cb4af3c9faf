"""continue_text: the prompt for writing on at the cursor."""

from __future__ import annotations

from transformers import PreTrainedTokenizerBase

from core_server.tasks import ContinueTextTask

# Fill-in-the-middle markers (prefix, suffix, middle), in the spellings models ship them with.
FIM_MARKERS = (
    ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"),
    ("<fim_prefix>", "<fim_suffix>", "<fim_middle>"),
)
# Tokens are rarely longer than this many characters; trimming tokenizes this much text per token of room.
MAX_CHARS_PER_TOKEN = 32


def fim_token_ids(tokenizer: PreTrainedTokenizerBase) -> tuple[int, int, int] | None:
    """The (prefix, suffix, middle) token ids when the tokenizer has fill-in-the-middle tokens."""
    vocab = tokenizer.get_vocab()
    for markers in FIM_MARKERS:
        if all(marker in vocab for marker in markers):
            prefix, suffix, middle = (vocab[marker] for marker in markers)
            return prefix, suffix, middle
    return None


def continue_prompt(
    tokenizer: PreTrainedTokenizerBase, task: ContinueTextTask, *, room: int, fim: tuple[int, int, int] | None
) -> list[int]:
    """Token ids for `task`, at most `room` of them.

    `before` is trimmed from its start at a token boundary, keeping the text next to the cursor.
    `after` is used only when the tokenizer has fill-in-the-middle tokens (`fim`), as
    prefix-suffix-middle with at most a quarter of the room; otherwise the model sees `before` alone.
    """
    lead = leading_special_ids(tokenizer)
    # The three markers need room too; in a nearly full window the text before the cursor matters most.
    if fim is None or not task.after or room <= len(lead) + 3:
        before = _last_tokens(tokenizer, task.before, room - len(lead))
        if lead or before:
            return lead + before
        # A model needs a token to start from; with nothing before the cursor it starts a document.
        start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        return [start]
    prefix, suffix, middle = fim
    room -= len(lead) + 3
    after = _first_tokens(tokenizer, task.after, room // 4)
    before = _last_tokens(tokenizer, task.before, room - len(after))
    return [*lead, prefix, *before, suffix, *after, middle]


def leading_special_ids(tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """What the tokenizer puts before any text: Llama's <s>, nothing for GPT-2."""
    ids = tokenizer("", add_special_tokens=True).input_ids
    return [token for token in ids if token == tokenizer.bos_token_id]


def _last_tokens(tokenizer: PreTrainedTokenizerBase, text: str, count: int) -> list[int]:
    if count <= 0:
        return []
    # Tokenizing a whole novel to keep its last lines is slow: cut characters first, then drop the
    # first token, which may be the tail of a longer one.
    chars = count * MAX_CHARS_PER_TOKEN
    if len(text) > chars:
        ids = tokenizer(text[-chars:], add_special_tokens=False, verbose=False).input_ids[1:]
    else:
        ids = tokenizer(text, add_special_tokens=False, verbose=False).input_ids
    return ids[-count:]


def _first_tokens(tokenizer: PreTrainedTokenizerBase, text: str, count: int) -> list[int]:
    if count <= 0:
        return []
    chars = count * MAX_CHARS_PER_TOKEN
    if len(text) > chars:
        ids = tokenizer(text[:chars], add_special_tokens=False, verbose=False).input_ids[:-1]
    else:
        ids = tokenizer(text, add_special_tokens=False, verbose=False).input_ids
    return ids[:count]
