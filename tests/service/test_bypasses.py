"""Each bypass of app/bypasses.py against the ordinary way it replaces: the same answers, the
same OpenAPI, the same metrics. They fail when a library changes what a bypass relies on.
"""

from __future__ import annotations

import pathlib
import select
import socket
from collections import Counter
from collections.abc import Iterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Path, Request, Response
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from starlette_exporter import PrometheusMiddleware, handle_metrics

from app.bypasses import (
    MAX_HEADER_BYTES,
    HttpMetricsMiddleware,
    RequestOnlyRoute,
    add_routes,
    read_json_text,
    request_body_openapi,
    validate_json_text,
)
from app.errors import install_error_handlers, problem_responses
from app.sentiment.schemas import PredictRequest
from tests.reliability.support import Server, running_server, server_env

JSON = {"content-type": "application/json"}


def _app() -> FastAPI:
    """One route declared the ordinary way and one parsing its own body, same model."""
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/ordinary", responses=problem_responses(422))
    async def ordinary(body: PredictRequest) -> dict[str, str]:
        return {"text": body.text}

    async def own_parsing(request: Request) -> Response:
        body = validate_json_text(await read_json_text(request), PredictRequest)
        return Response(body.model_dump_json(), media_type="application/json")

    router = APIRouter()
    router.add_api_route(
        "/own",
        own_parsing,
        methods=["POST"],
        route_class_override=RequestOnlyRoute,
        responses=problem_responses(422),
        openapi_extra=request_body_openapi(PredictRequest),
    )
    app.include_router(router)
    return app


@pytest.fixture(scope="module")
def twin() -> TestClient:
    return TestClient(_app())


BODIES: list[tuple[bytes, dict[str, str]]] = [
    (b"", JSON),
    (b'{"text": "fine"}', {"content-type": "text/plain"}),
    (b'{"text": "fine"}', {}),
    (b'{"text": ', JSON),
    (b'{"text": "a\\ud800b"}', JSON),
    (b'{"text": ""}', JSON),
    (b'{"text": "a\\u0000b"}', JSON),
    (b'{"text": "x", "extra": 1}', JSON),
    (b'["fine"]', JSON),
    (b"{}", JSON),
    (b'{"text": 3}', JSON),
    (b'{"text": "\xff\xfe"}', JSON),
    (b"[" * 100_000 + b"]" * 100_000, JSON),
    (b'{"text": "fine"}', {"content-type": "application/json; charset=utf-8"}),
    (b'{"text": "fine"}', {"content-type": "application/x+json"}),
]


def _shape(response: Any) -> tuple[Any, ...]:
    """Everything but the human-readable messages."""
    if response.status_code < 400:
        return response.status_code, response.json()
    body = response.json()
    errors = [(e["type"], tuple(e["loc"])) for e in body.get("errors", [])]
    return response.status_code, response.headers["content-type"], body["type"], errors


@pytest.mark.parametrize(("content", "headers"), BODIES)
def test_answers_equal_fastapis_ordinary_body_handling(
    twin: TestClient, content: bytes, headers: dict[str, str]
) -> None:
    ordinary = twin.post("/ordinary", content=content, headers=headers)
    own = twin.post("/own", content=content, headers=headers)
    assert _shape(own) == _shape(ordinary)
    assert all("input" not in error for error in own.json().get("errors", []))  # never echoed


def test_openapi_describes_the_body_as_fastapi_does(twin: TestClient) -> None:
    document = twin.get("/openapi.json").json()
    schemas = document["components"]["schemas"]

    def body_schema(path: str) -> dict[str, Any]:
        body = document["paths"][path]["post"]["requestBody"]
        assert body["required"] is True
        schema: dict[str, Any] = body["content"]["application/json"]["schema"]
        return schemas[schema["$ref"].split("/")[-1]] if "$ref" in schema else schema

    assert body_schema("/own") == body_schema("/ordinary")
    for path in ("/own", "/ordinary"):
        responses = document["paths"][path]["post"]["responses"]
        assert set(responses) == {"200", "422"}


