"""Row 5b: what an idle in-process instance holds in memory, against the module's own
footprint (``tracemalloc``)."""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import itertools
import re
import statistics
import sys
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_fginit import FunctionEmulator

from ..common import (
    EVENT,
    HANDLER_FILE,
    REPO,
    Samples,
    TrivialContext,
    bytecode,
    check_item,
    config,
)
from ..lambda_local import LambdaLocal
from ..model import Plan, Row, Section, interleave
from ..template import render
from ..units import KB, fmt_bytes
from .burst import BURST, check_burst

MEMORY_TARGET = 100 * KB  # what an idle instance may cost above the module's own


@dataclass
class Memory:
    """Row 5b, one entry per round (bytes per instance, or per copy of the module)."""

    ours: Samples = field(default_factory=list)  # an idle instance, everything included
    stopped: Samples = field(default_factory=list)  # what stays of it after recycle()
    base: Samples = field(default_factory=list)  # the module loaded by hand
    ours_files: list[dict[str, float]] = field(default_factory=list)  # ours, by file
    base_files: list[dict[str, float]] = field(default_factory=list)


def _where(filename: str) -> str:
    """A traced file, short: relative to the repository, or to the standard library."""
    path = Path(filename)
    with contextlib.suppress(ValueError):
        return path.relative_to(REPO).as_posix()
    parts = path.parts
    for i, part in enumerate(parts):
        if re.fullmatch(r"python3\.[0-9]+", part) and i + 1 < len(parts):
            return "/".join(parts[i + 1:])
    return filename


def _growth(after: tracemalloc.Snapshot, before: tracemalloc.Snapshot,
            count: int) -> tuple[float, dict[str, float]]:
    """Bytes allocated between the snapshots and still alive, per ``count``, and by file."""
    by_file: dict[str, float] = {}
    for stat in after.compare_to(before, "filename"):
        where = _where(stat.traceback[0].filename)
        by_file[where] = by_file.get(where, 0.0) + stat.size_diff / count
    return sum(by_file.values()), by_file


@contextlib.contextmanager
def tracing() -> Iterator[None]:
    tracemalloc.start()
    try:
        yield
    finally:
        tracemalloc.stop()


def snapshot() -> tracemalloc.Snapshot:
    gc.collect()
    return tracemalloc.take_snapshot()


def ours_memory(memory: Memory) -> Samples:
    """BURST idle instances brought up by one send; traced allocations per instance."""
    events = [EVENT] * BURST
    with bytecode(cached=True), FunctionEmulator(config()) as fn, tracing():
        check_burst(fn.invoke_concurrently(events))  # warm-up: caches, lists grown
        fn.recycle()
        before = snapshot()
        invocations = fn.invoke_concurrently(events)
        idle = snapshot()  # BURST idle instances, and the records of their requests
        check_burst(invocations)  # (after the snapshot: its garbage is not counted)
        del invocations
        fn.recycle()
        stopped = snapshot()
    per_instance, by_file = _growth(idle, before, BURST)
    memory.ours.append(round(per_instance))
    memory.ours_files.append(by_file)
    memory.stopped.append(round(_growth(stopped, before, BURST)[0]))
    return [round(per_instance)]


_memory_copies = itertools.count(1)


def load_copy(name: str) -> Any:
    """One more copy of the function's module, as a plain import leaves it (in
    ``sys.modules``), initialized and after one request: what an idle instance holds of it.
    Returns the request's result."""
    spec = importlib.util.spec_from_file_location(name, HANDLER_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    context = TrivialContext(name)
    module.init(context)
    return module.handler(EVENT, context)


def baseline_memory(memory: Memory) -> Samples:
    """BURST copies of the module loaded by hand; traced allocations per copy."""
    def load_all() -> list[str]:
        names.extend(f"bench_memory_{next(_memory_copies)}" for _ in range(BURST))
        return [load_copy(name) for name in names]

    names: list[str] = []  # (this list and the results': 17 bytes a copy, counted)
    with bytecode(cached=True), tracing():
        try:
            load_all()  # warm-up
            for name in names:
                del sys.modules[name]
            names.clear()
            before = snapshot()
            results = load_all()
            after = snapshot()
        finally:
            for name in names:
                sys.modules.pop(name, None)
    for result in results:  # (after the snapshot: the check's garbage is not counted)
        check_item(result, "the module loaded by hand")
    per_copy, by_file = _growth(after, before, BURST)
    memory.base.append(round(per_copy))
    memory.base_files.append(by_file)
    return [round(per_copy)]


def files_median(rounds: list[dict[str, float]]) -> dict[str, float]:
    """Row 5b's bytes by file, the median of the rounds (0 in a round that lacks the file)."""
    files = {name for by_file in rounds for name in by_file}
    return {name: statistics.median(by_file.get(name, 0.0) for by_file in rounds)
            for name in files}


def files_text(by_file: dict[str, float], top: int = 4) -> str:
    ranked = sorted(by_file.items(), key=lambda item: -item[1])
    shown = [f"`{name}` {fmt_bytes(size)}" for name, size in ranked[:top] if size >= 1]
    rest = sum(size for _, size in ranked[top:])
    return ", ".join(shown) + (f", other files {fmt_bytes(rest)}" if ranked[top:] else "")



def measure(plan: Plan, ll: LambdaLocal) -> Section:
    memory = Memory()
    per_instance = interleave(plan.memory_rounds, {
        "ours": lambda: ours_memory(memory),
        "base": lambda: baseline_memory(memory),
    }, "5b. idle memory      ")
    row = Row("memory", "5b. memory per idle instance, in-process",
              per_instance["ours"], "the module loaded by hand", per_instance["base"],
              kind="memory", target=MEMORY_TARGET)
    ours_files, base_files = files_median(memory.ours_files), files_median(memory.base_files)
    own_lines = ours_files.get(HANDLER_FILE.relative_to(REPO).as_posix(), 0.0)

    def rounds(samples: Samples) -> str:
        return ", ".join(fmt_bytes(x) for x in samples)

    method = render(
        "memory", burst=BURST, rounds=plan.memory_rounds, ours_rounds=rounds(memory.ours),
        base_rounds=rounds(memory.base), difference=fmt_bytes(row.ratio),
        kb_bytes=f"{KB:,}", ours_by_file=files_text(ours_files),
        base_by_file=files_text(base_files),
        code_objects=fmt_bytes(base_files.get("<frozen importlib._bootstrap_external>", 0.0)),
        emulator_part=fmt_bytes(row.ours_median - own_lines),
        stopped=fmt_bytes(statistics.median(memory.stopped)),
    )
    return Section([row], method)
