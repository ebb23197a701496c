"""A scorer that runs a fitted pipeline's vocabulary, idf and coefficients directly.

``Pipeline.predict_proba`` on one text spends milliseconds in input validation and
sparse-matrix plumbing. For a linear model over L2-normalised TF-IDF blocks plus a few dense
features,

    z = b + sum over TF-IDF blocks of (sum_t v_t * w_t) / sqrt(sum_t v_t ** 2) + f . w_dense
    v_t = tf'(c_t) * idf_t,   tf'(c) = 1 + log(c) if sublinear_tf else c,

so a few dictionary look-ups and float operations give the same number (to ~1e-15) in
microseconds. The sums are taken over n-gram *occurrences*: with ``iw = idf * w`` and
``i2 = idf ** 2`` per column,

    sum_t v_t w_t = sum over occurrences of iw * tf'(c) / c,
    sum_t v_t^2   = sum over occurrences of i2 * tf'(c) ** 2 / c,

which needs no de-duplication of the n-grams, only each occurrence's count c (mostly 1).
The character block of the current recipe (``pipeline.CharNgrams``) needs not even that:
its norm and dot product are sums over the words of the text, so each word's share is
precomputed at load time (``_AdditiveCharBlock``); the word block costs one dictionary
look-up per word n-gram, the lexicon block one per token.

For this project's recipe (``text.normalize`` + ``text.tokenize`` words, ``char_wb`` n-grams,
lexicon features) the text is normalised and tokenised once and the n-grams are generated
exactly as scikit-learn does; any other vectorizer is run through its own
``build_analyzer()``. A batch is normalised as one string and each of its words looked up
once (``word_table``: a known word form's token ids and character score come from tables
built at load time), the negation scopes are marked by NumPy (``token_ids``), and each
block scores all the texts over their token ids (or words) laid end to end: word n-grams
as integer keys, NumPy sums per text. Nothing is cached
from one text to the next: a text costs the same whatever came before it.
``tests/sentiment/test_fast.py`` proves the agreement, single and batch, on every training
text and ``load_model`` re-checks it on probe texts at every load.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from itertools import chain, compress, pairwise, repeat
from operator import mul
from typing import Any

import numpy as np
import numpy.typing as npt

from app.sentiment import byte_keys
from app.sentiment.int_table import IntTable
from app.sentiment.lexicon import (
    AFTER_BUT,
    ALPHA,
    BEFORE_BUT,
    BOOST,
    BOOSTERS,
    DAMP,
    DAMPENERS,
    NEGATION_SCALAR,
    LexiconFeatures,
)
from app.sentiment.nb import NBScaler
from app.sentiment.pipeline import CharNgrams
from app.sentiment.text import NEGATION_PREFIX, normalize, normalize_joined, tokenize
from app.sentiment.token_ids import UNKNOWN, NgramColumns, TokenIds
from app.sentiment.word_table import LookedUp, WordTable

_Floats = npt.NDArray[np.float64]
_Ints = npt.NDArray[np.intp]
# Counts below this index a precomputed table of tf'(c) / c and tf'(c) ** 2 / c.
_TF_TABLE_SIZE = 4096


class UnsupportedPipelineError(ValueError):
    """The pipeline has a shape the fast scorer cannot reproduce exactly."""


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise UnsupportedPipelineError(message)


class _Flat:
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
    def words_of_lines(cls, joined: str) -> _Flat:
        """The words (``str.split``) of each "\\n"-separated text."""
        return cls([line.split() for line in joined.split("\n")])


def word_ngrams(tokens: list[str], min_n: int, max_n: int) -> list[str]:
    """scikit-learn's ``_word_ngrams`` (no stop words): all n-grams, n in [min_n, max_n]."""
    out = list(tokens) if min_n == 1 else []
    count = len(tokens)
    for n in range(max(min_n, 2), min(max_n, count) + 1):
        if n == 2:  # the common case, without a slice per bigram
            out += map(" ".join, pairwise(tokens))
        else:
            out += [" ".join(tokens[i : i + n]) for i in range(count - n + 1)]
    return out


def char_wb_ngrams(text: str, min_n: int, max_n: int) -> list[str]:
    """scikit-learn's ``_char_wb_ngrams``: space-padded words, each short word counted once."""
    out: list[str] = []
    for word in text.split():
        padded = " " + word + " "
        size = len(padded)
        for n in range(min_n, max_n + 1):
            if size <= n:
                out.append(padded)
                break
            out += [padded[i : i + n] for i in range(size - n + 1)]
    return out


def _tf(counts: npt.NDArray[Any], sublinear: bool) -> _Floats:
    """tf'(c) of each count."""
    c = counts.astype(np.float64)
    return np.log(c) + 1.0 if sublinear else c


