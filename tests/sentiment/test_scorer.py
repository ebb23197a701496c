"""The fast scorer must be the pipeline, only faster."""

from __future__ import annotations

import pickle
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from app.sentiment.recipe.pipeline import Recipe
from app.sentiment.recipe.text import WordNgrams
from app.sentiment.scorer import CharBlock, FastScorer, UnsupportedPipelineError, from_pipeline
from app.sentiment.training.data import Corpus
from app.sentiment.training.train import fit_pipeline
from tests.support import PROJECT_ROOT

# Words the tables built at load cannot hold: unseen, very long, punctuated, repeated,
# non-ASCII, entities.
UNSEEN = [
    "zzqxj vvkq zzqxj",
    "floccinaucinihilipilification " * 3,
    "x" * 70 + " great " + "y" * 200,
    '(wow)!! "amazing", truly-unbelievable... :-) :) <3',
    "caf\u00e9 na\u00efve \u00fcber \u2603 \U0001f600 good",
    "good good good good good bad bad",
    "Fish &amp; chips &lt;3, not bad at all",
    "",
    "   ",
]


def _positive(pipeline: Any, texts: list[str]) -> Any:
    return pipeline.predict_proba(texts)[:, list(pipeline.classes_).index("positive")]


def _assert_scorer_equals_pipeline(scorer: FastScorer, pipeline: Any, texts: list[str]) -> None:
    """Single texts, one batch of everything and batches of 100 all match predict_proba."""
    expected = _positive(pipeline, texts)
    single = np.array([scorer.probabilities([t])[0][1] for t in texts])
    batch = np.array([row[1] for row in scorer.probabilities(texts)])
    hundreds = [
        row[1]
        for i in range(0, len(texts), 100)
        for row in scorer.probabilities(texts[i : i + 100])
    ]
    assert np.max(np.abs(single - expected)) < 1e-9
    assert np.max(np.abs(batch - expected)) < 1e-9
    assert np.max(np.abs(np.array(hundreds) - expected)) < 1e-9
    # Not a vacuous match: the model really separates the texts.
    assert 0.3 < float(np.mean(expected >= 0.5)) < 0.7


def test_the_production_recipe_is_scored_exactly_on_every_training_text(
    full_pipeline: Any, corpus: Corpus
) -> None:
    scorer = from_pipeline(full_pipeline)
    _assert_scorer_equals_pipeline(scorer, full_pipeline, corpus.texts + UNSEEN)
    assert scorer.classes == ("negative", "positive")


@pytest.mark.parametrize(
    "changes",
    [
        {"lexicon_scale": 0.0},
        {"word_ngrams": (1, 3)},
        {"word_ngrams": (2, 2)},
        {"nb_power": 0.0},
        {"char_ngrams": (0, 0)},
        {"char_ngrams": (2, 4), "sublinear_tf": False},
    ],
)
def test_other_recipes_are_scored_exactly(
    changes: dict[str, Any], small_corpus: Corpus, corpus: Corpus
) -> None:
    pipeline = fit_pipeline(small_corpus, replace(Recipe(), **changes), 42)
    _assert_scorer_equals_pipeline(from_pipeline(pipeline), pipeline, corpus.texts[::7] + UNSEEN)


def test_a_word_block_alone_without_a_union_is_scored_exactly(small_corpus: Corpus) -> None:
    pipeline = Pipeline(
        [
            ("tfidf", TfidfVectorizer(analyzer=WordNgrams(1, 2), sublinear_tf=True)),
            ("clf", LogisticRegression()),
        ]
    ).fit(small_corpus.texts, np.where(small_corpus.ratings > 0, "positive", "negative"))
    _assert_scorer_equals_pipeline(from_pipeline(pipeline), pipeline, small_corpus.texts + UNSEEN)


