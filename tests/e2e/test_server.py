"""End to end: the real uvicorn process on PostgreSQL, over HTTP, then SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import ROOT, migrate


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_ready(base: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited early with {process.returncode}")
        try:
            if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("server not ready in time")


@pytest.fixture
def server(
    create_pg_database: Callable[[], str], model_path: Path, tmp_path: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    database_url = create_pg_database()
    migrate(database_url)
    port = free_port()
    log_path = tmp_path / "server.log"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "MODEL_PATH": str(model_path),
        "APP_ENV": "production",
        "API_KEYS": "e2e-key",
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app.server",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-server-header",
                "--timeout-graceful-shutdown",
                "10",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base, process)
        yield base, process, log_path
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_real_server_serves_measures_and_stops_cleanly(
    server: tuple[str, subprocess.Popen[bytes], Path],
) -> None:
    base, process, log_path = server
    key = {"X-API-Key": "e2e-key"}
    with httpx.Client(base_url=base, timeout=5) as http:
        assert http.get("/health").json()["checks"] == {"database": "ok", "model": "ok"}
        assert http.post("/items", json={"name": "no key"}).status_code == 401
        created = http.post("/items", json={"name": "Lamp", "price": "9.90"}, headers=key)
        assert created.status_code == 201
        item_url = created.headers["location"]
        assert http.get(item_url).json()["price"] == "9.90"
        patched = http.patch(
            item_url, json={"price": "8.00"}, headers={**key, "If-Match": created.headers["etag"]}
        )
        assert patched.status_code == 200
        assert http.get("/items").json()["total"] == 1
        prediction = http.post("/predict", json={"text": "What a great lamp"}).json()
        assert prediction["label"] in prediction["probabilities"]
        metrics = http.get("/metrics").text
        assert 'path="/items/{item_id}"' in metrics
        assert "itemsense_predictions_total" in metrics
        assert 'itemsense_items_written_total{operation="create"} 1.0' in metrics
        assert "server" not in http.get("/").headers
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0
    log = log_path.read_text()
    lines = [line for line in log.splitlines() if line.strip()]
    assert all(line.startswith("{") for line in lines), log  # uvicorn's lines are JSON too
    assert '"message": "itemsense stopped"' in log
