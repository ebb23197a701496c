"""The documents point at things that exist: `make` targets, local files and their anchors."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from tests.docs.support import (
    ARCHITECTURE,
    CONTRIBUTING,
    DOCS_DIR,
    MAKEFILE,
    OPERATIONS,
    PROJECT_ROOT,
    README,
    anchors,
    code_snippets,
    links,
    require_tool,
)

# The documents a newcomer reads first, plus everything under docs/.
DOCUMENTS = sorted({README, CONTRIBUTING, ARCHITECTURE, OPERATIONS, *DOCS_DIR.glob("*.md")})
_TARGET_LINE = re.compile(r"^([A-Za-z0-9][\w.-]*)\s*:(?![:=])", re.MULTILINE)
_MAKE_COMMAND = re.compile(r"(?:^|[\s;&|(`])make[ \t]+((?:[a-z][\w-]*[ \t]*)+)", re.MULTILINE)


def makefile_targets(text: str) -> set[str]:
    """Targets a user can run: rule lines, not variable assignments (`.PHONY` alone is not
    a rule: `make` would answer "No rule to make target")."""
    return set(_TARGET_LINE.findall(text))


def phony_targets(text: str) -> set[str]:
    """The targets declared .PHONY (the Makefile's public commands)."""
    declared = re.findall(r"^\.PHONY:((?:.*\\\n)*.*)$", text, re.MULTILINE)
    return {name for block in declared for name in block.replace("\\", " ").split()}


def make_targets_named(text: str) -> set[str]:
    """Targets of the `make ...` commands in a document's code (blocks and inline spans)."""
    named: set[str] = set()
    for snippet in code_snippets(text):
        for match in _MAKE_COMMAND.finditer(snippet):
            # `make run     # comment` -> run; `make lint test` -> lint, test.
            named.update(word for word in match.group(1).split() if not word.startswith("#"))
    return named


def rel(path: Path) -> str:
    return str(path.relative_to(PROJECT_ROOT))


def test_the_documents_exist() -> None:
    for path in (README, CONTRIBUTING, ARCHITECTURE, OPERATIONS):
        assert path.is_file(), rel(path)


@pytest.mark.parametrize("document", [README, CONTRIBUTING], ids=rel)
def test_every_make_target_named_exists(document: Path) -> None:
    targets = makefile_targets(MAKEFILE.read_text(encoding="utf-8"))
    named = make_targets_named(document.read_text(encoding="utf-8"))
    assert {"run", "test"} <= named, f"{rel(document)} names no `make run` / `make test`"
    assert named <= targets, f"{rel(document)} names missing targets: {sorted(named - targets)}"


def test_every_phony_target_is_a_rule_that_make_help_lists() -> None:
    make = require_tool("make")
    text = MAKEFILE.read_text(encoding="utf-8")
    phony = phony_targets(text)
    result = subprocess.run(
        [make, "--no-print-directory", "help"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    listed = {
        re.sub(r"\x1b\[[0-9;]*m", "", line).split()[0]
        for line in result.stdout.splitlines()
        if line.strip()
    }
    rules = makefile_targets(text)
    assert phony <= rules, f".PHONY names targets with no rule: {sorted(phony - rules)}"
    assert phony - {"help"} <= listed, f"no `## description`: {sorted(phony - listed - {'help'})}"


def test_target_parsing() -> None:
    makefile = "X := 1\n.PHONY: a b \\\n\tc\na: x ## A\nb:\n\techo\n$(BIN)/python:\n"
    assert makefile_targets(makefile) == {"a", "b"}
    assert phony_targets(makefile) == {"a", "b", "c"}
    doc = "`make run`, then:\n```sh\nmake lint test   # both\nFOO=1 make bench\n```\nmake sure\n"
    assert make_targets_named(doc) == {"run", "lint", "test", "bench"}


@pytest.mark.parametrize("document", DOCUMENTS, ids=rel)
def test_local_links_resolve(document: Path) -> None:
    text = document.read_text(encoding="utf-8")
    broken = []
    for target in links(text):
        parts = urlsplit(target)
        if parts.scheme or target.startswith("//"):
            continue  # external: not checked offline
        path = (document.parent / unquote(parts.path)).resolve() if parts.path else document
        if not path.exists():
            broken.append(f"{target}: no such file")
        elif (
            parts.fragment
            and path.suffix == ".md"
            and parts.fragment not in anchors(path.read_text(encoding="utf-8"))
        ):
            broken.append(f"{target}: no heading with this anchor")
    assert not broken, f"{rel(document)}: {broken}"


def test_link_checker_sees_links_but_not_code() -> None:
    text = "[ops](docs/operations.md#scaling), ![x](a.png)\n`[not](a link)`\n```\n[no](pe)\n```\n"
    assert links(text) == ["docs/operations.md#scaling", "a.png"]
