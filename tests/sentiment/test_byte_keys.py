"""Keys read out of a batch's array of codes must be the keys of the strings themselves."""

from __future__ import annotations

import random

import numpy as np
import pytest

from app.sentiment import byte_keys


def test_keys_read_from_windows_equal_each_strings_key() -> None:
    alphabet = sorted("abcdefgh .,é")
    codes = byte_keys.character_codes(alphabet)
    rng = random.Random(3)
    # Characters outside the alphabet too ("z", "\u2603"), all sharing the "other" code.
    text = "".join(rng.choice("abcdefgh .,éz\u2603") for _ in range(500))
    points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    array = np.zeros(points.size + byte_keys.KEY_BYTES - 1, dtype=np.uint8)
    array[: points.size] = codes[np.minimum(points, codes.size - 1)]
    starts = np.array([rng.randrange(points.size) for _ in range(300)])
    lengths = np.array([rng.randint(1, byte_keys.KEY_BYTES) for _ in range(300)])
    lengths = np.minimum(lengths, points.size - starts)
    got = byte_keys.masked(byte_keys.windows(array)[starts], lengths).tolist()
    strings = [text[s : s + n] for s, n in zip(starts.tolist(), lengths.tolist(), strict=True)]
    assert got == [byte_keys.key(codes, s) for s in strings]
    # Equal keys only for equal strings (up to the shared "other" code).
    folded = [s.replace("\u2603", "z") for s in strings]
    assert len(set(got)) == len(set(folded))


def test_key_bytes_fill_an_int64_and_alphabets_fit_a_byte() -> None:
    alphabet = [chr(0x100 + i) for i in range(byte_keys.MAX_ALPHABET)]
    codes = byte_keys.character_codes(alphabet, size=10)
    assert codes.dtype == np.uint8 and codes.size == 0x100 + byte_keys.MAX_ALPHABET + 1
    assert set(codes[:0x100].tolist()) == {byte_keys.MAX_ALPHABET + 1}  # all "other"
    widest = byte_keys.key(codes, alphabet[-1] * byte_keys.KEY_BYTES)
    assert np.array([widest], dtype=np.int64)[0] == widest < 0  # top bit set: as int64 holds it
    with pytest.raises(ValueError, match="more than"):
        byte_keys.character_codes([*alphabet, "\u2603"])
