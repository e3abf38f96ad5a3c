"""Rows 12a-12b (issue 15): what the lifecycle report costs a suite, and how many fault
schedules Hypothesis explores per second."""

from __future__ import annotations

import json
import shutil
import statistics
import tempfile
from pathlib import Path

from ..common import FUNCTION_DIR, BenchError, Samples
from ..lambda_local import LambdaLocal
from ..model import Plan, Row, Section, interleave
from ..template import render
from ..units import spread
from .scale import Runs
from .suite import run_suite

RECORDING_TARGET = 1.02  # the report on, against off (under 2% of the run)
EXAMPLE_BUDGET_NS = 5_000_000  # 200 examples a second
STEPS = 10
RECORDING_ROUNDS = 2  # (12a: rows 9's rounds times this: its 2% is within one run's noise)
LIFECYCLE = ("--fginit-lifecycle",)


EXPLORE_TEST = """\
import pytest
from hypothesis import HealthCheck, given, settings

from pytest_fginit.strategies import schedules

pytestmark = pytest.mark.fginit(handler="index.handler", initializer_handler="index.init",
                                func_name="bench")
RAN = []
STRATEGY = schedules(min_steps={steps}, max_steps={steps})
SETTINGS = dict(deadline=None, database=None, derandomize=True,
                suppress_health_check=list(HealthCheck))


@settings(max_examples=5, **SETTINGS)
@given(schedule=STRATEGY)
def test_a_warm_up(fg_emulator, schedule):  # (the session's first emulator: imports)
    with fg_emulator() as fn:
        fn.run(schedule)


@settings(max_examples={examples}, **SETTINGS)
@given(schedule=STRATEGY)
def test_explore(fg_emulator, schedule):
    with fg_emulator() as fn:
        fn.run(schedule)
    RAN.append(len(schedule.steps))
"""

EXPLORE_CONFTEST = """\
import json
import pathlib

import freezegun.api as _fz  # (its real clock: the plugin's freeze fakes time's)
import pytest


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    if item.name != "test_explore":
        return (yield)
    t0 = _fz.real_perf_counter_ns()
    try:
        return (yield)
    finally:
        elapsed = _fz.real_perf_counter_ns() - t0
        out = pathlib.Path(__file__).parent / "explored.json"
        out.write_text(json.dumps({{"elapsed": elapsed, "ran": item.module.RAN}}))
"""


def write_exploration(root: Path, examples: int) -> None:
    """A project whose test is a Hypothesis exploration with ``fg_emulator`` (after a short
    one that pays the session's first imports), and a conftest that times the test's call
    (every example: drawing, the fixture's emulators, ``run``) with the real clock."""
    shutil.copytree(FUNCTION_DIR, root / "fn", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "pytest.ini").write_text("[pytest]\nfginit_code_root = fn\n", encoding="utf-8")
    (root / "conftest.py").write_text(EXPLORE_CONFTEST.format(), encoding="utf-8")
    (root / "test_explore.py").write_text(
        EXPLORE_TEST.format(examples=examples, steps=STEPS), encoding="utf-8")


def explored(root: Path, examples: int) -> Samples:
    """One ``pytest`` run of the exploration project: the real time of each of its examples
    (the test call's time over the examples), as a user's ``@given`` test with
    ``fg_emulator`` pays it."""
    out = root / "explored.json"
    out.unlink(missing_ok=True)
    run_suite(root, 2, ("-p", "no:cacheprovider"))
    found = json.loads(out.read_text(encoding="utf-8"))
    ran = found["ran"]
    if len(ran) < examples // 2 or min(ran) < STEPS:
        raise BenchError(f"Hypothesis ran {len(ran)} examples of {min(ran, default=0)}+ steps")
    return [found["elapsed"] // len(ran)]


def measure(plan: Plan, ll: LambdaLocal) -> Section:
    del ll  # (no peer: no other tool records lifecycle paths or explores schedules)
    tests = plan.scale_tests[1]
    rounds = plan.scale_rounds * RECORDING_ROUNDS
    with tempfile.TemporaryDirectory(prefix="fginit-bench-lifecycle-") as tmp:
        suite = Runs(Path(tmp), tests)
        if plan.scale_warmup:
            suite.warm_up()
        walls = interleave(rounds, {
            "on": lambda: suite.side("on", "inprocess", LIFECYCLE),
            "off": lambda: suite.side("off", "inprocess"),
        }, "12a. lifecycle report")
        cpu = {side: [int(s * 1e9) for s in suite.cpu[side]] for side in ("on", "off")}
        explore = Path(tmp) / "explore"
        write_exploration(explore, plan.explored_examples)
        explored(explore, plan.explored_examples)  # (warm-up: bytecode caches)
        examples = interleave(plan.rounds, {
            "ours": lambda: explored(explore, plan.explored_examples)}, "12b. schedules     ")
    rows = [
        Row("lifecycle", f"12a. {tests:,} tests, --fginit-lifecycle", cpu["on"],
            "the same suite without it", cpu["off"], kind="slowdown",
            target=RECORDING_TARGET),
        Row("explore", f"12b. a schedule of {STEPS} steps, explored", examples["ours"],
            "200 examples a second", theirs_fixed_ns=EXAMPLE_BUDGET_NS, kind="slowdown",
            target=1.0),
    ]
    wall = statistics.median(walls["on"]) / statistics.median(walls["off"])
    method = render("lifecycle", tests=f"{tests:,}", rounds=rounds,
                    on_spread=spread(cpu["on"], "ms"), off_spread=spread(cpu["off"], "ms"),
                    wall=f"{wall:.2f}x", wall_on=spread(walls["on"], "ms"),
                    wall_off=spread(walls["off"], "ms"),
                    steps=STEPS, examples=plan.explored_examples, example_rounds=plan.rounds,
                    explore_spread=spread(examples["ours"], "µs"))
    return Section(rows, method)
