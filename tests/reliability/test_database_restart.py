"""PostgreSQL dies and comes back in the middle of write load against the real server.

What must hold: while the database is down every write gets a quick 503 (never a 500, never
a hang past the configured timeouts); once it is back the same process serves 2xx again
within seconds; every acknowledged write is stored, and every stored row is one whole write.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from tests.reliability.support import (
    Outcome,
    PostgresCluster,
    WriteLoad,
    blackhole,
    running_server,
    server_env,
)
from tests.support import DATABASE_UNAVAILABLE

CONNECT_TIMEOUT = 1  # DB_CONNECT_TIMEOUT, seconds
POOL_TIMEOUT = 1  # DB_POOL_TIMEOUT, seconds
# Longest a request may take while the database is down: both timeouts plus scheduling slack
# on a busy 2-core machine. A request that waited on a dead socket would take far longer.
NO_HANG_BOUND = CONNECT_TIMEOUT + POOL_TIMEOUT + 3
UNAVAILABLE = DATABASE_UNAVAILABLE


def stored_items(url: str) -> dict[str, dict[str, Any]]:
    """Every row of the items table, by name."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM items")).mappings().all()
    engine.dispose()
    return {row["name"]: dict(row) for row in rows}


def same_write(row: dict[str, Any], payload: dict[str, Any]) -> bool:
    """True when a stored row holds exactly the fields one write sent."""
    return bool(
        row["description"] == payload["description"]
        and row["price"] == Decimal(payload["price"])
        and row["version"] == 1
    )


def check_durability(url: str, outcomes: list[Outcome]) -> tuple[int, int]:
    """Assert every acknowledged write is stored whole and every row is one whole write.

    Returns (acknowledged writes, failed writes that were committed anyway).
    """
    stored = stored_items(url)
    attempts = {o.payload["name"]: o for o in outcomes}
    acknowledged = [o for o in outcomes if o.status == 201]
    lost = [o for o in acknowledged if o.payload["name"] not in stored]
    assert not lost, f"{len(lost)} acknowledged writes are missing"
    for outcome in acknowledged:
        row = stored[outcome.payload["name"]]
        assert row["id"] == outcome.body["id"] and same_write(row, outcome.payload)
    # A write that failed may have committed just before the crash (its answer was lost):
    # it must then be whole, never part of a row.
    assert set(stored) <= set(attempts), "rows that no client wrote"
    torn = [name for name, row in stored.items() if not same_write(row, attempts[name].payload)]
    assert not torn, torn
    failed_but_stored = sum(1 for o in outcomes if o.status != 201 and o.payload["name"] in stored)
    return len(acknowledged), failed_but_stored


def during(outcomes: list[Outcome], start: float, end: float) -> list[Outcome]:
    """Requests sent and answered entirely inside [start, end]."""
    return [o for o in outcomes if o.started >= start and o.ended <= end]


