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

from app.sentiment import byte_keys
from app.sentiment.int_table import IntTable
from app.sentiment.token_ids import SEPARATOR, TokenIds, split_tokens

_Ints = npt.NDArray[np.intp]
_Keys = npt.NDArray[np.int64]
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
    one array of character codes, whitespace (``str.isspace``) separates the words, and a
    word of at most ``byte_keys.KEY_BYTES`` characters is one exact integer read out of
    that array (``_WordKeys``) and looked up in an ``IntTable``. Longer words, about one in
    ten, are looked up by string.
    """

    def __init__(self, forms: list[str], ids: TokenIds) -> None:
        self.forms = forms
        self._ids = ids
        self._keys = _WordKeys(forms)
        short = [row for row, form in enumerate(forms) if self._keys.fits(form)]
        # key -> form number (MISSING = -1 for a word outside the table)
        self._short = IntTable(
            np.array([self._keys.key(forms[r]) for r in short], np.int64),
            np.array(short, dtype=np.intp),
        )
        self._long_row_of = {f: row for row, f in enumerate(forms) if not self._keys.fits(f)}
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
        codes = self._keys.codes(points)
        # Words start where a code follows a 0 (whitespace) and end before the next 0.
        step = np.diff((codes[: points.size + 2] != 0).view(np.int8))
        starts, ends = np.flatnonzero(step == 1), np.flatnonzero(step == -1)
        line = np.cumsum(points == _NEWLINE)
        owner = line[starts]
        lengths = ends - starts
        rows = np.full(starts.size, -1, dtype=np.intp)
        short = self._keys.short(lengths)
        rows[short] = self._short.get(self._keys.keys(codes, starts[short], lengths[short]))
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
    """Words of at most ``byte_keys.KEY_BYTES`` characters as their ``byte_keys`` keys over
    the forms' alphabet, with whitespace as code 0 (which no word holds): the batch's array
    of codes then also tells where its words start and end."""

    def __init__(self, forms: list[str]) -> None:
        alphabet = sorted(set("".join(forms)))
        # With more characters than codes, every word is looked up by string (slower).
        self.usable = len(alphabet) <= byte_keys.MAX_ALPHABET
        codes = byte_keys.character_codes(alphabet if self.usable else [], _IS_SPACE.size)
        codes[np.flatnonzero(_IS_SPACE)] = 0
        self._codes = codes

    def fits(self, word: str) -> bool:
        """Whether ``word`` has a key."""
        return self.usable and 0 < len(word) <= byte_keys.KEY_BYTES

    def short(self, lengths: _Ints) -> npt.NDArray[np.bool_]:
        """Which of the words of these lengths have keys."""
        return (lengths <= byte_keys.KEY_BYTES) & self.usable

    def key(self, word: str) -> int:
        """The key of one word that ``fits``."""
        return byte_keys.key(self._codes, word)

    def codes(self, points: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint8]:
        """The code of each code point, after one 0 and with room after the last to read
        a key from any start: ``codes[1 + i]`` is character i's."""
        out = np.zeros(points.size + byte_keys.KEY_BYTES, dtype=np.uint8)
        out[1 : points.size + 1] = self._codes[np.minimum(points, self._codes.size - 1)]
        return out

    def keys(self, codes: npt.NDArray[np.uint8], starts: _Ints, lengths: _Ints) -> _Keys:
        """The key of each word of ``lengths[i]`` characters at ``starts[i]`` (``codes``
        from ``codes``; the words ``short``)."""
        return byte_keys.masked(byte_keys.windows(codes)[starts + 1], lengths)


def _slices(text: str, starts: _Ints, ends: _Ints) -> list[str]:
    return [text[s:e] for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]
