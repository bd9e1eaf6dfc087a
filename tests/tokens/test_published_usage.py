"""The token estimate against token counts the provider's API reported for known text (published_usage.json).

Messages only, the counts are exact for every model of the OpenAI Cookbook's example but gpt-3.5-turbo-0301,
whose chat format framed messages differently (2 tokens, 1.6 % over). Tool definitions are not counted: a
request with tools is under-counted (the cookbook's one-tool example: 68 of 101 tokens missing, -67 %). The
answers of two printed API responses are counted exactly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llmpulse.tokens import count_messages, count_text

CASES = json.loads((Path(__file__).parent / "published_usage.json").read_text())
#: the largest relative error measured on requests without tools (gpt-3.5-turbo-0301: 129 counted, 127 reported)
MESSAGES_BOUND = 2 / 127
#: requests with tool definitions: counted low by this much at most (68 of 101, 71 of 105)
TOOLS_UNDER = 0.68


def error(case: dict[str, Any]) -> float:
    counted = count_messages(CASES["messages"][case["messages"]], case["model"]).tokens
    return (counted - case["api_prompt_tokens"]) / case["api_prompt_tokens"]


def test_every_case_names_a_source() -> None:
    for case in CASES["prompt_cases"] + CASES["completion_cases"]:
        assert case["source"] in CASES["sources"]


@pytest.mark.parametrize("case", [c for c in CASES["prompt_cases"] if not c.get("tools")], ids=lambda c: c["model"])
def test_prompt_tokens_without_tools(case: dict[str, Any]) -> None:
    assert 0 <= error(case) <= MESSAGES_BOUND


def test_prompt_tokens_exact_for_current_chat_format_models() -> None:
    exact = [c for c in CASES["prompt_cases"] if not c.get("tools") and not c.get("legacy_chat_format")]
    assert len(exact) == 9 and all(error(c) == 0 for c in exact)


@pytest.mark.parametrize("case", [c for c in CASES["prompt_cases"] if c.get("tools")], ids=lambda c: c["model"])
def test_tool_definitions_are_not_counted(case: dict[str, Any]) -> None:
    assert -TOOLS_UNDER <= error(case) < -0.6


@pytest.mark.parametrize("case", CASES["completion_cases"], ids=lambda c: c["response_id"])
def test_completion_tokens(case: dict[str, Any]) -> None:
    assert count_text(case["text"], case["model"]).tokens == case["api_completion_tokens"]
