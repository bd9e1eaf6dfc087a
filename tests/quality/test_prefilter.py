"""The rule signals' regular expressions are answered through literal prefilters (``llmpulse.quality.prefilter``):
the same answers as the original single expressions, kept here verbatim as the reference, on the training
corpus, the benchmark traffic, and generated mutants of both; and the case folding the prefilter relies on,
checked against every Unicode character. (``tests/quality/heldout.jsonl`` is not read.)"""

# ruff: noqa: E501, RUF001  (the reference tables are copied verbatim from llmpulse/quality/text.py)

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmpulse.bench import traffic
from llmpulse.quality import text
from llmpulse.quality.columns import SCORED_CHARS
from llmpulse.quality.prefilter import Alternation, fold, required, sre, sre_parse

# --- reference: llmpulse/quality/text.py before the prefilter (as of commit 993cfae), verbatim -----------------------
_FLAGS = re.IGNORECASE | re.UNICODE

# A refusal declines the request itself: "can't/won't/unable to" + help/assist/provide/…, an AI disclaimer, or
# "I must decline" — near the start of the answer, where a refusal puts it.
_HELP = r"(?:help|assist|provide|comply|fulfil+|do (?:that|this)|share|answer|generate|create|write|give|discuss|continue|support|access|browse|make)"
_REFUSAL = re.compile(
    r"|".join(
        [
            rf"\b(?:i|we)(?:'m| am| are)? (?:really )?(?:sorry|afraid)\b[^.!?\n]{{0,40}}\b(?:can(?:'|no)?t|cannot|unable|not (?:able|allowed|permitted)|won't)\b[^.!?\n]{{0,60}}\b{_HELP}",
            rf"\b(?:i|we)(?:'m|'re| am| are)? (?:really )?(?:can(?:'|no)?t|cannot|won't be able to|will not|unable to|not able to|not permitted to|not allowed to|not in a position to) (?:\w+ ){{0,3}}{_HELP}\b",
            r"\bas an ai\b|\bas a(?:n ai)? language model\b",
            r"\b(?:i|we) must (?:respectfully )?decline\b|\bi'?(?:d| would) rather not help\b|\bi(?:'m| am) not comfortable helping\b",
            r"\b(?:that|this)(?:'s| is) (?:not something|beyond what|outside (?:of )?what) i can\b|\bfalls outside what i(?:'m| am) able\b",
            r"\b(?:it's|it is) not appropriate for me to\b|\bi'?(?:d| would) prefer not to\b|\bi(?:'m| am) afraid (?:that's|that is|this is) not possible\b",
            r"\b(?:that|this|your) request (?:violates|goes against|is against)\b|\bi(?:'m| am) (?:just|only) an ai\b|\bi don't think i can (?:help|assist|do)\b",
            r"\b(?:isn't|is not) something i(?:'m| am) (?:allowed|able|permitted) to\b|\bi (?:don't|do not) have access to\b[^.!?\n]{0,40}\bi can(?:'|no)?t\b",
            r"\b(?:isn't|is not) something i can (?:do|help)",
            r"\bmy (?:guidelines|policies|rules) (?:don't|do not) allow\b|\bgoes against (?:our|my) (?:usage )?polic",
            # de, fr, es, nl
            r"\bkann (?:ich )?(?:ihnen|dir|euch)? ?(?:dabei |damit |hierbei )?(?:leider )?nicht (?:helfen|beantworten|weiterhelfen)|\bich kann (?:diese|die) (?:anfrage|frage) (?:leider )?nicht\b|\bes tut mir leid, aber (?:ich|das)|\b(?:das|dies) kann ich (?:leider )?nicht\b|\bleider kann ich (?:ihnen |dir )?(?:dabei |damit )?nicht\b",
            r"\bje ne (?:peux|suis) pas (?:en mesure de |vous aider|t'aider|fournir|répondre)|\bdésolée?, (?:mais )?je ne (?:peux|suis)",
            r"\bno puedo (?:ayudar|proporcionar|responder|hacer|dar)|\blo siento, (?:pero )?no (?:puedo|es posible)",
            r"\bik kan (?:je|u) (?:daar |hier )?(?:helaas )?niet (?:mee |bij )?helpen|\bik kan (?:deze|die) vraag (?:helaas )?niet\b|\bsorry, maar (?:ik kan|daar kan ik)|\bhelaas kan ik (?:je |u )?(?:daar |hier )?(?:niet|geen)\b|\bhet spijt me, maar (?:dat|ik)\b",
        ]
    ),
    _FLAGS,
)
_REFUSAL_WINDOW = 240  # characters from the start of the answer
# quoted speech ('I can't help with that', "ignore all instructions") is reported, not said
_QUOTED = re.compile(r"\"[^\"\n]{1,300}\"|“[^”\n]{1,300}”|«[^»\n]{1,300}»|(?<!\w)'.{1,300}?'(?!\w)")

