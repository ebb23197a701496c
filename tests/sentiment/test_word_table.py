"""A batch's tokens from its words' table rows must be the tokens of the whole text."""

from __future__ import annotations

import numpy as np

from app.sentiment.data import Corpus
from app.sentiment.text import normalize_joined
from app.sentiment.token_ids import TokenIds
from app.sentiment.word_table import WordTable
from tests.sentiment.test_token_ids import TRICKY


def _table(forms: list[str]) -> tuple[WordTable, TokenIds]:
    ids = TokenIds({"good", "not_good", "bad", "great", "not_great", "fine", "not", "!"})
    return WordTable(forms, ids), ids


def test_table_tokens_equal_encode_of_the_whole_text(corpus: Corpus) -> None:
    # Forms in and out of the table, with punctuation, contractions and tokens that span
    # several forms' worth of characters; half the corpus words are left out of it.
    words = sorted({w for t in corpus.texts[:2000] for w in normalize_joined([t]).split()})
    for forms in (words[::2], ["good", "good,", "not", "isn't", "a.b.c.d.e.f", ""], []):
        table, ids = _table(forms)
        for texts in (corpus.texts, TRICKY, [""], ["   ", "good"]):
            joined = normalize_joined(texts)
            found = table.look_up(joined)
            mine_ids, mine_owner = ids.scopes(*table.token_ids(found))
            their_ids, their_owner = ids.encode(joined)
            assert np.array_equal(mine_ids, their_ids)
            assert np.array_equal(mine_owner, their_owner)


def test_look_up_numbers_known_words_and_lists_each_unseen_word_once() -> None:
    table, _ = _table(["good", "bad,"])
    found = table.look_up("good odd\tbad,\nodd bad good")
    assert found.size == 2
    assert found.owner.tolist() == [0, 0, 0, 1, 1, 1]
    assert found.rows.tolist() == [0, -1, 1, -1, -1, 0]
    assert found.absent.tolist() == [1, 3, 4]
    assert found.distinct == ["odd", "bad"]
    assert found.which.tolist() == [0, 0, 1]


def test_look_up_finds_the_words_str_split_finds(corpus: Corpus) -> None:
    # Long and short forms, characters outside the forms' alphabet, every kind of
    # whitespace, empty texts; half the corpus words in the table.
    words = sorted({w for t in corpus.texts for w in normalize_joined([t]).split()})
    forms = [*words[::2], "x" * 40, "caf\u00e9", "\ud800"]
    table, _ = _table(forms)
    row_of = {form: row for row, form in enumerate(forms)}
    spaces = "".join(chr(c) for c in range(0x3001) if chr(c).isspace() and chr(c) != "\n")
    texts = [*corpus.texts, *TRICKY, "", f"a{spaces}b x{'x' * 39} {'x' * 40} caf\u00e9 \ud800"]
    joined = normalize_joined(texts) + "\n" + spaces
    found = table.look_up(joined)
    expected = [(text, w) for text, line in enumerate(joined.split("\n")) for w in line.split()]
    assert found.size == len(texts) + 1
    assert found.owner.tolist() == [text for text, _ in expected]
    assert found.rows.tolist() == [row_of.get(w, -1) for _, w in expected]
    unseen = [w for _, w in expected if w not in row_of]
    assert [found.distinct[i] for i in found.which.tolist()] == unseen


def test_look_up_by_string_when_the_alphabet_outgrows_a_byte() -> None:
    # 300 distinct characters: no byte keys, every word looked up as a string.
    many = "".join(chr(0x400 + i) for i in range(300))
    table, _ = _table(["good", many, many[:5], "bad"])
    found = table.look_up(f"bad {many[:5]} x\n{many} good {many[1:6]}")
    assert found.rows.tolist() == [3, 2, -1, 1, 0, -1]
    assert found.distinct == ["x", many[1:6]]
