"""Helpers for the deployment tests: paths, tool lookup, YAML, Dockerfile and PromQL parsing."""

from __future__ import annotations

import re
import shlex
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from app import PROJECT_ROOT
from tests.support import in_ci, require_tool  # noqa: F401  (re-exported)

K8S_DIR = PROJECT_ROOT / "k8s"
BASE_DIR = K8S_DIR / "base"
MIGRATE_DIR = K8S_DIR / "migrate"
# Environment name -> its kustomize overlay; each has an infra stack infra/Pulumi.<name>.yaml.
OVERLAYS = {name: K8S_DIR / "overlays" / name for name in ("staging", "production")}
CRDS_DIR = Path(__file__).resolve().parent / "crds"
MONITORING_DIR = PROJECT_ROOT / "monitoring"
RULES_DIR = MONITORING_DIR / "rules"
RULE_TESTS_DIR = MONITORING_DIR / "tests"
GRAFANA_DIR = MONITORING_DIR / "grafana"
DASHBOARDS_DIR = GRAFANA_DIR / "dashboards"

# The shared contract's server command (notes: container and k8s run exactly this).
SERVER_COMMAND = [
    "python",
    "-m",
    "app.server",
    "--host",
    "0.0.0.0",  # the container listens on every interface
    "--port",
    "8000",
    "--proxy-headers",
    "--forwarded-allow-ips=*",
    "--timeout-graceful-shutdown",
    "20",
    "--no-server-header",
]
APP_UID = 10001
SCRAPE_JOB = "itemsense-api"
RUNBOOK_BASE = "https://github.com/itemsense/itemsense/blob/main/docs/operations.md#"


def run(
    args: list[str], cwd: Path = PROJECT_ROOT, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run a command without a shell and capture its text output; never raises on exit codes."""
    return subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, check=False, timeout=timeout
    )


def load_yaml(path: Path) -> Any:
    """Parse one YAML document (merge keys `<<:` resolved)."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_yaml_docs(text: str) -> list[dict[str, Any]]:
    """Parse a multi-document YAML stream, dropping empty documents."""
    return [doc for doc in yaml.safe_load_all(text) if doc]


def settings_env_names() -> set[str]:
    """Environment variable names the service reads: Settings field names upper-cased."""
    from app.config import Settings

    return {name.upper() for name in Settings.model_fields}


# --- Dockerfile ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction with its continuation lines joined."""

    keyword: str
    value: str


def dockerfile_stages(text: str) -> list[list[Instruction]]:
    """Instructions grouped by build stage (each FROM starts a new stage)."""
    logical: list[str] = []
    buffer = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not buffer and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # comment lines inside a continuation are dropped
            continue
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        logical.append(buffer + line)
        buffer = ""
    stages: list[list[Instruction]] = []
    for line in logical:
        keyword, _, value = line.partition(" ")
        instruction = Instruction(keyword.upper(), value.strip())
        if instruction.keyword == "FROM":
            stages.append([])
        if not stages:
            assert instruction.keyword == "ARG", "only ARG may come before the first FROM"
            continue  # a global build argument (see dockerfile_global_args)
        stages[-1].append(instruction)
    return stages


def dockerfile_global_args(text: str) -> dict[str, str]:
    """The ARG defaults declared before the first FROM (usable in every FROM line)."""
    args: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if line.upper().startswith("FROM "):
            break
        if line.upper().startswith("ARG "):
            name, _, default = line[4:].strip().partition("=")
            args[name] = default
    return args


def exec_form(value: str) -> list[str]:
    """Parse an exec-form (JSON array) CMD/ENTRYPOINT/HEALTHCHECK CMD value."""
    import json

    parsed = json.loads(value)
    assert isinstance(parsed, list), f"not exec form: {value}"
    return [str(part) for part in parsed]


def copy_sources(instruction: Instruction) -> tuple[str | None, list[str]]:
    """(`--from` stage or None, source paths) of a COPY instruction."""
    parts = shlex.split(instruction.value)
    from_stage = None
    paths = []
    for part in parts:
        if part.startswith("--from="):
            from_stage = part.removeprefix("--from=")
        elif not part.startswith("--"):
            paths.append(part)
    return from_stage, paths[:-1]


# --- PromQL -------------------------------------------------------------------------------

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_GROUPING = re.compile(
    r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", re.IGNORECASE
)
_RANGE = re.compile(r"\[[^\]]*\]")
_SELECTOR = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)?\s*\{([^}]*)\}")
_IDENT = re.compile(r"(?<![A-Za-z0-9_:.$])([A-Za-z_:][A-Za-z0-9_:]*)\b(?!\s*\()")
_KEYWORDS = frozenset(
    {
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "inf",
        "nan",
        "start",
        "end",
    }
)
_MATCHER_LABEL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)")


