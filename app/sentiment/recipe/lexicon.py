"""Lexicon features: a VADER-style valence score as a few dense features beside the TF-IDF.

Words seen in training get their own TF-IDF weights; words the training sentences never
used ("yummy", "flimsy") still carry sentiment through the human-rated VADER lexicon
(resources/vader_lexicon.tsv, from the vaderSentiment repository, MIT license, same
source and citation as the training data). The lexicon is copied into the fitted
transformer (``features.LexiconFeatures``), so a saved artifact never reads the file.
Standard library only: the fast scorer computes these features with ``lexicon_features``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import cache
from itertools import compress
from pathlib import Path

from app.sentiment.recipe.text import NEGATION_PREFIX

LEXICON_PATH = Path(__file__).parent / "resources" / "vader_lexicon.tsv"
# VADER's constants: negation flips and damps a word; the score is squashed with alpha = 15.
NEGATION_SCALAR = -0.74
ALPHA = 15.0
# Contrast: what follows "but" weighs more than what precedes it (VADER uses 1.5 / 0.5).
AFTER_BUT, BEFORE_BUT = 1.5, 0.5
# Degree words before a lexicon word scale it ("very good" > "good" > "kind of good").
BOOST, DAMP = 1.3, 0.7
BOOSTERS = frozenset(
    [
        "very",
        "really",
        "so",
        "soo",
        "extremely",
        "absolutely",
        "totally",
        "completely",
        "highly",
        "incredibly",
        "super",
        "truly",
        "most",
        "too",
        "quite",
        "pretty",
    ]
)
DAMPENERS = frozenset(
    ["kind", "sort", "somewhat", "slightly", "barely", "bit", "little", "fairly", "hardly"]
)
FEATURE_NAMES = (
    "lex_compound",  # squashed sum of (modified) valences, like VADER's compound
    "lex_positive_share",
    "lex_negative_share",
    "lex_strong_negative",  # log(1 + count) of modified valences <= -2
    "lex_mild_negative",
    "lex_mild_positive",
    "lex_strong_positive",  # >= 2
    "lex_positive_words",  # log(1 + count) of plain positive words
    "lex_negative_words",
    "lex_negated_positive",  # "not good"
    "lex_negated_negative",  # "no problem": positive in reviews, negative-looking to n-grams
)
N_FEATURES = len(FEATURE_NAMES)


@cache
def load_lexicon(path: Path = LEXICON_PATH) -> dict[str, float]:
    """``token -> mean valence (-4..4)`` from a two-column TSV."""
    lexicon: dict[str, float] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            token, valence = line.split("\t")
            lexicon[token] = float(valence)
    return lexicon


def with_negated_forms(lexicon: Mapping[str, float]) -> dict[str, float]:
    """The lexicon keyed by both forms ``text.tokenize`` gives a word: plain and
    negation-marked (what ``lexicon_features`` looks tokens up in)."""
    return {**lexicon, **{NEGATION_PREFIX + word: v for word, v in lexicon.items()}}


def lexicon_features(lexicon: Mapping[str, float], tokens: Sequence[str]) -> list[float]:
    """``FEATURE_NAMES`` for the tokens of a text (``text.tokenize`` output: negated words
    carry ``NEGATION_PREFIX``); ``lexicon`` is ``with_negated_forms`` of a word lexicon."""
    hits = list(compress(range(len(tokens)), map(lexicon.get, tokens)))  # non-zero valences
    if not hits:
        return [0.0] * N_FEATURES
    valences: list[float] = []
    counts = [0, 0, 0, 0]  # positive, negative, negated positive, negated negative
    for i in hits:
        token = tokens[i]
        v = lexicon[token]
        negated = token.startswith(NEGATION_PREFIX)
        counts[(2 if negated else 0) + (0 if v > 0 else 1)] += 1
        previous = tokens[i - 1].removeprefix(NEGATION_PREFIX) if i else ""
        if previous in BOOSTERS:
            v *= BOOST
        elif previous in DAMPENERS:
            v *= DAMP
        valences.append(v * NEGATION_SCALAR if negated else v)
    if "but" in tokens:
        last_but = len(tokens) - 1 - tokens[::-1].index("but")
        valences = [
            v * (BEFORE_BUT if i < last_but else AFTER_BUT)
            for i, v in zip(hits, valences, strict=True)
        ]
    total = sum(valences)
    positive = sum(v for v in valences if v > 0)
    negative = -sum(v for v in valences if v < 0)
    mass = positive + negative + 1.0  # +1 keeps a single weak word from looking extreme
    bins = [0, 0, 0, 0]
    for v in valences:
        bins[(0 if v <= -2 else 1) if v < 0 else (2 if v < 2 else 3)] += 1
    return [
        total / math.sqrt(total * total + ALPHA),
        positive / mass,
        negative / mass,
        *(math.log1p(b) for b in bins),
        *(math.log1p(c) for c in counts),
    ]