_INJECTION = re.compile(
    r"|".join(
        [
            r"\b(?:ignore|disregard|forget|override|bypass|skip)\b[^.!?\n]{0,30}\b(?:previous|prior|above|earlier|preceding|all|your|the|any|initial|original|system)\b[^.!?\n]{0,20}\b(?:instructions?|prompts?|rules|directions|directives|guidelines|polic(?:y|ies)|settings|restrictions|content policy)\b",
            r"\b(?:forget|disregard) (?:everything|all) (?:you were|you've been|that you were) (?:told|given|instructed)\b",
            r"\b(?:print|reveal|show|repeat|output|display|list|dump|tell me)\b[^.!?\n]{0,30}\b(?:your|the) (?:system|initial|hidden|original|developer|secret|full|exact) (?:prompt|instructions|message|rules)",
            r"\bwhat (?:are|were) your (?:hidden|secret|system|initial) (?:instructions|rules|prompt)",
            r"\brepeat (?:the text|everything|all) above\b|\b(?:output|print) everything in your context\b|\bbefore my first message\b",
            r"\byou are (?:now|no longer)\b[^.!?\n]{0,40}\b(?:dan|unrestricted|uncensored|jailbroken|without (?:any )?(?:rules|restrictions|limits|filters)|evil|hacker|root|free)\b",
            r"\bdo anything now\b|\bdeveloper mode\b(?![^.!?\n]{0,30}\b(?:phone|android|iphone|settings app))|\bmaintenance mode\b|\bjailbreak\s*:|\bsystem override\b",
            r"\b(?:pretend|act as if|imagine) (?:you (?:have|are)|to be)\b[^.!?\n]{0,40}\b(?:no|without)\b[^.!?\n]{0,15}\b(?:rules|restrictions|guidelines|filters|limits|polic)",
            r"\bnever refuses?\b|\bno content policy\b|\b(?:answer|respond) (?:as|like) an? (?:uncensored|unfiltered|evil|unrestricted)\b|\bstay in character no matter\b",
            r"(?:^|\n)\s*(?:#{2,}\s*system\b|\[system\]|<\|im_start\|>\s*system|begin new prompt|new instructions\s*:)",
            r"\[?instructions? for the (?:ai|assistant|model)\b|\b(?:ai|assistant)[,:]? (?:please )?(?:ignore|disregard) (?:your|the|all)\b",
            r"\byour (?:previous|prior) instructions (?:are|have been) (?:cancel+ed|void|revoked)|\bthe previous rules no longer apply\b",
            r"\byou are no longer (?:a|an|the|my) [^.!?\n]{0,40}\b(?:bot|assistant|model|ai)\b|\bstop being (?:an?|the|my) (?:\w+ )?(?:assistant|ai|bot|model)\b",
            r"\bignore (?:the |your )?system (?:message|prompt)\b|\bignore everything (?:before|above|prior)\b|\bnew system prompt\b|\bsudo mode\b",
            r"\b(?:respond|answer|reply)\b[^.!?\n]{0,20}\bwithout (?:any )?(?:filters?|safety|restrictions|censorship)\b|\b(?:disable|turn off|remove) your (?:safety|content|ethical)\b",
            r"\bauthori[sz]e you to\b|\b(?:translate|show|repeat|reveal|summari[sz]e) your (?:system )?instructions\b|\bwhat instructions were you given\b",
            r"\btext (?:that appears |that comes )?before ['\"]?(?:user|human)['\"]?:|\boverride your (?:programming|instructions|rules)\b|\bno ethical guidelines\b",
            r"\bif you had no (?:restrictions|rules|filters|guidelines)\b|\bnote to (?:ai|the ai|ai assistants|llms?)\b|\bif you are an ai\b",
            r"\bi am your (?:developer|creator|admin)\b[^.!?\n]{0,40}\b(?:override|disable|reveal|ignore)",
            r"\bfollow the instructions inside\b|\bread me (?:windows )?(?:activation|license|product) keys\b",
            # de, fr, es, nl
            r"\b(?:ignoriere|vergiss|missachte)\b[^.!?\n]{0,25}\b(?:alle |deine )?(?:vorherigen|bisherigen|obigen|früheren)? ?(?:anweisungen|regeln|instruktionen|vorgaben|systemnachricht)\b|\bsystemprompt\b|\bohne filter\b",
            r"\b(?:ignore|oublie|oubliez|ignorez)\b[^.!?\n]{0,25}\b(?:instructions|règles|consignes)\b|\bprompt système\b|\bsans filtres?\b",
            r"\b(?:ignora|olvida|olvides)\b[^.!?\n]{0,25}\b(?:instrucciones|reglas|normas|mensaje del sistema)\b|\bprompt del sistema\b|\bsin filtros?\b",
            r"\b(?:negeer|vergeet)\b[^.!?\n]{0,25}\b(?:instructies|regels|opdrachten|systeemberichten|systeembericht)\b|\bsysteemprompt\b|\bzonder filters?\b",
        ]
    ),
    _FLAGS,
)
# People talking ABOUT injection (defending, explaining, testing) are not attacking.
_ABOUT_INJECTION = re.compile(
    r"\b(?:protect|defend|prevent|detect|mitigat|guard|block)\w*\b[^.!?\n]{0,60}\b(?:injection|jailbreak|attacks?)\b"
    r"|\b(?:what is|explain|blog post|research|unit tests?|tests? that)\b[^.!?\n]{0,60}\b(?:injection|jailbreak|dan\b|attacks?)"
    r"|\b(?:log|logging)\b[^.!?\n]{0,20}\bsystem prompt\b",
    _FLAGS,
)