class _Columns:
    """Per-column products of one TF-IDF block, ``iw = idf * w`` and ``i2 = idf ** 2``, with
    one extra all-zero column that unknown terms can point at, and tables of tf'(c) / c and
    tf'(c) ** 2 / c by count (1-D arrays: NumPy gathers from them several times faster than
    rows of a 2-D table)."""

    def __init__(self, vec: Any, weights: _Floats) -> None:
        idf = np.asarray(vec.idf_, dtype=np.float64)
        self.width = idf.size
        self.iw: _Floats = np.append(idf * weights, 0.0)
        self.i2: _Floats = np.append(idf * idf, 0.0)
        self.sublinear = bool(vec.sublinear_tf)
        counts = np.arange(_TF_TABLE_SIZE)
        counts[0] = 1  # count 0 never occurs
        tf = _tf(counts, self.sublinear)
        self.tf = tf
        self.tf2 = tf * tf
        self.per_occurrence = tf / counts
        self.per_occurrence2 = tf * tf / counts

    def batch_scores(self, owner: _Ints, cols: _Ints, size: int) -> _Floats:
        """Block score of each of ``size`` texts from its columns' occurrences (``owner[i]``
        is the text of occurrence ``i``): one sort of (text, column) keys for the batch."""
        out = np.zeros(size, dtype=np.float64)
        total = cols.size
        if total == 0:
            return out
        width = self.width + 1
        keys = owner.astype(np.int64) * width + cols
        keys.sort()
        first = np.empty(total, dtype=bool)
        first[0] = True
        np.not_equal(keys[1:], keys[:-1], out=first[1:])
        starts = np.flatnonzero(first)
        counts = np.diff(starts, append=total)
        text_of, col = np.divmod(keys[starts], width)
        # Per distinct (text, column): tf'(c) * iw and tf'(c) ** 2 * i2.
        if int(counts.max()) < _TF_TABLE_SIZE:
            tf, tf2 = self.tf[counts], self.tf2[counts]
        else:
            tf = _tf(counts, self.sublinear)
            tf2 = tf * tf
        dot = np.bincount(text_of, weights=tf * self.iw[col], minlength=size)
        sumsq = np.bincount(text_of, weights=tf2 * self.i2[col], minlength=size)
        scored = sumsq > 0.0
        out[scored] = dot[scored] / np.sqrt(sumsq[scored])
        return out


class _WordBlock:
    """TF-IDF block over terms produced by ``ngrams`` (word n-grams, or any analyzer)."""

    def __init__(self, vec: Any, weights: _Floats) -> None:
        # (min_n, max_n) when the terms are n-grams of ``text.tokenize`` tokens: a batch's
        # n-grams are then looked up by token ids (``score_ids``); else the analyzer runs.
        self.token_ngrams = _token_ngrams(vec)
        self._analyzer: Callable[[str], list[str]] = vec.build_analyzer()
        self._columns = columns = _Columns(vec, weights)
        vocabulary: dict[str, int] = vec.vocabulary_
        self._column_of = vocabulary
        self._ngram_columns: NgramColumns | None = None  # set by ``index``
        iw, i2 = columns.iw.tolist(), columns.i2.tolist()
        # term -> idf * w + idf ** 2 * 1j: one sum() adds the dot product and the norm.
        self._pairs = {term: complex(iw[col], i2[col]) for term, col in vocabulary.items()}
        self._sublinear = columns.sublinear

    def tokens(self) -> set[str]:
        """The tokens of this block's terms (``token_ngrams`` blocks)."""
        return {token for term in self._column_of for token in term.split(" ")}

    def index(self, ids: TokenIds) -> None:
        """Look n-grams up by token ids from now on (``score_ids``)."""
        self._ngram_columns = NgramColumns(self._column_of, ids, self._columns.width)

    def terms(self, text: str, tokens: list[str]) -> list[str]:
        """This block's terms of one text (``tokens``: its ``tokenize`` output)."""
        if self.token_ngrams is not None:
            return word_ngrams(tokens, *self.token_ngrams)
        return list(self._analyzer(text))

    def score(self, terms: list[str]) -> float:
        """This block's contribution to the decision value."""
        pairs = self._pairs
        # Sums over occurrences as if each term occurred once (a C-level loop) ...
        total: complex = sum(map(pairs.get, terms, repeat(0j)), 0j)
        dot, sumsq = total.real, total.imag
        if len(set(terms)) != len(terms):
            # ... corrected for the few repeated terms: tf'(c) instead of c occurrences.
            for term, count in Counter(terms).items():
                if count > 1 and (pair := pairs.get(term)) is not None:
                    tf = math.log(count) + 1.0 if self._sublinear else float(count)
                    dot += (tf - count) * pair.real
                    sumsq += (tf * tf - count) * pair.imag
        return dot / math.sqrt(sumsq) if sumsq > 0.0 else 0.0

    def score_batch(self, terms_per_text: list[list[str]]) -> _Floats:
        """``score`` of each text's terms, the arithmetic done once for the whole batch."""
        terms = _Flat(terms_per_text)
        unknown = self._columns.width  # the all-zero column
        cols = np.fromiter(
            map(self._column_of.get, terms.items, repeat(unknown)),
            dtype=np.intp,
            count=len(terms.items),
        )
        known = cols != unknown
        return self._columns.batch_scores(terms.owner[known], cols[known], terms.size)

    def score_ids(self, ids: _Ints, owner: _Ints, size: int) -> _Floats:
        """``score`` of each of ``size`` texts from a batch's ``TokenIds.encode`` output
        (``token_ngrams`` blocks, after ``index``)."""
        assert self._ngram_columns is not None
        texts, cols = self._ngram_columns.occurrences(ids, owner)
        return self._columns.batch_scores(texts, cols, size)


