"""The model card's pictures: a confusion matrix and a reliability (calibration) diagram.

Drawn by ``python -m app.sentiment.training.train --figures DIR`` from the stratified split's
held-out sentences. Needs matplotlib (the ``figures`` dependency group); the PNG files carry
no date or software version, so the same model draws the same bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from app.sentiment.training.data import POSITIVE, labels_for
from app.sentiment.training.evaluation import CALIBRATION_BINS, calibration_error

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CONFUSION_MATRIX = "confusion-matrix.png"
RELIABILITY = "reliability.png"


def write_figures(
    proba_positive: npt.NDArray[np.float64], ratings: npt.NDArray[np.float64], directory: Path
) -> list[Path]:
    """Draw both figures into ``directory``; return their paths."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import ConfusionMatrixDisplay

    directory.mkdir(parents=True, exist_ok=True)
    truth = labels_for(ratings)
    predicted = np.where(proba_positive >= 0.5, POSITIVE, "negative")
    figure, axes = plt.subplots(figsize=(4.5, 4))
    ConfusionMatrixDisplay.from_predictions(
        truth, predicted, labels=["negative", POSITIVE], ax=axes, colorbar=False, cmap="Blues"
    )
    axes.set_title(f"Stratified split, {truth.size:,} held-out sentences")
    paths = [_save(figure, directory / CONFUSION_MATRIX)]

    is_positive = (ratings > 0).astype(int)
    share, mean_predicted = calibration_curve(
        is_positive, proba_positive, n_bins=CALIBRATION_BINS, strategy="uniform"
    )
    figure, (curve, counts) = plt.subplots(2, 1, figsize=(5, 6), height_ratios=(3, 1), sharex=True)
    curve.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfectly calibrated")
    curve.plot(mean_predicted, share, marker="o", label="model")
    curve.set_ylabel("share actually positive")
    ece = calibration_error(proba_positive, ratings)
    curve.set_title(f"Reliability, stratified split (ECE {ece:.3f})")
    curve.legend(loc="upper left")
    counts.hist(proba_positive, bins=CALIBRATION_BINS, range=(0, 1), color="tab:blue")
    counts.set_xlabel("predicted P(positive)")
    counts.set_ylabel("sentences")
    paths.append(_save(figure, directory / RELIABILITY))
    return paths


def _save(figure: Figure, path: Path) -> Path:
    import matplotlib.pyplot as plt

    figure.tight_layout()
    figure.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(figure)
    return path
