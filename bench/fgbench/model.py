"""The runner's vocabulary: a plan (how many samples), a row of the table, a section (a group
of rows and its part of the method text), and how the sides of a row are interleaved."""

from __future__ import annotations

import gc
import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from .common import Samples
from .units import KB, big, fmt_bytes, fmt_ns

Kind = Literal["slowdown", "speedup", "report", "memory", "above", "bytes"]
"""How a row's two sides compare (see ``Row.kind``)."""


def interleave(rounds: int, sides: dict[str, Callable[[], Samples]],
               progress: str) -> dict[str, Samples]:
    """Run every side once per round, alternating which goes first; pool the samples."""
    pooled: dict[str, Samples] = {key: [] for key in sides}
    order = list(sides)
    print(f"  {progress} ", end="", flush=True)
    for r in range(rounds):
        for key in order if r % 2 == 0 else order[::-1]:
            gc.collect()
            pooled[key].extend(sides[key]())
        print(".", end="", flush=True)
    print()
    return pooled


@dataclass(frozen=True)
class Plan:
    time_limit_s: int
    rounds: int
    cold: int
    cold_new: int
    warm_ours: int
    warm_theirs: int
    timeouts: int
    warmup: int
    proc_cold: int  # per round, each side of rows 4a (ours, call()) and lambda-local loading
    fresh: int  # per round, each fresh-interpreter side of row 4b
    proc_warm: int  # per round, process mode in row 4c (in-process mode: warm_ours)
    many_rounds: int  # row 4d: this many times MANY instances
    burst: int  # per round, each side of row 5a (a sample: BURST requests)
    memory_rounds: int  # row 5b: this many times BURST idle instances, and BURST copies
    suite_tests: int  # row 6: tests in the generated suite
    suite_rounds: int  # row 6: whole pytest runs per side
    process_burst: int  # row 7: process instances brought up by one send, then closed
    process_burst_rounds: int  # row 7: this many sends and closes
    masking_requests: int  # per round, each side of row 8 (a sample: 10,000 lines logged)
    ready: int  # row 2c: ready instances, brought up by one send, before the warm invokes
    scale_tests: tuple[int, int]  # rows 9a-9f: tests in the small and in the large suite
    scale_rounds: int  # rows 9a-9f: whole pytest runs per side and size
    scale_warmup: bool  # rows 9a-9f: each project run once first (quick: row 6 filled caches)
    records_invokes: int  # row 10: warm invokes on one instance, their records traced
    trigger_events: int  # row 11a: async requests (each retried once) against as many invokes
    explored_examples: int  # row 12b: Hypothesis examples per sample
    endpoint_requests: int  # row 13a: warm requests per side, through the endpoint and not
    cli_invokes: int  # row 13b: new processes per round and side (fginit invoke, by hand)


PLANS = {
    "quick": Plan(time_limit_s=240, rounds=2, cold=15, cold_new=3, warm_ours=150,
                  warm_theirs=5, timeouts=3, warmup=2, proc_cold=4, fresh=2, proc_warm=40,
                  many_rounds=1, burst=1, memory_rounds=1,
                  suite_tests=20, suite_rounds=1, process_burst=100, process_burst_rounds=1,
                  masking_requests=3, ready=100, scale_tests=(3, 6), scale_rounds=1,
                  scale_warmup=False,
                  records_invokes=2_000, trigger_events=50, explored_examples=20,
                  endpoint_requests=100, cli_invokes=1),
    "full": Plan(time_limit_s=1200, rounds=12, cold=100, cold_new=15, warm_ours=2000,
                 warm_theirs=40, timeouts=25, warmup=5, proc_cold=30, fresh=10, proc_warm=500,
                 many_rounds=4, burst=5, memory_rounds=4,
                 suite_tests=100, suite_rounds=8, process_burst=1000, process_burst_rounds=3,
                 masking_requests=20, ready=1000, scale_tests=(200, 1000), scale_rounds=5,
                 scale_warmup=True,
                 records_invokes=100_000, trigger_events=1000,
                 explored_examples=200, endpoint_requests=2000, cli_invokes=3),
}


@dataclass
class Row:
    key: str
    name: str
    ours: Samples
    theirs_label: str
    theirs: Samples | None = None  # measured, or:
    theirs_fixed_ns: int | None = None  # computed, not run
    # "slowdown": ours/theirs <= target; "speedup": theirs/ours >= target; "report": no ratio,
    # the theirs column shows theirs_label and the ratio column shows summary; "memory": bytes,
    # not nanoseconds, and the ratio is the difference ours - theirs (<= target, in bytes);
    # "above": the difference ours - theirs per one of `per` items (<= target, nanoseconds):
    # what a suite pays per test above the same tests by hand; "bytes": bytes against a
    # limit, no baseline (ours < target), the theirs column and the ratio column as "report"
    kind: Kind = "slowdown"
    target: float | None = None
    notes: list[str] = field(default_factory=list)
    summary: str = ""
    per: int = 1  # "above": the items ours and theirs did (tests in a suite)
    per_what: str = "test"

    @property
    def ours_median(self) -> float:
        return statistics.median(self.ours)

    @property
    def theirs_median(self) -> float:
        if self.kind in ("report", "bytes"):
            return math.nan
        if self.theirs_fixed_ns is not None:
            return float(self.theirs_fixed_ns)
        assert self.theirs is not None
        return statistics.median(self.theirs)

    @property
    def ratio(self) -> float:
        if self.kind == "memory":
            return self.ours_median - self.theirs_median
        if self.kind == "above":
            return (self.ours_median - self.theirs_median) / self.per
        if self.kind == "bytes":
            return self.ours_median
        if self.kind == "slowdown":
            return self.ours_median / self.theirs_median
        return self.theirs_median / self.ours_median

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        if self.kind in ("memory", "bytes"):
            return self.ratio < self.target
        if self.kind in ("slowdown", "above"):
            return self.ratio <= self.target
        return self.ratio >= self.target

    def ratio_text(self) -> str:
        if self.kind in ("report", "bytes"):
            return self.summary
        if self.kind == "memory":
            return f"{'+' if self.ratio >= 0 else '-'}{fmt_bytes(abs(self.ratio))} above the module"
        if self.kind == "above":  # (in ms whatever the size: the targets are)
            return f"{self.ratio / 1e6:+.2f} ms per {self.per_what}"
        if self.kind == "slowdown":
            return f"{self.ratio:.2f}x the baseline"
        return f"{big(self.ratio)}x faster"

    def target_text(self) -> str:
        if self.target is None:
            return "none (information)"
        if self.kind == "memory":
            return f"< {self.target / KB:g} KB above"
        if self.kind == "bytes":
            return f"< {fmt_bytes(self.target)}"
        if self.kind == "above":
            return f"<= +{self.target / 1e6:g} ms per {self.per_what}"
        if self.kind == "slowdown":
            return f"<= {self.target:g}x"
        return f">= {big(self.target)}x faster"

    def fmt(self, value: float, micro: str) -> str:
        return fmt_bytes(value) if self.kind in ("memory", "bytes") else fmt_ns(value, micro)

    def met_text(self) -> str:
        return {None: "n/a", True: "yes", False: "NO (missed)"}[self.met]



@dataclass
class Section:
    """What one module of ``rows`` measured: its rows, and its part of the method text."""

    rows: list[Row]
    method: str  # markdown, values filled in
