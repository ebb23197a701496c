"""The recipe's text steps, each defined once: normalising, tokenising with negation scopes,
word n-grams and character n-grams.

Training (through the analyzers below, which the vectorizers call), single-text scoring and
batch scoring all run these functions. The fitted pipeline refers to the analyzers by module
path, so renaming or changing anything here changes what a saved artifact computes: bump
``RECIPE_VERSION`` in ``training/train.py`` when you do. Standard library only: the fast
scorer imports this module in a process without scikit-learn.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from itertools import filterfalse, pairwise
from typing import NamedTuple

# Typographic quotes and dashes that the corpora use interchangeably with ASCII ones.
_TRANSLATE = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "`": "'",
    }
)
# "sooooo good!!!!" and "soo good!!" should share features; runs of three or more letters or
# !?. shrink to two (two, so "good" stays "good"; digits untouched, "1000" is a number).
_ELONGATED = re.compile(r"([a-z!?.])\1\1+")

# Words, contractions and sentiment-bearing punctuation; "," "." ";" ":" only end negation
# scopes. (Possessive quantifiers: the same tokens as greedy ones, found faster.)
TOKEN = re.compile(r"[a-z0-9]++(?:'[a-z]++)*+|[!?.,;:]")
CLAUSE_PUNCTUATION = frozenset({".", ",", ";", ":"})
SCOPE_END = CLAUSE_PUNCTUATION | {"!", "?", "but", "however", "although", "though"}
NEGATORS = frozenset(
    {
        "not",
        "no",
        "never",
        "nothing",
        "nobody",
        "none",
        "nowhere",
        "neither",
        "nor",
        "cannot",
        "without",
        "hardly",
        "barely",
        "isnt",
        "dont",
        "doesnt",
        "didnt",
        "wasnt",
        "wont",
        "cant",
        "couldnt",
        "shouldnt",
        "wouldnt",
        "aint",
    }
)
NEGATION_PREFIX = "not_"
# How many tokens a negator reaches (VADER also looks 3 words back); chosen by cross-domain
# validation against "until the next punctuation".
NEGATION_WINDOW = 3


def is_negator(token: str) -> bool:
    """Whether a token opens a negation scope: a listed negator or any "n't" contraction."""
    return token in NEGATORS or token.endswith("n't")


def normalize(text: str) -> str:
    """Return the canonical form of a text: HTML entities decoded, lower case, ASCII quotes,
    letter runs of three or more shortened to two, whitespace collapsed."""
    if "&" in text:
        text = html.unescape(text)
    if not text.isascii() or "`" in text:  # the only characters _TRANSLATE maps
        text = text.translate(_TRANSLATE)
    text = text.lower()
    if _ELONGATED.search(text) is not None:  # rare; a search is cheaper than a sub
        text = _ELONGATED.sub(r"\1\1", text)
    return " ".join(text.split())


def tokenize(normalized: str) -> list[str]:
    """Split a normalised text into word tokens, marking tokens in a negation scope
    (``analyse(normalized).tokens``)."""
    return analyse(normalized).tokens


class Analysis(NamedTuple):
    """What the feature blocks read of one normalised text."""

    tokens: list[str]  # word tokens, negation-marked (word n-grams, lexicon)
    words: list[str]  # whitespace-separated words outside negation scopes (characters)
    negated_words: list[str]  # words a negation scope reaches (characters, sign flipped)


def analyse(normalized: str) -> Analysis:
    """Split a normalised text into tokens and words, marking negation scopes.

    A scope covers the ``NEGATION_WINDOW`` tokens after a negator ("not", "never", any
    "n't" contraction, ...) and ends early at punctuation or a contrastive conjunction, so
    "not good, but fine" gives the tokens ["not", "not_good", "but", "fine"]: "good" under
    negation learns its own weight. A word the scope reaches counts against its character
    n-grams, so "not slow" reads as the opposite of "slow" even when the training sentences
    never negated it. Clause punctuation is dropped from the tokens; "!" and "?" are kept.
    """
    tokens: list[str] = TOKEN.findall(normalized)
    if "n't" not in normalized and NEGATORS.isdisjoint(tokens):  # most texts: no scope
        plain = list(filterfalse(CLAUSE_PUNCTUATION.__contains__, tokens))
        return Analysis(plain, normalized.split(), [])
    out: list[str] = []
    words: list[str] = []
    negated_words: list[str] = []
    left = 0  # tokens still inside the current negation scope
    for word in normalized.split():  # no token spans a space: the same tokens, by word
        negated = False
        for token in TOKEN.findall(word):
            if token in SCOPE_END:
                left = 0
                if token not in CLAUSE_PUNCTUATION:
                    out.append(token)
                continue
            if left:
                out.append(NEGATION_PREFIX + token)
                left -= 1
                negated = True
            else:
                out.append(token)
            if is_negator(token):
                left = NEGATION_WINDOW
        (negated_words if negated else words).append(word)
    return Analysis(out, words, negated_words)


def word_ngrams(tokens: list[str], min_n: int, max_n: int) -> list[str]:
    """Every run of ``min_n`` to ``max_n`` consecutive tokens, joined by spaces."""
    out = list(tokens) if min_n == 1 else []
    for n in range(max(min_n, 2), min(max_n, len(tokens)) + 1):
        if n == 2:  # the common case, without a slice per bigram
            out += map(" ".join, pairwise(tokens))
        else:
            out += [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return out


def char_ngrams(word: str, min_n: int, max_n: int) -> list[str]:
    """The ``min_n`` to ``max_n`` character n-grams of a word padded with one space on each
    side (scikit-learn's ``char_wb``); a padded word shorter than n counts once, whole."""
    padded = f" {word} "
    size = len(padded)
    if size < min_n:
        return [padded]
    return [
        padded[i : i + n] for n in range(min_n, min(max_n, size) + 1) for i in range(size - n + 1)
    ]


@dataclass(frozen=True)
class WordNgrams:
    """A vectorizer's analyzer: the word n-grams of ``tokenize(normalize(text))``."""

    min_n: int = 1
    max_n: int = 2

    def __call__(self, text: str) -> list[str]:
        return self.of_tokens(tokenize(normalize(text)))

    def of_tokens(self, tokens: list[str]) -> list[str]:
        """The n-grams of already tokenised text."""
        return word_ngrams(tokens, self.min_n, self.max_n)


@dataclass(frozen=True)
class CharNgrams:
    """A vectorizer's analyzer: the character n-grams of each word of ``normalize(text)``.

    N-grams never cross a space, so a text's n-grams are its words' n-grams one after the
    other: the fast scorer adds up precomputed per-word sums.
    """

    min_n: int = 1
    max_n: int = 5
    negated: bool = False  # the n-grams of the words outside (False) or inside negation scopes

    def __call__(self, text: str) -> list[str]:
        analysis = analyse(normalize(text))
        words = analysis.negated_words if self.negated else analysis.words
        return [gram for word in words for gram in self.of_word(word)]

    def of_word(self, word: str) -> list[str]:
        """The n-grams of one word of normalised text."""
        return char_ngrams(word, self.min_n, self.max_n)
