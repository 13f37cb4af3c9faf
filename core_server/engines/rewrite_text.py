"""rewrite_text: the prompt for rewriting a selection after an instruction."""

from __future__ import annotations

from transformers import PreTrainedTokenizerBase

from core_server.engines.continue_text import leading_special_ids
from core_server.tasks import RewriteTextTask

DEFAULT_INSTRUCTION = "Make it clearer and easier to read, keeping its meaning."


def rewrite_prompt(tokenizer: PreTrainedTokenizerBase, task: RewriteTextTask) -> list[int]:
    """Token ids asking for the rewrite: through the tokenizer's chat template when it has one,
    else as a plain instruction prompt."""
    request = (
        f"Rewrite the text below. {task.instruction or DEFAULT_INSTRUCTION}\n"
        f"Reply with the rewritten text only.\n\n{task.selection}"
    )
    if tokenizer.chat_template:
        # One user message: some templates refuse a system role.
        prompt = tokenizer.apply_chat_template(
            [{"role": "user", "content": request}], tokenize=False, add_generation_prompt=True
        )
        return tokenizer(prompt, add_special_tokens=False, verbose=False).input_ids
    return (
        leading_special_ids(tokenizer)
        + tokenizer(f"{request}\n\nRewritten text:\n", add_special_tokens=False, verbose=False).input_ids
    )
