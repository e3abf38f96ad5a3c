"""What a pytester session shows of a test's function: the lifecycle timeline of a failed
test (in time order, secrets masked, none for a passing test), instance output in
pytest's captured output, and the session's summary of what the platform would have done."""

from __future__ import annotations

import re
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


def test_a_failed_test_reports_the_lifecycle_timeline_without_secrets(project, function_source):
    function_source("""
        def init(context):
            context.getLogger().info("logging in with " + context.getUserData("PASSWORD"))
            raise ConnectionError("db down for " + context.getUserData("PASSWORD"))
        def handler(event, context):
            return 1
    """)
    make_tests(project, MARKED + """
def test_fails(fg_function):
    fg_function.invoke({}).raise_for_error()
""")
    result = project.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*- fginit lifecycle -*",
        "function 'fn': handler index.handler (3 s), initializer index.init (30 s), 128 MB, "
        "init_retries 3, virtual time, in-process isolation",
        "*+0.0*s  instance-1 created",
        "*s  instance-1 init failed, abandoned: init_failed ConnectionError: "
        "db down for ****** (*ms)",
        "*s  instance-4 init failed, abandoned: *",
        "*s  request 00000000-0000-4000-8000-000000000001: init_failed ConnectionError: "
        "db down for ****** - no instance could initialize (cold start, 4 init attempts*",
    ])
    assert "hunter2-secret" not in result.stdout.str()


def test_the_timeline_is_in_time_order_with_handler_outcomes(project):
    make_tests(project, MARKED + """
def test_fails(fg_function):
    fg_function.invoke({})
    fg_function.faults.handler.hangs()
    fg_function.invoke({})
    fg_function.advance(600)
    fg_function.invoke({})
    assert False, "show me the timeline"
""")
    result = project.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*s  instance-1 created",
        "*s  instance-1 initialized, ready (*",
        "*s  request *0001: ok on instance-1 (cold start, 1 init attempt, handler *",
        "*s  instance-1 killed",
        "*s  request *0002: handler_timeout function invocation timed out after 3 s on "
        "instance-1 (warm, handler 3000.0 ms, billed 3000 ms)",
        "*s  clock advanced 600 s",
        "*s  instance-2 created",
        "*s  request *0003: ok on instance-2 (cold start*",
    ])
    times = [float(t) for t in re.findall(r"^\s+([+-][\d.]+)s  ", result.stdout.str(), re.M)]
    assert times == sorted(times) and times[-1] >= 600


def test_a_passing_test_gets_no_timeline(project):
    make_tests(project, MARKED + """
def test_passes(fg_function):
    assert fg_function.invoke({}).ok
""")
    result = project.runpytest_subprocess("-rA")
    result.assert_outcomes(passed=1)
    assert "fginit lifecycle" not in result.stdout.str()


def test_context_logger_and_prints_reach_pytests_captured_output(project, function_source):
    function_source("""
        def init(context):
            context.getLogger().info("pool ready")
        def handler(event, context):
            print("printed by handler")
            return 1
    """)
    make_tests(project, MARKED + """
def test_fails(fg_function):
    inv = fg_function.invoke({})
    assert "pool ready" in inv.log and "printed by handler" in inv.log
    assert False
""")
    result = project.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*Captured stdout call*", "*INFO pool ready",
                                 "printed by handler"])


def test_the_timeline_of_a_burst_shows_each_request_and_the_throttled_one(project):
    make_tests(project, MARKED + """
@pytest.mark.fginit(max_instance_num=2)
def test_fails(fg_function):
    fg_function.invoke_concurrently([{}, {}, {}])
    assert False, "show me the timeline"
""")
    result = project.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*- fginit lifecycle -*",
        "*s  instance-1 created",
        "*s  instance-2 created",
        "*s  request 00000000-0000-4000-8000-000000000001: ok on instance-1 (cold start*",
        "*s  request 00000000-0000-4000-8000-000000000002: ok on instance-2 (cold start*",
        "*s  request 00000000-0000-4000-8000-000000000003: throttled Too many requests. - "
        "refused by the platform, no instance involved",
    ])


