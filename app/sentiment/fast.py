"""A scorer that runs a fitted pipeline's vocabulary, idf and coefficients directly.

``Pipeline.predict_proba`` on one text spends ~0.5 ms in input validation and sparse-matrix
plumbing. For a linear model over L2-normalised TF-IDF blocks plus a few dense features,

    z = b + sum over TF-IDF blocks of (sum_t v_t * w_t) / sqrt(sum_t v_t ** 2) + f . w_dense
    v_t = tf'(t) * idf_t,   tf' = 1 + log(count) if sublinear_tf else count,

so one dictionary look-up per n-gram and a few float operations give the same number (to
~1e-15) in microseconds. For this project's recipe (``text.normalize`` + ``text.tokenize``
words, ``char_wb`` n-grams, lexicon features) the text is normalised and tokenised once and
the n-grams are generated exactly as scikit-learn does; any other vectorizer is run through
its own ``build_analyzer()``. ``tests/sentiment/test_fast.py`` proves the agreement on every
training text and ``load_model`` re-checks it on probe texts at every load.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt

from app.sentiment.lexicon import LexiconFeatures
from app.sentiment.nb import NBScaler
from app.sentiment.text import NEGATION_PREFIX, normalize, tokenize

# What a block needs: raw text, normalised text, tokens of the normalised text.
_Inputs = tuple[str, str, list[str]]


class UnsupportedPipelineError(ValueError):
    """The pipeline has a shape the fast scorer cannot reproduce exactly."""


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise UnsupportedPipelineError(message)


def word_ngrams(tokens: list[str], min_n: int, max_n: int) -> list[str]:
    """scikit-learn's ``_word_ngrams`` (no stop words): all n-grams, n in [min_n, max_n]."""
    out = list(tokens) if min_n == 1 else []
    count = len(tokens)
    for n in range(max(min_n, 2), min(max_n, count) + 1):
        if n == 2:  # the common case, without a slice per bigram
            out += [a + " " + b for a, b in pairwise(tokens)]
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


def _ngram_source(vec: Any) -> Callable[[_Inputs], list[str]]:
    """How a word-level vectorizer's n-grams are produced from the shared inputs."""
    min_n, max_n = vec.ngram_range
    if _is_ours(vec) and vec.analyzer == "word" and vec.tokenizer is tokenize:
        return lambda inputs: word_ngrams(inputs[2], min_n, max_n)
    analyzer = vec.build_analyzer()
    return lambda inputs: list(analyzer(inputs[0]))


def _unwrap(step: Any) -> tuple[Any, npt.NDArray[np.float64] | float]:
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
        if getattr(vec, "analyzer", None) == "word":
            for term, col in vec.vocabulary_.items():
                if " " not in term:
                    word = term.removeprefix(NEGATION_PREFIX)
                    idf_of[word] = min(idf_of.get(word, math.inf), float(vec.idf_[col]))
    return sorted(idf_of, key=lambda w: (idf_of[w], w))


def _is_ours(vec: Any) -> bool:
    return vec.preprocessor is normalize and vec.stop_words is None


