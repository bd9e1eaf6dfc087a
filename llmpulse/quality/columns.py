"""The quality signals of a chunk of calls as Arrow columns, for the stream worker's call table.

``QualityScorer(sample_rate, model_sample_rate).columns(event_ids, models, prompts, responses, finish_reasons)``
returns one array per ``QUALITY_COLUMNS`` entry, as long as the inputs:

- ``truncated`` is judged for every call (from ``finish_reason`` alone, vectorised: it costs nothing).
- The rule-based signals (``refusal``, ``empty_answer``, ``prompt_injection``: tens of µs per call) only for a
  call in the *rule sample* that carries text (a prompt or a response): ``quality_sampled`` marks those rows,
  ``sample_rate`` of the calls with text.
- The model-based ones (``toxicity_*``/``toxic``, ``sentiment``/``negative_sentiment``,
  ``relevance``/``irrelevant``, ``answer_agreement``/``inconsistent``: milliseconds per call) only for a call
  in the *model sample*, ``quality_models_sampled``: the calls of the rule sample whose id hash is also below
  ``model_sample_rate``. It is always a subset of the rule sample, so its share of the calls with text is
  ``min(model_sample_rate, sample_rate)``.
- So a rate is ``countIf(signal) / countIf(quality_sampled)`` for a rule signal and
  ``countIf(signal) / countIf(quality_models_sampled)`` for a model one. Outside its sample a flag is False and
  a score null.
- Sampling is decided by a hash of the event id (FNV-1a 64 over its UTF-8 bytes, then a 64-bit finaliser),
  not by a random draw: a replayed chunk, another worker or another process samples the same calls.
- A call is judged on the last ``SCORED_CHARS`` characters of its prompt (the user's turn comes last, after
  any system prompt and context) and the first ``SCORED_CHARS`` of its answer: the cost of some detectors
  grows faster than the length of the text (VADER's is quadratic), and prompts of a few KB are common. The
  corpora the detectors were built and measured on hold shorter texts, so their figures stand. An injection
  hidden earlier in a long prompt (inside retrieved documents, say) is not looked for.
- A score is null where its text is missing: ``toxicity_prompt``/``sentiment`` without a prompt,
  ``toxicity_response`` without a response, ``relevance`` unless both are there and the answer is neither
  empty nor a refusal (``score_batch`` does not judge those). A missing response is not an empty answer.
- ``answer_agreement``: the answer's similarity to the previous answer the same model gave to the same
  prompt (``AnswerMemory``; null the first time), for a model-sampled call with both texts. The memory
  belongs to the scorer (one worker process): it starts empty after a restart, and a partition that moves to
  another worker takes none of it along. Since the sample is drawn by event id, the memory sees only the
  model-sampled share of a prompt's repeats.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from llmpulse.quality.repeats import DISAGREEMENT_THRESHOLD, AnswerMemory
from llmpulse.quality.signals import RuleSignals, model_signals, rule_signals_batch
from llmpulse.quality.text import TRUNCATED_REASONS

QUALITY_COLUMNS: dict[str, pa.DataType] = {
    "quality_sampled": pa.bool_(),
    "quality_models_sampled": pa.bool_(),
    "truncated": pa.bool_(),
    "refusal": pa.bool_(),
    "empty_answer": pa.bool_(),
    "prompt_injection": pa.bool_(),
    "toxicity_prompt": pa.float32(),
    "toxicity_response": pa.float32(),
    "toxic": pa.bool_(),
    "sentiment": pa.float32(),
    "negative_sentiment": pa.bool_(),
    "relevance": pa.float32(),
    "irrelevant": pa.bool_(),
    "answer_agreement": pa.float32(),
    "inconsistent": pa.bool_(),
}

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_MIX_1 = np.uint64(0xFF51AFD7ED558CCD)
_MIX_2 = np.uint64(0xC4CEB9FE1A85EC53)
#: characters of each text that the signals read (see above)
SCORED_CHARS = 1_000
_TRUNCATED = pa.array(sorted(TRUNCATED_REASONS), pa.string())


def id_hash(ids: pa.Array) -> np.ndarray:
    """A stable 64-bit hash of each id (uint64; a null id hashes as the empty string): FNV-1a over the UTF-8
    bytes, the length, then the murmur3 finaliser so that the high bits are uniform."""
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    if pa.types.is_dictionary(ids.type):  # hash each distinct id once
        codes = pc.fill_null(ids.indices, 0).to_numpy(zero_copy_only=False)
        return id_hash(ids.dictionary)[codes] if len(ids.dictionary) else id_hash(pa.nulls(len(ids), pa.string()))
    if not (pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type)):
        ids = ids.cast(pa.string())
    n = len(ids)
    offset_type = np.int64 if pa.types.is_large_string(ids.type) else np.int32
    _, offsets_buf, data_buf = ids.buffers()
    if offsets_buf is None:  # an all-null array without buffers
        offsets = np.zeros(n + 1, dtype=np.int64)
    else:
        offsets = np.frombuffer(offsets_buf, dtype=offset_type)[ids.offset : ids.offset + n + 1].astype(np.int64)
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(1, dtype=np.uint8)
    starts, lengths = offsets[:-1], np.diff(offsets)
    if ids.null_count:
        lengths = np.where(ids.is_null().to_numpy(zero_copy_only=False), 0, lengths)
    h = np.full(n, _FNV_OFFSET, dtype=np.uint64)
    width = int(lengths.max(initial=0))
    if width:  # the ids' bytes as an n x width matrix, then one pass per column (ids are short)
        at = starts[:, None] + np.arange(width)[None, :]
        matrix = np.asfortranarray(data[np.minimum(at, len(data) - 1)])
        shortest = int(lengths.min())
        for j, column in enumerate(matrix.T):
            step = (h ^ column) * _FNV_PRIME
            h = step if j < shortest else np.where(lengths > j, step, h)  # past its end an id is done
    h = (h ^ lengths.astype(np.uint64)) * _FNV_PRIME
    h ^= h >> np.uint64(33)
    h *= _MIX_1
    h ^= h >> np.uint64(33)
    h *= _MIX_2
    h ^= h >> np.uint64(33)
    return h


def sampled(event_ids: pa.Array, sample_rate: float) -> np.ndarray:
    """Which calls the sample holds (bool per id): the id's hash, as a number in [0, 1), is below the rate.
    A null id is never sampled."""
    return _below(event_ids, sample_rate, None)


def _below(event_ids: pa.Array, sample_rate: float, unit: np.ndarray | None) -> np.ndarray:
    """``sampled``, given the ids' hashes as numbers in [0, 1) if already known (``_unit``)."""
    n = len(event_ids)
    if sample_rate <= 0 or n == 0:
        return np.zeros(n, dtype=bool)
    present = ~_nulls(event_ids)
    if sample_rate >= 1:
        return present
    return present & ((_unit(event_ids) if unit is None else unit) < sample_rate)