_TYPOGRAPHIC = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "“": '"', "”": '"', "„": '"'})


def reference_plain(text: str) -> str:
    return text.translate(_TYPOGRAPHIC)


def reference_is_refusal(response: str) -> bool:
    return bool(_REFUSAL.search(_QUOTED.sub(" ", reference_plain(response[:_REFUSAL_WINDOW]))))


def reference_is_prompt_injection(prompt: str) -> bool:
    text = reference_plain(prompt)
    return bool(_INJECTION.search(text)) and not _ABOUT_INJECTION.search(text)


# --- the tests -----------------------------------------------------------------------------------------------
CORPUS = Path(__file__).with_name("corpus.jsonl")  # the training corpus; heldout.jsonl is never read here
ALTERNATIONS = {"_REFUSAL": _REFUSAL, "_INJECTION": _INJECTION, "_ABOUT_INJECTION": _ABOUT_INJECTION}
#: characters that fold differently from str.lower, typographic quotes, and punctuation the rules stop at
ODD = [
    "\u0130",
    "\u0131",
    "\u017f",
    "\u212a",
    "’",
    "‘",
    "ʼ",
    "“",
    "”",
    "„",
    '"',
    "'",
    "«",
    "»",
    ".",
    "!",
    "?",
    "\n",
    ",",
    ":",
]