class _CharBlock:
    """``char_wb`` TF-IDF block scored from a per-word cache of column indices.

    char_wb n-grams never cross a space, so a text's n-grams are the concatenation of its
    words' n-grams: each distinct word is turned into vocabulary columns once (the words of
    the word vocabulary at load time), and a text costs one cache look-up per word plus a
    few NumPy operations on its columns.
    """

    MAX_CACHED_WORDS = 50_000  # ~250 bytes each (<= ~13 MB); later new words are not cached

    def __init__(self, vec: Any, weights: npt.NDArray[np.float64]) -> None:
        # ``weights`` already include any per-column scaling (NBScaler).
        self._min_n, self._max_n = vec.ngram_range
        self._vocabulary: dict[str, int] = vec.vocabulary_
        self._idf = np.asarray(vec.idf_, dtype=np.float64)
        self._weights = np.asarray(weights, dtype=np.float64)
        self._sublinear = bool(vec.sublinear_tf)
        # Plain dict: get/set are atomic under the GIL, and a lost race only recomputes.
        # Arrays, not lists: concatenating arrays beats converting a list of ints per text.
        self._cache: dict[str, npt.NDArray[np.intp]] = {}

    def _columns(self, word: str) -> npt.NDArray[np.intp]:
        columns = self._cache.get(word)
        if columns is None:
            get = self._vocabulary.get
            found = (get(g) for g in char_wb_ngrams(word, self._min_n, self._max_n))
            columns = np.array([c for c in found if c is not None], dtype=np.intp)
            if len(self._cache) < self.MAX_CACHED_WORDS:
                self._cache[word] = columns
        return columns

    # Most frequent words also get their clause-final forms cached ("film." "film,").
    PUNCTUATED_VARIANTS = 8_000

    def prewarm(self, known_words: list[str]) -> None:
        """Fill the cache for words the model has seen, most frequent first (at load time,
        not request time), leaving room for words met at run time."""
        budget = self.MAX_CACHED_WORDS * 2 // 3
        for rank, word in enumerate(known_words):
            forms = (word, word + ".", word + ",") if rank < self.PUNCTUATED_VARIANTS else (word,)
            for form in forms:
                self._columns(form)
            if len(self._cache) >= budget:
                break

    def score(self, normalized: str) -> float:
        """This block's contribution to the decision value."""
        text_words = normalized.split()
        if not text_words:
            return 0.0
        # concatenate always copies, so sorting below never touches the shared cache.
        ordered = np.concatenate([self._columns(word) for word in text_words])
        size = ordered.size
        if size == 0:
            return 0.0
        # Count repeated columns by sorting (np.unique costs several times more per call).
        ordered.sort()
        first = np.empty(size, dtype=bool)
        first[0] = True
        np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
        starts = np.flatnonzero(first)
        cols = ordered[starts]
        if starts.size == size:  # every n-gram once: tf' = 1 either way
            v = self._idf[cols]
        else:
            counts = np.empty(starts.size, dtype=np.float64)
            counts[:-1] = starts[1:] - starts[:-1]
            counts[-1] = size - starts[-1]
            tf = np.log(counts) + 1.0 if self._sublinear else counts
            v = tf * self._idf[cols]
        return float(v @ self._weights[cols]) / math.sqrt(float(v @ v))

    def score_batch(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        """``score`` of several normalised texts with one set of NumPy calls: columns are
        keyed by (text, column), sorted once, and summed per text with ``bincount``."""
        size = len(texts)
        out = np.zeros(size, dtype=np.float64)
        arrays: list[npt.NDArray[np.intp]] = []
        lengths: list[int] = []
        for text in texts:
            per_word = [self._columns(word) for word in text.split()]
            arrays += per_word
            lengths.append(sum(a.size for a in per_word))
        total = sum(lengths)
        if total == 0:
            return out
        width = self._idf.size
        owner = np.repeat(np.arange(size, dtype=np.intp), lengths)
        keys = owner * width + np.concatenate(arrays)
        keys.sort()
        first = np.empty(total, dtype=bool)
        first[0] = True
        np.not_equal(keys[1:], keys[:-1], out=first[1:])
        starts = np.flatnonzero(first)
        counts = np.diff(np.append(starts, total)).astype(np.float64)
        text_of, cols = np.divmod(keys[starts], width)
        tf = np.log(counts) + 1.0 if self._sublinear else counts
        v = tf * self._idf[cols]
        sumsq = np.bincount(text_of, weights=v * v, minlength=size)
        dot = np.bincount(text_of, weights=v * self._weights[cols], minlength=size)
        scored = sumsq > 0.0
        out[scored] = dot[scored] / np.sqrt(sumsq[scored])
        return out


@dataclass(frozen=True, slots=True)
class _TfidfBlock:
    ngrams: Callable[[_Inputs], list[str]]
    table: dict[str, tuple[float, float]]  # term -> (idf, coefficient)
    sublinear: bool

    def score(self, inputs: _Inputs) -> float:
        """This block's contribution to the decision value."""
        get = self.table.get
        log = math.log
        sumsq = 0.0
        dot = 0.0
        for term, count in Counter(self.ngrams(inputs)).items():
            entry = get(term)
            if entry is None:
                continue
            idf, w = entry
            if count == 1:  # most terms: tf' = 1 whether sublinear or not
                sumsq += idf * idf
                dot += idf * w
                continue
            v = (log(count) + 1.0) * idf if self.sublinear else count * idf
            sumsq += v * v
            dot += v * w
        return dot / math.sqrt(sumsq) if sumsq > 0.0 else 0.0


@dataclass(frozen=True, slots=True)
class _DenseBlock:
    features: Callable[[list[str]], list[float]]  # from tokens
    weights: tuple[float, ...]


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
        tfidf: list[_TfidfBlock] = []
        dense: list[_DenseBlock] = []
        chars: list[_CharBlock] = []
        offset = 0
        for _, step in transformers:
            part, scale = _unwrap(step)
            if isinstance(part, LexiconFeatures):
                width = len(part.get_feature_names_out())
                block_w = tuple(float(w) for w in weights[offset : offset + width])
                dense.append(_DenseBlock(part.features_from_tokens, block_w))
                offset += width
                continue
            _check(part.norm == "l2" and part.use_idf and not part.binary, "need l2 TF-IDF")
            width = len(part.vocabulary_)
            block_w = weights[offset : offset + width] * scale
            offset += width
            if _is_ours(part) and part.analyzer == "char_wb":
                chars.append(_CharBlock(part, block_w))
                continue
            idf = part.idf_
            table = {
                term: (float(idf[col]), float(block_w[col]))
                for term, col in part.vocabulary_.items()
            }
            tfidf.append(_TfidfBlock(_ngram_source(part), table, bool(part.sublinear_tf)))
        _check(offset == weights.size, "feature count does not match the coefficients")
        self._tfidf = tuple(tfidf)
        self._dense = tuple(dense)
        self._chars = tuple(chars)
        known = _vocabulary_words(transformers)
        for block in chars:
            block.prewarm(known)

    def decision(self, text: str) -> float:
        """The logistic regression's decision value (log-odds of ``classes[1]``)."""
        normalized = normalize(text)
        inputs: _Inputs = (text, normalized, tokenize(normalized))
        z = self.intercept
        for block in self._tfidf:
            z += block.score(inputs)
        for chars in self._chars:
            z += chars.score(normalized)
        for dense in self._dense:
            for value, w in zip(dense.features(inputs[2]), dense.weights, strict=True):
                z += value * w
        return z

    def proba_positive_class(self, text: str) -> float:
        """P(classes[1] | text), computed like scikit-learn's binary ``predict_proba``."""
        z = self.decision(text)
        if z >= 0.0:  # expit without overflow for large |z|
            return 1.0 / (1.0 + math.exp(-z))
        e = math.exp(z)
        return e / (1.0 + e)

    def decision_batch(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        """``decision`` for several texts; the character block runs once for the batch."""
        size = len(texts)
        normalized = [normalize(t) for t in texts]
        inputs: list[_Inputs] = [
            (t, n, tokenize(n)) for t, n in zip(texts, normalized, strict=True)
        ]
        z = np.full(size, self.intercept, dtype=np.float64)
        for block in self._tfidf:
            z += np.fromiter((block.score(i) for i in inputs), dtype=np.float64, count=size)
        for chars in self._chars:
            z += chars.score_batch(normalized)
        for dense in self._dense:
            weights = np.asarray(dense.weights, dtype=np.float64)
            rows = np.array([dense.features(i[2]) for i in inputs], dtype=np.float64)
            z += rows.reshape(size, weights.size) @ weights
        return z

    def proba_positive_class_batch(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        """Vector of P(classes[1] | text) for each text, in order."""
        z = self.decision_batch(texts)
        out: npt.NDArray[np.float64] = 0.5 * (1.0 + np.tanh(0.5 * z))
        return out
