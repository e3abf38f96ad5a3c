"""Row 10: what a long run's records hold: many warm invokes on one instance, in-process, under
``tracemalloc``, against a fixed limit (no baseline: a harness keeps no records)."""

from __future__ import annotations

import gc
import tracemalloc

from pytest_fginit import FunctionEmulator

from ..common import EVENT, BenchError, bytecode, check_ok, config, now_ns
from ..lambda_local import LambdaLocal
from ..model import Plan, Row, Section
from ..template import render
from ..units import MB, fmt_bytes, fmt_ns
from .memory import tracing

RECORDS_LIMIT = 20 * MB  # after 10^5 invokes on one instance (issue 12)
WARMUP = 100


def records_growth(n: int) -> tuple[int, int, int]:
    """``n`` warm invokes on one instance, traced: the bytes still allocated after them (the
    emulator's records: invocations, journal, billing, the instance's list), the peak above
    the start, and the real time they took (tracing slows every allocation down)."""
    with bytecode(cached=True), FunctionEmulator(config()) as fn:
        for _ in range(1 + WARMUP):  # the cold start, then lists and caches grown
            fn.invoke(EVENT)
        with tracing():
            gc.collect()
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            t0 = now_ns()
            for _ in range(n):
                inv = fn.invoke(EVENT)
                if not inv.ok:
                    raise BenchError(f"an invocation failed: {inv.error!r}")
            elapsed = now_ns() - t0
            check_ok([inv], cold=False)
            del inv  # (one record: in the result while alive, not a leak)
            gc.collect()
            held, peak = tracemalloc.get_traced_memory()
    return held - before, peak - before, elapsed


def measure(plan: Plan, ll: LambdaLocal) -> Section:
    del ll  # (no peer: python-lambda-local keeps nothing between calls)
    n = plan.records_invokes
    print("  10. records of a long run ", end="", flush=True)
    held, peak, elapsed = records_growth(n)
    print(".")
    row = Row("records", f"10. records of {n:,} invokes on one instance", [held],
              f"limit {fmt_bytes(RECORDS_LIMIT)} (no baseline)", kind="bytes",
              target=RECORDS_LIMIT, summary=f"{held / n:,.0f} B per invoke")
    method = render("records", invokes=f"{n:,}", warmup=WARMUP, held=fmt_bytes(held),
                    peak=fmt_bytes(peak), per_invoke=f"{held / n:,.0f}",
                    limit=fmt_bytes(RECORDS_LIMIT), traced_time=fmt_ns(elapsed / n, "µs"))
    return Section([row], method)
