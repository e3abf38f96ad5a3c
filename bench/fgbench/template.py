"""The page's templates: ``text/page.md`` around the table, and one markdown file per
section for the method text, with ``{name}`` fields that the measurements fill in.

A template and the values given to it must agree both ways: a field without a value, or a
value no field uses, is an error (a renamed value would otherwise vanish from the page, or
leave a literal ``{name}`` in it).
"""

from __future__ import annotations

import re
import string
import textwrap
from pathlib import Path
from typing import Any

TEXT_DIR = Path(__file__).resolve().parent / "text"


def render(name: str, **values: Any) -> str:
    """``text/NAME.md`` with its fields filled in from ``values``."""
    text = (TEXT_DIR / f"{name}.md").read_text(encoding="utf-8")
    fields = {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}
    missing, unused = sorted(fields - set(values)), sorted(set(values) - fields)
    if missing or unused:
        raise ValueError(f"text/{name}.md: fields without a value: {missing}; "
                         f"values no field uses: {unused}")
    return text.format_map(values)


def reflow(markdown: str, width: int = 96) -> str:
    """Refill the plain paragraphs (not headings, tables, code) after values were put in."""
    out = []
    for block in markdown.strip().split("\n\n"):
        if block.startswith(("#", "|", "```", "- ")):
            out.append(block)
        else:
            lines = textwrap.wrap(" ".join(block.split()), width=width,
                                  break_long_words=False, break_on_hyphens=False)
            for i in range(1, len(lines)):
                # A line may not start like a list item: move its first word up.
                while re.match(r"([-+*]|[0-9]+[.)])( |$)", lines[i]):
                    word, _, rest = lines[i].partition(" ")
                    lines[i - 1] += " " + word
                    lines[i] = rest
            out.append("\n".join(line for line in lines if line))
    return "\n\n".join(out) + "\n"
