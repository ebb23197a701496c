"""CONTRIBUTING.md's worked examples still work: applied to a scratch copy of the tree, the
endpoint's code and test pass lint and tests, and the migration autogenerates as shown,
round-trips and passes `alembic check`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs.support import CONTRIBUTING, PROJECT_ROOT, fenced_blocks


def example(marker: str) -> str:
    """The one python block of CONTRIBUTING.md that contains `marker`."""
    blocks = fenced_blocks(CONTRIBUTING.read_text(encoding="utf-8"), "python")
    found = [block for block in blocks if marker in block]
    assert len(found) == 1, f"expected one python block with {marker!r}, found {len(found)}"
    return found[0] + "\n"


def insert_before(path: Path, anchor: str, code: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert anchor in text, f"{path.name} no longer has {anchor!r}: update CONTRIBUTING.md"
    path.write_text(text.replace(anchor, code + anchor, 1), encoding="utf-8")


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=240
    )


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory, model_path: Path) -> Path:
    """The tracked files of the working tree, the trained model and mypy's cache, copied."""
    root = tmp_path_factory.mktemp("contributing")
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=PROJECT_ROOT, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, files.split("\0")):
        source = PROJECT_ROOT / name
        if source.is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    (root / "models").mkdir(exist_ok=True)
    shutil.copy(model_path, root / "models" / "sentiment.joblib")
    shutil.copy(model_path.with_suffix(".json"), root / "models" / "sentiment.json")
    if (PROJECT_ROOT / ".mypy_cache").is_dir():  # a warm cache: seconds instead of a minute
        shutil.copytree(PROJECT_ROOT / ".mypy_cache", root / ".mypy_cache")
    return root


@pytest.fixture(scope="module")
def env(scratch: Path) -> dict[str, str]:
    values = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "API_KEYS"))}
    values["DATABASE_URL"] = f"sqlite:///{scratch / 'dev.db'}"
    values["PYTHONPATH"] = str(scratch)
    return values


def tool(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def test_the_endpoint_example_passes_lint_and_its_tests(scratch: Path, env: dict[str, str]) -> None:
    items = scratch / "app" / "items"
    schemas = items / "schemas.py"
    schemas.write_text(
        schemas.read_text(encoding="utf-8") + "\n\n" + example("class ItemCount"),
        encoding="utf-8",
    )
    insert_before(
        items / "service.py",
        "    def get(self, item_id: int) -> RowMapping:",
        example("def count(self) -> int:") + "\n",
    )
    router = items / "router.py"
    text = router.read_text(encoding="utf-8")
    text, imported = re.subn(
        r"(from app\.items\.schemas import [^\n]*?)(ItemCreate)", r"\1ItemCount, \2", text
    )
    assert imported == 1, "router.py's schema import changed: update CONTRIBUTING.md"
    router.write_text(text, encoding="utf-8")
    insert_before(
        router, '@router.get(\n    "/{item_id}",', example('operation_id="items-count"') + "\n\n"
    )
    (scratch / "tests" / "items" / "test_items_count.py").write_text(
        example('"""GET /items/count'), encoding="utf-8"
    )

    for args in (
        [tool("ruff"), "check", "."],
        [tool("ruff"), "format", "--diff", "."],
        [tool("mypy"), "app"],
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-k",
            "sqlite",
            "tests/items/test_items_count.py",
        ],
    ):
        result = run(args, scratch, env)
        assert result.returncode == 0, f"{args[1:]}: {result.stdout}{result.stderr}"


def test_the_migration_example_generates_round_trips_and_checks(
    scratch: Path, env: dict[str, str]
) -> None:
    insert_before(
        scratch / "app" / "items" / "models.py",
        '    Column("version"',
        # The two new lines of the snippet (the rest is context: `...` and the price column).
        "".join(
            line + "\n"
            for line in example("# Stock-keeping unit").splitlines()
            if "sku" in line or "Stock-keeping" in line
        ),
    )
    alembic = tool("alembic")
    assert run([alembic, "upgrade", "head"], scratch, env).returncode == 0
    generated = run(
        [alembic, "revision", "--autogenerate", "--rev-id", "0004", "-m", "add sku to items"],
        scratch,
        env,
    )
    assert generated.returncode == 0, generated.stderr
    [path] = (scratch / "migrations" / "versions").glob("*_0004_add_sku_to_items.py")
    assert run([tool("ruff"), "format", str(path)], scratch, env).returncode == 0
    # What CONTRIBUTING.md shows is what Alembic writes (after `make format`).
    shown = example("def upgrade() -> None:")
    code = "\n".join(
        line for line in path.read_text(encoding="utf-8").splitlines() if "###" not in line
    )
    for line in shown.strip().splitlines():
        assert line.strip() in code, f"not generated: {line.strip()}"

    for args in (
        [alembic, "upgrade", "head"],
        [alembic, "downgrade", "-1"],
        [alembic, "upgrade", "head"],
        [alembic, "check"],
        [tool("ruff"), "check", str(path)],
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-k",
            "sqlite",
            "tests/migrations",
        ],
    ):
        result = run(args, scratch, env)
        assert result.returncode == 0, f"{args[1:]}: {result.stdout}{result.stderr}"
