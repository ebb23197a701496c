"""Predictions are serialized from plain dicts: the bytes must be what the documented
response models (`PredictionOut`, `BatchPredictionOut`) would produce."""

from __future__ import annotations

from fastapi.testclient import TestClient
from pydantic_core import to_json

from app.sentiment.model import Prediction
from app.sentiment.router import prediction_json
from app.sentiment.schemas import BatchPredictionOut, PredictionOut

TEXTS = ["I love it", "Broke after a day, awful.", "ok", "é ✓ 🙂"]


def test_prediction_json_equals_prediction_out() -> None:
    for prediction in [
        Prediction("positive", 0.9, {"negative": 0.1, "positive": 0.9}),
        Prediction("negative", 0.5 + 1e-16, {"negative": 0.5 + 1e-16, "positive": 0.5 - 1e-16}),
        Prediction("negative", 1.0, {"negative": 1.0, "positive": 1e-300}),
    ]:
        expected = PredictionOut(
            label=prediction.label,
            confidence=prediction.confidence,
            probabilities=prediction.probabilities,
            model_version="v1",
        )
        assert to_json(prediction_json(prediction, "v1")).decode() == expected.model_dump_json()


def test_responses_validate_against_the_documented_models(client: TestClient) -> None:
    for text in TEXTS:
        single = client.post("/predict", json={"text": text})
        assert single.status_code == 200
        parsed = PredictionOut.model_validate_json(single.content)
        assert parsed.model_dump_json().encode() == single.content
    batch = client.post("/predict/batch", json={"texts": TEXTS})
    assert batch.status_code == 200
    parsed_batch = BatchPredictionOut.model_validate_json(batch.content)
    assert parsed_batch.model_dump_json().encode() == batch.content
    assert [p.label for p in parsed_batch.predictions] == [
        client.post("/predict", json={"text": t}).json()["label"] for t in TEXTS
    ]
