"""Rows 12a-12b (issue 15): what the lifecycle report costs a suite, and how many fault
schedules Hypothesis explores per second."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from pytest_fginit import FunctionEmulator
from pytest_fginit._clock import hold_freeze, release_freeze

from ..common import BenchError, Samples, bytecode, config, now_ns
from ..lambda_local import LambdaLocal
from ..model import Plan, Row, Section, interleave
from ..template import render
from ..units import spread
from .scale import Runs

RECORDING_TARGET = 1.02  # the report on, against off (under 2% of the run)
EXAMPLE_BUDGET_NS = 5_000_000  # 200 examples a second
STEPS = 10
LIFECYCLE = ("--fginit-lifecycle",)


def explored(examples: int) -> Samples:
    """``examples`` Hypothesis examples of ``STEPS`` steps on fresh emulators, as
    ``fg_emulator`` gives them; the real time of each (the run's time over the examples)."""
    from hypothesis import HealthCheck, given, settings

    from pytest_fginit.strategies import schedules

    ran: list[int] = []

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(schedule=schedules(events=None, min_steps=STEPS, max_steps=STEPS))
    def example(schedule: Any) -> None:
        with FunctionEmulator(config()) as fn:
            fn.run(schedule)
        ran.append(len(schedule.steps))

    hold_freeze()  # (as the plugin holds it for a session: one freezegun module scan)
    try:
        with bytecode(cached=True):
            t0 = now_ns()
            example()
            elapsed = now_ns() - t0
    finally:
        release_freeze()
    if len(ran) < examples // 2 or min(ran) < STEPS:
        raise BenchError(f"Hypothesis ran {len(ran)} examples of {min(ran, default=0)}+ steps")
    return [elapsed // len(ran)]


def measure(plan: Plan, ll: LambdaLocal) -> Section:
    del ll  # (no peer: no other tool records lifecycle paths or explores schedules)
    tests = plan.scale_tests[1]
    with tempfile.TemporaryDirectory(prefix="fginit-bench-lifecycle-") as tmp:
        suite = Runs(Path(tmp), tests)
        if plan.scale_warmup:
            suite.warm_up()
        runs = interleave(plan.scale_rounds, {
            "on": lambda: suite.side("lifecycle", "inprocess", LIFECYCLE),
            "off": lambda: suite.side("inprocess", "inprocess"),
        }, "12a. lifecycle report")
    examples = interleave(plan.rounds, {"ours": lambda: explored(plan.explored_examples)},
                          "12b. schedules     ")
    rows = [
        Row("lifecycle", f"12a. {tests:,} tests, --fginit-lifecycle", runs["on"],
            "the same suite without it", runs["off"], kind="slowdown",
            target=RECORDING_TARGET),
        Row("explore", f"12b. a schedule of {STEPS} steps, explored", examples["ours"],
            "200 examples a second", theirs_fixed_ns=EXAMPLE_BUDGET_NS, kind="slowdown",
            target=1.0),
    ]
    method = render("lifecycle", tests=f"{tests:,}", rounds=plan.scale_rounds,
                    on_spread=spread(runs["on"], "ms"), off_spread=spread(runs["off"], "ms"),
                    steps=STEPS, examples=plan.explored_examples, example_rounds=plan.rounds,
                    explore_spread=spread(examples["ours"], "µs"))
    return Section(rows, method)
