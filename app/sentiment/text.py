"""Text normalisation and tokenisation shared by training, the pipeline and the fast scorer.

These functions are referenced by the fitted pipeline (pickled by name), so renaming or
changing them changes what a saved artifact computes: bump the recipe version when you do.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from itertools import filterfalse

import numpy as np

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
# (``\1\1+`` rather than ``\1{2,}``: same matches, the search runs ~1.8 x faster.)
_ELONGATED = re.compile(r"([a-z!?.])\1\1+")
# The characters _ELONGATED shortens, by code point (the last entry: all beyond).
_RUN_CHARACTER = np.zeros(ord("z") + 2, dtype=bool)
_RUN_CHARACTER[[ord(c) for c in "abcdefghijklmnopqrstuvwxyz!?."]] = True

# Words, contractions and sentiment-bearing punctuation; "," "." ";" ":" only end negation scopes.
# Possessive quantifiers: nothing after them could match what they give back, so the
# tokens are the same as with greedy ones, found ~25 % faster.
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
# How many tokens a negator reaches (VADER also looks 3 words back). Chosen by cross-domain
# CV: windows of 2-4 beat "until the next punctuation" on the held-out review domains.
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


def normalize_joined(texts: Sequence[str]) -> str:
    """The texts normalised and joined with "\n", each in one pass over the whole batch.

    Whitespace runs are not collapsed: tokens and words (``str.split``) are the same with
    or without them. The steps work character by character and none reaches across a
    "\n", so each line is its text's ``normalize`` up to whitespace; a text that holds or
    decodes to a "\n" would shift the lines, and then each text is normalised alone.
    """
    if any("\n" in text for text in texts):
        return "\n".join(map(normalize, texts))
    joined = "\n".join(texts)
    if "&" in joined:
        joined = html.unescape(joined)
        if joined.count("\n") != len(texts) - 1:  # an entity was a line break
            return "\n".join(map(normalize, texts))
    if not joined.isascii() or "`" in joined:
        joined = joined.translate(_TRANSLATE)
    joined = joined.lower()
    return _shorten_runs(joined)


def _shorten_runs(joined: str) -> str:
    """``_ELONGATED.sub(r"\\1\\1", joined)`` by NumPy: a character that repeats the two
    before it is dropped (the regex scans ~5 x slower than these array comparisons)."""
    points = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    third = np.flatnonzero((points[2:] == points[1:-1]) & (points[1:-1] == points[:-2])) + 2
    third = third[_RUN_CHARACTER[np.minimum(points[third], _RUN_CHARACTER.size - 1)]]
    if third.size == 0:
        return joined
    kept = np.ones(points.size, dtype=bool)
    kept[third] = False
    return points[kept].tobytes().decode("utf-32-le", "surrogatepass")


def tokenize(text: str) -> list[str]:
    """Split a normalised text into word tokens, marking tokens in a negation scope.

    A scope covers the ``NEGATION_WINDOW`` tokens after a negator ("not", "never", any
    "n't" contraction, ...) and ends early at punctuation or a contrastive conjunction, so
    "not good, but fine" gives ["not", "not_good", "but", "fine"]: "good" under negation
    learns its own weight. Clause punctuation is dropped from the output; "!" and "?" are
    kept as features.
    """
    tokens: list[str] = TOKEN.findall(text)
    if "n't" not in text and NEGATORS.isdisjoint(tokens):  # most texts: no scope to mark
        return list(filterfalse(CLAUSE_PUNCTUATION.__contains__, tokens))
    out: list[str] = []
    left = 0  # tokens still inside the current negation scope
    for token in tokens:
        if token in SCOPE_END:
            left = 0
            if token not in CLAUSE_PUNCTUATION:
                out.append(token)
            continue
        if left:
            out.append(NEGATION_PREFIX + token)
            left -= 1
        else:
            out.append(token)
        if is_negator(token):
            left = NEGATION_WINDOW
    return out
