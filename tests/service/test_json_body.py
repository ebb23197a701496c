"""`/predict` parses its own body: errors must look exactly like FastAPI's on `/items`."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.testclient import TestClient

from app.json_body import RequestOnlyRoute

JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    ("body", "headers", "status", "error_type", "loc"),
    [
        (b"", JSON, 422, "missing", ["body"]),
        (b'{"text": "fine"}', {"content-type": "text/plain"}, 422, None, ["body"]),
        (b'{"text": ', JSON, 422, "json_invalid", ["body"]),
        (b'{"text": "a\\ud800b"}', JSON, 422, None, ["body"]),
        (b'{"text": ""}', JSON, 422, "string_too_short", ["body", "text"]),
        (b'{"text": "a\\u0000b"}', JSON, 422, "value_error", ["body", "text"]),
        (b'{"text": "x", "extra": 1}', JSON, 422, "extra_forbidden", ["body", "extra"]),
        (b'["fine"]', JSON, 422, "model_type", ["body"]),
        (b"{}", JSON, 422, "missing", ["body", "text"]),
    ],
)
def test_bad_predict_bodies_are_422_with_the_field(
    client: TestClient,
    body: bytes,
    headers: dict[str, str],
    status: int,
    error_type: str | None,
    loc: list[str],
) -> None:
    response = client.post("/predict", content=body, headers=headers)
    assert response.status_code == status
    error = response.json()["detail"][0]
    assert error["loc"] == loc
    if error_type is not None:
        assert error["type"] == error_type
    assert "input" not in error  # never echoed


def test_invalid_utf8_predict_body_is_400(client: TestClient) -> None:
    response = client.post("/predict", content=b'{"text": "\xff\xfe"}', headers=JSON)
    assert response.status_code == 400
    assert response.json() == {"detail": "There was an error parsing the body"}


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "APPLICATION/JSON", "application/x+json"]
)
def test_json_media_types_are_accepted(client: TestClient, content_type: str) -> None:
    response = client.post(
        "/predict", content=b'{"text": "I love it"}', headers={"content-type": content_type}
    )
    assert response.status_code == 200
    assert response.json()["label"] == "positive"


def test_predict_and_items_report_the_same_json_errors(client: TestClient) -> None:
    broken = {"content": b'{"name": ', "headers": JSON}
    items_error = client.post("/items", **broken).json()["detail"][0]  # type: ignore[arg-type]
    predict_error = client.post("/predict", content=b'{"text": ', headers=JSON).json()["detail"][0]
    assert items_error["type"] == predict_error["type"] == "json_invalid"
    assert items_error["loc"][0] == predict_error["loc"][0] == "body"


def test_openapi_documents_the_predict_body(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/predict"]["post"]
    body = operation["requestBody"]
    assert body["required"] is True
    schema = body["content"]["application/json"]["schema"]
    assert schema["required"] == ["text"]
    assert schema["properties"]["text"]["maxLength"] == 5000
    assert schema["additionalProperties"] is False


def test_request_only_route_refuses_endpoints_it_cannot_call() -> None:
    async def takes_a_body(text: str) -> Response:
        return Response(text)

    def not_async(request: Request) -> Response:
        return Response()

    async def fine(request: Request) -> Response:
        return Response("ok")

    for endpoint in (takes_a_body, not_async):
        router = APIRouter()
        with pytest.raises(TypeError, match="must be `async def"):
            router.add_api_route("/x", endpoint, route_class_override=RequestOnlyRoute)
    router = APIRouter()
    router.add_api_route("/x", fine, route_class_override=RequestOnlyRoute)
    app = FastAPI()
    app.include_router(router)
    assert TestClient(app).get("/x").text == "ok"


def test_openapi_documents_the_predict_validation_error(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    answer = document["paths"]["/predict"]["post"]["responses"]["422"]
    ref = answer["content"]["application/json"]["schema"]["$ref"]
    assert ref.split("/")[-1] in document["components"]["schemas"]
    assert document["paths"]["/predict"]["post"]["responses"]["200"]  # still generated
