"""One line wires an LLM SDK client into llmpulse.

    client = instrument_openai(OpenAI(), monitor, app="search", team="core")
    with call_labels(user_id=user.id, feature="summary"):
        client.chat.completions.create(...)

The caller's results, exceptions and streaming behaviour are unchanged; instrumentation never raises.
"""

from llmpulse.producers.instrument.anthropic import instrument_anthropic
from llmpulse.producers.instrument.labels import call_labels
from llmpulse.producers.instrument.openai import instrument_openai

__all__ = ["call_labels", "instrument_anthropic", "instrument_openai"]
