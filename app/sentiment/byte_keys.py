"""Short strings as exact int64 keys, one byte per character, read straight out of arrays.

Each character of an alphabet gets a byte code (1..K; K + 1 for any other character), and
a string of at most ``KEY_BYTES`` characters the little-endian integer of its codes. No
character is code 0, so equal keys mean equal strings (lengths included). For a batch, the
codes of a whole text are one byte array, and every ``KEY_BYTES`` consecutive codes one
unaligned 8-byte integer of a view of it (``windows``): the key of the string at a position
is that integer masked to the string's length (``masked``), with no per-string work.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

_Ints = npt.NDArray[np.intp]
_Keys = npt.NDArray[np.int64]
_Codes = npt.NDArray[np.uint8]
_Windows = npt.NDArray[np.uint64]

KEY_BYTES = 8  # characters in one int64 key
MAX_ALPHABET = 254  # codes 1..254 for the alphabet, 255 for any other character
# LOW_BYTES[n]: the low n bytes set, to cut a window down to its first n codes.
_LOW_BYTES = np.array([(1 << 8 * n) - 1 for n in range(KEY_BYTES + 1)], dtype=np.uint64)


def character_codes(alphabet: list[str], size: int = 0) -> _Codes:
    """The code of each code point: 1..K for the characters of ``alphabet`` (sorted,
    distinct, at most ``MAX_ALPHABET``), K + 1 for any other; at least ``size`` entries.
    The last entry stands for every code point beyond the table: index it with
    ``np.minimum(points, codes.size - 1)``."""
    if len(alphabet) > MAX_ALPHABET:
        raise ValueError(f"more than {MAX_ALPHABET} characters")
    codes = np.full(max(ord(alphabet[-1]) + 2 if alphabet else 1, size), len(alphabet) + 1)
    codes[[ord(c) for c in alphabet]] = np.arange(1, len(alphabet) + 1)
    return codes.astype(np.uint8)


def key(codes: _Codes, text: str) -> int:
    """The key of ``text`` (at most ``KEY_BYTES`` characters), as an int64 holds it."""
    last = codes.size - 1
    data = bytes(int(codes[min(ord(ch), last)]) for ch in text)
    return int.from_bytes(data.ljust(KEY_BYTES, b"\0"), "little", signed=True)


def windows(codes: _Codes) -> _Windows:
    """Every ``KEY_BYTES`` consecutive codes as one little-endian integer, one per start
    (a view: ``codes`` needs ``KEY_BYTES - 1`` bytes after the last start wanted)."""
    return np.ndarray((codes.size - KEY_BYTES + 1,), dtype="<u8", buffer=codes, strides=(1,))


def masked(windows_at: _Windows, lengths: _Ints) -> _Keys:
    """The keys of the strings of ``lengths`` characters at these windows."""
    keys: _Keys = (windows_at & _LOW_BYTES[lengths]).view(np.int64)
    return keys
