"""Whose an exception is, in whole pytest sessions: pytest-timeout's signal method stops a
test whose function is busy (in the handler or the initializer, in both modes) and never
passes it; a ``KeyboardInterrupt`` that user code raises is the function's error and the
session goes on; a real Ctrl-C still stops the run."""

from __future__ import annotations

import sys
import textwrap

import pytest

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="process isolation: Linux")

HANG_GUARD_S = 120.0
"""A session that hangs fails here instead (the runs take seconds)."""

BUSY = """
import os, signal

def init(context):
    if context.getUserData("BUSY_INIT"):
        while True:
            pass

def handler(event, context):
    if event == "busy":
        with open("instance.pid", "w") as pid:
            pid.write(str(os.getpid()))
        while True:
            pass
    if event == "raise":
        raise KeyboardInterrupt("raised by the handler")
    if isinstance(event, dict):  # a real Ctrl-C, to the test's process, while this runs
        os.kill(event["ctrl-c"], signal.SIGINT)
        while True:
            pass
    return event
"""

ISOLATIONS = ["inprocess", "process"]


@pytest.fixture
def busy(pytester: pytest.Pytester) -> pytest.Pytester:
    (pytester.path / "fn").mkdir()
    (pytester.path / "fn" / "index.py").write_text(BUSY)
    return pytester


def make_tests(pytester: pytest.Pytester, isolation: str, source: str) -> None:
    pytester.makepyfile(test_fn=textwrap.dedent(f"""
        import pytest

        pytestmark = pytest.mark.fginit(code_root="fn", initializer_handler="index.init",
                                        timeout=900, initializer_timeout=300,
                                        isolation={isolation!r})
    """) + textwrap.dedent(source))


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_pytest_timeout_stops_a_busy_handler_as_the_tests_failure(busy, isolation,
                                                                  process_ends):
    pytest.importorskip("pytest_timeout")
    make_tests(busy, isolation, """
        @pytest.mark.timeout(2, method="signal")
        def test_busy(fg_function):
            fg_function.invoke("busy")

        def test_next(fg_function):
            assert fg_function.invoke("fine").result == "fine"
    """)
    result = busy.runpytest_subprocess("-p", "no:cacheprovider", timeout=HANG_GUARD_S)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*FAILED test_fn.py::test_busy - Failed: Timeout*"])
    if isolation == "process":  # the instance process it waited on is not left running
        assert process_ends(int((busy.path / "instance.pid").read_text()))


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_pytest_timeout_stops_a_busy_initializer_without_retrying(busy, isolation):
    pytest.importorskip("pytest_timeout")
    make_tests(busy, isolation, """
        @pytest.mark.timeout(2, method="signal")
        @pytest.mark.fginit(user_data={"BUSY_INIT": "1"})
        def test_busy_init(fg_function):
            fg_function.invoke("fine")

        def test_next(fg_function):
            assert fg_function.invoke("fine").result == "fine"
    """)
    result = busy.runpytest_subprocess("-p", "no:cacheprovider", timeout=HANG_GUARD_S)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*FAILED test_fn.py::test_busy_init - Failed: Timeout*"])


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_a_keyboard_interrupt_raised_by_user_code_does_not_end_the_session(busy, isolation):
    make_tests(busy, isolation, """
        def test_raises(fg_function):
            fg_function.faults.initializer.raises(KeyboardInterrupt("injected"))
            inv = fg_function.invoke("raise")
            assert inv.init_attempts[0].error.type == "KeyboardInterrupt"
            assert (inv.error.kind, inv.error.type, inv.error.message) == (
                "handler_error", "KeyboardInterrupt", "raised by the handler")

        def test_next(fg_function):
            assert fg_function.invoke("fine").ok
    """)
    result = busy.runpytest_subprocess("-p", "no:cacheprovider", timeout=HANG_GUARD_S)
    result.assert_outcomes(passed=2)


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_a_real_ctrl_c_while_user_code_runs_stops_the_run(busy, isolation):
    make_tests(busy, isolation, """
        import os

        def test_interrupted(fg_function):
            fg_function.invoke({"ctrl-c": os.getpid()})

        def test_never_run():
            pass
    """)
    result = busy.runpytest_subprocess("-p", "no:cacheprovider", timeout=HANG_GUARD_S)
    result.stdout.fnmatch_lines(["*KeyboardInterrupt*"])
    assert "test_never_run" not in result.stdout.str()
    assert result.ret == pytest.ExitCode.INTERRUPTED


