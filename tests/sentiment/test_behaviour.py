"""The behavioural probes: well-formed, not from the training data, and a floor per capability."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from app.sentiment.recipe.text import normalize
from app.sentiment.training.behaviour import Probe, format_rates, load_probes, pass_rates
from app.sentiment.training.data import Corpus

CAPABILITIES = (
    "negation_positive",
    "negation_negative",
    "contrast",
    "intensity",
    "comparative",
    "question",
    "typo",
    "emoticon",
    "hedge",
    "domain",
)
# What the production recipe passes today, fitted on the whole corpus, less one probe per
# capability (two overall): about ten probes sit within 0.05 of 0.5, and the artifact
# trained under another Python or CPU moves one across. A change that loses two probes of a
# capability fails here. Raise a floor when the model gets better.
FLOORS = {
    "negation_positive": 0.95,  # 21 of 22
    "negation_negative": 0.52,  # 11 of 21
    "contrast": 0.86,  # 19 of 22
    "intensity": 0.83,  # 15 of 18
    "comparative": 0.72,  # 13 of 18
    "question": 0.71,  # 10 of 14
    "typo": 0.83,  # 15 of 18
    "emoticon": 0.87,  # 14 of 16
    "hedge": 0.85,  # 12 of 14
    "domain": 0.87,  # 21 of 24
    "overall": 0.85,  # 159 of 187
}


@pytest.fixture(scope="module")
def probes() -> list[Probe]:
    return load_probes()


def test_the_probes_cover_every_capability_with_both_labels_where_they_can(
    probes: list[Probe],
) -> None:
    assert len(probes) >= 150
    per_capability = Counter(p.capability for p in probes)
    assert set(per_capability) == set(CAPABILITIES)
    assert min(per_capability.values()) >= 12
    labels = {c: {p.label for p in probes if p.capability == c} for c in CAPABILITIES}
    assert labels["negation_positive"] == {"negative"}
    assert labels["negation_negative"] == {"positive"}
    assert all(labels[c] == {"negative", "positive"} for c in CAPABILITIES[2:])
    texts = [normalize(p.text) for p in probes]
    assert len(set(texts)) == len(texts), "a probe is listed twice"


def test_no_probe_is_a_training_sentence(probes: list[Probe], corpus: Corpus) -> None:
    training = {normalize(text) for text in corpus.texts}
    assert [p.text for p in probes if normalize(p.text) in training] == []


def test_a_malformed_line_is_refused_with_its_place(tmp_path: Path) -> None:
    path = tmp_path / "probes.tsv"
    path.write_text("# comment\ncontrast\tpositive\tFine, but great.\ncontrast\tgood\tOops.\n")
    with pytest.raises(ValueError, match=r"probes.tsv:3"):
        load_probes(path)


def test_pass_rates_count_the_right_side_of_one_half() -> None:
    probes = [
        Probe("a", "positive", "x"),
        Probe("a", "negative", "y"),
        Probe("b", "positive", "z"),
    ]

    def half_for_all(texts: Any) -> npt.NDArray[np.float64]:
        return np.full(len(texts), 0.5)

    rates = pass_rates(half_for_all, probes)
    assert rates == {"a": 0.5, "b": 1.0, "overall": 2 / 3}
    table = format_rates({"model": rates}, probes)
    assert table.splitlines()[1].split() == ["a", "2", "0.50"]


def test_the_model_keeps_its_floor_on_every_capability(
    probes: list[Probe], full_pipeline: Any
) -> None:
    positive = list(full_pipeline.classes_).index("positive")

    def proba(texts: Any) -> npt.NDArray[np.float64]:
        return np.asarray(full_pipeline.predict_proba(list(texts))[:, positive])

    rates = pass_rates(proba, probes)
    below = {c: round(r, 3) for c, r in rates.items() if r < FLOORS[c]}
    assert below == {}, f"below the floor: {below}"