def _unit(event_ids: pa.Array) -> np.ndarray:
    return (id_hash(event_ids) >> np.uint64(11)).astype(np.float64) * 2.0**-53


def truncated(finish_reasons: pa.Array) -> np.ndarray:
    """``is_truncated`` for every call, vectorised (the distinct reasons of a dictionary array once)."""
    if isinstance(finish_reasons, pa.ChunkedArray):
        finish_reasons = finish_reasons.combine_chunks()
    if pa.types.is_dictionary(finish_reasons.type):
        found = truncated(finish_reasons.dictionary)
        codes = finish_reasons.indices
        hit = found[pc.fill_null(codes, 0).to_numpy(zero_copy_only=False)] if len(found) else np.zeros(len(codes), bool)
        return hit & ~_nulls(codes)
    if len(finish_reasons) == 0:
        return np.zeros(0, dtype=bool)
    found = pc.is_in(pc.utf8_lower(finish_reasons.cast(pa.string())), value_set=_TRUNCATED)
    return np.asarray(pc.fill_null(found, False).to_numpy(zero_copy_only=False), dtype=bool)


def _nulls(values: pa.Array) -> np.ndarray:
    return np.asarray(values.is_null().to_numpy(zero_copy_only=False), dtype=bool)


def _float_column(values: np.ndarray, valid: np.ndarray) -> pa.Array:
    return pa.array(values, pa.float32(), mask=~valid)


