"""What a run prints and writes: the table (text for the terminal, markdown for the page), the
machine it ran on, and docs/benchmarks.md around them."""

from __future__ import annotations

import contextlib
import importlib.metadata
import multiprocessing
import os
import platform
import sys
from datetime import timezone
from pathlib import Path

import freezegun.api as _fz

from .model import Plan, Row
from .rows.process import MANY
from .template import render

HEADERS = ("name", "ours", "theirs / baseline", "ratio", "target", "met?")


def table_cells(rows: list[Row], micro: str) -> list[tuple[str, ...]]:
    return [
        (r.name, r.fmt(r.ours_median, micro),
         r.theirs_label if r.kind in ("report", "bytes")
         else f"{r.fmt(r.theirs_median, micro)} ({r.theirs_label})",
         r.ratio_text(), r.target_text(), r.met_text())
        for r in rows
    ]


def text_table(rows: list[Row]) -> str:
    cells = [HEADERS, *table_cells(rows, "us")]
    widths = [max(len(row[i]) for row in cells) for i in range(len(HEADERS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    for cells in table_cells(rows, "µs"):
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or "unknown"


def environment() -> dict[str, str]:
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count() or 0
    versions = ", ".join(
        f"{dist} {importlib.metadata.version(dist)}"
        for dist in ("pytest-fginit", "freezegun", "python-lambda-local")
    )
    return {
        "date": _fz.real_datetime.now(timezone.utc).date().isoformat(),
        "cpus": str(os.cpu_count()),
        "cpus usable by this process": str(usable),
        "cpu model": cpu_model(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "packages": versions,
        "interpreter's own bytecode setting": (
            "PYTHONDONTWRITEBYTECODE / -B (overridden per row, see rows 1a and 1b)"
            if sys.dont_write_bytecode else "writes __pycache__ (overridden per row, see 1a/1b)"
        ),
        "multiprocessing start method": multiprocessing.get_start_method(),
    }


def headline(rows: list[Row], plan: Plan) -> dict[str, str]:
    """The page's first paragraph, from the rows that compare like with like."""
    by_key = {r.key: r for r in rows}
    return {
        "warm_direct": by_key["warm_direct"].ratio_text(),
        "warm_many": by_key["warm_many"].ratio_text(), "ready": f"{plan.ready:,}",
        "scale_in": by_key["scale_g_inprocess"].ratio_text(),
        "scale_process": by_key["scale_g_process"].ratio_text(),
        "scale_tests": f"{plan.scale_tests[1]:,}", "warm_fork": by_key["warm"].ratio_text(),
    }


def render_doc(rows: list[Row], env: dict[str, str], method: str, command: str,
               plan: Plan, mode_name: str, wall_s: float) -> str:
    missed = [r for r in rows if r.met is False]
    verdict = ("All targets met." if not missed else
               "**Missed:** " + "; ".join(f"{r.name.split(' ')[0]} {r.name.partition(' ')[2]} "
                                          f"({r.ratio_text()}, target {r.target_text()})"
                                          for r in missed) + ".")
    quick = ("\n**This page comes from a quick run (few samples); rerun without `--quick` for "
             "numbers to rely on.**\n" if mode_name == "quick" else "")
    page = render(
        "page", date=env["date"], cpus=env["cpus"], cpu_model=env["cpu model"],
        command=command, quick=quick, **headline(rows, plan), table=markdown_table(rows),
        verdict=verdict, many=MANY,
        wall_s=f"{wall_s:.1f}", time_limit_s=plan.time_limit_s, method=method,
        env_lines="\n".join(f"- {key}: {value}" for key, value in env.items()
                            if key != "date"),
    )
    return page.rstrip("\n") + "\n"
