"""HTTP benchmark: the service against a bare `async def` FastAPI app on the same uvicorn.

`make bench` (or `python -m bench.http`). Needs PostgreSQL (TEST_POSTGRES_URL, default the
local server) and wrk. One run: creates and seeds a database (10,000 items), starts both
servers with the same command and worker count pinned to one core, drives them with wrk
pinned to the other, alternating targets over several rounds, and prints requests/s,
p50/p99 and non-2xx per endpoint with the ratio to the bare handler (medians over rounds).
Ratios, not absolute numbers, are what compare across machines.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import sqlalchemy as sa

from app import PROJECT_ROOT
from app.sentiment.training.data import load_corpus
from bench.support import scratch_database

API_KEY = "bench-key"
SEED_ITEMS = 10_000
# Batches of 64 and 100 texts; the per-text cost bar is measured on batches of 100.
BATCH_SIZES = (64, 100)
BATCH_COST_BAR = 0.25  # per-text cost in a batch of 100 / cost of one /predict request
DRAIN_SECONDS = 1.0

# Review sentences from the project's corpus (fixed sample): /predict cycles through them
# and the batches send them, so single and batch predictions do the same per-text work.
REVIEW_SAMPLE_SEED = 7
_JSON_POST = 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'


def review_texts(count: int = max(BATCH_SIZES)) -> list[str]:
    """``count`` distinct corpus sentences, the same ones on every run."""
    corpus = load_corpus(PROJECT_ROOT / "data" / "sentiment")
    sampler = random.Random(REVIEW_SAMPLE_SEED)  # noqa: S311 - a fixed sample, not a secret
    return sampler.sample(sorted(set(corpus.texts)), count)


def _lua_string(value: str) -> str:
    """A Lua long-bracket string literal holding ``value`` verbatim."""
    level = 0
    while f"]{'=' * level}]" in value:
        level += 1
    return f"[{'=' * level}[{value}]{'=' * level}]"


def _predict_target(texts: list[str]) -> tuple[str, str | None, float | None]:
    bodies = ", ".join(_lua_string(json.dumps({"text": t})) for t in texts)
    return (
        "/predict",
        _JSON_POST + f"local bodies = {{{bodies}}}\nlocal i = 0\n"
        "request = function()\n  i = i % #bodies + 1\n"
        "  return wrk.format(nil, nil, nil, bodies[i])\nend\n",
        0.60,
    )


def _batch_target(texts: list[str]) -> tuple[str, str | None, float | None]:
    return (
        "/predict/batch",
        _JSON_POST + f"wrk.body = {_lua_string(json.dumps({'texts': texts}))}",
        None,
    )


_TEXTS = review_texts()
# name -> (method, path, wrk Lua script body or None, share of bare handler to reach)
BASELINE = "bare async def"
AGAINST = " [against]"  # sample key suffix for the --against server
LUA_RANDOM = "math.randomseed(os.time())\n"
TARGETS: dict[str, tuple[str, str | None, float | None]] = {
    "bare async def": ("/", None, None),
    "GET /health/live": ("/health/live", None, 0.80),
    "GET /items/{id}": (
        "/",
        LUA_RANDOM
        + f'request = function() return wrk.format("GET", "/items/" .. math.random(1, {SEED_ITEMS})) end',
        0.25,
    ),
    "GET /items?limit=20": ("/items?limit=20", None, 0.15),
    "POST /items": (
        "/items",
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["X-API-Key"] = "{API_KEY}"\n'
        'wrk.body = \'{"name": "bench item", "description": "load", "price": "9.99"}\'',
        0.12,
    ),
    "PATCH /items/{id}": (
        "/",
        LUA_RANDOM
        + 'wrk.headers["Content-Type"] = "application/json"\n'
        + f'wrk.headers["X-API-Key"] = "{API_KEY}"\n'
        + f'request = function() return wrk.format("PATCH", "/items/" .. math.random(1, {SEED_ITEMS}), '
        + 'nil, \'{"price": "12.50"}\') end',
        0.10,
    ),
    "POST /predict": _predict_target(_TEXTS),
    **{f"POST /predict/batch ({size})": _batch_target(_TEXTS[:size]) for size in BATCH_SIZES},
}


@dataclass
class Sample:
    """One wrk run."""

    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int


def free_port() -> int:
    """An unused TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def parse_wrk(output: str) -> Sample:
    """Pull requests/s, p50, p99, non-2xx and socket errors out of `wrk --latency`."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    non_2xx_match = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors_match = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    errors = sum(int(n) for n in errors_match.groups()) if errors_match else 0
    return Sample(rps, p50, p99, int(non_2xx_match.group(1)) if non_2xx_match else 0, errors)


def seed(database_url: str) -> None:
    """Insert SEED_ITEMS items into the migrated database."""
    now = datetime.now(UTC)
    rows = [
        {"name": f"item {n}", "description": "seeded", "created_at": now, "updated_at": now}
        for n in range(SEED_ITEMS)
    ]
    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO items (name, description, created_at, updated_at) "
                "VALUES (:name, :description, :created_at, :updated_at)"
            ),
            rows,
        )
        conn.execute(sa.text("ANALYZE items"))
    engine.dispose()


class _DiscardingHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Silent."""