def test_request_only_route_refuses_endpoints_it_cannot_call() -> None:
    async def takes_a_body(text: str) -> Response:
        return Response(text)

    def not_async(request: Request) -> Response:
        return Response()

    for endpoint in (takes_a_body, not_async):
        with pytest.raises(TypeError, match="must be `async def"):
            APIRouter().add_api_route("/x", endpoint, route_class_override=RequestOnlyRoute)


def _metrics_app(middleware: str) -> FastAPI:
    """A small app with the library's middleware or ours, and the routes kinds we serve."""
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/things/{thing_id}")
    async def thing(thing_id: int) -> dict[str, int]:
        if thing_id == 0:
            raise HTTPException(404, "no such thing")
        return {"id": thing_id}

    @app.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    app.add_route("/metrics", handle_metrics, include_in_schema=False)
    quiet = frozenset({"/health/live", "/metrics"})
    if middleware == "library":
        app.add_middleware(
            PrometheusMiddleware,
            app_name="itemsense",
            group_paths=True,
            filter_unhandled_paths=True,
            skip_paths=sorted(quiet),
        )
    else:
        app.add_middleware(HttpMetricsMiddleware, app_name="itemsense", skip_paths=quiet)
    return app


def _http_samples(client: TestClient) -> Counter[tuple[str, tuple[tuple[str, str], ...]]]:
    """Every starlette_* sample (name and labels) with its value."""
    found: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name.startswith("starlette_") and not sample.name.endswith("_bucket"):
                key = (sample.name, tuple(sorted(sample.labels.items())))
                found[key] += 0 if sample.name.endswith("_sum") else sample.value
    return found


def test_http_metrics_are_the_librarys_names_labels_and_counts() -> None:
    """The same requests through the library's middleware and through ours add the same
    samples (the metric objects are shared, so each app's requests are counted in turn)."""
    added = {}
    for middleware in ("library", "ours"):
        client = TestClient(_metrics_app(middleware))
        before = _http_samples(client)
        for path in ("/things/7", "/things/7", "/things/0", "/openapi.json", "/nowhere"):
            client.get(path)
        client.get("/health/live")
        added[middleware] = _http_samples(client) - before
    assert added["ours"] == added["library"]
    paths = {dict(labels).get("path") for _, labels in added["ours"]}
    assert paths == {"/things/{thing_id}", "/openapi.json"}  # no raw paths, no probes
    statuses = {dict(labels).get("status_code") for _, labels in added["ours"]}
    assert statuses >= {"200", "404"}


async def _token(x_token: Annotated[str | None, Header()] = None) -> str | None:
    return x_token


ThingId = Annotated[int, Path(ge=1)]
Token = Annotated[str | None, Depends(_token)]


def _things_router(dependencies: list[Any] | None = None) -> APIRouter:
    router = APIRouter(prefix="/things", tags=["things"], dependencies=dependencies or [])

    @router.get("/{thing_id}", operation_id="things-get", responses=problem_responses(422))
    def get_thing(thing_id: ThingId, token: Token) -> dict[str, Any]:
        if thing_id == 404:
            raise HTTPException(404, "no such thing")
        return {"id": thing_id, "token": token}

    @router.post("", status_code=201, operation_id="things-create")
    def create_thing(body: PredictRequest) -> dict[str, str]:
        return {"text": body.text}

    return router


def _routes_app(add: bool) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    if add:
        add_routes(app, _things_router())
    else:
        app.include_router(_things_router())
    return app