class _CharBlock:
    """``char_wb`` TF-IDF block scored from a table of per-word vocabulary columns.

    char_wb n-grams never cross a space, so a text's n-grams are the concatenation of its
    words' n-grams. The columns of the model's known words (their clause-final forms, and
    the short tokens the vocabulary holds whole, like ":)") are computed once at load time;
    the table never grows, so a text costs the same whatever came before it. The other
    words of a text are padded and joined into one string whose n-grams are looked up in
    one pass: n-grams across two padded words contain two adjacent spaces, which no
    vocabulary entry does. Occurrences are counted with a per-thread zeroed array indexed
    by column (no sort).
    """

    # Clause-final forms ("film." "film,") are stored for the most frequent words.
    PUNCTUATED_VARIANTS = 8_000
    SUFFIXES = (".", ",")

    def __init__(self, vec: Any, weights: _Floats, known_words: list[str]) -> None:
        # ``weights`` already include any per-column scaling (NBScaler).
        self._min_n, self._max_n = vec.ngram_range
        _check(1 <= self._min_n <= 3, "char_wb n-grams must start at n <= 3")
        self._vocabulary: dict[str, int] = vec.vocabulary_
        self._columns = _Columns(vec, weights)
        self._local = threading.local()
        whole = [g[1:-1] for g in self._vocabulary if len(g) > 2 and g[0] == g[-1] == " "]
        table: dict[str, _Ints] = {}
        for rank, word in enumerate([*known_words, *sorted(whole)]):
            forms = (word, *(word + s for s in self.SUFFIXES))
            for form in forms if rank < self.PUNCTUATED_VARIANTS else (word,):
                if form not in table:
                    table[form] = self._lookup([form])
        self._table = table

    def _lookup(self, words: list[str]) -> _Ints:
        """Vocabulary columns of the char_wb n-grams of ``words``, in no particular order."""
        text = "".join([" " + word + " " for word in words])
        size = len(text)
        get = self._vocabulary.get
        found = [
            get(text[i : i + n])
            for n in range(self._min_n, self._max_n + 1)
            for i in range(size - n + 1)
        ]
        return np.array([c for c in found if c is not None], dtype=np.intp)

    def _arrays(self, words: list[str]) -> list[_Ints]:
        """Column arrays covering the occurrences of ``words``' n-grams."""
        arrays = [a for a in map(self._table.get, words) if a is not None]
        if len(arrays) < len(words):
            table = self._table
            arrays.append(self._lookup([w for w in words if w not in table]))
        return arrays

    def _counter(self) -> npt.NDArray[np.int64]:
        # Per thread: single predictions run on the event loop, batches on the inference thread.
        # int64 to match the added Python int: np.add.at is ~8 x slower when it must cast.
        try:
            counter: npt.NDArray[np.int64] = self._local.counter
        except AttributeError:
            counter = self._local.counter = np.zeros(self._columns.width + 1, dtype=np.int64)
        return counter

    def score(self, words: list[str]) -> float:
        """This block's contribution to the decision value (``words``: the normalised text
        split on whitespace)."""
        if not words:
            return 0.0
        arrays = self._arrays(words)
        cols = np.concatenate(arrays) if len(arrays) > 1 else arrays[0]
        size = cols.size
        if size == 0:
            return 0.0
        counter = self._counter()
        try:
            np.add.at(counter, cols, 1)
            counts = counter[cols]
        finally:
            counter[cols] = 0  # leave it zeroed for the next text, whatever happened
        columns = self._columns
        if size < _TF_TABLE_SIZE:  # no count can reach the table's end
            r1, r2 = columns.per_occurrence[counts], columns.per_occurrence2[counts]
        else:
            tf = _tf(counts, columns.sublinear)
            r1, r2 = tf / counts, tf * tf / counts
        dot = float(np.dot(r1, columns.iw[cols]))
        sumsq = float(np.dot(r2, columns.i2[cols]))
        return dot / math.sqrt(sumsq) if sumsq > 0.0 else 0.0

    def score_batch(self, words_per_text: list[list[str]]) -> _Floats:
        """``score`` of several texts with one set of NumPy calls."""
        size = len(words_per_text)
        per_text = [self._arrays(words) for words in words_per_text]
        arrays = list(chain.from_iterable(per_text))
        if not arrays:
            return np.zeros(size, dtype=np.float64)
        lengths = [sum(a.size for a in text) for text in per_text]
        owner = np.repeat(np.arange(size, dtype=np.intp), lengths)
        return self._columns.batch_scores(owner, np.concatenate(arrays), size)


