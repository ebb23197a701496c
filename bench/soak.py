"""Soak test: sustained mixed load against the real server on a fresh PostgreSQL database.

`make soak` (or `python -m bench.soak`). Needs PostgreSQL (TEST_POSTGRES_URL, default the
local server, user postgres) and a trained model (models/sentiment.joblib).

One run: creates, migrates and seeds its own database; starts `python -m app.server` (one
worker, API keys on); drives it from this process (`--pin` puts each on its own core) with
64 keep-alive connections doing CRUD and predictions for a warm-up and then the
measured duration; samples the server's RSS; stops it with SIGTERM; checks the table holds
exactly the acknowledged writes; drops the database. It prints the figures and exits non-zero
if a bar fails: any transport error or unexpected status, any 5xx, RSS growth after warm-up
of 10% or more, a lost or phantom write, or an unclean exit.

The load generator is asyncio + httpx rather than wrk: each virtual user follows its own
items (create, read, conditional update, delete), which a wrk script cannot track, and every
answer is checked, not just counted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from app import PROJECT_ROOT
from bench.support import scratch_database

API_KEY = "soak-key-" + uuid.uuid4().hex
SEED_ITEMS = 500
MAX_RSS_GROWTH_PERCENT = 10.0
MAX_RSS_MB = 200.0  # one worker after start-up and warm-up (the pod's request follows it)
TEXTS = [
    "I love this lamp, it is bright and well made.",
    "Terrible quality, it broke after two days.",
    "It is fine, nothing special, does the job.",
    "Absolutely wonderful service and fast delivery!",
    "The worst purchase I have made this year.",
    "Good value for the price, would buy again.",
]
# What a virtual user does next, with weights (they sum to 100).
MIX = {
    "get": 25,
    "list": 10,
    "create": 15,
    "update": 10,
    "delete": 5,
    "predict": 25,
    "predict_batch": 10,
}


@dataclass
class Stats:
    """Everything the load generator saw."""

    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    latencies: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    conflicts: int = 0  # 412 on a conditional update another user won: expected, not an error
    created: set[int] = field(default_factory=set)
    deleted: set[int] = field(default_factory=set)

    @property
    def requests(self) -> int:
        """Requests answered with any status."""
        return sum(self.statuses.values())

    @property
    def server_errors(self) -> int:
        """Answers with a 5xx status."""
        return sum(n for (_, status), n in self.statuses.items() if status >= 500)


class VirtualUser:
    """One keep-alive connection's worth of traffic, following the items it created."""

    def __init__(
        self, http: httpx.AsyncClient, stats: Stats, seeded: list[int], rng: random.Random
    ):
        self.http = http
        self.stats = stats
        self.seeded = seeded
        self.rng = rng
        self.mine: list[int] = []
        self.writes = {"X-API-Key": API_KEY}

    async def step(self) -> None:
        """Do one weighted-random operation and check its answer."""
        operation = self.rng.choices(list(MIX), weights=list(MIX.values()))[0]
        if operation in {"update", "delete"} and not self.mine:
            operation = "create"
        action: Callable[[], Awaitable[tuple[httpx.Response, set[int]]]] = getattr(
            self, f"_{operation}"
        )
        started = time.perf_counter()
        try:
            response, expected = await action()
        except httpx.HTTPError as error:
            self.stats.errors.append(f"{operation}: {type(error).__name__}: {error}")
            return
        self.stats.latencies[operation].append(time.perf_counter() - started)
        self.stats.statuses[(operation, response.status_code)] += 1
        if response.status_code == 412 and operation == "update":
            self.stats.conflicts += 1
        elif response.status_code not in expected:
            self.stats.errors.append(f"{operation}: {response.status_code} {response.text[:200]}")

    async def _get(self) -> tuple[httpx.Response, set[int]]:
        pool = self.mine or self.seeded
        return await self.http.get(f"/items/{self.rng.choice(pool)}"), {200}

    async def _list(self) -> tuple[httpx.Response, set[int]]:
        offset = self.rng.randrange(SEED_ITEMS)
        return await self.http.get("/items", params={"limit": 20, "offset": offset}), {200}

    async def _create(self) -> tuple[httpx.Response, set[int]]:
        body = {"name": f"soak {uuid.uuid4().hex[:8]}", "price": f"{self.rng.randrange(10000)}.99"}
        response = await self.http.post("/items", json=body, headers=self.writes)
        if response.status_code == 201:
            item_id = int(response.json()["id"])
            self.mine.append(item_id)
            self.stats.created.add(item_id)
        return response, {201}

    async def _update(self) -> tuple[httpx.Response, set[int]]:
        # Half on the user's own items, half on shared seeded ones where others may race it.
        item_id = self.rng.choice(self.mine if self.rng.random() < 0.5 else self.seeded)
        current = await self.http.get(f"/items/{item_id}")
        if current.status_code != 200:
            return current, {200}
        headers = {**self.writes, "If-Match": current.headers["etag"]}
        price = f"{self.rng.randrange(10000)}.50"
        response = await self.http.patch(
            f"/items/{item_id}", json={"price": price}, headers=headers
        )
        return response, {200}

    async def _delete(self) -> tuple[httpx.Response, set[int]]:
        item_id = self.mine.pop(self.rng.randrange(len(self.mine)))
        response = await self.http.delete(f"/items/{item_id}", headers=self.writes)
        if response.status_code == 204:
            self.stats.deleted.add(item_id)
        return response, {204}

    async def _predict(self) -> tuple[httpx.Response, set[int]]:
        return await self.http.post("/predict", json={"text": self.rng.choice(TEXTS)}), {200}

    async def _predict_batch(self) -> tuple[httpx.Response, set[int]]:
        texts = self.rng.choices(TEXTS, k=16)
        return await self.http.post("/predict/batch", json={"texts": texts}), {200}


