"""Normalisation and negation-aware tokenisation."""

from __future__ import annotations

import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from app.sentiment.recipe.text import (
    CharNgrams,
    WordNgrams,
    analyse,
    char_ngrams,
    normalize,
    tokenize,
    word_ngrams,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Fish &amp; Chips", "fish & chips"),
        ("It\u2019s \u201cgreat\u201d", 'it\'s "great"'),
        ("SOOOOO   goood!!!", "soo good!!"),
        ("  tabs\tand\r\nnewlines ", "tabs and newlines"),
        ("I didn&#39;t", "i didn't"),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_words_a_scope_reaches_are_set_apart_for_the_character_block() -> None:
    analysis = analyse(normalize("Not slow, but LOUD :("))
    assert analysis.tokens == ["not", "not_slow", "but", "loud"]  # ":" ends scopes only
    assert analysis.words == ["not", "but", "loud", ":("]  # the negator itself stays
    assert analysis.negated_words == ["slow,"]
    assert CharNgrams(3, 3, negated=True)("Not slow, but LOUD") == [
        " sl",
        "slo",
        "low",
        "ow,",
        "w, ",
    ]
    plain = analyse(normalize("Quite slow, and loud"))
    assert plain.words == ["quite", "slow,", "and", "loud"] and plain.negated_words == []


def test_negation_scope_runs_to_punctuation() -> None:
    assert tokenize("not good, but fine!") == ["not", "not_good", "but", "fine", "!"]


def test_contraction_negates_and_contrast_ends_scope() -> None:
    assert tokenize("i didn't like it but the soup was great") == [
        "i",
        "didn't",
        "not_like",
        "not_it",
        "but",
        "the",
        "soup",
        "was",
        "great",
    ]


def test_scope_ends_at_sentence_end() -> None:
    assert tokenize("never again. loved the staff?") == [
        "never",
        "not_again",
        "loved",
        "the",
        "staff",
        "?",
    ]


def test_negation_reaches_three_tokens() -> None:
    assert tokenize("i do not think this is a good phone") == [
        "i",
        "do",
        "not",
        "not_think",
        "not_this",
        "not_is",
        "a",
        "good",
        "phone",
    ]


def test_a_negator_inside_a_scope_restarts_it() -> None:
    assert tokenize("not that it isn't fun") == [
        "not",
        "not_that",
        "not_it",
        "not_isn't",
        "not_fun",
    ]


def test_no_negation_leaves_tokens_alone() -> None:
    assert tokenize("a 10/10 film") == ["a", "10", "10", "film"]


TRICKY = [
    "a",
    "",
    "banana bananas",
    "i  x\u00a0y\tz",
    "an antelope, an ant!",
    "the other there then",
    "superlongwordwithoutspaces",
    "caf\u00e9 \U0001f600 :-)",
]


@pytest.mark.parametrize("ngram_range", [(2, 5), (1, 1), (3, 4), (1, 6), (1, 5)])
def test_char_ngrams_are_scikit_learns_char_wb(ngram_range: tuple[int, int]) -> None:
    analyzer = TfidfVectorizer(
        analyzer="char_wb", ngram_range=ngram_range, lowercase=False
    ).build_analyzer()
    for text in TRICKY:
        ours = [gram for word in text.split() for gram in char_ngrams(word, *ngram_range)]
        assert ours == analyzer(text)
        assert CharNgrams(*ngram_range)(text) == analyzer(normalize(text))


@pytest.mark.parametrize("ngram_range", [(1, 1), (1, 2), (2, 3), (1, 3)])
def test_word_ngrams_are_scikit_learns(ngram_range: tuple[int, int]) -> None:
    analyzer = TfidfVectorizer(
        tokenizer=str.split, token_pattern=None, lowercase=False, ngram_range=ngram_range
    ).build_analyzer()
    for text in TRICKY:
        assert sorted(word_ngrams(text.split(), *ngram_range)) == sorted(analyzer(text))
        assert WordNgrams(*ngram_range)(text) == word_ngrams(
            tokenize(normalize(text)), *ngram_range
        )
