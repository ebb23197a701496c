"""Helpers for the fault tests: a private PostgreSQL cluster and the real server process.

The cluster is this suite's own (`initdb` + `pg_ctl` on a free port, in a temporary
directory), so a test may stop and start it; the machine's shared server is never touched.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support import PROJECT_ROOT

# Settings a developer's shell or .env might hold; the server under test gets only ours.
_APP_ENV_VARS = (
    "APP_ENV",
    "DATABASE_URL",
    "API_KEYS",
    "API_KEYS_FILE",
    "MODEL_PATH",
    "DB_POOL_SIZE",
    "DB_MAX_OVERFLOW",
    "DB_POOL_TIMEOUT",
    "DB_POOL_RECYCLE",
    "DB_POOL_PRE_PING",
    "DB_CONNECT_TIMEOUT",
    "DB_STATEMENT_TIMEOUT_MS",
    "THREADPOOL_SIZE",
    "LOG_LEVEL",
)


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_tool(name: str) -> str | None:
    """Path of a PostgreSQL server program: on PATH, else the newest Debian/Ubuntu install.

    Debian and Ubuntu (GitHub's runners too) keep initdb and pg_ctl out of PATH, in
    /usr/lib/postgresql/<major>/bin.
    """
    found = shutil.which(name)
    if found:
        return found
    installed = Path("/usr/lib/postgresql").glob(f"*/bin/{name}")
    newest = sorted(installed, key=lambda path: int(path.parent.parent.name), reverse=True)
    return str(newest[0]) if newest else None


def missing_postgres_tools() -> list[str]:
    """The cluster tools (initdb, pg_ctl, and runuser when root) that cannot be found."""
    missing = [tool for tool in ("initdb", "pg_ctl") if postgres_tool(tool) is None]
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        missing.append("runuser")
    return missing


class PostgresCluster:
    """A throwaway PostgreSQL cluster: trust auth, TCP on 127.0.0.1 only, fsync off.

    PostgreSQL refuses to run as root, so under root every command runs as the `postgres`
    OS user in a directory that user owns.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="itemsense-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        if os.geteuid() == 0:
            shutil.chown(self.root, user="postgres", group="postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def _run(self, tool: str, *arguments: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        program = postgres_tool(tool) or tool
        result = subprocess.run(
            [*prefix, program, *arguments], capture_output=True, text=True, timeout=60, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"{tool} failed ({result.returncode}): {result.stderr}")

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of a database in this cluster."""
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root}"
            " -c fsync=off -c max_connections=40"
        )
        data, log = str(self.data), str(self.log)
        self._run("pg_ctl", "-D", data, "-l", log, "-o", options, "-w", "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; `immediate` kills it without a shutdown checkpoint, like a crash."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def destroy(self) -> None:
        """Stop the server if it runs and delete the cluster's files."""
        if (self.data / "postmaster.pid").exists():
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class Server:
    """A running `python -m app.server` process."""

    process: subprocess.Popen[bytes]
    base_url: str
    port: int
    log_path: Path

    def log(self) -> str:
        """Everything the server printed so far."""
        return self.log_path.read_text(errors="replace")


def server_env(database_url: str, model_path: Path, **settings: str) -> dict[str, str]:
    """The process environment: the inherited one minus app settings, plus the given ones."""
    env = {key: value for key, value in os.environ.items() if key not in _APP_ENV_VARS}
    env.update(
        {"APP_ENV": "development", "DATABASE_URL": database_url, "MODEL_PATH": str(model_path)}
    )
    env.update({key.upper(): value for key, value in settings.items()})
    return env


@contextmanager
def running_server(
    env: Mapping[str, str], log_path: Path, graceful_seconds: int = 10
) -> Iterator[Server]:
    """Start the real server process, wait until ready, and kill it at the end if still up."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "app.server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-server-header",
        "--no-access-log",
        "--timeout-graceful-shutdown",
        str(graceful_seconds),
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=dict(env), stdout=log, stderr=subprocess.STDOUT
        )
    server = Server(process, f"http://127.0.0.1:{port}", port, log_path)
    try:
        wait_until_ready(server)
        yield server
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def wait_until_ready(server: Server, timeout: float = 60) -> None:
    """Poll /health/ready until 200; fail if the process dies or the time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"server exited with {server.process.returncode}:\n{server.log()}")
        try:
            if httpx.get(f"{server.base_url}/health/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"server not ready after {timeout} s:\n{server.log()}")


@dataclass(frozen=True)
class Outcome:
    """One request as the client saw it: monotonic start/end, status (0 = transport error)."""

    started: float
    ended: float
    status: int
    payload: dict[str, Any]
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    error: str = ""

    @property
    def latency(self) -> float:
        """Seconds from sending to the last byte of the answer."""
        return self.ended - self.started


class WriteLoad:
    """Threads that keep creating uniquely named items, recording every outcome.

    Each payload is derived from its unique name, so a stored row can be matched to exactly
    one attempted write and checked field by field.
    """

    def __init__(self, base_url: str, threads: int, timeout: float = 30) -> None:
        self._base_url = base_url
        self._timeout = timeout
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.outcomes: list[Outcome] = []
        self._threads = [
            threading.Thread(target=self._work, args=(n,), daemon=True) for n in range(threads)
        ]

    @staticmethod
    def payload(worker: int, seq: int) -> dict[str, Any]:
        """The item a worker writes for its `seq`-th request."""
        return {
            "name": f"w{worker}-{seq}",
            "description": f"written by worker {worker}, request {seq}",
            "price": f"{seq}.{worker:02d}",
        }

    def _work(self, worker: int) -> None:
        with httpx.Client(base_url=self._base_url, timeout=self._timeout) as http:
            seq = 0
            while not self._stop.is_set():
                payload = self.payload(worker, seq)
                self._record(_send(http, "POST", "/items", payload))
                seq += 1

    def _record(self, outcome: Outcome) -> None:
        with self._lock:
            self.outcomes.append(outcome)

    def start(self) -> None:
        """Start every worker thread."""
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Ask the workers to finish their current request and wait for them."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self._timeout + 5)
            assert not thread.is_alive(), "a load thread is stuck"

    def snapshot(self) -> list[Outcome]:
        """The outcomes recorded so far, in completion order."""
        with self._lock:
            return list(self.outcomes)

    def wait_for(self, predicate: Callable[[Outcome], bool], timeout: float) -> Outcome | None:
        """The first outcome (recorded from now on) matching `predicate`, or None on timeout."""
        seen = len(self.snapshot())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            fresh = self.snapshot()[seen:]
            for outcome in fresh:
                if predicate(outcome):
                    return outcome
            seen += len(fresh)
            time.sleep(0.02)
        return None


def _send(http: httpx.Client, method: str, path: str, payload: dict[str, Any]) -> Outcome:
    started = time.monotonic()
    try:
        response = http.request(method, path, json=payload)
    except httpx.TransportError as error:
        return Outcome(started, time.monotonic(), 0, payload, error=repr(error))
    ended = time.monotonic()
    try:
        body = response.json()
    except ValueError:
        body = response.text
    return Outcome(started, ended, response.status_code, payload, body, dict(response.headers))


@contextmanager
def blackhole(port: int) -> Iterator[None]:
    """Accept TCP connections on the port and never answer: a hung database server.

    Clients get through the TCP handshake, then wait for a reply that never comes, so only
    their own timeouts can free them.
    """
    listener = socket.create_server(("127.0.0.1", port), backlog=128)
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:  # the listener was closed
                return
            accepted.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield
    finally:
        listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join(timeout=5)
        for conn in accepted:
            conn.close()