async def drive(
    base_url: str, connections: int, seconds: float, stats: Stats, seeded: list[int], seed: int
) -> None:
    """Run `connections` virtual users, each on its own keep-alive connection, for `seconds`."""
    deadline = time.monotonic() + seconds

    async def user(n: int) -> None:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as http:
            rng = random.Random(seed * 1000 + n)  # noqa: S311 - a reproducible load mix
            vu = VirtualUser(http, stats, seeded, rng)
            while time.monotonic() < deadline:
                await vu.step()

    await asyncio.gather(*(user(n) for n in range(connections)))


def rss_bytes(pid: int) -> int:
    """Resident set size of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed_items(url: str) -> list[int]:
    """Insert the shared items every virtual user reads and races to update."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        rows = [
            {"name": f"seed {n}", "description": "soak seed", "price": f"{n}.00"}
            for n in range(SEED_ITEMS)
        ]
        conn.execute(
            sa.text(
                "INSERT INTO items (name, description, price, version, created_at, updated_at)"
                " VALUES (:name, :description, CAST(:price AS numeric), 1, now(), now())"
            ),
            rows,
        )
        ids = list(conn.execute(sa.text("SELECT id FROM items ORDER BY id")).scalars())
    engine.dispose()
    return ids


def start_server(
    url: str, model: Path, log: Path, cpu: int | None
) -> tuple[subprocess.Popen[bytes], str]:
    """Start `python -m app.server` (one worker) and wait until it is ready."""
    port = free_port()
    env = {
        **os.environ,
        "APP_ENV": "production",
        "DATABASE_URL": url,
        "MODEL_PATH": str(model),
        "API_KEYS": API_KEY,
        "LOG_LEVEL": "WARNING",
    }
    env.pop("API_KEYS_FILE", None)
    command = [
        sys.executable, "-m", "app.server", "--host", "127.0.0.1", "--port", str(port),
        "--no-server-header", "--no-access-log", "--timeout-graceful-shutdown", "20",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    if cpu is not None:
        os.sched_setaffinity(process.pid, {cpu})
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}: {log.read_text()}")
        try:
            if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("server not ready within 60 s")


def stored_ids(url: str) -> set[int]:
    """Ids of every row in the items table."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        ids = set(conn.execute(sa.text("SELECT id FROM items")).scalars())
    engine.dispose()
    return ids


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) in milliseconds."""
    if len(values) < 2:
        return values[0] * 1000 if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] * 1000


def soak(args: argparse.Namespace) -> dict[str, Any]:
    """Run the whole soak and return its figures."""
    model = Path(args.model).resolve()
    if not model.exists():
        raise SystemExit(f"{model} not found: train it first (make model)")
    cpus = sorted(os.sched_getaffinity(0))
    pin = args.pin and len(cpus) > 1
    server_cpu, client_cpu = (cpus[0], cpus[1]) if pin else (None, None)

    log = Path(tempfile.mkdtemp(prefix="itemsense-soak-")) / "server.log"
    with scratch_database("itemsense_soak") as url:
        return _soak_on(url, args, model, log, server_cpu, client_cpu)