def otlp_sink() -> http.server.ThreadingHTTPServer:
    """An OTLP/HTTP endpoint on loopback that accepts and discards every export."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _DiscardingHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def start_server(
    command: list[str], env: dict[str, str], cpu: str, log: Path, cwd: Path = PROJECT_ROOT
) -> subprocess.Popen[bytes]:
    """Start a server pinned to `cpu` (from the code in `cwd`)."""
    taskset = ["taskset", "-c", cpu] if shutil.which("taskset") else []
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*taskset, *command], cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    return process


def wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    """Poll `url` until it answers 200."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} not ready")


def run_wrk(
    base: str, path: str, lua: str | None, seconds: int, connections: int, cpu: str, tmp: Path
) -> Sample:
    """One wrk run pinned to `cpu`."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    if lua is not None:
        script = tmp / f"{uuid.uuid4().hex}.lua"
        script.write_text(lua)
        command += ["-s", str(script)]
    taskset = ["taskset", "-c", cpu] if shutil.which("taskset") else []
    result = subprocess.run(
        [*taskset, *command, base + path], capture_output=True, text=True, check=True
    )
    return parse_wrk(result.stdout)


def main() -> int:
    """Run the benchmark and print the table; exit 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=5, help="duration of each wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--server-cpus", default="0", help="taskset list for both servers")
    parser.add_argument("--load-cpus", default="1", help="taskset list for wrk")
    parser.add_argument(
        "--only", default="", help="regex: measure only matching endpoints (and the baseline)"
    )
    parser.add_argument(
        "--tracing",
        action="store_true",
        help="the service exports its traces over OTLP to a local sink (compare with "
        "--against the same checkout, which keeps tracing off)",
    )
    parser.add_argument(
        "--against",
        type=Path,
        help="another checkout of the project: its service is measured in the same rounds, "
        "and each endpoint's requests/s is compared with it (A/B of a change)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: `make tools` (Debian package wrk)")
    server_cpu, load_cpu = args.server_cpus, args.load_cpus
    if (os.cpu_count() or 1) < 2:
        server_cpu = load_cpu = "0"

    processes: list[subprocess.Popen[bytes]] = []
    with scratch_database("itemsense_bench") as database_url:
        try:
            seed(database_url)
            with tempfile.TemporaryDirectory() as tmp_dir:
                tmp = Path(tmp_dir)
                samples = _run_rounds(args, database_url, server_cpu, load_cpu, tmp, processes)
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=30)
    return _report(samples, args)