def test_a_batch_scores_each_text_as_if_alone(full_pipeline: Any) -> None:
    """Neighbours whose tokens would interact if a text's end leaked (a degree word, "but",
    a negator at the end), and repeated unseen words computed once per batch."""
    scorer = from_pipeline(full_pipeline)
    texts = ["this is very", "good but", "but bad", "...", "not", "zzqxj", "zzqxj good", ""]
    together = [row[1] for row in scorer.probabilities(texts)]
    alone = [scorer.probabilities([t])[0][1] for t in texts]
    assert together == alone
    assert np.allclose(together, _positive(full_pipeline, texts), atol=1e-12, rtol=0)
    assert scorer.probabilities([]) == []


def test_words_outside_the_tables_are_kept_within_bounds(full_pipeline: Any) -> None:
    scorer = from_pipeline(full_pipeline)
    char = next(block for block in scorer.blocks if isinstance(block, CharBlock))
    first = scorer.decision("zzqxj vvkq " + "qwertyuiop" * 20)
    assert set(char.seen) == {"zzqxj", "vvkq"}  # the 200-character word is not kept
    assert scorer.decision("zzqxj vvkq " + "qwertyuiop" * 20) == first
    char.SEEN_WORDS_KEPT = len(char.seen)
    scorer.decision("qqqzzx")
    assert "qqqzzx" not in char.seen


def test_threads_score_the_same_as_one_thread(full_pipeline: Any, corpus: Corpus) -> None:
    """The scorer keeps no state between calls that threads could share by mistake."""
    scorer = from_pipeline(full_pipeline)
    texts = corpus.texts[:2000] + UNSEEN
    expected = [scorer.decision(t) for t in texts]
    with ThreadPoolExecutor(max_workers=4) as pool:
        chunks = [texts[i::4] for i in range(4)]
        results = list(pool.map(lambda chunk: [scorer.decision(t) for t in chunk], chunks))
    for i, chunk in enumerate(results):
        assert chunk == expected[i::4]


def test_the_scorer_runs_without_scikit_learn_numpy_or_scipy(full_pipeline: Any) -> None:
    """What the serving process receives from the loader: a pickle that needs neither."""
    scorer = from_pipeline(full_pipeline)
    expected = scorer.probabilities(UNSEEN)
    check = (
        "import pickle, sys\n"
        "scorer = pickle.load(sys.stdin.buffer)\n"
        "print(repr(scorer.probabilities(pickle.loads(bytes.fromhex(sys.argv[1])))))\n"
        "heavy = {'sklearn', 'numpy', 'scipy'} & {m.split('.')[0] for m in sys.modules}\n"
        "assert not heavy, heavy\n"
    )
    child = subprocess.run(
        [sys.executable, "-c", check, pickle.dumps(UNSEEN).hex()],
        input=pickle.dumps(scorer),
        capture_output=True,
        cwd=PROJECT_ROOT,
        check=True,
    )
    assert child.stdout.decode().strip() == repr(expected)


def _word_pipeline(vectorizer: Any, labels: list[str]) -> Any:
    texts = ["good good movie", "bad movie", "good plot", "bad bad acting", "fine", "meh"]
    return Pipeline(
        [("features", FeatureUnion([("w", vectorizer)])), ("clf", LogisticRegression())]
    ).fit(texts, labels)


BINARY = ["p", "n", "p", "n", "p", "n"]


@pytest.mark.parametrize(
    ("pipeline", "message"),
    [
        (_word_pipeline(TfidfVectorizer(), BINARY), "not one of the recipe's blocks"),
        (_word_pipeline(TfidfVectorizer(analyzer=WordNgrams(), norm="l1"), BINARY), "L2 norm"),
        (_word_pipeline(TfidfVectorizer(analyzer=WordNgrams(), binary=True), BINARY), "L2"),
        (_word_pipeline(TfidfVectorizer(analyzer=WordNgrams()), list("pnmpnm")), "binary"),
        ({"not": "a pipeline"}, "two-step Pipeline"),
    ],
)
def test_other_shapes_are_refused(pipeline: Any, message: str) -> None:
    with pytest.raises(UnsupportedPipelineError, match=message):
        from_pipeline(pipeline)
