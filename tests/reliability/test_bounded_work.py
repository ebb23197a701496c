"""No request within the documented limits can starve the probes or exhaust the pod's memory.

Both tests drive the real server process: the saturation test with wrk sending the longest
texts `/predict` accepts while this process measures the probes and item reads, the memory
test with the largest batch the limits accept, under an address-space limit.
"""

from __future__ import annotations

import json
import random
import re
import resource
import statistics
import string
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from app.config import Settings
from tests.reliability.support import Server, running_server, server_env
from tests.support import migrate, require_tool

LOAD_SECONDS = 8
LIVENESS_P99_BOUND = 0.100
ITEM_P99_BOUND = 0.250
MAX_TEXT_CHARS = 5000  # PredictRequest's documented maximum


@pytest.fixture
def pg_server(
    create_pg_database: Callable[[], str], model_path: Path, tmp_path: Path
) -> Iterator[Server]:
    """The server on a fresh migrated PostgreSQL database holding one item."""

    url = create_pg_database()
    migrate(url)
    with running_server(server_env(url, model_path), tmp_path / "server.log") as server:
        assert httpx.post(server.base_url + "/items", json={"name": "Lamp"}).status_code == 201
        yield server


def _review_text(length: int) -> str:
    sentence = "The battery lasts for days, but the screen is not bright enough at noon. "
    return (sentence * (length // len(sentence) + 1))[:length]


def _wrk(base_url: str, text: str, seconds: int, tmp: Path) -> str:
    script = tmp / "predict.lua"
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = {json.dumps(json.dumps({'text': text}))}\n"
    )
    wrk = require_tool("wrk", "make tools")
    command = [wrk, "-t1", "-c32", f"-d{seconds}s", "-s", str(script), base_url + "/predict"]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def _poll(url: str, every: float, stop: threading.Event, latencies: list[float]) -> None:
    with httpx.Client(timeout=10) as client:
        while not stop.is_set():
            started = time.monotonic()
            response = client.get(url)
            latencies.append(time.monotonic() - started)
            assert response.status_code == 200, response.text
            time.sleep(every)


def _p99(latencies: list[float]) -> float:
    return statistics.quantiles(latencies, n=100)[98]


def test_long_texts_at_saturation_leave_the_probes_and_item_reads_fast(
    pg_server: Server, tmp_path: Path
) -> None:
    stop = threading.Event()
    live: list[float] = []
    item: list[float] = []
    pollers = [
        threading.Thread(target=_poll, args=(pg_server.base_url + url, every, stop, samples))
        for url, every, samples in (("/health/live", 0.01, live), ("/items/1", 0.02, item))
    ]
    for poller in pollers:
        poller.start()
    try:
        report = _wrk(pg_server.base_url, _review_text(MAX_TEXT_CHARS), LOAD_SECONDS, tmp_path)
    finally:
        stop.set()
        for poller in pollers:
            poller.join(timeout=15)
    served = float(re.search(r"Requests/sec:\s+([\d.]+)", report).group(1))  # type: ignore[union-attr]
    print(
        f"\n{served:.0f} predictions/s; /health/live p99 {_p99(live) * 1000:.1f} ms "
        f"({len(live)} samples); GET /items/1 p99 {_p99(item) * 1000:.1f} ms ({len(item)})"
    )
    assert served > 20, report  # the model was busy the whole time
    assert len(live) > 100 and len(item) > 50
    assert _p99(live) <= LIVENESS_P99_BOUND
    assert _p99(item) <= ITEM_P99_BOUND
    # Overload, when there is any, is a quick 503 model-busy: nothing timed out.
    assert "Socket errors" not in report or "timeout 0" in report, report


def _random_texts(count: int, length: int) -> list[str]:
    """Random printable characters: the most distinct n-grams per character, the worst case."""
    alphabet = "".join(c for c in string.printable if c not in string.whitespace + '"\\')
    rng = random.Random(11)
    return ["".join(rng.choices(alphabet, k=length)) for _ in range(count)]


def _status_kib(server: Server, field: str) -> int:
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} not in /proc status")


def test_the_largest_accepted_batch_fits_in_a_tight_memory_limit_and_memory_returns(
    model_path: Path, tmp_path: Path
) -> None:
    defaults = Settings.model_fields
    max_chars = defaults["predict_batch_max_chars"].default
    env = server_env(f"sqlite:///{tmp_path / 'items.db'}", model_path)
    with running_server(env, tmp_path / "server.log") as server:
        url = server.base_url + "/predict/batch"
        assert httpx.post(url, json={"texts": ["warm up"] * 3}).status_code == 200
        baseline_kib = _status_kib(server, "VmRSS")
        # Whatever the process has mapped now, plus 128 MiB: a quarter of the pod's limit.
        ceiling = _status_kib(server, "VmSize") * 1024 + 128 * 1024 * 1024
        resource.prlimit(server.process.pid, resource.RLIMIT_AS, (ceiling, ceiling))
        worst = [
            _random_texts(max_chars // MAX_TEXT_CHARS, MAX_TEXT_CHARS),  # the longest texts
            _random_texts(defaults["predict_batch_max"].default, max_chars // 256),  # the most
        ]
        for texts in worst:
            answer = httpx.post(url, json={"texts": texts}, timeout=60)
            assert answer.status_code == 200, answer.text
            assert len(answer.json()["predictions"]) == len(texts)
        # One character more than the cap is refused before any model work.
        over = httpx.post(url, json={"texts": [*worst[0], "x"]}, timeout=60)
        assert over.status_code == 422 and "characters" in over.text
        assert server.process.poll() is None
        time.sleep(1)
        assert _status_kib(server, "VmRSS") - baseline_kib < 32 * 1024
