"""A batch's whitespace-separated words looked up once, for every block of the scorer.

The character block scores words and the word and lexicon blocks score tokens; nearly every
word is a known word, alone or with the punctuation that ends it ("good", "good,"), whose
tokens never change. So each known word form gets a number at load time, with its token ids
in a table row, and a batch costs one dictionary look-up per word: the known words' tokens
are rows of that table (a NumPy gather), and only the other words (a few percent) are split
into tokens and looked up token by token. The character block gathers its per-form scores
with the same numbers (``LookedUp.rows``).

Tokens never span whitespace (``text.TOKEN`` matches no space), so a text's tokens are its
words' tokens in order: the same as ``TokenIds.encode`` of the whole text, which
``tests/sentiment/test_word_table.py`` checks on every corpus text.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain, repeat

import numpy as np
import numpy.typing as npt

from app.sentiment.token_ids import SEPARATOR, TokenIds, split_tokens

_Ints = npt.NDArray[np.intp]
_PAD = -1  # an empty place in a row of token ids


class Flat:
    """A batch's per-text string lists laid end to end: ``items`` and, per item, the index
    of its text (``owner``, non-decreasing), so a block scores the whole batch with C-level
    look-ups over one list and NumPy sums per text instead of a Python call per text."""

    def __init__(self, per_text: list[list[str]]) -> None:
        self.per_text = per_text
        self.size = len(per_text)
        self.items: list[str] = list(chain.from_iterable(per_text))
        lengths = list(map(len, per_text))
        self.owner: _Ints = np.repeat(np.arange(self.size, dtype=np.intp), lengths)

    @classmethod
    def words_of_lines(cls, joined: str) -> Flat:
        """The words (``str.split``) of each "\\n"-separated text."""
        return cls([line.split() for line in joined.split("\n")])


@dataclass(frozen=True, slots=True)
class LookedUp:
    """Each word's form number (``rows``; -1 for a word outside the table), and the words
    outside it: their positions (``absent``), each distinct one once (``distinct``) and
    which of those each absent word is (``which``)."""

    rows: _Ints
    absent: _Ints
    distinct: list[str]
    which: _Ints


class WordTable:
    """Known word forms, numbered, with the token ids of each."""

    def __init__(self, forms: list[str], ids: TokenIds) -> None:
        self.forms = forms
        self._row_of = {form: row for row, form in enumerate(forms)}
        self._ids = ids
        tokens = self._token_rows(forms)
        # One more row, all _PAD: what row -1 (a word outside the table) gathers.
        self._tokens = np.vstack([tokens, np.full((1, tokens.shape[1]), _PAD)])

    def look_up(self, words: Flat) -> LookedUp:
        """Each word's form number, and the words outside the table."""
        items = words.items
        rows = np.fromiter(map(self._row_of.get, items, repeat(-1)), np.intp, len(items))
        absent = np.flatnonzero(rows < 0)
        unseen = [items[i] for i in absent.tolist()]
        index = dict.fromkeys(unseen)
        distinct = list(index)
        for number, word in enumerate(distinct):
            index[word] = number
        which = np.fromiter(map(index.__getitem__, unseen), np.intp, len(unseen))
        return LookedUp(rows, absent, distinct, which)

    def token_ids(self, words: Flat, found: LookedUp) -> tuple[_Ints, _Ints]:
        """The raw token ids of the batch (``TokenIds.raw_ids``, before negation scopes)
        and the text of each, in order."""
        table = self._tokens[found.rows]
        if found.distinct:
            unseen = self._token_rows(found.distinct)
            width = max(table.shape[1], unseen.shape[1])
            table = _widen(table, width)
            table[found.absent] = _widen(unseen, width)[found.which]
        flat = table.ravel()
        kept = flat != _PAD
        owner = np.repeat(words.owner, table.shape[1])
        return flat[kept], owner[kept]

    def _token_rows(self, words: list[str]) -> _Ints:
        """Row ``i``: the raw token ids of ``words[i]``, then _PAD."""
        raw = self._ids.raw_ids(split_tokens("\n".join(words)))
        separator = raw == SEPARATOR
        word = np.cumsum(separator)[~separator]
        raw = raw[~separator]
        counts = np.bincount(word, minlength=len(words))
        starts = np.cumsum(counts) - counts
        place = np.arange(raw.size) - starts[word]
        rows = np.full((len(words), max(int(counts.max(initial=0)), 1)), _PAD, dtype=np.intp)
        rows[word, place] = raw
        return rows


def _widen(rows: _Ints, width: int) -> _Ints:
    if rows.shape[1] == width:
        return rows
    wider = np.full((rows.shape[0], width), _PAD, dtype=np.intp)
    wider[:, : rows.shape[1]] = rows
    return wider
