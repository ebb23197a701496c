"""Prediction answers are exactly what the documented response models produce."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.sentiment.schemas import BatchPredictionOut, PredictionOut

TEXTS = ["I love it", "Broke after a day, awful.", "ok", "é ✓ 🙂"]


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
