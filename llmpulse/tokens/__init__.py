"""Token counts when the provider reports none (streams without usage, providers that omit it, captured text).

OpenAI models are counted with ``tiktoken`` and the model's own encoding; the BPE files (``o200k_base``,
``cl100k_base``) ship in ``data/`` and are checked against tiktoken's published SHA-256, so this works
offline. Other models have no public tokenizer: they are counted with ``o200k_base`` as an approximation,
and every count says which it is.
"""

from llmpulse.tokens.counting import TokenCount, count_call, count_messages, count_text, encoding

__all__ = ["TokenCount", "count_call", "count_messages", "count_text", "encoding"]