class _GramKeys:
    """Character n-grams as integers, for scoring many words' n-grams in one NumPy pass.

    An n-gram's key is its ``byte_keys`` key (one byte per character of the vocabulary's
    alphabet), read straight out of a batch's array of codes and looked up in an
    ``IntTable``. The table holds each vocabulary n-gram's *prefix sum* (see
    ``_AdditiveCharBlock``), so a word costs one look-up per character: its window of
    ``max_n`` characters there, or the window's longest prefix in the vocabulary (one more
    look-up of all the shorter prefixes of the windows that need them).
    """

    def __init__(self, prefix_sums: dict[str, complex], min_n: int, max_n: int) -> None:
        alphabet = sorted(set("".join(prefix_sums)))
        self.usable = max_n <= byte_keys.KEY_BYTES and len(alphabet) <= byte_keys.MAX_ALPHABET
        if not self.usable:
            return
        self._min_n, self._max_n = min_n, max_n
        self._codes = byte_keys.character_codes(alphabet)
        grams = list(prefix_sums)
        keys = np.array([byte_keys.key(self._codes, g) for g in grams], dtype=np.int64)
        self._table = IntTable(keys)
        self._values = np.array([prefix_sums[g] for g in grams], dtype=np.complex128)

    def pairs(self, words: list[str]) -> tuple[_Floats, _Floats]:
        """The summed pair of each word's char_wb n-grams, as (real parts, imaginary parts)."""
        if not words:
            return np.zeros(0, dtype=np.float64), np.zeros(0, dtype=np.float64)
        text = " " + "  ".join(words) + " "  # each word padded with a space on both sides
        # surrogatepass: a lone surrogate is just another character outside the vocabulary.
        points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        size = points.size
        codes = np.zeros(size + byte_keys.KEY_BYTES - 1, dtype=np.uint8)  # room after the last
        codes[:size] = self._codes[np.minimum(points, self._codes.size - 1)]
        windows = byte_keys.windows(codes)  # one per position
        lengths = [len(word) + 2 for word in words]
        owner = np.repeat(np.arange(len(words)), lengths)
        # From each position, the characters left in its padded word (n-grams stop there).
        left = np.repeat(np.cumsum(lengths), lengths) - np.arange(size)
        width = np.minimum(left, self._max_n)
        value = np.zeros(size, dtype=np.complex128)
        rows = self._table.get(byte_keys.masked(windows, width))
        hit = rows >= 0
        value[hit] = self._values[rows[hit]]
        # The windows not in the vocabulary: all their shorter prefixes at once, the
        # longest one found counts (the first in this order).
        missed = np.flatnonzero(~hit & (width > self._min_n))
        if missed.size:
            cut = np.arange(1, self._max_n - self._min_n + 1)
            at = np.repeat(missed, cut.size)
            shorter = (width[missed][:, None] - cut).ravel()
            at, shorter = at[shorter >= self._min_n], shorter[shorter >= self._min_n]
            rows = self._table.get(byte_keys.masked(windows[at], shorter))
            found = rows >= 0
            where, first = np.unique(at[found], return_index=True)
            value[where] = self._values[rows[found][first]]
        # (float64 already; astype tells the type checker, which sees bincount's int overload)
        real = np.bincount(owner, weights=value.real, minlength=len(words))
        imag = np.bincount(owner, weights=value.imag, minlength=len(words))
        return real.astype(np.float64, copy=False), imag.astype(np.float64, copy=False)


