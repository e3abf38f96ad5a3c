"""In-process limits that only process isolation answers: the failure report says which one
was hit, where the emulator can tell (docs/behaviour-and-limits.md, "Known limits")."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

# Catches every stop, then gives up after 25 (so that the test ends): a stop lands in the
# `while True` almost surely, as the loop spends its time there.
SWALLOWING = """
def handler(event, context):
    caught = 0

    def spin():
        nonlocal caught
        try:
            while True:
                pass
        except BaseException:
            caught += 1

    while caught < 25:
        try:
            spin()
        except BaseException:
            pass
    return caught
"""


def test_code_that_swallows_the_stop_is_named_at_its_line(project, function_source):
    function_source(SWALLOWING)
    project.makepyfile(test_it="""
        import pytest

        @pytest.mark.fginit(code_root="fn", handler="index.handler", timeout=3)
        def test_it(fg_function):
            inv = fg_function.invoke({})
            assert inv.error.kind == "handler_timeout"
    """)
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines([
        "*fn/index.py:[89]: InProcessLimitWarning: pytest-fginit: the function's code is still "
        "running 20 stops after its timeout: it catches BaseException*; catch Exception "
        "instead, or use isolation=\"process\", whose instances are killed",
    ])


def test_process_isolation_kills_it_without_a_warning(project, function_source):
    function_source(SWALLOWING.replace("while caught < 25", "while True"))
    project.makepyfile(test_it="""
        import pytest

        @pytest.mark.fginit(code_root="fn", handler="index.handler", timeout=3,
                            isolation="process")
        def test_it(fg_function):
            inv = fg_function.invoke({})
            assert inv.error.kind == "handler_timeout"
    """)
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "InProcessLimitWarning" not in result.stdout.str()


@pytest.mark.parametrize(("call", "said"), [
    ("os.close(2)", "closed the test process's standard error (descriptor 2)"),
    ("os.dup2(os.open(os.devnull, os.O_WRONLY), 1)",
     "replaced the test process's standard output (descriptor 1)"),
])
def test_a_closed_or_replaced_standard_descriptor_is_named(project, function_source, call, said):
    function_source(f"""
import os

def handler(event, context):
    {call}
    return "done"
""")
    project.makepyfile(test_it="""
        import pytest

        @pytest.mark.fginit(code_root="fn", handler="index.handler")
        def test_it(fg_function):
            assert fg_function.invoke({}).result == "done"
    """)
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines([
        f"*InProcessLimitWarning: pytest-fginit: index.handler {said}: in-process, an "
        "instance's descriptors are the test's own*",
    ])
