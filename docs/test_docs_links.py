"""Every relative link in the docs (their translations in docs/zh/ included), the README and
the examples' README leads somewhere: the file (or folder) exists, and an anchor names a heading
of the page it points to.

The reference is split into pages that link to each other by anchor, so a moved section or a
renamed heading breaks links silently; this finds them. Links inside fenced code are not links.
Anchors are made as GitHub makes them: the heading's text in lower case, punctuation other than
``-`` and ``_`` dropped, spaces made ``-``, a repeated heading suffixed ``-1``, ``-2``...
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md"),
                *(ROOT / "docs" / "zh").glob("*.md"),  # translations
                *(ROOT / "examples").glob("**/README.md")])

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r"^(#{1,6}) +(.*?) *#* *$")
_LINK = re.compile(r"\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(([^()\s]+)\)")


def prose(path: Path) -> str:
    """The page without its fenced code blocks (each replaced by an empty line)."""
    lines, fence = [], None
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _FENCE.match(line)
        if fence is None and match:
            fence = match.group(1)
        elif fence is not None and line.strip().startswith(fence[0] * len(fence)):
            fence = None
        elif fence is None:
            lines.append(line)
            continue
        lines.append("")
    return "\n".join(lines)


def slug(heading: str) -> str:
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading: its text
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    found: set[str] = set()
    times: dict[str, int] = {}
    for line in prose(path).splitlines():
        match = _HEADING.match(line)
        if match:
            base = slug(match.group(2))
            found.add(f"{base}-{times[base]}" if base in times else base)
            times[base] = times.get(base, 0) + 1
    return frozenset(found)


def links(path: Path) -> list[str]:
    return [m.group(1) for m in _LINK.finditer(prose(path))]


def test_the_pages_have_links():
    assert any(links(page) for page in PAGES)  # the pattern finds links at all


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    broken = []
    for target in links(page):
        if re.match(r"[a-z][a-z+.-]*:", target):  # https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        linked = (page.parent / file_part).resolve() if file_part else page
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no heading with anchor #{anchor} in {linked.name}")
    assert broken == []
