"""The fast scorer: a fitted recipe pipeline's probabilities from its vocabularies, idf and
coefficients, in plain Python.

``Pipeline.predict_proba`` on one text spends milliseconds in input validation and sparse-
matrix plumbing. For a logistic regression over TF-IDF blocks and a few dense features,

    z = b + sum over TF-IDF blocks of (sum_t v_t * w_t) / sqrt(sum_t v_t ** 2) + f . w
    v_t = tf(c_t) * idf_t,   tf(c) = 1 + log(c) with sublinear tf, else c,

so dictionary look-ups and float arithmetic give the same number in microseconds. Each
term's ``idf * w`` and ``idf ** 2`` are kept as one complex number, so one ``sum`` adds the
dot product and the squared norm together. The character block (``features.CharTfidf``) is
a sum over words, so each known word's share is computed once, when the scorer is built.

Every text step (normalising, tokenising, n-grams, lexicon features) is the recipe's own
function; this module only adds up what they produce. It imports neither scikit-learn nor
NumPy: ``from_pipeline`` reads a fitted pipeline (and imports scikit-learn to do so), and the
scorer it returns runs in a process that never loads them.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import repeat
from operator import mul
from typing import Any, Protocol

from app.sentiment.recipe.lexicon import lexicon_features
from app.sentiment.recipe.text import (
    NEGATION_PREFIX,
    Analysis,
    CharNgrams,
    WordNgrams,
    analyse,
    normalize,
)


class UnsupportedPipelineError(ValueError):
    """The pipeline has a shape the fast scorer does not reproduce."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise UnsupportedPipelineError(message)


class Block(Protocol):
    """One member of the pipeline's feature union, dotted with its coefficients."""

    def score(self, text: Analysis) -> float:
        """This block's share of the decision value."""


def _normalised_dot(total: complex) -> float:
    """A block's dot product over its norm, from ``dot + squared_norm * 1j``."""
    return total.real / math.sqrt(total.imag) if total.imag > 0.0 else 0.0


class WordBlock:
    """An L2-normalised ``TfidfVectorizer`` over ``text.WordNgrams``."""

    def __init__(self, analyzer: WordNgrams, pairs: dict[str, complex], sublinear: bool) -> None:
        self.analyzer = analyzer
        self.pairs = pairs  # term -> idf * w + idf ** 2 * 1j
        self.sublinear = sublinear

    def score(self, text: Analysis) -> float:
        """Each term counted once (a C-level sum), then the repeated ones corrected."""
        terms = self.analyzer.of_tokens(text.tokens)
        pairs = self.pairs
        total: complex = sum(map(pairs.get, terms, repeat(0j)), 0j)
        if len(set(terms)) != len(terms):
            for term, count in Counter(terms).items():
                if count > 1 and (pair := pairs.get(term)) is not None:
                    tf = math.log(count) + 1.0 if self.sublinear else float(count)
                    total += complex((tf - count) * pair.real, (tf * tf - count) * pair.imag)
        return _normalised_dot(total)


class CharBlock:
    """A ``CharTfidf`` block: its dot product and squared norm are sums over the words of a
    text, so each word contributes one pair. The pairs of the known words (with the
    punctuation that most often ends them, and the short tokens such as ":)" that the
    vocabulary holds whole) are computed when the scorer is built; any other word is
    computed from its n-grams the first time it is seen and kept, up to a bound."""

    SUFFIXES = ("", ".", ",", "!", "?")
    # At most this many other words are kept, none longer than this: a few MB at most.
    SEEN_WORDS_KEPT = 50_000
    UNSEEN_WORD_MAX_CHARS = 40

    def __init__(
        self, analyzer: CharNgrams, pairs: dict[str, complex], known_words: Iterable[str]
    ) -> None:
        self.analyzer = analyzer
        self.pairs = pairs  # n-gram -> idf * w + idf ** 2 * 1j
        whole = [gram[1:-1] for gram in pairs if len(gram) > 2 and gram[0] == gram[-1] == " "]
        forms = [word + suffix for word in known_words for suffix in self.SUFFIXES]
        self.known = {form: self.word_pair(form) for form in [*forms, *whole]}
        self.seen: dict[str, complex] = {}  # words outside the tables, kept when first seen

    def word_pair(self, word: str) -> complex:
        """The summed pair of one word's n-grams."""
        return sum(map(self.pairs.get, self.analyzer.of_word(word), repeat(0j)), 0j)

    def score(self, text: Analysis) -> float:
        """Each word by one look-up; a word seen for the first time is computed and kept."""
        total = self._sum(text.words)
        if text.negated_words:  # counted against: the dot product flips, the norm does not
            total -= self._sum(text.negated_words).conjugate()
        return _normalised_dot(total)

    def _sum(self, words: list[str]) -> complex:
        pairs = list(map(self.known.get, words))
        total: complex = sum(filter(None, pairs), 0j)  # C-level; skips the words not known
        if None in pairs:
            for word, pair in zip(words, pairs, strict=True):
                if pair is None:
                    total += self._seen_before_or_computed(word)
        return total

    def _seen_before_or_computed(self, word: str) -> complex:
        pair = self.seen.get(word)
        if pair is None:
            pair = self.word_pair(word)
            if len(word) <= self.UNSEEN_WORD_MAX_CHARS and len(self.seen) < self.SEEN_WORDS_KEPT:
                self.seen[word] = pair  # one dict store: safe across threads
        return pair


class LexiconBlock:
    """A ``LexiconFeatures`` block: ``lexicon.lexicon_features`` dotted with its weights."""

    def __init__(self, lexicon: dict[str, float], weights: list[float]) -> None:
        self.lexicon = lexicon
        self.weights = weights  # the coefficients times the transformer's scale

    def score(self, text: Analysis) -> float:
        """The features of the text's tokens, dotted with the weights."""
        features = lexicon_features(self.lexicon, text.tokens)
        return sum(map(mul, features, self.weights), 0.0)


