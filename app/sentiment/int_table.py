"""A read-only hash table from int64 keys to int64 values, looked up for a whole array at once.

A dictionary look-up per key is a chain of dependent memory reads (index, entry, key,
value): with tables of 10^4 to 10^5 entries that a batch's other work has pushed out of the
cache, each read waits for memory. Here a batch's keys are looked up with NumPy gathers,
whose reads are independent, so their cache misses overlap: open addressing with linear
probing, at most a quarter of the slots filled, each slot a (key, value) record (one cache
line per look-up), and the probes past a key's home slot read in one more gather as far as
the farthest key lies from its own.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

_Ints = npt.NDArray[np.intp]
_Keys = npt.NDArray[np.int64]

EMPTY = np.iinfo(np.int64).min  # no key may be this value
MISSING = -1  # the value of a query that is not a key
SLOTS_PER_KEY = 4  # at least; rounded up to a power of two
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # 2**64 / golden ratio: Fibonacci hashing
_SLOT = np.dtype([("key", np.int64), ("value", np.int64)])


class IntTable:
    """``keys[i] -> values[i]`` (by default ``i``) for distinct int64 ``keys`` (none equal
    to ``EMPTY``)."""

    def __init__(self, keys: _Keys, values: _Ints | None = None) -> None:
        keys = np.asarray(keys, dtype=np.int64)
        if keys.size and (np.unique(keys).size != keys.size or bool((keys == EMPTY).any())):
            raise ValueError("keys must be distinct and not EMPTY")
        values = np.arange(keys.size) if values is None else np.asarray(values, np.int64)
        if values.shape != keys.shape:
            raise ValueError("one value per key")
        bits = max(4, (SLOTS_PER_KEY * keys.size).bit_length())
        self._shift = np.uint64(64 - bits)
        self._mask = (1 << bits) - 1
        self._slots = np.zeros(1 << bits, dtype=_SLOT)
        self._slots["key"] = EMPTY
        self._slots["value"] = MISSING
        slots = self._slot_of(keys)
        pending = np.arange(keys.size)
        while pending.size:
            # Each free slot takes the first pending key that reaches it; the others move on.
            wanted = slots[pending]
            free = self._slots["key"][wanted] == EMPTY
            taken, first = np.unique(wanted[free], return_index=True)
            winners = pending[free][first]
            self._slots["key"][taken] = keys[winners]
            self._slots["value"][taken] = values[winners]
            placed = np.zeros(keys.size, dtype=bool)
            placed[winners] = True
            pending = pending[~placed[pending]]
            slots[pending] = (slots[pending] + 1) & self._mask
        # How far past its home slot any key lies: a look-up reads at most that far.
        displacement = (slots - self._slot_of(keys)) & self._mask
        self._reach = int(displacement.max(initial=0))

    def _slot_of(self, keys: _Keys) -> _Ints:
        hashed = keys.view(np.uint64) * _MULTIPLIER  # wraps modulo 2**64, as intended
        return (hashed >> self._shift).astype(np.intp)

    def get(self, queries: _Keys) -> _Ints:
        """The value of each query (by default its row in the ``keys`` the table was built
        from), or ``MISSING``."""
        queries = np.ascontiguousarray(queries, dtype=np.int64)
        slots = self._slot_of(queries)
        home = self._slots[slots]
        found = home["key"]
        out: _Ints = np.where(found == queries, home["value"], MISSING)
        # The keys that met another key: all the slots within reach of their home at once
        # (one gather instead of a round per probe; keys are distinct, so one can match).
        pending = np.flatnonzero((found != queries) & (found != EMPTY))
        if pending.size and self._reach:
            steps = np.arange(1, self._reach + 1)
            window = self._slots[(slots[pending][:, None] + steps) & self._mask]
            match = window["key"] == queries[pending][:, None]
            hit = match.any(axis=1)
            first = match.argmax(axis=1)
            out[pending[hit]] = window["value"][hit, first[hit]]
        return out