def test_postgres_restart_under_write_load(
    pg_cluster: PostgresCluster,
    model_path: Path,
    tmp_path: Path,
    record_property: Callable[[str, object], None],
) -> None:
    url = pg_cluster.url("itemsense")
    env = server_env(
        url,
        model_path,
        db_connect_timeout=str(CONNECT_TIMEOUT),
        db_pool_timeout=str(POOL_TIMEOUT),
        db_statement_timeout_ms="2000",
        log_level="WARNING",
    )
    with running_server(env, tmp_path / "server.log") as server:
        load = WriteLoad(server.base_url, threads=4)
        load.start()
        assert load.wait_for(lambda o: o.status == 201, timeout=15), "no write succeeded"
        time.sleep(1)

        pg_cluster.stop("immediate")  # a crash: no shutdown checkpoint, sockets cut
        down_at = time.monotonic()
        time.sleep(3)
        health_down = httpx.get(f"{server.base_url}/health", timeout=10)
        readiness_down = httpx.get(f"{server.base_url}/health/ready", timeout=10)
        restart_at = time.monotonic()
        pg_cluster.start()
        up_at = time.monotonic()

        first_ok = load.wait_for(lambda o: o.status == 201 and o.started >= up_at, timeout=30)
        time.sleep(1)
        load.stop()
        readiness_up = httpx.get(f"{server.base_url}/health/ready", timeout=10)
        assert server.process.poll() is None, "the server died instead of riding it out"
        log = server.log()

    outcomes = load.snapshot()
    statuses = {o.status for o in outcomes}
    assert statuses <= {201, 503}, [o for o in outcomes if o.status not in {201, 503}][:3]
    assert "unhandled error" not in log

    while_down = during(outcomes, down_at, restart_at)
    assert while_down, "no request was answered while PostgreSQL was down"
    assert {o.status for o in while_down} == {503}
    failures = [o for o in outcomes if o.status == 503]
    assert all(o.body == UNAVAILABLE and o.headers.get("retry-after") for o in failures)
    worst_down = max(o.latency for o in while_down)
    assert worst_down < NO_HANG_BOUND, f"a request hung {worst_down:.1f} s while the DB was down"
    assert health_down.status_code == 503
    assert health_down.json()["checks"]["database"] != "ok"
    # Readiness stays 200: the instance still serves /predict and clear 503s.
    assert readiness_down.status_code == 200

    assert first_ok is not None, "the service did not recover after PostgreSQL came back"
    recovery = first_ok.ended - up_at
    after = [o for o in outcomes if o.started >= first_ok.ended]
    assert after and {o.status for o in after} == {201}, "errors after recovery"
    assert readiness_up.status_code == 200

    acknowledged, committed_but_failed = check_durability(url, outcomes)

    figures = {
        "writes": len(outcomes),
        "acknowledged": acknowledged,
        "503": len(failures),
        "503_while_down": len(while_down),
        "max_latency_while_down_s": round(worst_down, 3),
        "recovery_s": round(recovery, 3),
        "lost_writes": 0,  # check_durability asserted it
        "failed_but_committed": committed_but_failed,
        "outage_s": round(up_at - down_at, 2),
    }
    for key, value in figures.items():
        record_property(key, value)
    print("postgres restart:", figures)


def test_hung_postgres_costs_at_most_the_connect_timeout(
    pg_cluster: PostgresCluster,
    model_path: Path,
    tmp_path: Path,
    record_property: Callable[[str, object], None],
) -> None:
    # Worse than a refused connection: the port accepts TCP and then never answers (a hung
    # server, or a load balancer in front of a dead one). Only DB_CONNECT_TIMEOUT frees the
    # request; without it each write would hang and pile up in the worker threads.
    url = pg_cluster.url("itemsense")
    env = server_env(
        url,
        model_path,
        db_connect_timeout=str(CONNECT_TIMEOUT),
        db_pool_timeout=str(POOL_TIMEOUT),
        log_level="WARNING",
    )
    with running_server(env, tmp_path / "server.log") as server:
        load = WriteLoad(server.base_url, threads=4)
        load.start()
        assert load.wait_for(lambda o: o.status == 201, timeout=15), "no write succeeded"
        pg_cluster.stop("fast")
        with blackhole(pg_cluster.port):
            hung_at = time.monotonic()
            time.sleep(5)
            health = httpx.get(f"{server.base_url}/health", timeout=10)
            back_at = time.monotonic()
        pg_cluster.start()
        up_at = time.monotonic()
        first_ok = load.wait_for(lambda o: o.status == 201 and o.started >= up_at, timeout=30)
        load.stop()
        log = server.log()

    outcomes = load.snapshot()
    assert {o.status for o in outcomes} <= {201, 503}
    assert "unhandled error" not in log
    while_hung = during(outcomes, hung_at, back_at)
    assert while_hung and {o.status for o in while_hung} == {503}
    worst = max(o.latency for o in while_hung)
    assert worst < NO_HANG_BOUND, f"a request hung {worst:.1f} s on the silent database"
    assert health.status_code == 503
    assert first_ok is not None, "the service did not recover after PostgreSQL came back"
    acknowledged, _ = check_durability(url, outcomes)

    figures = {
        "writes": len(outcomes),
        "acknowledged": acknowledged,
        "503_while_hung": len(while_hung),
        "max_latency_while_hung_s": round(worst, 3),
        "median_latency_while_hung_s": round(statistics.median(o.latency for o in while_hung), 3),
        "recovery_s": round(first_ok.ended - up_at, 3),
    }
    for key, value in figures.items():
        record_property(key, value)
    print("hung postgres:", figures)
