"""A batch's tokens as integer ids, with ``text.tokenize``'s negation scopes marked by NumPy.

Tokenising text by text costs a regex call and a Python loop per text. For a batch, the
normalised texts are joined with "\\n" and split into ``text.TOKEN``'s tokens by byte
operations on the whole string (``split_tokens``, ~3 x faster than ``findall``), each token
becomes an id with one dictionary look-up, and the negation scopes, the dropped punctuation
and each token's text come from array operations over the whole batch.

The ids cover every token the model can score (its word vocabularies' words, the lexicon's
words, negators, scope ends), each also in its negation-marked form; every other token is
``UNKNOWN`` (or ``UNKNOWN_NEGATOR``, an unlisted "n't" contraction), which no block scores.
Word n-grams then become integer keys (``NgramColumns``), so a bigram costs no string join.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import repeat

import numpy as np
import numpy.typing as npt

from app.sentiment.int_table import IntTable
from app.sentiment.text import (
    CLAUSE_PUNCTUATION,
    NEGATION_PREFIX,
    NEGATION_WINDOW,
    NEGATORS,
    SCOPE_END,
    is_negator,
)

_Ints = npt.NDArray[np.intp]

UNKNOWN, UNKNOWN_NEGATOR, SEPARATOR = 0, 1, 2
_SEPARATOR = b"|"  # what "\n" becomes in ``split_tokens``

# ``text.TOKEN`` rewritten as byte operations (tests/sentiment/test_token_ids.py holds them
# to it). Its bytes stay, "\n" becomes the separator, anything else is a space (including
# every byte of a non-ASCII character, which the pattern's ASCII classes never match); its
# punctuation and the separator are tokens of one character.
_PUNCTUATION = b"!?.,;:"
_SINGLES = (*(bytes([b]) for b in _PUNCTUATION), _SEPARATOR)


def _byte_table() -> bytes:
    table = bytearray(b" " * 256)
    for byte in b"abcdefghijklmnopqrstuvwxyz0123456789'" + _PUNCTUATION:
        table[byte] = byte
    table[ord("\n")] = ord(_SEPARATOR)
    return bytes(table)


_TABLE = _byte_table()
# An apostrophe belongs to a token only between [a-z0-9] and [a-z]; after "'[a-z]+" a
# digit starts a new token (the pattern's [a-z]++ stops there).
_LONE_APOSTROPHE = re.compile(rb"'(?:(?![a-z])|(?<![a-z0-9]'))")
_DIGIT_AFTER_APOSTROPHE = re.compile(rb"('[a-z]+)(?=[0-9])")


def split_tokens(joined: str) -> list[bytes]:
    """``TOKEN.findall`` of each "\\n"-separated text, each text followed by ``_SEPARATOR``
    (but the last), as ASCII bytes."""
    data = joined.encode("utf-8", "surrogatepass").translate(_TABLE)
    if b"'" in data:
        data = _LONE_APOSTROPHE.sub(b" ", data)
        data = _DIGIT_AFTER_APOSTROPHE.sub(rb"\1 ", data)
    for single in _SINGLES:
        if single in data:
            data = data.replace(single, b" " + single + b" ")
    return data.split()


class TokenIds:
    """Ids of the tokens a model can score, and ``encode``: ``tokenize`` for a batch."""

    def __init__(self, tokens: Iterable[str]) -> None:
        """``tokens``: every token (plain or negation-marked) that some block scores."""
        bases = sorted({t.removeprefix(NEGATION_PREFIX) for t in tokens} | NEGATORS | SCOPE_END)
        # The first three are in no vocabulary: "" cannot be a token.
        strings = ["", "", "\n", *bases, *(NEGATION_PREFIX + b for b in bases)]
        self.strings = strings
        self.size = len(strings)
        first = SEPARATOR + 1
        # Keyed by bytes, as ``split_tokens`` gives them (tokens are ASCII).
        self._id_of = {
            s.encode("utf-8", "surrogatepass"): i for i, s in enumerate(strings) if i > SEPARATOR
        }
        self._id_of[_SEPARATOR] = SEPARATOR
        self._negated = np.zeros(self.size, dtype=np.intp)  # the unknowns stay unknown
        self._negated[first : first + len(bases)] = np.arange(len(bases)) + first + len(bases)
        self._negator = np.array([is_negator(s) for s in strings])
        self._negator[UNKNOWN_NEGATOR] = True
        self._scope_end = np.array([s in SCOPE_END for s in strings])
        self._dropped = np.array([s in CLAUSE_PUNCTUATION for s in strings])
        self._scope_end[SEPARATOR] = self._dropped[SEPARATOR] = True

    def id_of(self, token: str) -> int:
        """A token's id (``UNKNOWN`` if the model cannot score it)."""
        return self._id_of.get(token.encode("utf-8", "surrogatepass"), UNKNOWN)

    def raw_ids(self, tokens: list[bytes]) -> _Ints:
        """The id of each of ``split_tokens``'s tokens, before negation scopes."""
        raw = np.fromiter(map(self._id_of.get, tokens, repeat(UNKNOWN)), np.intp, len(tokens))
        # Contractions outside the table still open a scope.
        unknown = np.flatnonzero(raw == UNKNOWN).tolist()
        raw[[i for i in unknown if tokens[i].endswith(b"n't")]] = UNKNOWN_NEGATOR
        return raw

    def scopes(self, raw: _Ints, owner: _Ints) -> tuple[_Ints, _Ints]:
        """``tokenize``'s output from raw ids laid end to end (``owner``: the text of each,
        non-decreasing): tokens in a negation scope take their negated id, and clause
        punctuation is dropped. Returns (ids, text of each id)."""
        count = raw.size
        if count == 0:
            return raw, owner
        position = np.arange(count)
        # Per token: the last negator, the last scope end and its text's first token.
        last_negator = np.maximum.accumulate(np.where(self._negator[raw], position, -1))
        end = self._scope_end[raw]
        last_end = np.maximum.accumulate(np.where(end, position, -1))
        first = np.ones(count, dtype=bool)
        np.not_equal(owner[1:], owner[:-1], out=first[1:])
        text_start = np.maximum.accumulate(np.where(first, position, 0))
        negator_before = np.concatenate(([-1], last_negator[:-1]))
        end_before = np.concatenate(([-1], last_end[:-1]))
        # In a scope: the negator is in the same text, closer than any scope end, and at
        # most the window back (a scope end resets the count, so no token between them is
        # skipped).
        scoped = (
            (negator_before > end_before)
            & (negator_before >= text_start)
            & (position - negator_before <= NEGATION_WINDOW)
            & ~end
        )
        ids = np.where(scoped, self._negated[raw], raw)
        kept = ~self._dropped[raw]
        return ids[kept], owner[kept]

    def encode(self, joined: str) -> tuple[_Ints, _Ints]:
        """``tokenize`` of each "\\n"-separated normalised text, as (ids, text of each id)
        laid end to end."""
        raw = self.raw_ids(split_tokens(joined))
        separator = raw == SEPARATOR
        owner = np.cumsum(separator)
        return self.scopes(raw[~separator], owner[~separator])

    def decode(self, ids: _Ints) -> list[str]:
        """The tokens of ``ids`` ("" for the unknown ones)."""
        return [self.strings[i] for i in ids.tolist()]


