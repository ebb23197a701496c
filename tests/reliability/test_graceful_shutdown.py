"""SIGTERM while writes are in flight: they finish, new connections are refused, exit 0.

The in-flight writes are made to last by holding a table lock from the test, so the signal
provably arrives while they run; releasing the lock lets them complete during the grace period.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import sqlalchemy as sa

from tests.reliability.support import Outcome, WriteLoad, running_server, server_env
from tests.support import migrate

GRACE = 10  # --timeout-graceful-shutdown, seconds
IN_FLIGHT = 6  # fewer than the THREADPOOL_SIZE set below: each blocked write holds a thread


def waiting_on_lock(engine: sa.Engine) -> int:
    """Server connections currently blocked on a lock in this database."""
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND application_name = 'itemsense' AND wait_event_type = 'Lock'"
    )
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def refuses_connections(port: int) -> bool:
    """True when nothing accepts TCP connections on the port any more."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except ConnectionRefusedError:
        return True


def test_sigterm_finishes_in_flight_writes_and_exits_zero(
    create_pg_database: Callable[[], str],
    model_path: Path,
    tmp_path: Path,
    record_property: Callable[[str, object], None],
) -> None:
    url = create_pg_database()
    migrate(url)
    engine = sa.create_engine(url)
    env = server_env(
        url,
        model_path,
        db_statement_timeout_ms="30000",
        log_level="INFO",
        threadpool_size=str(IN_FLIGHT + 2),
        db_pool_size=str(IN_FLIGHT + 2),
    )
    with running_server(env, tmp_path / "server.log", graceful_seconds=GRACE) as server:
        # Load first: acknowledged writes that must survive the shutdown.
        load = WriteLoad(server.base_url, threads=4)
        load.start()
        time.sleep(2)
        load.stop()
        before = load.snapshot()
        assert before and {o.status for o in before} == {201}

        in_flight: list[Outcome] = []
        with engine.connect() as locker:
            locker.execute(sa.text("BEGIN"))
            locker.execute(sa.text("LOCK TABLE items IN EXCLUSIVE MODE"))  # reads still pass
            threads = [
                threading.Thread(target=_post, args=(server.base_url, n, in_flight))
                for n in range(IN_FLIGHT)
            ]
            for thread in threads:
                thread.start()
            _wait(lambda: waiting_on_lock(engine) == IN_FLIGHT, "writes never blocked")

            server.process.send_signal(signal.SIGTERM)
            signalled_at = time.monotonic()
            _wait(lambda: refuses_connections(server.port), "still accepting connections")
            refused_after = time.monotonic() - signalled_at
            assert all(thread.is_alive() for thread in threads), "writes ended before the lock"
            time.sleep(1)
            assert server.process.poll() is None, "exited without waiting for in-flight writes"
            locker.execute(sa.text("COMMIT"))

        for thread in threads:
            thread.join(timeout=GRACE)
        exit_code = server.process.wait(timeout=GRACE + 5)
        stopped_after = time.monotonic() - signalled_at
        log = server.log()

    assert exit_code == 0, log
    assert stopped_after < GRACE, f"took {stopped_after:.1f} s, past the grace period"
    assert len(in_flight) == IN_FLIGHT and {o.status for o in in_flight} == {201}, in_flight
    assert '"message": "itemsense stopped"' in log  # the lifespan closed the engine

    with engine.connect() as conn:
        names = set(conn.execute(sa.text("SELECT name FROM items")).scalars())
    engine.dispose()
    acknowledged = [o.payload["name"] for o in [*before, *in_flight]]
    lost = [name for name in acknowledged if name not in names]
    assert not lost, lost

    figures = {
        "acknowledged_before": len(before),
        "in_flight_completed": len(in_flight),
        "refused_after_s": round(refused_after, 3),
        "exit_after_s": round(stopped_after, 3),
        "lost_writes": len(lost),
    }
    for key, value in figures.items():
        record_property(key, value)
    print("sigterm:", figures)


def _post(base_url: str, n: int, sink: list[Outcome]) -> None:
    payload = WriteLoad.payload(99, n)
    started = time.monotonic()
    try:
        response = httpx.post(f"{base_url}/items", json=payload, timeout=GRACE * 3)
        status = response.status_code
    except httpx.TransportError:
        status = 0
    sink.append(Outcome(started, time.monotonic(), status, payload))  # list.append is atomic


def _wait(condition: Callable[[], bool], failure: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, failure
        time.sleep(0.05)
