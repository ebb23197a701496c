"""HTTP endpoints for sentiment prediction and model information."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from typing import Annotated, NoReturn

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from opentelemetry.trace import Tracer
from pydantic import BaseModel

from app.bypasses import (
    RequestOnlyRoute,
    read_json_text,
    request_body_openapi,
    validate_json_text,
)
from app.config import app_settings
from app.errors import problem_responses
from app.observability import INFERENCE_SECONDS, PREDICTION_ERRORS, PREDICTIONS
from app.sentiment.inference import InferenceQueue, ModelBusyError
from app.sentiment.model import ModelUnavailableError, Prediction, SentimentModel
from app.sentiment.schemas import (
    BatchPredictionOut,
    BatchPredictRequest,
    ModelInfo,
    PredictionOut,
    PredictRequest,
)
from app.tracing import span

router = APIRouter(tags=["sentiment"])


async def loaded_model(request: Request) -> SentimentModel:
    """The model loaded at start-up, or 503 with the reason it is not there."""
    model: SentimentModel | None = request.app.state.model
    if model is None:
        PREDICTION_ERRORS.inc()
        raise ModelUnavailableError(request.app.state.model_error)
    return model


async def inference_queue(request: Request) -> InferenceQueue:
    """The inference thread and its bounded queue (started and stopped in the lifespan)."""
    queue: InferenceQueue = request.app.state.inference
    return queue


_BODY_ERRORS = problem_responses(400, 413, 422, ModelUnavailableError, ModelBusyError)


async def request_tracer(request: Request) -> Tracer | None:
    """The tracer for inference spans, None when tracing is off (app/tracing.py)."""
    tracer: Tracer | None = request.app.state.tracer
    return tracer


Model = Annotated[SentimentModel, Depends(loaded_model)]


def _predictions(
    model: SentimentModel, texts: Sequence[str], tracer: Tracer | None
) -> list[PredictionOut]:
    """Run the model on the texts in a span, time it and count the labels."""
    with span(
        tracer, "sentiment.inference", **{"model.version": model.version, "texts": len(texts)}
    ):
        started = time.perf_counter()
        predictions: list[Prediction] = model.predict_batch(texts)
        INFERENCE_SECONDS.observe(time.perf_counter() - started)
    for label, count in Counter(p.label for p in predictions).items():
        PREDICTIONS.labels(label=label).inc(count)
    return [
        PredictionOut(
            label=p.label,
            confidence=p.confidence,
            probabilities=p.probabilities,
            model_version=model.version,
        )
        for p in predictions
    ]


def _json(body: BaseModel) -> Response:
    return Response(body.model_dump_json(), media_type="application/json")


# `async def`: a short text costs tens of microseconds, less than a hop to a worker thread.
# Both POST routes parse their own bodies (app/bypasses.py): FastAPI's way costs more
# than a prediction.
async def predict(request: Request) -> Response:
    """Return the most probable label, its confidence and every class's probability."""
    body = validate_json_text(await read_json_text(request), PredictRequest)
    model = await loaded_model(request)
    tracer = await request_tracer(request)
    # A short text costs less than a hop to another thread; a long one (milliseconds) would
    # hold every other request, probes included, and waits for the inference thread instead.
    if len(body.text) <= (await app_settings(request)).predict_inline_chars:
        return _json(_predictions(model, [body.text], tracer)[0])
    queue = await inference_queue(request)
    return _json((await queue.run(_predictions, model, [body.text], tracer))[0])


async def predict_batch(request: Request) -> Response:
    """One prediction per text, in order (at most `PREDICT_BATCH_MAX` texts and
    `PREDICT_BATCH_MAX_CHARS` characters).

    Validated and run on the inference thread: a batch takes milliseconds, which on the event
    loop would hold every other request.
    """
    text = await read_json_text(request)
    model = await loaded_model(request)
    settings = await app_settings(request)
    queue = await inference_queue(request)
    answer = await queue.run(
        _answer_batch,
        model,
        text,
        settings.predict_batch_max,
        settings.predict_batch_max_chars,
        await request_tracer(request),
    )
    return _json(answer)


def _answer_batch(
    model: SentimentModel, text: str, limit: int, max_chars: int, tracer: Tracer | None
) -> BatchPredictionOut:
    body = validate_json_text(text, BatchPredictRequest)
    if len(body.texts) > limit:
        _refuse_texts(f"List should have at most {limit} items")
    if sum(map(len, body.texts)) > max_chars:
        _refuse_texts(f"The texts should have at most {max_chars} characters in all")
    predictions = _predictions(model, body.texts, tracer)
    return BatchPredictionOut(predictions=predictions, model_version=model.version)


def _refuse_texts(message: str) -> NoReturn:
    raise RequestValidationError([{"type": "too_long", "loc": ("body", "texts"), "msg": message}])


for path, endpoint, body_model, response_model, operation_id, summary in (
    ("/predict", predict, PredictRequest, PredictionOut, "predict", "Classify one text"),
    (
        "/predict/batch",
        predict_batch,
        BatchPredictRequest,
        BatchPredictionOut,
        "predict-batch",
        "Classify several texts at once",
    ),
):
    router.add_api_route(
        path,
        endpoint,
        methods=["POST"],
        route_class_override=RequestOnlyRoute,
        operation_id=operation_id,
        response_model=response_model,
        responses=_BODY_ERRORS,
        summary=summary,
        openapi_extra=request_body_openapi(body_model),
    )


@router.get(
    "/model/info",
    operation_id="model-info",
    response_model=ModelInfo,
    responses=problem_responses(ModelUnavailableError),
    summary="The loaded model",
)
async def model_info(model: Model) -> ModelInfo:
    """Name, version, classes, artifact sha256, scikit-learn version, training and evaluation,
    and which scorer serves it."""
    return ModelInfo.model_validate(model.info)
