"""The integer hash table must answer exactly what a dictionary would."""

from __future__ import annotations

import numpy as np
import pytest

from app.sentiment.int_table import EMPTY, IntTable


@pytest.mark.parametrize("size", [0, 1, 7, 5000, 80_000])
def test_rows_equal_a_dictionary(size: int) -> None:
    rng = np.random.default_rng(size)
    keys = np.unique(rng.integers(0, 2**62, size))
    # Keys that share their low bits or form runs crowd the same slots.
    keys = np.unique(np.concatenate([keys, np.arange(size // 10) << 40, np.arange(size // 10)]))
    rng.shuffle(keys)
    table = IntTable(keys)
    present = keys[rng.integers(0, max(keys.size, 1), 3000)] if keys.size else keys
    queries = np.concatenate([present, rng.integers(-(2**62), 2**62, 3000), [-1, 0, 2**63 - 1]])
    row_of = {int(k): i for i, k in enumerate(keys.tolist())}
    assert table.get(queries).tolist() == [row_of.get(int(q), -1) for q in queries.tolist()]
    assert table.get(np.zeros(0, dtype=np.int64)).size == 0


def test_keys_must_be_distinct_and_not_the_empty_marker() -> None:
    with pytest.raises(ValueError, match="distinct"):
        IntTable(np.array([3, 3], dtype=np.int64))
    with pytest.raises(ValueError, match="EMPTY"):
        IntTable(np.array([EMPTY], dtype=np.int64))
