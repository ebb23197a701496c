"""HTTP endpoints for sentiment prediction and model information."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel
from pydantic_core import to_json

from app.errors import ModelUnavailableError
from app.json_body import (
    RequestOnlyRoute,
    parse_json_body,
    read_json_text,
    request_body_openapi,
    validate_json_text,
)
from app.observability import INFERENCE_SECONDS, PREDICTION_ERRORS, PREDICTIONS
from app.sentiment.model import Prediction, SentimentModel
from app.sentiment.schemas import (
    BatchPredictionOut,
    BatchPredictRequest,
    ModelInfo,
    PredictionOut,
    PredictRequest,
)

router = APIRouter(tags=["sentiment"])

_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {
        "description": "No verified model is loaded (missing, corrupt or mismatched artifact).",
        "content": {
            "application/json": {
                "example": {"detail": "Sentiment model unavailable: model artifact not found"}
            }
        },
    }
}

_BAD_BODY: dict[int | str, dict[str, Any]] = {
    400: {"description": "The body is not valid UTF-8."},
    413: {"description": "The body is larger than MAX_BODY_BYTES."},
}


def loaded_model(request: Request) -> SentimentModel:
    """The model loaded at start-up, or 503 with the reason it is not there.

    Called directly rather than as a FastAPI dependency: dependency resolution costs more
    than the prediction itself.
    """
    model: SentimentModel | None = request.app.state.model
    if model is None:
        PREDICTION_ERRORS.inc()
        raise ModelUnavailableError(request.app.state.model_error)
    return model


def prediction_json(prediction: Prediction, version: str) -> dict[str, Any]:
    """A prediction as the plain dict `PredictionOut` describes, for `pydantic_core.to_json`.

    Our own model's output needs no validation; building a `PredictionOut` per text would
    cost more than a prediction. `tests/service/test_prediction_json.py` checks the bytes.
    """
    return {
        "label": prediction.label,
        "confidence": prediction.confidence,
        "probabilities": prediction.probabilities,
        "model_version": version,
    }


def _count(label: str, amount: int = 1) -> None:
    counter = _COUNTERS.get(label)
    if counter is None:  # `labels()` builds its key on every call; one look-up per label
        counter = _COUNTERS[label] = PREDICTIONS.labels(label=label)
    counter.inc(amount)


_COUNTERS: dict[str, Any] = {}


# `async def` on purpose: a prediction costs microseconds, less than a threadpool hop.
# The hot path skips FastAPI's parameter machinery, which costs more than the prediction:
# the body is parsed by one `model_validate_json` call and the route calls the endpoint
# directly (RequestOnlyRoute). The OpenAPI document describes it as any other route.
async def predict(request: Request) -> Response:
    """Return the most probable label, its confidence and every class's probability."""
    body = await parse_json_body(request, PredictRequest)
    model = loaded_model(request)
    started = time.perf_counter()
    prediction = model.predict(body.text)
    INFERENCE_SECONDS.observe(time.perf_counter() - started)
    _count(prediction.label)
    payload = to_json(prediction_json(prediction, model.version))
    return Response(payload, media_type="application/json")


def _add_prediction_route(
    path: str,
    endpoint: Callable[[Request], Awaitable[Response]],
    body: type[BaseModel],
    response: type[BaseModel],
    summary: str,
) -> None:
    """A POST route whose endpoint parses its own JSON body (``RequestOnlyRoute``), with
    the body, the answer and the failure codes in the OpenAPI document."""
    router.add_api_route(
        path,
        endpoint,
        methods=["POST"],
        route_class_override=RequestOnlyRoute,
        response_model=response,
        responses={**_BAD_BODY, **_UNAVAILABLE},
        summary=summary,
        openapi_extra=request_body_openapi(body),
    )


_add_prediction_route(
    "/predict", predict, PredictRequest, PredictionOut, "Classify the sentiment of one text"
)


# Read like /predict (RequestOnlyRoute), but validated, run and serialised on the inference
# thread (`app.state.inference_executor`, one thread): a batch takes milliseconds, and on
# the event loop it would hold every other request for that long.
async def predict_batch(request: Request) -> Response:
    """One prediction per text, in order."""
    text = await read_json_text(request)
    model = loaded_model(request)
    limit: int = request.app.state.settings.predict_batch_max
    executor = request.app.state.inference_executor
    loop = asyncio.get_running_loop()
    payload, labels = await loop.run_in_executor(executor, _answer_batch, model, text, limit)
    for label, amount in labels.items():
        _count(label, amount)
    return Response(payload, media_type="application/json")


def _answer_batch(model: SentimentModel, text: str, limit: int) -> tuple[bytes, Counter[str]]:
    """The response body for a batch request's JSON ``text`` and how many of each label it
    holds; the model's duration is observed here (not the queueing)."""
    body = validate_json_text(text, BatchPredictRequest)
    if len(body.texts) > limit:
        raise RequestValidationError(
            [
                {
                    "type": "too_long",
                    "loc": ("body", "texts"),
                    "msg": f"List should have at most {limit} items",
                }
            ]
        )
    started = time.perf_counter()
    predictions = model.predict_batch(body.texts)
    INFERENCE_SECONDS.observe(time.perf_counter() - started)
    labels = Counter(prediction.label for prediction in predictions)
    answers = [prediction_json(prediction, model.version) for prediction in predictions]
    return to_json({"predictions": answers, "model_version": model.version}), labels


_add_prediction_route(
    "/predict/batch",
    predict_batch,
    BatchPredictRequest,
    BatchPredictionOut,
    "Classify several texts at once",
)


@router.get(
    "/model/info", response_model=ModelInfo, responses=_UNAVAILABLE, summary="The loaded model"
)
async def model_info(request: Request) -> ModelInfo:
    """Name, version, classes, artifact sha256, scikit-learn version, training and evaluation."""
    return ModelInfo.model_validate(loaded_model(request).info)