SESSION_TESTS = """
import pytest

pytestmark = pytest.mark.fginit(code_root="fn", initializer_handler="index.init",
                                memory_size=1024)

@pytest.mark.parametrize("n", range(4))
def test_requests(fg_function, n):
    assert fg_function.invoke({"n": n}).ok
    assert fg_function.invoke({"n": n}).ok

def test_a_failing_initializer(fg_function):
    fg_function.faults.initializer.raises(ConnectionError, times=2)
    assert fg_function.invoke().ok

def test_without_the_plugin():
    pass
"""


@pytest.mark.parametrize("workers", [None, "2"])
def test_the_session_summary_has_a_line_per_function(project, workers):
    pytest.importorskip("xdist")
    project.makepyfile(test_fn=SESSION_TESTS)
    args = ["-p", "no:cacheprovider"] + (["-n", workers] if workers else [])
    result = project.runpytest_subprocess(*args)
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines([
        "*- fginit: what the platform would have done -*",
        "function 'fn': 9 requests, 7 instances created, 5 cold starts, 2 init failures "
        "(0 timeouts), billed *GB-s",
    ])


def test_no_summary_when_no_test_used_the_plugin(project):
    project.makepyfile(test_plain="def test_plain():\n    pass\n")
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "what the platform would have done" not in result.stdout.str()


def test_a_long_timeline_shows_its_start_and_end_and_counts_the_middle(project):
    """100,000 requests would attach about 100 MB to the report: a few hundred lines instead."""
    make_tests(project, MARKED + """
def test_fails(fg_function):
    for n in range(1000):
        fg_function.invoke({"n": n}, request_id=f"req-{n}")
    fg_function.faults.handler.raises(ValueError("the last one"))
    fg_function.invoke({}, request_id="req-last")
    assert False, "show me the timeline"
""")
    result = project.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    section = result.stdout.str().partition("- fginit lifecycle -")[2]
    timeline = [line for line in section.splitlines() if re.match(r"\s+[+-][0-9.]+s  ", line)]
    assert len(timeline) < 250
    # 1,004 events (created, ready, the attempt, 1,001 requests): 100 at each end are shown
    result.stdout.fnmatch_lines([
        "*s  request req-0: ok on instance-1 (cold start*",
        "*... 804 events not shown: 804 requests (0 failed), 0 init attempts (0 failed), "
        "0 other events (all of them: fn.journal, fn.invocations)",
        "*s  request req-last: handler_error ValueError: the last one on instance-1 (warm*",
    ])


def test_a_long_run_reports_its_failures_wherever_they_are_and_counts_the_rest(project):
    """10,000 requests, 1,000 kept: the report shows a failure in the middle with the life of
    its instance, counts the requests the records let go (one of them failed), and stays
    small."""
    make_tests(project, """
import pytest

@pytest.mark.fginit(code_root="fn", initializer_handler="index.init", invocations_kept=1000)
def test_fails(fg_function):
    for n in range(10_000):
        if n == 100:
            fg_function.faults.handler.raises(ValueError("an early one"))
        if n == 9_500:
            fg_function.faults.handler.hangs()  # a timeout: instance-1 is killed
        fg_function.invoke({"n": n}, request_id=f"req-{n}")
    fg_function.faults.handler.raises(ValueError("the last one"))
    fg_function.invoke({}, request_id="req-last")
    assert False, "show me the timeline"
""")
    result = project.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    section = result.stdout.str().partition("- fginit lifecycle -")[2].partition(
        "short test summary")[0]
    assert len(section.encode()) < 40_000
    result.stdout.fnmatch_lines([
        "  * earlier requests (1 failed) are no longer in the records (invocations_kept=1000):"
        " the latest * are; fn.billing counts all 10,001",
        "*s  instance-1 created",
        "*s  instance-1 initialized, ready (*",
        "*... * events not shown: * requests (0 failed), 0 init attempts (0 failed), "
        "0 other events (all of them: fn.journal, fn.invocations)",
        "*s  instance-1 killed",  # (filed as it happens: before the request's answer)
        "*s  request req-9500: handler_timeout * on instance-1 (warm, *",
        "*s  instance-2 created",
        "*s  instance-2 initialized, ready (*",
        "*... * events not shown: * requests (0 failed), *",
        "*s  request req-last: handler_error ValueError: the last one on instance-2 (warm*",
    ])
