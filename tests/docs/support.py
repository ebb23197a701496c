"""Markdown helpers for the documentation tests: headings, GitHub anchors, links, code.

Everything here skips fenced code blocks, where `# comment` lines are not headings and
`[x](y)` is not a link.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from app import PROJECT_ROOT
from tests.support import in_ci, require_tool  # noqa: F401  (re-exported)

README = PROJECT_ROOT / "README.md"
CONTRIBUTING = PROJECT_ROOT / "CONTRIBUTING.md"
DOCS_DIR = PROJECT_ROOT / "docs"
OPERATIONS = DOCS_DIR / "operations.md"
ARCHITECTURE = DOCS_DIR / "architecture.md"
MAKEFILE = PROJECT_ROOT / "Makefile"

_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})\s*([\w+-]*)")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_INLINE_CODE = re.compile(r"(`+)(.+?)\1")
_LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def prose_lines(text: str) -> Iterator[str]:
    """The lines of a Markdown text that are outside fenced code blocks."""
    fence: str | None = None
    for line in text.splitlines():
        match = _FENCE.match(line)
        if fence is None and match:
            fence = match.group(1)
        elif fence is not None and line.strip().startswith(fence):
            fence = None
        elif fence is None:
            yield line


def fenced_blocks(text: str, language: str | None = None) -> list[str]:
    """Contents of the fenced code blocks, optionally only those tagged with `language`."""
    blocks: list[str] = []
    fence: str | None = None
    current_language = ""
    lines: list[str] = []
    for line in text.splitlines():
        match = _FENCE.match(line)
        if fence is None and match:
            fence, current_language, lines = match.group(1), match.group(2), []
        elif fence is not None and line.strip().startswith(fence):
            if language is None or current_language == language:
                blocks.append("\n".join(lines))
            fence = None
        elif fence is not None:
            lines.append(line)
    return blocks


def headings(text: str) -> list[str]:
    """ATX heading texts (without the #s), in order, outside code blocks."""
    found = []
    for line in prose_lines(text):
        match = _HEADING.match(line)
        if match:
            found.append(match.group(2))
    return found


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading (github-slugger): text as rendered, lower-cased,
    punctuation removed except `-` and `_`, each space replaced by `-`."""
    text = _INLINE_CODE.sub(lambda m: m.group(2), heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link renders as its text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML tags render as nothing
    text = text.strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every anchor a document's headings produce, with GitHub's -1, -2 suffixes on repeats."""
    seen: dict[str, int] = {}
    result = set()
    for heading in headings(text):
        base = github_anchor(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result


def links(text: str) -> list[str]:
    """Link and image targets in the prose (not in code blocks or inline code)."""
    found: list[str] = []
    for line in prose_lines(text):
        found.extend(_LINK.findall(_INLINE_CODE.sub("", line)))
    return found


def code_snippets(text: str) -> list[str]:
    """The code a reader would type: fenced blocks and inline code spans."""
    inline = [m.group(2) for line in prose_lines(text) for m in _INLINE_CODE.finditer(line)]
    return fenced_blocks(text) + inline
