from __future__ import annotations

import pickle

import numpy as np
import pytest

from llmpulse.clickhouse.store import Store
from llmpulse.stream_jobs.sketch import GAMMA, RELATIVE_ACCURACY, Sketch, bucket_keys, exact_quantile, key_value


@pytest.mark.parametrize("n", [1, 2, 3, 19, 20, 21, 100, 1000, 50_000])
def test_quantiles_within_relative_accuracy_of_nearest_rank(n: int) -> None:
    rng = np.random.default_rng(n)
    values = rng.lognormal(6.0, 1.2, n)
    sketch = Sketch.of(values)
    for q in (0.0, 0.5, 0.9, 0.95, 0.99, 1.0):
        exact = exact_quantile(values, q)
        approx = sketch.quantile(q)
        assert approx is not None
        assert abs(approx - exact) <= RELATIVE_ACCURACY * exact + 1e-12


def test_merge_equals_sketch_of_union_and_pickles() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.exponential(300, 500), rng.exponential(900, 700)
    merged = Sketch.of(a)
    merged.merge(Sketch.of(b))
    assert merged == Sketch.of(np.concatenate([a, b]))
    assert pickle.loads(pickle.dumps(merged)) == merged
    assert merged.count == 1200


def test_zero_and_tiny_values_are_zero_bucket() -> None:
    sketch = Sketch.of(np.array([0.0, 0.0, 1e-9, 5.0]))
    assert sketch.quantile(0.5) == 0.0
    assert abs((sketch.quantile(1.0) or 0) - 5.0) <= 5.0 * RELATIVE_ACCURACY
    assert Sketch().quantile(0.5) is None


def test_bucket_bounds() -> None:
    k = int(bucket_keys(np.array([100.0]))[0])
    assert GAMMA ** (k - 1) < 100.0 <= GAMMA**k
    assert abs(key_value(k) - 100.0) / 100.0 <= RELATIVE_ACCURACY


def test_sql_quantile_function_matches_python(store: Store) -> None:
    rng = np.random.default_rng(5)
    values = rng.lognormal(5.0, 1.0, 999)
    sketch = Sketch.of(values)
    keys = sorted(sketch.counts)
    for q in (0.5, 0.95, 0.99):
        got = store.query(
            "SELECT llmpulse_quantile(mapFromArrays({k:Array(Int16)}, {c:Array(UInt64)}), {q:Float64})",
            {"k": keys, "c": [sketch.counts[k] for k in keys], "q": q},
        ).scalar()
        assert got == pytest.approx(sketch.quantile(q), rel=1e-12)
