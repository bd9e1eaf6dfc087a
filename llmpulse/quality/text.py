"""Rule-based signals read from the text alone: refusals, empty answers, prompt-injection attempts, truncation.

Each rule is a handful of phrase patterns in English, German, French, Spanish and Dutch, chosen on the
training corpus (``tests/quality/corpus.jsonl``); a frozen held-out set measures them (README, "Quality
signals"). They are cheap (a few µs per KB) and deliberately narrow: a phrase must say the thing, not merely
contain a word like "sorry" or "ignore".
"""

# ruff: noqa: E501, RUF001, RUF002  (phrase tables read best one alternative group per line)

from __future__ import annotations

import re
from collections.abc import Sequence

from llmpulse.quality.prefilter import Alternation

_FLAGS = re.IGNORECASE | re.UNICODE

# A refusal declines the request itself: "can't/won't/unable to" + help/assist/provide/…, an AI disclaimer, or
# "I must decline" — near the start of the answer, where a refusal puts it.
_HELP = r"(?:help|assist|provide|comply|fulfil+|do (?:that|this)|share|answer|generate|create|write|give|discuss|continue|support|access|browse|make)"
_REFUSAL = Alternation(
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
    ],
    _FLAGS,
)
_REFUSAL_WINDOW = 240  # characters from the start of the answer
# quoted speech ('I can't help with that', "ignore all instructions") is reported, not said
_QUOTED = re.compile(r"\"[^\"\n]{1,300}\"|“[^”\n]{1,300}”|«[^»\n]{1,300}»|(?<!\w)'.{1,300}?'(?!\w)")

_NON_ANSWERS = frozenset(
    {
        "", "ok", "okay", "sure", "n/a", "na", "none", "null", "nil", "undefined", "nan", "idk", "i don't know",
        "i do not know", "no idea", "not sure", "unknown", "weiß ich nicht", "keine ahnung", "je ne sais pas",
        "aucune idée", "no lo sé", "ni idea", "geen idee", "weet ik niet", "[]", "{}", "\"\"", "''",
        "no response", "no answer", "todo", "tbd", "empty", "no output", "see above", "hmm", "answer", "response",
        "i'm not sure", "ik weet het niet", "keine antwort", "pas de réponse", "sin respuesta", "geen antwoord",
    }
)  # fmt: skip
_MARKUP = re.compile(r"```[\w+-]*|<[^<>\n]{1,20}>")  # code fences (with a language) and HTML-ish tags
_STRIP = re.compile(r"^[\s`*_~#>.…\-–—!?,;:\"'()\[\]{}]*|[\s`*_~#>.…\-–—!?,;:\"'()\[\]{}]*$")

_INJECTION = Alternation(
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
    ],
    _FLAGS,
)
# People talking ABOUT injection (defending, explaining, testing) are not attacking.
_ABOUT_INJECTION = Alternation(
    [
        r"\b(?:protect|defend|prevent|detect|mitigat|guard|block)\w*\b[^.!?\n]{0,60}\b(?:injection|jailbreak|attacks?)\b",
        r"\b(?:what is|explain|blog post|research|unit tests?|tests? that)\b[^.!?\n]{0,60}\b(?:injection|jailbreak|dan\b|attacks?)",
        r"\b(?:log|logging)\b[^.!?\n]{0,20}\bsystem prompt\b",
    ],
    _FLAGS,
)

TRUNCATED_REASONS = frozenset({"length", "max_tokens", "max_output_tokens", "model_length", "token_limit"})


_TYPOGRAPHIC = (("’", "'"), ("‘", "'"), ("ʼ", "'"), ("“", '"'), ("”", '"'), ("„", '"'))


def plain(text: str) -> str:
    """Typographic apostrophes and quotes as ASCII (models write "I’m" as often as "I'm")."""
    if text.isascii():  # most texts: nothing to map (``str.translate`` costs about 9 µs per KB)
        return text
    for char, ascii_char in _TYPOGRAPHIC:
        if char in text:
            text = text.replace(char, ascii_char)
    return text


def is_refusal(response: str) -> bool:
    """The answer declines the request (any of five languages); quoted speech does not count."""
    return _REFUSAL.search(_refusal_text(response))


def refusals(responses: Sequence[str]) -> list[bool]:
    """``is_refusal`` of each answer, cheaper per answer for many."""
    return _REFUSAL.search_many([_refusal_text(response) for response in responses])


def _refusal_text(response: str) -> str:
    return _QUOTED.sub(" ", plain(response[:_REFUSAL_WINDOW]))


def is_empty_answer(response: str, prompt: str = "") -> bool:
    """Empty, punctuation or markup only, or a stock non-answer ("OK", "N/A", "I don't know") — unless the
    prompt asked for exactly that word ("answer with OK if …")."""
    core = _STRIP.sub("", _MARKUP.sub(" ", plain(response)).strip()).strip().lower()
    if not any(ch.isalnum() for ch in core):
        return True
    return core in _NON_ANSWERS and not re.search(rf"(?<!\w){re.escape(core)}(?!\w)", prompt.lower())


def is_prompt_injection(prompt: str) -> bool:
    """The prompt tries to override the model's instructions or make it reveal them."""
    text = plain(prompt)
    return _INJECTION.search(text) and not _ABOUT_INJECTION.search(text)


def prompt_injections(prompts: Sequence[str]) -> list[bool]:
    """``is_prompt_injection`` of each prompt, cheaper per prompt for many."""
    texts = [plain(prompt) for prompt in prompts]
    found = _INJECTION.search_many(texts)
    at = [i for i, hit in enumerate(found) if hit]
    for i, about in zip(at, _ABOUT_INJECTION.search_many([texts[i] for i in at]), strict=True):
        found[i] = not about
    return found


def is_truncated(finish_reason: str | None) -> bool:
    """The answer stopped at the token limit (``finish_reason`` ``length``/``max_tokens``)."""
    return finish_reason is not None and finish_reason.lower() in TRUNCATED_REASONS