def _soak_on(
    url: str,
    args: argparse.Namespace,
    model: Path,
    log: Path,
    server_cpu: int | None,
    client_cpu: int | None,
) -> dict[str, Any]:
    process: subprocess.Popen[bytes] | None = None
    try:
        seeded = seed_items(url)
        process, base = start_server(url, model, log, server_cpu)
        if client_cpu is not None:
            os.sched_setaffinity(0, {client_cpu})
        stats = Stats()
        samples: list[tuple[float, int]] = []

        async def run() -> None:
            started = time.monotonic()
            total = args.warmup + args.duration

            async def sample_rss() -> None:
                assert process is not None
                while time.monotonic() - started < total:
                    samples.append((time.monotonic() - started, rss_bytes(process.pid)))
                    await asyncio.sleep(1)

            load = drive(base, args.connections, total, stats, seeded, args.seed)
            await asyncio.gather(load, sample_rss())

        t0, cpu0, own_cpu0 = time.monotonic(), cpu_seconds(process.pid), time.process_time()
        asyncio.run(run())
        elapsed = time.monotonic() - t0
        server_cpu_share = (cpu_seconds(process.pid) - cpu0) / elapsed * 100
        client_cpu_share = (time.process_time() - own_cpu0) / elapsed * 100
        rss_end = rss_bytes(process.pid)
        rss_warm = next(rss for t, rss in samples if t >= args.warmup)
        process.send_signal(signal.SIGTERM)
        exit_code = process.wait(timeout=30)

        stored = stored_ids(url)
        expected = (set(seeded) | stats.created) - stats.deleted
        lost = expected - stored  # acknowledged creates that are gone, or deletes undone
        phantom = stored - expected  # rows no acknowledged write explains
        # A deletion whose answer never arrived can leave no row although none was acknowledged.
        return {
            "connections": args.connections,
            "warmup_s": args.warmup,
            "duration_s": args.duration,
            "seconds": round(elapsed, 1),
            "requests": stats.requests,
            "requests_per_s": round(stats.requests / elapsed, 1),
            "errors": len(stats.errors),
            "error_samples": stats.errors[:5],
            "5xx": stats.server_errors,
            "conflicts_412": stats.conflicts,
            "statuses": {f"{op} {st}": n for (op, st), n in sorted(stats.statuses.items())},
            "latency_ms": {
                op: {"p50": round(percentile(v, 50), 1), "p99": round(percentile(v, 99), 1)}
                for op, v in sorted(stats.latencies.items())
            },
            "server_cpu_percent": round(server_cpu_share),
            "load_generator_cpu_percent": round(client_cpu_share),
            "rss_after_warmup_mb": round(rss_warm / 2**20, 1),
            "rss_end_mb": round(rss_end / 2**20, 1),
            "rss_growth_percent": round((rss_end - rss_warm) / rss_warm * 100, 2),
            "rss_samples_mb": [round(rss / 2**20, 1) for _, rss in samples],
            "items_created": len(stats.created),
            "items_deleted": len(stats.deleted),
            "lost_writes": len(lost),
            "phantom_rows": len(phantom),
            "exit_code": exit_code,
        }
    finally:
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()


def failures(figures: dict[str, Any]) -> list[str]:
    """The bars this run did not meet."""
    bars = [
        (figures["errors"] == 0, f"{figures['errors']} errors"),
        (figures["5xx"] == 0, f"{figures['5xx']} 5xx answers"),
        (
            figures["rss_after_warmup_mb"] <= MAX_RSS_MB,
            f"RSS after warm-up {figures['rss_after_warmup_mb']} MB (bar {MAX_RSS_MB:.0f} MB)",
        ),
        (
            figures["rss_growth_percent"] < MAX_RSS_GROWTH_PERCENT,
            f"RSS grew {figures['rss_growth_percent']}% after warm-up",
        ),
        (figures["lost_writes"] == 0, f"{figures['lost_writes']} acknowledged writes lost"),
        (figures["phantom_rows"] == 0, f"{figures['phantom_rows']} rows nobody wrote"),
        (figures["exit_code"] == 0, f"server exited with {figures['exit_code']}"),
    ]
    return [message for ok, message in bars if not ok]


def report(figures: dict[str, Any]) -> None:
    """Print the figures for a human."""
    print(
        f"soak: {figures['connections']} connections, {figures['warmup_s']} s warm-up + "
        f"{figures['duration_s']} s measured ({figures['seconds']} s in all)\n"
        f"  requests        {figures['requests']} ({figures['requests_per_s']}/s)\n"
        f"  errors          {figures['errors']}\n"
        f"  5xx             {figures['5xx']}\n"
        f"  412 conflicts   {figures['conflicts_412']} (conditional updates that lost a race)\n"
        f"  RSS             {figures['rss_after_warmup_mb']} MB after warm-up -> "
        f"{figures['rss_end_mb']} MB at end ({figures['rss_growth_percent']:+}%)\n"
        f"  writes          {figures['items_created']} created, {figures['items_deleted']} "
        f"deleted; lost {figures['lost_writes']}, phantom {figures['phantom_rows']}\n"
        f"  CPU             server {figures['server_cpu_percent']}% of a core, load generator "
        f"{figures['load_generator_cpu_percent']}%\n"
        f"  server exit     {figures['exit_code']}"
    )
    for operation, latency in figures["latency_ms"].items():
        print(f"  {operation:<14}  p50 {latency['p50']:7.1f} ms  p99 {latency['p99']:7.1f} ms")
    for sample in figures["error_samples"]:
        print(f"  error: {sample}")


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=float, default=60, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=15, help="seconds before the RSS baseline")
    parser.add_argument("--model", default=str(PROJECT_ROOT / "models" / "sentiment.joblib"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--pin",
        action="store_true",
        help="pin the server and the load generator to one core each (on an otherwise idle host)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    figures = soak(args)
    report(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    failed = failures(figures)
    for message in failed:
        print(f"FAIL: {message}")
    print("soak: FAIL" if failed else "soak: PASS")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