class NgramColumns:
    """Vocabulary columns of token n-grams looked up by integer keys.

    An n-gram that prefixes some vocabulary term has a prefix id at its length: at length
    1 its token id, at length k the number of the key ``(prefix id of its first k - 1
    tokens) * ids.size + (id of its last token)`` among that length's keys. So each length
    is one ``IntTable`` look-up over the batch, for any n-gram range. (Not a binary search
    in a sorted key array: its ~15 dependent reads per n-gram wait on memory whenever the
    batch's other work has pushed the array out of the cache; a hash look-up's reads are
    independent.)
    """

    def __init__(self, vocabulary: dict[str, int], ids: TokenIds, unknown: int) -> None:
        """``unknown``: the column any n-gram outside ``vocabulary`` gets."""
        terms = [(tuple(map(ids.id_of, term.split(" "))), col) for term, col in vocabulary.items()]
        if any(UNKNOWN in key for key, _ in terms):
            raise ValueError("a vocabulary term has a token outside the ids")
        self._width = ids.size
        self._unknown = unknown
        self.max_n = max((len(key) for key, _ in terms), default=1)
        self._unigrams = np.full(ids.size, unknown, dtype=np.intp)
        prefix_id: dict[tuple[int, ...], int] = {}  # of the previous length's prefixes
        self._keys: list[IntTable] = []
        self._columns: list[_Ints] = []
        for n in range(1, self.max_n + 1):
            column_of = {key: col for key, col in terms if len(key) == n}
            if n == 1:
                for (token,), col in column_of.items():
                    self._unigrams[token] = col
                continue
            prefixes = sorted({key[:n] for key, _ in terms if len(key) >= n})
            first = [p[0] if n == 2 else prefix_id[p[:-1]] for p in prefixes]
            last = np.array([p[-1] for p in prefixes], dtype=np.int64)
            keys = np.array(first, dtype=np.int64) * ids.size + last
            self._keys.append(IntTable(keys))
            columns = [column_of.get(p, unknown) for p in prefixes]
            self._columns.append(np.array(columns, dtype=np.intp))
            prefix_id = {p: number for number, p in enumerate(prefixes)}

    def occurrences(self, ids: _Ints, owner: _Ints) -> tuple[_Ints, _Ints]:
        """(text, column) of each vocabulary n-gram in a batch's ``TokenIds.encode``
        output; n-grams across two texts are dropped."""
        unknown = self._unknown
        columns = [self._unigrams[ids]]
        owners = [owner]
        prefix = ids.astype(np.int64)  # prefix id of the n-gram starting at each token
        for n in range(2, self.max_n + 1):
            count = ids.size - n + 1
            if count <= 0:
                break
            # A prefix of -1 (none) gives a negative key, which no table holds.
            keys = prefix[:count] * self._width + ids[n - 1 :]
            at = self._keys[n - 2].get(keys)
            found = (at >= 0) & (owner[:count] == owner[n - 1 :])
            prefix = np.where(found, at, -1)
            columns.append(np.where(found, self._columns[n - 2][at], unknown))
            owners.append(owner[:count])
        cols = np.concatenate(columns)
        known = cols != unknown
        return np.concatenate(owners)[known], cols[known]