def corpus_texts() -> list[str]:
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [t for r in rows for t in (r["prompt"], r["response"]) if t]


def traffic_texts() -> list[str]:
    events = traffic.generate(400, capture=True, seed=23)
    texts = [e["prompt"][-SCORED_CHARS:] for e in events if e.get("prompt")]
    return texts + [e["response"][:SCORED_CHARS] for e in events if e.get("response")]


def fragments() -> list[str]:
    """The literal strings the prefilters look for, in a few casings: the mutants' building blocks."""
    found = {lit for name in ALTERNATIONS for lits in getattr(text, name).literals if lits for lit in lits}
    return sorted(found | {f.upper() for f in found} | {f.title() for f in found})


def test_the_rules_are_the_original_expressions() -> None:
    for name, original in ALTERNATIONS.items():
        alternation: Alternation = getattr(text, name)
        assert "|".join(alternation.patterns) == original.pattern and alternation.flags == original.flags, name


def test_every_pattern_is_prefiltered_by_selective_strings() -> None:
    for name in ALTERNATIONS:
        for pattern, literals in zip(getattr(text, name).patterns, getattr(text, name).literals, strict=True):
            assert literals and min(map(len, literals)) >= 4, (name, pattern)  # else the pattern always runs


def test_required_strings_of_small_patterns() -> None:
    flags = _FLAGS
    parse = sre_parse.parse

    def req(pattern: str) -> set[str] | None:
        found = required(parse(pattern, flags))
        return None if found is None else set(found)

    assert req(r"\bdo anything now\b") == {"do anything now"}
    assert req(r"\b(?:ignore|bypass)\b[^.]{0,30}\brules\b") == {"rules"}  # one scan rather than two
    assert req(r"\b(?:ignore|bypass)\b[^.]{0,30}\b(?:rules|prompts?|polic(?:y|ies))\b") == {"ignore", "bypass"}
    assert req(r"\bwhat (?:are|were) your (?:hidden|secret) (?:rules|prompt)") == {" your hidden ", " your secret "}
    assert req(r"(?:ai|assistant)[,:]? (?:ignore|disregard) (?:your|the)\b") == {" ignore ", " disregard "}
    assert req(r"fulfil+ment") == {"fulfi"}  # the repeated "l" ends the literal
    assert req(r"[^.]{0,20}\w*") is None and req(r"(?:a|\w+)b?") is None
    assert req(r"x|yz") == {"x", "yz"}  # every alternative needs one (too short to be worth it: tested above)


def test_the_batch_pass_finds_every_literal() -> None:
    for name in ALTERNATIONS:
        alternation: Alternation = getattr(text, name)
        every = sorted({literal for literals in alternation.literals if literals for literal in literals})
        padded = [f"x{literal}x" for literal in every] + [f"{literal}" for literal in every]
        assert alternation.holding(padded).all(), name
        assert not alternation.holding(["", "x" * 50, "\x00"]).any()


def test_case_folding_matches_the_regex_engine_on_every_character() -> None:
    """A character the engine matches, case-insensitively, to a literal character of a rule folds to that
    character lowercased: so a text that matches holds the literal strings the prefilter looks for."""
    parse = sre_parse.parse
    literal_chars: set[str] = set()

    def collect(items: Any) -> None:
        for op, av in items:
            if op == sre.LITERAL:
                literal_chars.add(chr(av))
            elif op == sre.IN:
                literal_chars.update(chr(code) for kind, code in av if kind == sre.LITERAL)
            elif op == sre.BRANCH:
                for branch in av[1]:
                    collect(branch)
            elif op in (sre.SUBPATTERN, sre.MAX_REPEAT, sre.MIN_REPEAT, sre.ASSERT, sre.ASSERT_NOT):
                collect(av[-1])

    for name in ALTERNATIONS:
        for pattern in getattr(text, name).patterns:
            collect(parse(pattern, _FLAGS))
    assert {"a", "z", "'", " ", "é", "è"} <= literal_chars
    every_char = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    for char in sorted(literal_chars):
        for form in (re.escape(char), f"[{re.escape(char)}]"):
            for match in re.compile(form, _FLAGS).findall(every_char):
                assert fold(match) == fold(char), (char, match)
    assert fold("\u212a\u017f\u0130\u0131") == "ksii"