def _run_rounds(
    args: argparse.Namespace,
    database_url: str,
    server_cpu: str,
    load_cpu: str,
    tmp: Path,
    processes: list[subprocess.Popen[bytes]],
) -> dict[str, list[Sample]]:
    model = PROJECT_ROOT / "models" / "sentiment.joblib"
    flags = [
        "--host",
        "127.0.0.1",
        "--workers",
        str(args.workers),
        "--no-server-header",
        "--timeout-graceful-shutdown",
        "20",
    ]
    service_port, bare_port = free_port(), free_port()
    service_env = {
        **os.environ,
        "APP_ENV": "production",
        "API_KEYS": API_KEY,
        "DATABASE_URL": database_url,
        "MODEL_PATH": str(model),
        "LOG_LEVEL": "INFO",
    }
    command = [sys.executable, "-m", "app.server", *flags]
    traced_env = dict(service_env)
    if args.tracing:
        sink = otlp_sink()
        traced_env["OTEL_TRACES_EXPORTER"] = "otlp"
        traced_env["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{sink.server_port}"
    service = start_server(
        [*command, "--port", str(service_port)], traced_env, server_cpu, tmp / "service.log"
    )
    processes.append(service)
    bare = start_server(
        [sys.executable, "-m", "uvicorn", "bench.bare_app:app", "--port", str(bare_port), *flags],
        dict(os.environ),
        server_cpu,
        tmp / "bare.log",
    )
    processes.append(bare)
    service_base, bare_base = f"http://127.0.0.1:{service_port}", f"http://127.0.0.1:{bare_port}"
    bases = {BASELINE: bare_base}
    wait_ready(service_base + "/health/ready", service)
    wait_ready(bare_base + "/", bare)
    targets = selected_targets(args.only)
    measured: dict[str, tuple[str, str, str | None]] = {}
    for name, (path, lua, _) in targets.items():
        measured[name] = (name, path, lua)
        if args.against is not None and name != BASELINE:
            measured[name + AGAINST] = (name, path, lua)  # right after its twin
    if args.against is not None:
        against_port = free_port()
        against = start_server(
            [*command, "--port", str(against_port)],
            service_env,
            server_cpu,
            tmp / "against.log",
            cwd=args.against.resolve(),
        )
        processes.append(against)
        wait_ready(f"http://127.0.0.1:{against_port}/health/ready", against)
        for key in measured:
            if key.endswith(AGAINST):
                bases[key] = f"http://127.0.0.1:{against_port}"
    # Warm every server (connections, caches, the allocator) before measuring.
    for key, (_, path, lua) in measured.items():
        run_wrk(bases.get(key, service_base), path, lua, 1, args.connections, load_cpu, tmp)
        time.sleep(DRAIN_SECONDS)
    samples: dict[str, list[Sample]] = {key: [] for key in measured}
    for round_number in range(1, args.rounds + 1):
        print(f"round {round_number}/{args.rounds}", file=sys.stderr, flush=True)
        # Every other round in reverse, so neither of two twins is always measured first.
        order = list(measured.items())
        for key, (_, path, lua) in order if round_number % 2 else order[::-1]:
            base = bases.get(key, service_base)
            samples[key].append(
                run_wrk(base, path, lua, args.seconds, args.connections, load_cpu, tmp)
            )
            # The servers share a core: let the one just measured finish the requests
            # wrk left in flight before the next is measured.
            time.sleep(DRAIN_SECONDS)
    return samples


def selected_targets(pattern: str) -> dict[str, tuple[str, str | None, float | None]]:
    """The baseline plus every target whose name matches `pattern` (all when empty)."""
    return {
        name: target
        for name, target in TARGETS.items()
        if name == BASELINE or re.search(pattern, name)
    }


def _report(samples: dict[str, list[Sample]], args: argparse.Namespace) -> int:
    def median(name: str, field: str) -> float:
        return statistics.median(getattr(s, field) for s in samples[name])

    bare_rps = median(BASELINE, "rps")
    print(
        f"\n{args.workers} worker(s), {args.connections} connections, {args.rounds} rounds x "
        f"{args.seconds} s, medians; ratio = requests/s over the bare async def handler's\n"
    )
    header = f"{'endpoint':<26}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'p99/p50':>9}"
    print(header + f"{'non-2xx':>9}{'ratio':>8}{'target':>8}  ok")
    failures = 0
    for name in (key for key in samples if not key.endswith(AGAINST)):
        target = TARGETS[name][2]
        rps, p50, p99 = median(name, "rps"), median(name, "p50_ms"), median(name, "p99_ms")
        bad = sum(s.non_2xx + s.socket_errors for s in samples[name])
        ratio = rps / bare_rps
        ok = bad == 0 and p99 <= 5 * p50 and (target is None or ratio >= target)
        failures += 0 if ok else 1
        size = _batch_size(name)
        extra = f"  ({rps * size:,.0f} texts/s)" if size else ""
        print(
            f"{name:<26}{rps:>9.0f}{p50:>9.2f}{p99:>9.2f}{p99 / p50:>9.1f}{bad:>9}{ratio:>8.2f}"
            f"{target if target is not None else '-':>8}  {'yes' if ok else 'NO'}{extra}"
        )
    failures += _report_batch_cost(samples, median)
    _report_against(samples, median, args.against)
    return 1 if failures else 0


def _report_against(
    samples: dict[str, list[Sample]], median: Callable[[str, str], float], against: Path | None
) -> None:
    """Each endpoint's requests/s here over the other checkout's, measured in the same rounds."""
    if against is None:
        return
    print(f"\nthis tree against {against} (requests/s, same rounds):")
    for key in samples:
        if key.endswith(AGAINST):
            name = key.removesuffix(AGAINST)
            this, other = median(name, "rps"), median(key, "rps")
            print(f"  {name:<26}{this:>9.0f}{other:>9.0f}   this / other {this / other:.3f}")


def _batch_size(name: str) -> int:
    match = re.fullmatch(r"POST /predict/batch \((\d+)\)", name)
    return int(match.group(1)) if match else 0


def _report_batch_cost(
    samples: dict[str, list[Sample]], median: Callable[[str, str], float]
) -> int:
    """Per-text server time in a batch of 100 over one /predict's, against its bar."""
    batch = f"POST /predict/batch ({max(BATCH_SIZES)})"
    if batch not in samples or "POST /predict" not in samples:
        return 0
    ratio = median("POST /predict", "rps") / (median(batch, "rps") * max(BATCH_SIZES))
    ok = ratio <= BATCH_COST_BAR
    print(
        f"\nbatch per-text cost / single /predict cost: {ratio:.3f} "
        f"(bar {BATCH_COST_BAR}, batches of {max(BATCH_SIZES)})  {'yes' if ok else 'NO'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
