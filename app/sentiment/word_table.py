"""A batch's whitespace-separated words looked up once, for every block of the scorer.

The character block scores words and the word and lexicon blocks score tokens; nearly every
word is a known word, alone or with the punctuation that ends it ("good", "good,"), whose
tokens never change. So each known word form gets a number at load time, with its token ids
in one flat array (where they start and how many), and a batch costs one look-up per word
(an integer key in an ``IntTable``, see ``WordTable``): the batch's tokens are then one
NumPy gather from that array, and only the other words (a few percent) are split into
tokens and looked up token by token.
The character block gathers its per-form scores with the same numbers (``LookedUp.rows``).

Tokens never span whitespace (``text.TOKEN`` matches no space), so a text's tokens are its
words' tokens in order: the same as ``TokenIds.encode`` of the whole text, which
``tests/sentiment/test_word_table.py`` checks on every corpus text.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import repeat

import numpy as np
import numpy.typing as npt

from app.sentiment.int_table import IntTable, character_codes
from app.sentiment.token_ids import SEPARATOR, TokenIds, split_tokens

_Ints = npt.NDArray[np.intp]
_NEWLINE = ord("\n")
# Where a form's token ids start in the table's flat array, and how many it has.
_SPAN = np.dtype([("offset", np.intp), ("count", np.intp)])
# Whether each code point is whitespace for ``str.split``; every such one is below 0x3001
# (the last entry stands for all code points beyond).
_IS_SPACE = np.array([chr(c).isspace() for c in range(0x3001)] + [False])


@dataclass(frozen=True, slots=True)
class LookedUp:
    """A batch's words (``str.split`` of each text) laid end to end: the text of each
    (``owner``, non-decreasing, ``size`` texts), its form number (``rows``; -1 for a word
    outside the table), and the words outside it: their positions (``absent``), each
    distinct one once (``distinct``) and which of those each absent word is (``which``)."""

    owner: _Ints
    size: int
    rows: _Ints
    absent: _Ints
    distinct: list[str]
    which: _Ints


class WordTable:
    """Known word forms, numbered, with the token ids of each.

    A batch's words are found without making a string of each: the normalised batch is
    one array of code points, whitespace (``str.isspace``) separates the words, and a word
    of at most ``max_length`` characters is one exact integer (``_WordKeys``) looked up in
    an ``IntTable``. Longer words, a few percent, are looked up by string.
    """

    def __init__(self, forms: list[str], ids: TokenIds) -> None:
        self.forms = forms
        self._ids = ids
        self._keys = _WordKeys(forms)
        short = [row for row, form in enumerate(forms) if 0 < len(form) <= self._keys.max_length]
        # key -> form number (MISSING = -1 for a word outside the table)
        self._short = IntTable(
            np.array([self._keys.key(forms[r]) for r in short], np.int64),
            np.array(short, dtype=np.intp),
        )
        self._long_row_of = {
            f: row for row, f in enumerate(forms) if len(f) > self._keys.max_length
        }
        # All forms' token ids end to end; per form (and one more entry, for row -1: a word
        # outside the table) how many it has and where they start.
        tokens, counts = self._token_lists(forms)
        self._tokens = np.append(tokens, SEPARATOR)  # never empty: ``take`` needs an entry
        self._spans = np.zeros(len(forms) + 1, dtype=_SPAN)  # one record: one cache line
        self._spans["offset"][:-1] = np.cumsum(counts) - counts
        self._spans["count"][:-1] = counts

    def look_up(self, joined: str) -> LookedUp:
        """The words of each "\\n"-separated text of ``joined``, numbered."""
        points = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        space = _IS_SPACE[np.minimum(points, _IS_SPACE.size - 1)]
        edges = np.ones(points.size + 2, dtype=np.int8)
        edges[1:-1] = space
        step = np.diff(edges)
        starts, ends = np.flatnonzero(step == -1), np.flatnonzero(step == 1)
        line = np.cumsum(points == _NEWLINE)
        owner = line[starts]
        lengths = ends - starts
        rows = np.full(starts.size, -1, dtype=np.intp)
        short = lengths <= self._keys.max_length
        rows[short] = self._short.rows(self._keys.keys(points, starts[short], lengths[short]))
        if not short.all():
            long = np.flatnonzero(~short)
            words = _slices(joined, starts[long], ends[long])
            rows[long] = np.fromiter(map(self._long_row_of.get, words, repeat(-1)), np.intp)
        absent = np.flatnonzero(rows < 0)
        unseen = _slices(joined, starts[absent], ends[absent])
        index = dict.fromkeys(unseen)
        distinct = list(index)
        for number, word in enumerate(distinct):
            index[word] = number
        which = np.fromiter(map(index.__getitem__, unseen), np.intp, len(unseen))
        size = int(line[-1]) + 1 if line.size else 1
        return LookedUp(owner, size, rows, absent, distinct, which)

    def token_ids(self, found: LookedUp) -> tuple[_Ints, _Ints]:
        """The raw token ids of the batch (``TokenIds.raw_ids``, before negation scopes)
        and the text of each, in order."""
        spans = self._spans[found.rows]
        counts, offsets = spans["count"], spans["offset"]
        if found.distinct:  # their offsets point into ``extra``
            extra, extra_counts = self._token_lists(found.distinct)
            counts[found.absent] = extra_counts[found.which]
            offsets[found.absent] = (np.cumsum(extra_counts) - extra_counts)[found.which]
        total = int(counts.sum())
        # Token i of the batch is source token i - (its word's first place) + offset.
        firsts = np.cumsum(counts) - counts
        at = np.repeat(offsets - firsts, counts) + np.arange(total)
        ids = self._tokens.take(at, mode="clip")  # (the unseen words' are replaced next)
        if found.distinct:
            unseen = np.zeros(found.rows.size, dtype=bool)
            unseen[found.absent] = True
            from_extra = np.repeat(unseen, counts)
            ids[from_extra] = extra[at[from_extra]]
        return ids, np.repeat(found.owner, counts)

    def _token_lists(self, words: list[str]) -> tuple[_Ints, _Ints]:
        """The raw token ids of ``words`` end to end, and how many each word has."""
        raw = self._ids.raw_ids(split_tokens("\n".join(words)))
        separator = raw == SEPARATOR
        word = np.cumsum(separator)[~separator]
        return raw[~separator], np.bincount(word, minlength=len(words))


class _WordKeys:
    """Words of at most ``max_length`` characters as exact integers: each character of the
    forms' alphabet is a digit 1..K in base K + 2 (K + 1 stands for any other character),
    and a word is the number of ``max_length`` digits that starts with its characters and
    ends with zeros. No character is digit 0, so equal keys mean equal words."""

    def __init__(self, forms: list[str]) -> None:
        alphabet = sorted(set("".join(forms)))
        base = len(alphabet) + 2
        self.max_length = 1
        while base ** (self.max_length + 1) < 2**63:
            self.max_length += 1
        self._digits = character_codes(alphabet)
        # The place value of each character position, first to last.
        self._places = np.array([base**k for k in reversed(range(self.max_length))], np.int64)

    def key(self, word: str) -> int:
        """The key of one word of at most ``max_length`` characters."""
        digits = [int(self._digits[min(ord(ch), self._digits.size - 1)]) for ch in word]
        return sum(d * int(p) for d, p in zip(digits, self._places.tolist(), strict=False))

    def keys(self, points: npt.NDArray[np.uint32], starts: _Ints, lengths: _Ints) -> _Ints:
        """The key of each word ``points[start : start + length]`` (length <= max_length)."""
        digits = self._digits[np.minimum(points, self._digits.size - 1)]
        digits = np.concatenate([digits, np.zeros(self.max_length, dtype=np.int64)])
        # The number of max_length digits from each start (past the word's end too), with
        # the places after the word then zeroed: one integer division and product.
        window = digits[starts[:, None] + np.arange(self.max_length)] @ self._places
        after = self._places[lengths - 1]  # the place value of the word's last character
        keys: _Ints = window // after * after
        return keys


def _slices(text: str, starts: _Ints, ends: _Ints) -> list[str]:
    return [text[s:e] for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]