class _AdditiveCharBlock:
    """``pipeline.CharNgrams`` block: its dot product and squared norm are sums over the
    words of a text, so each word contributes one pair, kept as the complex number
    ``dot + sumsq * 1j`` (one ``sum`` adds both).

    The pairs of the model's known words (with their clause-final forms, and the short
    tokens the vocabulary holds whole, like ":)") are computed at load time. The table
    never grows, so a text costs the same whatever came before it; its other words are
    computed on the spot with one look-up per character: the n-grams of a padded word that
    start at position i are the prefixes of its max_n-character window at i, so a table of
    each vocabulary n-gram's *prefix sum* (the pairs of all its prefixes that are n-grams,
    itself included) scores them at once. When a window is not in the vocabulary, its
    longest prefix that is gives the same sum (no longer n-gram at i is in the vocabulary).
    """

    # Every known word also with the punctuation that most often ends a sentence's words
    # (~3 MB more than the bare words; on held-out amazon 5 % fewer words computed per text).
    SUFFIXES = (".", ",", "!", "?")
    _SLICED_SIZES = 64  # padded words up to this size use precomputed slice lists

    def __init__(self, part: CharNgrams, weights: _Floats, known_words: list[str]) -> None:
        vec = part.vectorizer_
        _check(
            vec.analyzer == "char_wb" and _is_ours(vec) and vec.norm is None,
            "CharNgrams must wrap an unnormalised char_wb TfidfVectorizer of normalize",
        )
        _check(not vec.sublinear_tf and not vec.binary and vec.use_idf, "need raw-count tf-idf")
        min_n, max_n = self._min_n, _ = vec.ngram_range
        idf = np.asarray(vec.idf_, dtype=np.float64)
        iw = (idf * weights).tolist()
        i2 = (idf * idf).tolist()
        pairs = {gram: complex(iw[col], i2[col]) for gram, col in vec.vocabulary_.items()}
        get = pairs.get
        self._prefix_sums: dict[str, complex] = {
            gram: sum([get(gram[:k], 0j) for k in range(min_n, len(gram) + 1)], 0j)
            for gram in pairs
        }
        self._max_n = max_n
        self._slices = [self._window_slices(size) for size in range(self._SLICED_SIZES + 1)]
        whole = [g[1:-1] for g in pairs if len(g) > 2 and g[0] == g[-1] == " "]
        words: dict[str, complex] = {}
        for word in [*known_words, *sorted(whole)]:
            for form in (word, *(word + s for s in self.SUFFIXES)):
                if form not in words:
                    words[form] = self._pair(form)
        self._words = words
        self._keys = _GramKeys(self._prefix_sums, min_n, max_n)

    def _window_slices(self, size: int) -> list[slice]:
        """Where the windows of a padded word of ``size`` characters start and end."""
        return [slice(i, i + self._max_n) for i in range(size - self._min_n + 1)]

    def _pair(self, word: str) -> complex:
        """``dot + sumsq * 1j`` of the char_wb n-grams of one word."""
        padded = " " + word + " "
        size = len(padded)
        slices = self._slices[size] if size <= self._SLICED_SIZES else self._window_slices(size)
        windows = list(map(padded.__getitem__, slices))
        sums = list(map(self._prefix_sums.get, windows))
        total: complex = sum(filter(None, sums), 0j)  # C-level; drops None (and zeros)
        if None in sums:
            get = self._prefix_sums.get
            for window, found in zip(windows, sums, strict=True):
                if found is None:
                    for end in range(len(window) - 1, self._min_n - 1, -1):
                        shorter = get(window[:end])
                        if shorter is not None:
                            total += shorter
                            break
        return total

    def _total(self, words: list[str], extra: dict[str, complex] | None = None) -> complex:
        """The summed pair of ``words``. A word outside the table is computed once per call
        (or once per batch, through the caller's ``extra`` dict)."""
        values = list(map(self._words.get, words))
        total: complex = sum(filter(None, values), 0j)
        if None in values:
            extra = {} if extra is None else extra
            for word, value in zip(words, values, strict=True):
                if value is None:
                    pair = extra.get(word)
                    if pair is None:
                        pair = extra[word] = self._pair(word)
                    total += pair
        return total

    def score(self, words: list[str]) -> float:
        """This block's contribution to the decision value (``words``: the normalised text
        split on whitespace)."""
        total = self._total(words)
        return total.real / math.sqrt(total.imag) if total.imag > 0.0 else 0.0

    def forms(self) -> list[str]:
        """The word forms whose pairs are precomputed, for a ``WordTable``."""
        return list(self._words)

    def align(self, table: WordTable) -> None:
        """Number the precomputed pairs as ``table`` numbers its forms (``score_words``)."""
        get = self._words.get
        pairs = [get(form) for form in table.forms]
        known = [self._pair(f) if p is None else p for f, p in zip(table.forms, pairs, strict=True)]
        # One more pair, 0: what row -1 (a word outside the table) gathers.
        self._by_row = np.array([*known, 0j], dtype=np.complex128)

    def score_words(self, found: LookedUp) -> _Floats:
        """``score`` of each text of a batch from all its words laid end to end (numbered
        by the ``WordTable`` this block is aligned with): the known words' pairs gathered,
        the others computed together with NumPy, once each."""
        size, owner = found.size, found.owner
        values = self._by_row[found.rows]
        dot = np.bincount(owner, weights=values.real, minlength=size)
        sumsq = np.bincount(owner, weights=values.imag, minlength=size)
        if found.distinct:
            if self._keys.usable:
                real, imag = self._keys.pairs(found.distinct)
            else:
                computed = [self._pair(w) for w in found.distinct]
                real = np.array([c.real for c in computed], dtype=np.float64)
                imag = np.array([c.imag for c in computed], dtype=np.float64)
            at, which = found.absent, found.which
            dot += np.bincount(owner[at], weights=real[which], minlength=size)
            sumsq += np.bincount(owner[at], weights=imag[which], minlength=size)
        out = np.zeros(size, dtype=np.float64)
        scored = sumsq > 0.0
        out[scored] = dot[scored] / np.sqrt(sumsq[scored])
        return out