def grafana_to_promql(expr: str) -> str:
    """Replace Grafana's interval variables so promtool can parse a panel expression."""
    for variable in ("$__rate_interval", "$__interval", "$__range"):
        expr = expr.replace(variable, "5m")
    return expr


def metric_names(expr: str) -> set[str]:
    """Metric names used by a PromQL expression (functions, keywords and labels excluded)."""
    without_grouping = _GROUPING.sub(" ", expr)
    without_matchers = re.sub(r"\{[^}]*\}", " ", _STRING.sub('""', without_grouping))
    without_ranges = _RANGE.sub(" ", without_matchers)
    return {
        name
        for name in _IDENT.findall(without_ranges)
        if name.lower() not in _KEYWORDS and not re.fullmatch(r"\d.*", name)
    }


def selector_labels(expr: str) -> dict[str, set[str]]:
    """For each metric selector `name{...}`: the label names its matchers use."""
    found: dict[str, set[str]] = {}
    for name, matchers in _SELECTOR.findall(_STRING.sub('""', expr)):
        if name:
            found.setdefault(name, set()).update(_MATCHER_LABEL.findall(matchers))
    return found


def grouping_labels(expr: str) -> set[str]:
    """Label names used in `by (...)` / `without (...)` / `on (...)` clauses."""
    labels: set[str] = set()
    for match in _GROUPING.finditer(expr):
        inner = match.group(0)[match.group(0).index("(") + 1 : -1]
        labels.update(part.strip() for part in inner.split(",") if part.strip())
    return labels


# --- running the image's file set ---------------------------------------------------------

RUNTIME_API_KEY = "runtime-image-test-key"


def runtime_stage() -> list[Instruction]:
    """Instructions of the Dockerfile's final stage."""
    return dockerfile_stages((PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8"))[-1]


def image_env(workdir: str, root: Path) -> dict[str, str]:
    """The runtime ENV, with the image's WORKDIR mapped to a staged directory."""
    env: dict[str, str] = {}
    for instruction in runtime_stage():
        if instruction.keyword == "ENV":
            for pair in instruction.value.split():
                key, _, value = pair.partition("=")
                env[key] = value.replace(workdir, str(root))
    return env


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def loopback_server_command(port: int) -> list[str]:
    """The image's CMD on 127.0.0.1:<port> (a test server is never exposed beyond loopback)."""
    command = exec_form(next(i.value for i in runtime_stage() if i.keyword == "CMD"))
    command[command.index("--port") + 1] = str(port)
    command[command.index("--host") + 1] = "127.0.0.1"
    return command


def wait_for_http(url: str, process: subprocess.Popen[bytes], limit: float = 90) -> None:
    """Poll `url` until it answers 2xx; fail if the process dies or the limit passes."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        assert process.poll() is None, f"process exited with {process.returncode}"
        try:
            if httpx.get(url, timeout=1).is_success:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"{url} did not answer within {limit} s")


def stop(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM the process (it is ours, by its PID), kill it if it lingers; its exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode
