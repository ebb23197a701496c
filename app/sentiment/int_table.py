"""A read-only hash table from int64 keys to row numbers, looked up for a whole array at once.

A dictionary look-up per key is a chain of dependent memory reads (index, entry, key,
value): with tables of 10^4 to 10^5 entries that a batch's other work has pushed out of the
cache, each read waits for memory. Here a batch's keys are looked up with NumPy gathers,
whose reads are independent, so their cache misses overlap: open addressing with linear
probing, at most a quarter of the slots filled, and the probes past a key's home slot read
in one more gather as far as the farthest key lies from its own.
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
        # How far past its home slot any key lies: a look-up reads at most that far.
        displacement = (slots - self._slot_of(keys)) & self._mask
        self._reach = int(displacement.max(initial=0))

    def _slot_of(self, keys: _Keys) -> _Ints:
        hashed = keys.view(np.uint64) * _MULTIPLIER  # wraps modulo 2**64, as intended
        return (hashed >> self._shift).astype(np.intp)

    def rows(self, queries: _Keys) -> _Ints:
        """The row of each query in the ``keys`` the table was built from, or -1."""
        queries = np.ascontiguousarray(queries, dtype=np.int64)
        slots = self._slot_of(queries)
        found = self._keys[slots]
        out = np.where(found == queries, self._rows[slots], -1)
        # The keys that met another key: all the slots within reach of their home at once
        # (one gather instead of a round per probe; keys are distinct, so one can match).
        pending = np.flatnonzero((found != queries) & (found != EMPTY))
        if pending.size and self._reach:
            steps = np.arange(1, self._reach + 1)
            window = (slots[pending][:, None] + steps) & self._mask
            match = self._keys[window] == queries[pending][:, None]
            hit = match.any(axis=1)
            first = match.argmax(axis=1)
            out[pending[hit]] = self._rows[window[hit, first[hit]]]
        return out


def character_codes(alphabet: list[str]) -> npt.NDArray[np.int64]:
    """Codes by code point for turning strings into integer keys: 1..K for the characters of
    ``alphabet`` (sorted, distinct), K + 1 for any other. The last entry stands for every
    code point beyond the table: index it with ``np.minimum(points, size - 1)``."""
    size = ord(alphabet[-1]) + 2 if alphabet else 1
    codes = np.full(size, len(alphabet) + 1, dtype=np.int64)
    codes[[ord(c) for c in alphabet]] = np.arange(1, len(alphabet) + 1)
    return codes
