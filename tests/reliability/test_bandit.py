"""bandit finds nothing in app/ (and does find a planted problem, so a silent tool fails)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support import PROJECT_ROOT

# B101 (assert): app/ uses assert only to narrow types for mypy on paths the code already
# guarantees; none guards a security decision, and `python -O` dropping them changes nothing.
SKIPS = "B101"


def bandit(target: Path) -> list[dict[str, Any]]:
    """bandit's findings (all severities and confidences) for a file or a package."""
    result = subprocess.run(
        [sys.executable, "-m", "bandit", "-r", str(target), "-s", SKIPS, "-f", "json", "-q"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode in {0, 1}, result.stderr  # 1 means "found something"
    findings: list[dict[str, Any]] = json.loads(result.stdout)["results"]
    return findings


def test_bandit_finds_nothing_in_app() -> None:
    findings = bandit(PROJECT_ROOT / "app")
    assert not findings, [
        f"{f['filename']}:{f['line_number']} {f['test_id']} {f['issue_text']}" for f in findings
    ]


def test_bandit_would_report_a_real_problem(tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text(
        "import pickle\nimport subprocess\n\n\n"
        "def run(user_input: str, blob: bytes) -> object:\n"
        "    subprocess.call(user_input, shell=True)\n"
        "    return pickle.loads(blob)\n"
    )
    found = {f["test_id"] for f in bandit(planted)}
    assert {"B602", "B301"} <= found, found