class _LexiconBlock:
    """``LexiconFeatures`` of tokenised text dotted with their coefficients.

    Mirrors ``lexicon.lexicon_features`` with the lexicon re-keyed by token (plain and
    negation-marked forms), so only the few sentiment words of a text cost Python work.
    """

    def __init__(self, part: LexiconFeatures, weights: _Floats) -> None:
        _check(getattr(part, "lexicon_", None) is not None, "lexicon block is not fitted")
        scale = float(part.scale)
        self._weights = [scale * float(w) for w in weights]
        # token -> (valence, slot in counts: positive, negative, negated pos., negated neg.)
        hits: dict[str, tuple[float, int, bool]] = {}
        for word, valence in part.lexicon_.items():
            if valence:
                hits[word] = (valence, 0 if valence > 0 else 1, False)
        for word, valence in part.lexicon_.items():
            if valence:
                hits[NEGATION_PREFIX + word] = (valence, 2 if valence > 0 else 3, True)
        self._hits = hits
        modifiers = {w: BOOST for w in BOOSTERS} | {w: DAMP for w in DAMPENERS}
        self._modifier = modifiers | {NEGATION_PREFIX + w: m for w, m in modifiers.items()}
        self._log1p = [math.log1p(k) for k in range(64)]
        # The same tables as arrays, for ``score_ids``: row 0 is "not a hit".
        self._hit_row = {token: row for row, token in enumerate(hits, start=1)}
        rows = [(0.0, 0, False), *hits.values()]
        self._valence = np.array([v for v, _, _ in rows], dtype=np.float64)
        self._slot = np.array([slot for _, slot, _ in rows], dtype=np.intp)
        self._negation = np.array([NEGATION_SCALAR if n else 1.0 for _, _, n in rows])
        self._log1p_array = np.array(self._log1p, dtype=np.float64)

    def score(self, tokens: list[str]) -> float:
        """This block's contribution to the decision value."""
        hits = list(map(self._hits.get, tokens))
        at = list(compress(range(len(hits)), hits))  # C-level: positions of the hits
        if not at:
            return 0.0  # every feature is 0
        modifier = self._modifier.get
        valences: list[float] = []
        counts = [0, 0, 0, 0]
        for i in at:
            v, slot, negated = hits[i]  # type: ignore[misc]
            counts[slot] += 1
            if i:
                m = modifier(tokens[i - 1])
                if m is not None:
                    v *= m
            valences.append(v * NEGATION_SCALAR if negated else v)
        if "but" in tokens:
            last_but = len(tokens) - 1 - tokens[::-1].index("but")
            valences = [
                v * (BEFORE_BUT if i < last_but else AFTER_BUT)
                for i, v in zip(at, valences, strict=True)
            ]
        # One pass for the sums and valence bins (same order of additions as the reference).
        total = positive = negative = 0.0
        bins = [0, 0, 0, 0]
        for v in valences:
            total += v
            if v < 0:
                negative -= v
                bins[0 if v <= -2 else 1] += 1
            else:
                if v > 0:
                    positive += v
                bins[2 if v < 2 else 3] += 1
        mass = positive + negative + 1.0
        counters = [*bins, *counts]
        if len(valences) < len(self._log1p):
            logs = list(map(self._log1p.__getitem__, counters))
        else:
            logs = list(map(math.log1p, counters))
        w = self._weights
        z = (
            total / math.sqrt(total * total + ALPHA) * w[0]
            + positive / mass * w[1]
            + negative / mass * w[2]
        )
        counted: float = sum(map(mul, logs, w[3:]))
        return z + counted

    def tokens(self) -> set[str]:
        """The tokens this block reacts to."""
        return {*self._hits, *self._modifier, "but"}

    def index(self, ids: TokenIds) -> None:
        """The tables by token id, for ``score_ids``."""
        self._row_by_id = np.zeros(ids.size, dtype=np.intp)
        self._modifier_by_id = np.ones(ids.size, dtype=np.float64)
        for token, row in self._hit_row.items():
            self._row_by_id[ids.id_of(token)] = row
        for token, modifier in self._modifier.items():
            self._modifier_by_id[ids.id_of(token)] = modifier
        self._row_by_id[UNKNOWN] = 0
        self._modifier_by_id[UNKNOWN] = 1.0
        self._but = ids.id_of("but")

    def score_ids(self, ids: _Ints, owner: _Ints, size: int) -> _Floats:
        """``score`` of each of ``size`` texts from a batch's ``TokenIds.encode`` output
        (after ``index``), with the same operations per valence as ``score`` (multiplying
        by 1.0 where ``score`` skips one)."""
        rows = self._row_by_id[ids]
        at = np.flatnonzero(rows)
        if at.size == 0:
            return np.zeros(size, dtype=np.float64)
        row, text = rows[at], owner[at]
        # Degree word just before a hit, in the same text (at - 1 = -1 is masked out).
        before = (at > 0) & (owner[at - 1] == text)
        valence = self._valence[row] * np.where(before, self._modifier_by_id[ids[at - 1]], 1.0)
        valence *= self._negation[row]
        # "but": hits before a text's last "but" weigh BEFORE_BUT, after it AFTER_BUT.
        buts = np.flatnonzero(ids == self._but) if self._but != UNKNOWN else at[:0]
        if buts.size:
            last_but = np.full(size, -1, dtype=np.intp)
            np.maximum.at(last_but, owner[buts], buts)
            limit = last_but[text]
            factor = np.where(at < limit, BEFORE_BUT, AFTER_BUT)
            valence *= np.where(limit >= 0, factor, 1.0)
        negative_valence = valence < 0
        total = np.bincount(text, weights=valence, minlength=size)
        positive = np.bincount(text, weights=np.where(valence > 0, valence, 0.0), minlength=size)
        negative = np.bincount(
            text, weights=np.where(negative_valence, -valence, 0.0), minlength=size
        )
        bin_of = np.where(
            negative_valence, np.where(valence <= -2, 0, 1), np.where(valence < 2, 2, 3)
        )
        bins = np.bincount(text * 4 + bin_of, minlength=size * 4).reshape(size, 4)
        counts = np.bincount(text * 4 + self._slot[row], minlength=size * 4).reshape(size, 4)
        counters = np.hstack([bins, counts])
        if int(counters.max()) < self._log1p_array.size:
            logs = self._log1p_array[counters]
        else:
            logs = np.log1p(counters.astype(np.float64))
        w = self._weights
        mass = positive + negative + 1.0
        z = (
            total / np.sqrt(total * total + ALPHA) * w[0]
            + positive / mass * w[1]
            + negative / mass * w[2]
        )
        out: _Floats = z + logs @ np.array(w[3:], dtype=np.float64)
        return out


