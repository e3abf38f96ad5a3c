"""The one runner: every section in table order, then the method text they make together."""

from __future__ import annotations

from collections.abc import Callable

from .lambda_local import LambdaLocal
from .model import Plan, Row, Section
from .rows import (
    burst,
    cold,
    lifecycle,
    masking,
    memory,
    outside,
    process,
    process_burst,
    records,
    scale,
    suite,
    timeouts,
    triggers,
    warm,
)
from .template import reflow, render

SECTIONS: tuple[Callable[[Plan, LambdaLocal], Section], ...] = (
    cold.measure, warm.measure, timeouts.measure, process.measure, burst.measure,
    memory.measure, suite.measure, process_burst.measure, masking.measure, scale.measure,
    records.measure, triggers.measure, lifecycle.measure, outside.measure,
)
"""The table's order (the interleaving is within a section: its sides share rounds)."""


def section_names() -> list[str]:
    """The rows' module names (``cold``, ``warm``, ...), in table order, for ``--only``."""
    return [s.__module__.rsplit(".", 1)[-1] for s in SECTIONS]


def measure(plan: Plan, ll: LambdaLocal, only: frozenset[str] = frozenset()) -> list[Section]:
    """Every section in order, or only those named (a quick look while working on one row)."""
    return [section(plan, ll) for section, name in zip(SECTIONS, section_names(), strict=True)
            if not only or name in only]


def rows_of(sections: list[Section]) -> list[Row]:
    return [row for section in sections for row in section.rows]


def method_text(plan: Plan, sections: list[Section]) -> str:
    """The page's method: what all rows share, then each section's own part."""
    parts = [render("intro", rounds=plan.rounds), *(s.method for s in sections)]
    return reflow("\n\n".join(part.strip() for part in parts))