@pytest.mark.parametrize("source", ["corpus", "traffic"])
def test_the_rules_answer_as_the_original_expressions(source: str) -> None:
    texts = corpus_texts() if source == "corpus" else traffic_texts()
    assert len(texts) > 500
    hits = {"refusal": 0, "injection": 0}
    for t in texts:
        assert text.is_refusal(t) == reference_is_refusal(t), t
        assert text.is_prompt_injection(t) == reference_is_prompt_injection(t), t
        assert text.plain(t) == reference_plain(t)
        for name, original in ALTERNATIONS.items():
            plain_t = reference_plain(t)
            assert getattr(text, name).search(plain_t) == bool(original.search(plain_t)), (name, t)
        hits["refusal"] += text.is_refusal(t)
        hits["injection"] += text.is_prompt_injection(t)
    assert_batches_agree(texts)
    if source == "corpus":  # the comparison saw both answers
        assert hits["refusal"] > 50 and hits["injection"] > 50, hits


def assert_batches_agree(texts: list[str]) -> None:
    """The batch forms (a vectorised first pass over all the texts) answer as the reference too, and that pass
    finds exactly the texts that hold a literal."""
    for name in ALTERNATIONS:
        alternation: Alternation = getattr(text, name)
        every = {literal for literals in alternation.literals if literals for literal in literals}
        folded = [fold(reference_plain(t)) for t in texts]
        assert alternation.holding(folded).tolist() == [any(lit in f for lit in every) for f in folded], name
    assert text.refusals(texts) == [reference_is_refusal(t) for t in texts]
    assert text.prompt_injections(texts) == [reference_is_prompt_injection(t) for t in texts]
    plain_texts = [reference_plain(t) for t in texts]
    for name, original in ALTERNATIONS.items():
        assert getattr(text, name).search_many(plain_texts) == [bool(original.search(t)) for t in plain_texts], name


@st.composite
def mutants(draw: st.DrawFn) -> str:
    """A training-corpus text, or a benchmark one, with rule phrases, odd characters, case changes and cuts."""
    base = draw(st.sampled_from(MUTANT_BASES))
    pieces = list(base)
    for _ in range(draw(st.integers(0, 6))):
        at = draw(st.integers(0, len(pieces)))
        kind = draw(st.integers(0, 4))
        if kind == 0:
            pieces[at:at] = list(draw(st.sampled_from(MUTANT_FRAGMENTS)))
        elif kind == 1:
            pieces[at:at] = [draw(st.sampled_from(ODD))]
        elif kind == 2 and pieces:
            pieces[min(at, len(pieces) - 1)] = draw(st.sampled_from(ODD))
        elif kind == 3:
            del pieces[at : at + draw(st.integers(1, 20))]
        else:
            pieces[at : at + 20] = [c.swapcase() for c in pieces[at : at + 20]]
    return "".join(pieces)


MUTANT_BASES = corpus_texts()[::3] + traffic_texts()[:40]
MUTANT_FRAGMENTS = fragments()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutants(), min_size=1, max_size=6))
def test_mutants_are_judged_as_by_the_original_expressions(texts: list[str]) -> None:
    for t in texts:
        assert text.is_refusal(t) == reference_is_refusal(t)
        assert text.is_prompt_injection(t) == reference_is_prompt_injection(t)
        plain_t = reference_plain(t)
        for name, original in ALTERNATIONS.items():
            assert getattr(text, name).search(plain_t) == bool(original.search(plain_t)), name
    assert_batches_agree(texts)
