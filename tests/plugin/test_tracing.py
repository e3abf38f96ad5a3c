"""Profilers and coverage see and survive instance code (they trace it, in-process)."""

from __future__ import annotations

import sys
import textwrap

import pytest

TIMEOUT_S = 120  # a hang fails the test instead of blocking the suite

TRACED_TESTS = """
import cProfile
import pytest

pytestmark = pytest.mark.fginit(code_root="fn", initializer_handler="index.init")

def test_invokes_under_a_profiler_after_a_kill(fg_function):
    fg_function.faults.handler.hangs()
    assert fg_function.invoke({}).error.kind == "handler_timeout"
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        for _ in range(20):
            fg_function.recycle()
            assert fg_function.invoke({}).ok
    finally:
        profiler.disable()

def test_busy_handler_killed_by_the_watchdog(fg_function):
    fg_function.invoke({})
    inv = fg_function.invoke({"busy": True})
    assert inv.error.kind == "handler_timeout"
    assert fg_function.invoke({}).ok
"""

FUNCTION = """
def init(context):
    context.getLogger().info("initialized")

def handler(event, context):
    if event.get("busy"):
        while True:
            pass
    return "ok"
"""


@pytest.fixture
def traced_project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.mkdir("fn")
    (pytester.path / "fn" / "index.py").write_text(textwrap.dedent(FUNCTION))
    pytester.makepyfile(test_traced=TRACED_TESTS)
    pytester.makeini("[pytest]\nfginit_real_time_limit = 0.05\n")
    return pytester


def test_a_profiler_after_a_kill_does_not_hang(traced_project):
    result = traced_project.runpytest_subprocess(timeout=TIMEOUT_S)
    result.assert_outcomes(passed=2)


def test_coverage_measures_instance_code(traced_project):
    pytest.importorskip("coverage")
    result = traced_project.run(sys.executable, "-m", "coverage", "run", "-m", "pytest",
                                timeout=TIMEOUT_S)
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    report = traced_project.run(sys.executable, "-m", "coverage", "report", "-m",
                                "--include=fn/*")
    # Lines of the initializer and the handler ran inside emulated instances: all measured.
    report.stdout.fnmatch_lines(["fn*index.py * 0 * 100%*"])