def test_added_routes_answer_and_document_as_included_ones() -> None:
    added, included = TestClient(_routes_app(True)), TestClient(_routes_app(False))
    assert added.get("/openapi.json").json() == included.get("/openapi.json").json()
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/things/7", {"headers": {"x-token": "t"}}),
        ("GET", "/things/0", {}),
        ("GET", "/things/x", {}),
        ("GET", "/things/404", {}),
        ("GET", "/things", {}),
        ("DELETE", "/things/7", {}),
        ("POST", "/things", {"json": {"text": "hi"}}),
        ("POST", "/things", {"json": {}}),
        ("GET", "/elsewhere", {}),
        ("GET", "/docs", {}),
    ]
    for method, url, options in requests:
        one, other = added.request(method, url, **options), included.request(method, url, **options)
        assert (one.status_code, one.content) == (other.status_code, other.content), (method, url)
        assert {**one.headers, "allow": ""} == {**other.headers, "allow": ""}, (method, url)
    # A 405 names the allowed methods (an included router's 405 leaves `Allow` empty).
    assert added.get("/things").headers["allow"] == "POST"
    # The route a request matched is in the scope, where the metrics middleware reads it.
    seen: list[str] = []
    app = _routes_app(True)

    @app.middleware("http")
    async def record_route(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        seen.append(request.scope["route"].path)
        return response

    TestClient(app).get("/things/3")
    assert seen == ["/things/{thing_id}"]


def test_add_routes_refuses_routers_with_their_own_dependencies() -> None:
    with pytest.raises(ValueError, match="router-level"):
        add_routes(FastAPI(), _things_router(dependencies=[Depends(lambda: None)]))


# --- HeaderLimitedHttpTools: uvicorn's httptools protocol with a header size limit ---------


@pytest.fixture(scope="module")
def real_server(
    tmp_path_factory: pytest.TempPathFactory, model_path: pathlib.Path
) -> Iterator[Server]:
    """`python -m app.server` on an SQLite file: the protocol is the one production runs."""
    tmp = tmp_path_factory.mktemp("protocol")
    env = server_env(f"sqlite:///{tmp / 'items.db'}", model_path)
    with running_server(env, tmp / "server.log") as server:
        yield server


def _open(server: Server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def _read_until_closed(sock: socket.socket) -> bytes:
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    return answer


def _send_endless_header(server: Server) -> tuple[bytes, int]:
    """A header that never ends, sent in pieces as a slow client would, until the server
    answers; returns the answer and the bytes sent."""
    with _open(server) as sock:
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: test\r\nX-Filler: ")
        sent = 0
        while sent < 8 * 1024 * 1024:
            if select.select([sock], [], [], 0.005)[0]:
                break
            sock.sendall(b"x" * 4096)
            sent += 4096
        return _read_until_closed(sock), sent


def test_a_header_that_never_ends_is_refused_with_400_and_the_connection_closed(
    real_server: Server,
) -> None:
    rss_before = _rss_bytes(real_server)
    for _ in range(10):
        answer, sent = _send_endless_header(real_server)
        assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
        assert f"Request headers over {MAX_HEADER_BYTES} bytes".encode() in answer
        assert sent < 8 * 1024 * 1024  # refused long before the client gave up
    # Ten such clients used to cost hundreds of megabytes; now a few reads each at most.
    assert _rss_bytes(real_server) - rss_before < 32 * 1024 * 1024
    assert httpx.get(real_server.base_url + "/health/live").status_code == 200


def test_headers_within_the_limit_bodies_and_keep_alive_requests_are_served(
    real_server: Server,
) -> None:
    big_header = {"X-Filler": "x" * (MAX_HEADER_BYTES // 2)}
    with httpx.Client(base_url=real_server.base_url) as client:
        # One connection, many requests: the count starts again with each request.
        for _ in range(6):
            assert client.get("/health/live", headers=big_header).status_code == 200
        # A body is not a header: a large one is judged by the body limit, not this one.
        texts = ["word " * 150] * 1200  # about 900 KB
        batch = client.post("/predict/batch", json={"texts": texts})
        assert batch.status_code == 422 and "texts" in batch.text


def _rss_bytes(server: Server) -> int:
    status = pathlib.Path(f"/proc/{server.process.pid}/status").read_text()
    kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(kib) * 1024
