"""A read-only hash table from int64 keys to row numbers, looked up for a whole array at once.

A dictionary look-up per key is a chain of dependent memory reads (index, entry, key,
value): with tables of 10^4 to 10^5 entries that a batch's other work has pushed out of the
cache, each read waits for memory. Here a batch's keys are looked up with NumPy gathers,
whose reads are independent, so their cache misses overlap: open addressing with linear
probing, at most a quarter of the slots filled.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

_Ints = npt.NDArray[np.intp]
_Keys = npt.NDArray[np.int64]

EMPTY = np.iinfo(np.int64).min  # no key may be this value
SLOTS_PER_KEY = 4  # at least; rounded up to a power of two
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # 2**64 / golden ratio: Fibonacci hashing


class IntTable:
    """``keys[i] -> i`` for distinct int64 ``keys`` (none equal to ``EMPTY``)."""

    def __init__(self, keys: _Keys) -> None:
        keys = np.asarray(keys, dtype=np.int64)
        if keys.size and (np.unique(keys).size != keys.size or bool((keys == EMPTY).any())):
            raise ValueError("keys must be distinct and not EMPTY")
        bits = max(4, (SLOTS_PER_KEY * keys.size).bit_length())
        self._shift = np.uint64(64 - bits)
        self._mask = (1 << bits) - 1
        self._keys = np.full(1 << bits, EMPTY, dtype=np.int64)
        self._rows = np.full(1 << bits, -1, dtype=np.intp)
        slots = self._slot_of(keys)
        pending = np.arange(keys.size)
        while pending.size:
            # Each free slot takes the first pending key that reaches it; the others move on.
            wanted = slots[pending]
            free = self._keys[wanted] == EMPTY
            taken, first = np.unique(wanted[free], return_index=True)
            winners = pending[free][first]
            self._keys[taken] = keys[winners]
            self._rows[taken] = winners
            placed = np.zeros(keys.size, dtype=bool)
            placed[winners] = True
            pending = pending[~placed[pending]]
            slots[pending] = (slots[pending] + 1) & self._mask

    def _slot_of(self, keys: _Keys) -> _Ints:
        hashed = keys.view(np.uint64) * _MULTIPLIER  # wraps modulo 2**64, as intended
        return (hashed >> self._shift).astype(np.intp)

    def rows(self, queries: _Keys) -> _Ints:
        """The row of each query in the ``keys`` the table was built from, or -1."""
        queries = np.ascontiguousarray(queries, dtype=np.int64)
        slots = self._slot_of(queries)
        found = self._keys[slots]
        out = np.where(found == queries, self._rows[slots], -1)
        # Probe on only for keys that met another key; an empty slot ends the search.
        pending = np.flatnonzero((found != queries) & (found != EMPTY))
        slots = slots[pending]
        while pending.size:
            slots = (slots + 1) & self._mask
            found = self._keys[slots]
            hit = found == queries[pending]
            out[pending[hit]] = self._rows[slots[hit]]
            going_on = ~hit & (found != EMPTY)
            pending, slots = pending[going_on], slots[going_on]
        return out
