"""Data shipped with llmpulse: the Azure LLM inference trace (see ATTRIBUTION.md), an example prices file."""
