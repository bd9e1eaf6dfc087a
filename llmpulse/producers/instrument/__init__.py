"""One line wires an LLM SDK client into llmpulse.

    client = instrument_openai(OpenAI(), monitor, app="search", team="core")
    with call_labels(user_id=user.id, feature="summary"):
        client.chat.completions.create(...)

The caller's results, exceptions and streaming behaviour are unchanged; instrumentation never raises.
``instrument_litellm(monitor, app=...)`` (the ``litellm`` extra) registers a LiteLLM callback; it is imported
on first use, since importing LiteLLM takes seconds.
"""

from typing import Any

from llmpulse.producers.instrument.anthropic import instrument_anthropic
from llmpulse.producers.instrument.labels import call_labels
from llmpulse.producers.instrument.openai import instrument_openai

__all__ = ["LLMPulseLogger", "call_labels", "instrument_anthropic", "instrument_litellm", "instrument_openai"]


def __getattr__(name: str) -> Any:
    if name in ("LLMPulseLogger", "instrument_litellm"):
        from llmpulse.producers.instrument import litellm

        return getattr(litellm, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