class FastScorer:
    """Probabilities of a binary logistic regression over the recipe's feature blocks."""

    kind = "fast"

    def __init__(self, classes: tuple[str, ...], intercept: float, blocks: list[Block]) -> None:
        self.classes = classes
        self.intercept = intercept
        self.blocks = blocks

    def decision(self, text: str) -> float:
        """The decision value (log-odds of ``classes[1]``) of one text."""
        normalized = normalize(text)
        analysed = analyse(normalized)
        return self.intercept + sum(block.score(analysed) for block in self.blocks)

    def probabilities(self, texts: Sequence[str]) -> list[list[float]]:
        """One row of class probabilities per text, in ``classes`` order."""
        rows = []
        for text in texts:
            z = self.decision(text)
            # scikit-learn's expit, without overflow for large |z|
            p = 1.0 / (1.0 + math.exp(-z)) if z >= 0.0 else math.exp(z) / (1.0 + math.exp(z))
            rows.append([1.0 - p, p])
        return rows


def from_pipeline(pipeline: Any) -> FastScorer:
    """The fast scorer of a fitted ``Pipeline([features, LogisticRegression])`` whose
    features are the recipe's blocks (alone or in a ``FeatureUnion``), each optionally
    followed by an ``NBScaler``; raises ``UnsupportedPipelineError`` for anything else."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    _require(
        isinstance(pipeline, Pipeline) and len(pipeline.steps) == 2,
        "not a two-step Pipeline (features, classifier)",
    )
    features, classifier = pipeline.steps[0][1], pipeline.steps[1][1]
    _require(
        isinstance(classifier, LogisticRegression) and len(classifier.classes_) == 2,
        "the classifier is not a binary LogisticRegression",
    )
    if isinstance(features, FeatureUnion):
        _require(features.transformer_weights is None, "the union has transformer_weights")
        members = [member for _, member in features.transformer_list]
    else:
        members = [features]
    weights = [float(w) for w in classifier.coef_[0]]
    known_words = _known_words(members)
    blocks: list[Block] = []
    offset = 0
    for member in members:
        block, width = _block(member, weights[offset:], known_words)
        blocks.append(block)
        offset += width
    _require(offset == len(weights), "the features do not match the coefficients")
    classes = (str(classifier.classes_[0]), str(classifier.classes_[1]))
    return FastScorer(classes, float(classifier.intercept_[0]), blocks)


def _block(member: Any, weights: list[float], known_words: list[str]) -> tuple[Block, int]:
    """One union member as a block, and how many coefficients it takes."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from app.sentiment.recipe.features import CharTfidf, LexiconFeatures

    if isinstance(member, LexiconFeatures):
        width = len(member.get_feature_names_out())
        scaled = [member.scale * w for w in weights[:width]]
        return LexiconBlock(member.lexicon_, scaled), width
    vectorizer, factors = _without_nb_scaler(member)
    if isinstance(vectorizer, CharTfidf):
        inner = vectorizer.vectorizer_
        _require(isinstance(inner.analyzer, CharNgrams), "CharTfidf without text.CharNgrams")
        pairs, width = _term_pairs(inner, weights, factors)
        return CharBlock(inner.analyzer, pairs, known_words), width
    _require(
        isinstance(vectorizer, TfidfVectorizer) and isinstance(vectorizer.analyzer, WordNgrams),
        f"{type(vectorizer).__name__} is not one of the recipe's blocks",
    )
    _require(
        vectorizer.norm == "l2" and vectorizer.use_idf and not vectorizer.binary,
        "the word TF-IDF must use idf, raw or sublinear counts and the L2 norm",
    )
    pairs, width = _term_pairs(vectorizer, weights, factors)
    return WordBlock(vectorizer.analyzer, pairs, bool(vectorizer.sublinear_tf)), width


def _without_nb_scaler(member: Any) -> tuple[Any, list[float] | None]:
    """A bare block, or ``Pipeline([block, NBScaler])`` with its per-column factors."""
    from app.sentiment.recipe.features import NBScaler

    steps = getattr(member, "steps", None)
    if steps is None:
        return member, None
    _require(
        len(steps) == 2 and isinstance(steps[1][1], NBScaler),
        "a union member pipeline must be [block, NBScaler]",
    )
    return steps[0][1], [float(f) for f in steps[1][1].scale_]


def _term_pairs(
    vectorizer: Any, weights: list[float], factors: list[float] | None
) -> tuple[dict[str, complex], int]:
    """term -> ``idf * w + idf ** 2 * 1j`` for a fitted vectorizer, and its width."""
    idf = [float(i) for i in vectorizer.idf_]
    scaled = weights[: len(idf)]
    if factors is not None:
        scaled = [w * f for w, f in zip(scaled, factors, strict=True)]
    vocabulary: dict[str, int] = vectorizer.vocabulary_
    pairs = {term: complex(idf[c] * scaled[c], idf[c] * idf[c]) for term, c in vocabulary.items()}
    return pairs, len(idf)


def _known_words(members: list[Any]) -> list[str]:
    """The single words of the word blocks' vocabularies, without negation marks."""
    words: set[str] = set()
    for member in members:
        vectorizer, _ = _without_nb_scaler(member)
        if isinstance(getattr(vectorizer, "analyzer", None), WordNgrams):
            for term in vectorizer.vocabulary_:
                if " " not in term:
                    words.add(term.removeprefix(NEGATION_PREFIX))
    return sorted(words)
