"""Request and response bodies for predictions and model information."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.text import NO_NUL_PATTERN, reject_unstorable_text

Text = Annotated[
    str,
    Field(
        min_length=1,
        max_length=5000,
        description="Text to classify, 1 to 5,000 characters.",
        json_schema_extra={"pattern": NO_NUL_PATTERN},
    ),
    AfterValidator(reject_unstorable_text),
]


class PredictRequest(BaseModel):
    """One text to classify."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"text": "I love this lamp!"}]}
    )

    text: Text


class BatchPredictRequest(BaseModel):
    """Several texts to classify in one call (at most PREDICT_BATCH_MAX)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"texts": ["Great value.", "Broke after a day."]}]},
    )

    texts: list[Text] = Field(min_length=1, description="Texts to classify, in order.")


class PredictionOut(BaseModel):
    """The predicted label with the probability of every class."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "label": "positive",
                    "confidence": 0.93,
                    "probabilities": {"negative": 0.07, "positive": 0.93},
                    "model_version": "2026.11.22-1a2b3c4d",
                }
            ]
        }
    )

    label: str = Field(description="The most probable class.")
    confidence: float = Field(ge=0, le=1, description="Probability of `label`.")
    probabilities: dict[str, float] = Field(description="Probability of each class; sums to 1.")
    model_version: str = Field(description="Version of the model that answered.")


class BatchPredictionOut(BaseModel):
    """One prediction per input text, in the same order."""

    predictions: list[PredictionOut]
    model_version: str


class ModelInfo(BaseModel):
    """What is loaded: identity, provenance and evaluation of the model artifact."""

    name: str
    version: str
    classes: list[str]
    sha256: str = Field(description="SHA-256 of the artifact file, verified at load.")
    sklearn_version: str = Field(description="scikit-learn version the artifact was built with.")
    trained_at: datetime
    training_data: dict[str, Any] = Field(description="Summary of the data it was trained on.")
    metrics: dict[str, Any] = Field(description="Evaluation metrics recorded at training time.")
    loaded_at: datetime
    scorer: str = Field(
        description="What computes the probabilities: `fast` (the built-in scorer, proven "
        "equal to the pipeline at load) or `predict_proba` (scikit-learn itself)."
    )