class FastScorer:
    """Binary logistic score of a fitted ``Pipeline([FeatureUnion([...]), LogisticRegression])``
    whose union holds L2 ``TfidfVectorizer``s and ``LexiconFeatures``."""

    def __init__(self, pipeline: Any) -> None:
        steps: Any = getattr(pipeline, "steps", [])
        _check(len(steps) == 2, "expected a 2-step Pipeline")
        union, clf = steps[0][1], steps[1][1]
        transformers: Any = getattr(union, "transformer_list", None)
        _check(transformers is not None, "first step must be a FeatureUnion")
        _check(getattr(union, "transformer_weights", None) is None, "transformer_weights unset")
        coef = np.asarray(clf.coef_, dtype=np.float64)
        _check(coef.shape[0] == 1 and len(clf.classes_) == 2, "classifier must be binary")
        self.classes: tuple[str, str] = (str(clf.classes_[0]), str(clf.classes_[1]))
        self.intercept = float(clf.intercept_[0])
        weights = coef[0]
        words: list[_WordBlock] = []
        chars: list[_CharBlock | _AdditiveCharBlock] = []
        lexicons: list[_LexiconBlock] = []
        known: list[str] | None = None  # computed on first need, after the checks

        def known_words() -> list[str]:
            nonlocal known
            if known is None:
                known = _vocabulary_words(transformers)
            return known

        offset = 0
        for _, step in transformers:
            part, scale = _unwrap(step)
            if isinstance(part, LexiconFeatures):
                width = len(part.get_feature_names_out())
                lexicons.append(_LexiconBlock(part, weights[offset : offset + width]))
                offset += width
                continue
            if isinstance(part, CharNgrams):
                width = len(part.vectorizer_.vocabulary_)
                block_w = weights[offset : offset + width] * scale
                chars.append(_AdditiveCharBlock(part, block_w, known_words()))
                offset += width
                continue
            _check(part.norm == "l2" and part.use_idf and not part.binary, "need l2 TF-IDF")
            width = len(part.vocabulary_)
            block_w = weights[offset : offset + width] * scale
            offset += width
            if _is_ours(part) and part.analyzer == "char_wb":
                chars.append(_CharBlock(part, block_w, known_words()))
            else:
                words.append(_WordBlock(part, block_w))
        _check(offset == weights.size, "feature count does not match the coefficients")
        self._words = tuple(words)
        self._chars = tuple(chars)
        self._lexicons = tuple(lexicons)
        by_ids: list[_WordBlock | _LexiconBlock] = [
            *(w for w in words if w.token_ngrams is not None),
            *lexicons,
        ]
        self._ids = TokenIds(chain.from_iterable(block.tokens() for block in by_ids))
        for block in by_ids:
            block.index(self._ids)
        # Word forms: the character block's (known words with their punctuation), else
        # the known words alone.
        additive = [c for c in chars if isinstance(c, _AdditiveCharBlock)]
        forms = additive[0].forms() if additive else known_words()
        self._table = WordTable(forms, self._ids)
        for char_block in additive:
            char_block.align(self._table)

    def decision(self, text: str) -> float:
        """The logistic regression's decision value (log-odds of ``classes[1]``)."""
        normalized = normalize(text)
        tokens = tokenize(normalized)
        z = self.intercept
        for block in self._words:
            z += block.score(block.terms(text, tokens))
        if self._chars:
            split = normalized.split()
            for chars in self._chars:
                z += chars.score(split)
        for lexicon in self._lexicons:
            z += lexicon.score(tokens)
        return z

    def proba_positive_class(self, text: str) -> float:
        """P(classes[1] | text), computed like scikit-learn's binary ``predict_proba``."""
        z = self.decision(text)
        if z >= 0.0:  # expit without overflow for large |z|
            return 1.0 / (1.0 + math.exp(-z))
        e = math.exp(z)
        return e / (1.0 + e)

    def decision_batch(self, texts: Sequence[str]) -> _Floats:
        """``decision`` for several texts. The batch is normalised as one string
        (``text.normalize_joined``), its words looked up once (``WordTable``: token ids and
        character scores of the known ones), and each block scores all its texts at once
        over their token ids (or words) laid end to end."""
        size = len(texts)
        z = np.full(size, self.intercept, dtype=np.float64)
        if size == 0:
            return z
        joined = normalize_joined(texts)
        found = self._table.look_up(joined)
        ids, owner = self._ids.scopes(*self._table.token_ids(found))
        for block in self._words:
            if block.token_ngrams is not None:
                z += block.score_ids(ids, owner, size)
            else:
                z += block.score_batch([block.terms(t, []) for t in texts])
        for chars in self._chars:
            if isinstance(chars, _AdditiveCharBlock):
                z += chars.score_words(found)
            else:
                z += chars.score_batch(_Flat.words_of_lines(joined).per_text)
        for lexicon in self._lexicons:
            z += lexicon.score_ids(ids, owner, size)
        return z

    def proba_positive_class_batch(self, texts: Sequence[str]) -> _Floats:
        """Vector of P(classes[1] | text) for each text, in order."""
        z = self.decision_batch(texts)
        out: _Floats = 0.5 * (1.0 + np.tanh(0.5 * z))
        return out


