"""Faults registered but never used fail a passing test at teardown, unless allowed (per
test, suite-wide), and never an xfailed test: pytester sessions."""

from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ["pytester"]

MARKED = """
import pytest

pytestmark = pytest.mark.fginit(code_root="fn", initializer_handler="index.init",
                                initializer_timeout=30, user_data={"DB_URL": "pg://db"},
                                encrypted_user_data={"PASSWORD": "hunter2-secret"})
"""


def make_tests(pytester: pytest.Pytester, source: str, name: str = "test_fn") -> None:
    pytester.makepyfile(**{name: textwrap.dedent(source)})


def test_unused_faults_fail_a_passing_test_at_teardown(project):
    make_tests(project, MARKED + """
import pytest

def test_forgot_to_invoke(fg_function):
    fg_function.faults.initializer.raises(ConnectionError("db down"), times=2)
    fg_function.faults.handler.hangs()

@pytest.mark.fginit(assert_all_faults_used=False)
def test_allowed(fg_function):
    fg_function.faults.handler.hangs()

def test_failing_anyway(fg_function):
    fg_function.faults.handler.hangs()
    assert False
""")
    result = project.runpytest_subprocess()
    result.assert_outcomes(passed=2, failed=1, errors=1)
    result.stdout.fnmatch_lines([
        "*ERROR at teardown of test_forgot_to_invoke*",
        "*these faults were registered but never used:*",
        "*faults.initializer: raises ConnectionError('db down') (x2 left)*",
        "*faults.handler: hangs (x1 left)*",
    ])
    assert "ERROR at teardown of test_failing_anyway" not in result.stdout.str()


def test_unused_faults_can_be_allowed_suite_wide(project):
    project.makeini("[pytest]\nfginit_assert_all_faults_used = false\n")
    make_tests(project, MARKED + """
def test_allowed(fg_function):
    fg_function.faults.handler.hangs()
""")
    project.runpytest_subprocess().assert_outcomes(passed=1)


def test_an_xfailed_test_is_not_also_failed_for_its_unused_faults(project):
    make_tests(project, MARKED + """
import pytest

@pytest.mark.xfail(reason="shows the rule", strict=True)
def test_expected_to_fail(fg_function):
    fg_function.faults.handler.hangs()
    assert False
""")
    result = project.runpytest_subprocess()
    result.assert_outcomes(xfailed=1)
