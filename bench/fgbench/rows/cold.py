"""Rows 1a-1c: a cold start in-process, against the same work by hand."""

from __future__ import annotations

import sys

from pytest_fginit import FunctionEmulator

from ..common import (
    EVENT,
    BenchError,
    Samples,
    baseline_cold_start,
    bytecode,
    check_ok,
    config,
    now_ns,
)
from ..lambda_local import LambdaLocal
from ..model import Plan, Row, Section, interleave
from ..template import render
from ..units import spread


def ours_cold_recycle(n: int, warmup: int, cached: bool) -> Samples:
    """One emulator (its clock started outside the loop); recycle() then invoke(), n times."""
    samples: Samples = []
    with bytecode(cached), FunctionEmulator(config()) as fn:
        for _ in range(warmup):
            fn.recycle()
            fn.invoke(EVENT)
        first = len(fn.invocations)
        for _ in range(n):
            t0 = now_ns()
            fn.recycle()
            fn.invoke(EVENT)
            samples.append(now_ns() - t0)
        check_ok(fn.invocations, cold=True)
        if len(fn.invocations) - first != n:
            raise BenchError("lost invocations")
    return samples


def ours_cold_new_emulator(n: int, warmup: int) -> Samples:
    """A new emulator per cold start: config, start (freezegun), invoke, close."""
    samples: Samples = []
    with bytecode(cached=True):
        for i in range(warmup + n):
            t0 = now_ns()
            with FunctionEmulator(config()) as fn:
                inv = fn.invoke(EVENT)
            elapsed = now_ns() - t0
            check_ok([inv], cold=True)
            if i >= warmup:
                samples.append(elapsed)
    return samples


def baseline_cold(n: int, warmup: int, cached: bool) -> Samples:
    samples: Samples = []
    with bytecode(cached):
        for _ in range(warmup):
            baseline_cold_start()
        for _ in range(n):
            t0 = now_ns()
            result = baseline_cold_start()
            samples.append(now_ns() - t0)
    if result["statusCode"] != 200:
        raise BenchError(f"baseline: unexpected result {result!r}")
    return samples



def measure(plan: Plan, ll: LambdaLocal) -> Section:
    p = plan
    cold = interleave(p.rounds, {
        "cached": lambda: ours_cold_recycle(p.cold, p.warmup, cached=True),
        "cached_base": lambda: baseline_cold(p.cold, p.warmup, cached=True),
        "compiled": lambda: ours_cold_recycle(p.cold, p.warmup, cached=False),
        "compiled_base": lambda: baseline_cold(p.cold, p.warmup, cached=False),
        "new": lambda: ours_cold_new_emulator(p.cold_new, 1),
    }, "1. cold starts       ")
    rows = [
        Row("cold", "1a. cold start, bytecode cached",
            cold["cached"], "by hand", cold["cached_base"], target=1.5),
        Row("cold_compiled", "1b. cold start, source compiled",
            cold["compiled"], "by hand", cold["compiled_base"], target=1.5),
        Row("cold_new", "1c. cold start, new emulator each time",
            cold["new"], "by hand, as 1a", cold["cached_base"]),
    ]
    method = render(
        "cold", samples=p.cold, most_instances=p.cold + p.warmup + 1, new_samples=p.cold_new,
        modules=len(sys.modules),
        cached_spread=spread(cold["cached"], "µs"),
        cached_base_spread=spread(cold["cached_base"], "µs"),
        compiled_spread=spread(cold["compiled"], "µs"),
        compiled_base_spread=spread(cold["compiled_base"], "µs"),
        new_spread=spread(cold["new"], "µs"),
    )
    return Section(rows, method)
