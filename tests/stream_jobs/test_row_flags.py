"""RowFlags (only the flagged rows hold a list) gives the column a list per row gave."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from llmpulse.stream_jobs.batch import RowFlags


@pytest.mark.parametrize("n", [0, 1, 7, 1000])
def test_the_column_equals_one_list_per_row(n: int) -> None:
    rng = np.random.default_rng(n)
    flags, per_row = RowFlags(n), [[] for _ in range(n)]  # type: list[list[str]]
    for i in rng.integers(0, max(n, 1), n // 3).tolist() if n else []:
        for name in ("capped:team", "pii:user_id")[: int(rng.integers(1, 3))]:
            flags[i].append(name)
            per_row[i].append(name)
    if n:
        assert "capped:attributes" not in flags[n - 1]  # a look at a row adds no flag
        flags[n - 1].append("capped:attributes")
        per_row[n - 1].append("capped:attributes")
    column = flags.array()
    assert column.equals(pa.array(per_row, pa.list_(pa.string())))
    assert column.type == pa.list_(pa.string()) and len(column) == n and column.null_count == 0