def _token_ngrams(vec: Any) -> tuple[int, int] | None:
    """A word-level vectorizer's n-gram range when its terms are n-grams of
    ``text.tokenize`` tokens (so ``word_ngrams`` reproduces them), else None."""
    if _is_ours(vec) and vec.analyzer == "word" and vec.tokenizer is tokenize:
        min_n, max_n = vec.ngram_range
        return int(min_n), int(max_n)
    return None


def _unwrap(step: Any) -> tuple[Any, _Floats | float]:
    """A union member and the per-column factor applied after it: either a bare
    transformer (factor 1) or ``Pipeline([vectorizer, NBScaler])`` (factor ``scale_``)."""
    inner = getattr(step, "steps", None)
    if inner is None:
        return step, 1.0
    _check(
        len(inner) == 2 and isinstance(inner[1][1], NBScaler),
        "a union member pipeline must be [vectorizer, NBScaler]",
    )
    return inner[0][1], np.asarray(inner[1][1].scale_, dtype=np.float64)


def _vocabulary_words(transformers: Any) -> list[str]:
    """Single words of the word-level vocabularies without negation marks, most frequent
    (lowest idf) first."""
    idf_of: dict[str, float] = {}
    for _, step in transformers:
        vec = _unwrap(step)[0]
        if getattr(vec, "analyzer", None) == "word" and hasattr(vec, "idf_"):
            for term, col in vec.vocabulary_.items():
                if " " not in term:
                    word = term.removeprefix(NEGATION_PREFIX)
                    idf_of[word] = min(idf_of.get(word, math.inf), float(vec.idf_[col]))
    return sorted(idf_of, key=lambda w: (idf_of[w], w))


def _is_ours(vec: Any) -> bool:
    return vec.preprocessor is normalize and vec.stop_words is None