class QualityScorer:
    """Quality columns for the calls of each chunk: the rule-based signals for ``sample_rate`` of them, the
    model-based ones too for ``model_sample_rate`` (at most ``sample_rate``) of them; 0: only ``truncated``."""

    def __init__(self, sample_rate: float, model_sample_rate: float = 0.0, memory_capacity: int = 50_000) -> None:
        for name, rate in (("sample_rate", sample_rate), ("model_sample_rate", model_sample_rate)):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {rate}")
        self.sample_rate = sample_rate
        self.model_sample_rate = model_sample_rate
        self.memory = AnswerMemory(memory_capacity)

    def columns(self, event_ids: pa.Array, models: pa.Array, prompts: pa.Array, responses: pa.Array,
                finish_reasons: pa.Array) -> dict[str, pa.Array]:  # fmt: skip
        """One array per ``QUALITY_COLUMNS`` entry, in that order, each as long as the inputs."""
        n = len(event_ids)
        if any(len(col) != n for col in (models, prompts, responses, finish_reasons)):
            raise ValueError("quality columns: inputs of different lengths")
        has_prompt, has_response = ~_nulls(prompts), ~_nulls(responses)
        hashed = n > 0 and any(0 < rate < 1 for rate in (self.sample_rate, self.model_sample_rate))
        unit = _unit(event_ids) if hashed else None  # one hash for both tiers
        picked = _below(event_ids, self.sample_rate, unit) & (has_prompt | has_response)
        with_models = _below(event_ids, self.model_sample_rate, unit) & picked
        flags = {name: np.zeros(n, dtype=bool) for name, kind in QUALITY_COLUMNS.items() if kind == pa.bool_()}
        scores = {name: np.zeros(n, dtype=np.float32) for name, kind in QUALITY_COLUMNS.items() if kind != pa.bool_()}
        valid = {name: np.zeros(n, dtype=bool) for name in scores}
        flags["quality_sampled"], flags["quality_models_sampled"] = picked, with_models
        flags["truncated"] = truncated(finish_reasons)
        rows = np.flatnonzero(picked)
        if len(rows):
            self._score(rows, with_models[rows], models, prompts, responses, has_prompt, has_response,
                        flags, scores, valid)  # fmt: skip
        out: dict[str, pa.Array] = {}
        for name, kind in QUALITY_COLUMNS.items():
            out[name] = pa.array(flags[name], kind) if kind == pa.bool_() else _float_column(scores[name], valid[name])
        return out

    def _score(self, rows: np.ndarray, with_models: np.ndarray, models: pa.Array, prompts: pa.Array,
               responses: pa.Array, has_prompt: np.ndarray, has_response: np.ndarray, flags: dict[str, np.ndarray],
               scores: dict[str, np.ndarray], valid: dict[str, np.ndarray]) -> None:  # fmt: skip
        """The rule signals of ``rows`` (the rule sample), and the model signals of those ``with_models``."""
        take = pa.array(rows)
        prompt_texts = pc.utf8_slice_codeunits(prompts.take(take).cast(pa.string()), -SCORED_CHARS).to_pylist()
        response_texts = pc.utf8_slice_codeunits(responses.take(take).cast(pa.string()), 0, SCORED_CHARS).to_pylist()
        prompt_texts = [p or "" for p in prompt_texts]
        rules = rule_signals_batch(prompt_texts, [r or "" for r in response_texts])
        flags["refusal"][rows] = [s.refusal for s in rules]
        flags["empty_answer"][rows] = np.array([s.empty_answer for s in rules], dtype=bool) & has_response[rows]
        flags["prompt_injection"][rows] = [s.prompt_injection for s in rules]
        at = np.flatnonzero(with_models)  # positions in rows
        if len(at):
            self._score_models(rows[at], [prompt_texts[i] for i in at], [response_texts[i] for i in at],
                               [rules[i] for i in at], models, prompts, has_prompt, has_response, flags, scores,
                               valid)  # fmt: skip

    def _score_models(self, rows: np.ndarray, prompt_texts: list[str], response_texts: list[str | None],
                      rules: list[RuleSignals], models: pa.Array, prompts: pa.Array, has_prompt: np.ndarray,
                      has_response: np.ndarray, flags: dict[str, np.ndarray], scores: dict[str, np.ndarray],
                      valid: dict[str, np.ndarray]) -> None:  # fmt: skip
        signals = model_signals(prompt_texts, [r or "" for r in response_texts], rules)
        p_ok, r_ok = has_prompt[rows], has_response[rows]
        flags["toxic"][rows] = [s.toxic for s in signals]
        flags["negative_sentiment"][rows] = [s.negative_sentiment for s in signals]
        flags["irrelevant"][rows] = [s.irrelevant for s in signals]
        scores["toxicity_prompt"][rows], valid["toxicity_prompt"][rows] = [s.toxicity_prompt for s in signals], p_ok
        scores["toxicity_response"][rows] = [s.toxicity_response for s in signals]
        valid["toxicity_response"][rows] = r_ok
        scores["sentiment"][rows], valid["sentiment"][rows] = [s.sentiment for s in signals], p_ok
        judged = np.array([not (s.refusal or s.empty_answer) for s in rules], dtype=bool) & p_ok & r_ok
        scores["relevance"][rows], valid["relevance"][rows] = [s.relevance for s in signals], judged
        take = pa.array(rows)
        model_names = models.take(take).to_pylist()
        whole_prompts = prompts.take(take).cast(pa.string()).to_pylist()  # the same prompt: its context too
        for i, (row, prompt) in enumerate(zip(rows.tolist(), whole_prompts, strict=True)):
            response = response_texts[i]
            if prompt is None or response is None:
                continue
            agreement = self.memory.similarity(str(model_names[i] or ""), prompt, response)
            if agreement is not None:
                scores["answer_agreement"][row], valid["answer_agreement"][row] = agreement, True
                flags["inconsistent"][row] = agreement < DISAGREEMENT_THRESHOLD
