"""The pytest plugin, tested the way pytest plugins test themselves: pytester projects run in a
subprocess, asserting outcomes and output lines."""

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


def test_the_core_scenario_two_instances_fail_the_third_serves(project):
    make_tests(project, MARKED + """
def test_retry(fg_function):
    fg_function.faults.initializer.raises(ConnectionError("db down"), times=2)
    inv = fg_function.invoke({"user": 7})
    assert inv.ok
    assert [a.ok for a in inv.init_attempts] == [False, False, True]
    assert inv.result["db"] == "pg://db"
    assert [i.state for i in fg_function.instances] == ["failed", "failed", "ready"]

def test_tenth_warm_request_sees_the_pool(fg_function):
    results = [fg_function.invoke({"n": n}) for n in range(10)]
    assert results[-1].result["init_calls"] == 1 and not results[-1].cold_start
    assert fg_function.instances[0].module.STATE["db"] == "pg://db"

def test_hang_past_300_s(fg_function):
    fg_function.faults.initializer.hangs(times=4)
    inv = fg_function.invoke({})
    assert inv.error.kind == "init_timeout" and len(inv.init_attempts) == 4
""")
    result = project.runpytest_subprocess("-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*test_retry PASSED*", "*test_hang_past_300_s PASSED*"])


def test_state_does_not_leak_between_tests(project):
    make_tests(project, MARKED + """
import pytest

@pytest.mark.parametrize("n", range(3))
def test_each_test_gets_a_fresh_function(fg_function, n):
    inv = fg_function.invoke({})
    assert inv.cold_start and inv.result["handled"] == 1 and inv.result["init_calls"] == 1
""")
    project.runpytest_subprocess().assert_outcomes(passed=3)


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


def test_ini_options_configure_the_suite_with_paths_relative_to_the_ini_file(project):
    project.makeini("""
        [pytest]
        fginit_code_root = fn
        fginit_initializer_handler = index.init
        fginit_timeout = 30
        fginit_user_data = {"DB_URL": "from-ini"}
    """)
    project.mkdir("tests")
    (project.path / "tests" / "test_ini.py").write_text(textwrap.dedent("""
        def test_configured_from_ini(fg_function):
            assert fg_function.config.timeout == 30
            assert fg_function.invoke({}).result["db"] == "from-ini"
    """))
    result = project.runpytest_subprocess("tests")
    result.assert_outcomes(passed=1)


def test_marker_paths_are_relative_to_the_test_file(project):
    project.mkdir("tests")
    (project.path / "tests" / "test_rel.py").write_text(textwrap.dedent("""
        import pytest

        @pytest.mark.fginit(code_root="../fn", initializer_handler="index.init")
        def test_relative(fg_function):
            assert fg_function.invoke({}).ok
    """))
    project.runpytest_subprocess().assert_outcomes(passed=1)


def test_markers_merge_key_by_key_closest_wins_over_ini(project):
    project.makeini("""
        [pytest]
        fginit_code_root = fn
        fginit_timeout = 5
        fginit_memory_size = 256
    """)
    make_tests(project, """
import pytest

pytestmark = pytest.mark.fginit(initializer_handler="index.init", timeout=10)

class TestMerge:
    pytestmark = pytest.mark.fginit(timeout=20, func_name="from-class")

    @pytest.mark.fginit(timeout=30)
    def test_closest(self, fg_function):
        c = fg_function.config
        assert (c.timeout, c.func_name, c.memory_size, c.initializer_handler) == (
            30, "from-class", 256, "index.init")

    def test_class(self, fg_function):
        assert fg_function.config.timeout == 20

def test_module(fg_function):
    assert fg_function.config.timeout == 10
""")
    project.runpytest_subprocess().assert_outcomes(passed=3)


def test_command_line_options_override_ini(project):
    project.makeini("""
        [pytest]
        fginit_code_root = fn
        fginit_timeout = 5
    """)
    make_tests(project, """
def test_timeout(fg_function):
    assert fg_function.config.timeout == 45
    assert fg_function.config.virtual_time is False
""")
    project.runpytest_subprocess("--fginit-timeout=45", "--fginit-virtual-time=off"
                                 ).assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("ini_line", "expected"),
    [
        ("fginit_timeout = 1000", "*fginit_timeout = '1000': timeout: 1000 is out of range; "
                                  "allowed: a whole number from 3 to 900 (seconds)*"),
        ("fginit_memory_size = 100", "*fginit_memory_size = '100': memory_size: 100 is not a "
                                     "FunctionGraph memory size; allowed (MB): 128, 256*"),
        ("fginit_virtual_time = maybe", "*fginit_virtual_time = 'maybe': virtual_time: "
                                        "'maybe' is not one of true, false*"),
        ("fginit_user_data = {oops", "*fginit_user_data = '{oops': user_data: is not valid JSON*"),
        ("fginit_assert_all_faults_used = sometimes", "*fginit_assert_all_faults_used*"),
        ('fginit_encrypted_user_data = {"PW": "hunter2-secret", "N": 5}',
         "*fginit_encrypted_user_data = ******: encrypted_user_data: entry 'N': ****** is not*"),
    ],
)
def test_a_bad_ini_value_is_a_usage_error_naming_the_option(project, ini_line, expected):
    project.makeini(f"[pytest]\n{ini_line}\n")
    make_tests(project, "def test_never_runs():\n    pass\n")
    result = project.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([expected])
    assert "hunter2-secret" not in result.stderr.str()


def test_a_bad_command_line_value_names_the_flag(project):
    make_tests(project, "def test_never_runs():\n    pass\n")
    result = project.runpytest_subprocess("--fginit-init-retries=lots")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--fginit-init-retries = 'lots': init_retries: 'lots' is not "
                                 "a whole number*"])


@pytest.mark.parametrize(
    ("marker", "expected"),
    [
        ('code_root="fn", timeout=1', "*fg_function: invalid function configuration: timeout: 1 "
                                      "is out of range*"),
        ('code_root="fn", timout=30', "*fg_function: invalid function configuration: timout: "
                                      "unknown key; allowed keys: code_root, handler, *"),
        ('code_root="fn", handler="index"', "*handler: 'index' is not of the form file.function*"),
        ('code_root="nowhere"', "*code_root: '*nowhere' is not a folder*"),
        ('"fn"', "*fginit: takes keyword arguments only*"),
        ('code_root="fn", assert_all_faults_used="false"',
         "*assert_all_faults_used: 'false' is not one of True, False*"),
    ],
)
def test_a_bad_marker_fails_the_test_at_setup_naming_the_field(project, marker, expected):
    make_tests(project, f"""
import pytest

@pytest.mark.fginit({marker})
def test_x(fg_function):
    pass
""")
    result = project.runpytest_subprocess()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*ERROR at setup of test_x*", expected])


def test_nothing_configured_fails_at_setup_with_guidance(project):
    make_tests(project, "def test_x(fg_function):\n    pass\n")
    result = project.runpytest_subprocess()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([
        "*fg_function: no function is configured for this test*",
        '*@pytest.mark.fginit(code_root="fn", handler="index.handler",*',
        "*fginit_code_root = fn*",
    ])


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


def test_the_plugins_hooks_adjust_the_config_and_hear_about_events(project):
    project.makeconftest("""
        EVENTS = []

        def pytest_fginit_adjust_config(fields, item):
            fields["timeout"] = 60
            fields.setdefault("user_data", {})["ADDED_BY_HOOK"] = "yes"

        def pytest_fginit_instance_state_changed(instance, previous, emulator):
            EVENTS.append((instance.id, previous, instance.state))

        def pytest_fginit_invocation_finished(invocation, emulator):
            EVENTS.append((invocation.request_id[-1], invocation.ok, emulator.config.func_name))
    """)
    make_tests(project, MARKED + """
from conftest import EVENTS

def test_hooks(fg_function):
    assert fg_function.config.timeout == 60
    assert fg_function.config.user_data["ADDED_BY_HOOK"] == "yes"
    fg_function.faults.initializer.raises(OSError("once"))
    fg_function.invoke({})
    assert EVENTS == [
        ("instance-1", None, "initializing"), ("instance-1", "initializing", "failed"),
        ("instance-2", None, "initializing"), ("instance-2", "initializing", "ready"),
        ("1", True, "fn"),
    ]
""")
    project.runpytest_subprocess().assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("change", "expected"),
    [('fields["memory_size"] = 100', "*memory_size: 100 is not a FunctionGraph memory size*"),
     ('fields["timout"] = 30', "*timout: unknown key; allowed keys: code_root, handler,*")],
)
def test_a_hook_that_breaks_the_config_gets_the_same_validation(project, change, expected):
    project.makeconftest(f"""
        def pytest_fginit_adjust_config(fields, item):
            {change}
    """)
    make_tests(project, MARKED + "def test_x(fg_function):\n    pass\n")
    result = project.runpytest_subprocess()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([expected])


def test_a_hook_changing_dicts_in_place_changes_only_its_own_test(project):
    project.makeini("""
        [pytest]
        fginit_code_root = fn
        fginit_user_data = {"A": "1"}
    """)
    project.makeconftest("""
        def pytest_fginit_adjust_config(fields, item):
            fields["user_data"][item.name] = "yes"
    """)
    make_tests(project, """
def test_one(fg_function):
    assert fg_function.config.user_data == {"A": "1", "test_one": "yes"}

def test_two(fg_function):
    assert fg_function.config.user_data == {"A": "1", "test_two": "yes"}
""")
    project.runpytest_subprocess("-p", "no:randomly").assert_outcomes(passed=2)


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


def test_pytest_durations_stay_real_while_the_clock_is_virtual(project):
    make_tests(project, MARKED + """
def test_sleepy(fg_function):
    fg_function.advance(10_000_000)
    assert fg_function.invoke({}).ok
""")
    result = project.runpytest_subprocess("--durations=0", "-vv")
    result.assert_outcomes(passed=1)
    durations = [float(d) for d in re.findall(r"^([\d.]+)s (?:setup|call|teardown)",
                                               result.stdout.str(), re.M)]
    assert durations and max(durations) < 1000


def test_works_under_xdist(project):
    pytest.importorskip("xdist")
    make_tests(project, MARKED + """
import pytest

@pytest.mark.parametrize("n", range(8))
def test_many(fg_function, n):
    if n % 4:
        fg_function.faults.initializer.raises(OSError("flaky"), times=n % 4)
    inv = fg_function.invoke({"n": n})
    assert inv.ok and len(inv.init_attempts) == n % 4 + 1
""")
    result = project.runpytest_subprocess("-n", "2")
    result.assert_outcomes(passed=8)
    result.stdout.fnmatch_lines(["*2 workers*"])


def test_fg_context_in_a_plain_unit_test(pytester):
    make_tests(pytester, """
def handler(event, context):
    return {"db": context.getUserData("DB_URL"), "left": context.getRemainingTimeInMilliSeconds()}

def test_unit(fg_context):
    out = handler({}, fg_context(user_data={"DB_URL": "pg://x"}, timeout=5))
    assert out["db"] == "pg://x" and 0 < out["left"] <= 5000
""")
    pytester.runpytest_subprocess().assert_outcomes(passed=1)


def test_the_plugin_is_registered_and_documents_its_options(pytester):
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines([
        "*FunctionGraph emulation (pytest-fginit):*",
        "*--fginit-code-root=VALUE*",
        "*--fginit-initializer-timeout=VALUE*",
        "*fginit_code_root (string):*",
    ])
    markers = pytester.runpytest_subprocess("--markers")
    markers.stdout.fnmatch_lines(["@pytest.mark.fginit(**fields): configure the FunctionGraph*"])


def test_hooks_in_a_folders_conftest_apply_to_that_folder_only(project):
    for folder, timeout in (("a", 40), ("b", None)):
        project.mkdir(folder)
        if timeout:
            (project.path / folder / "conftest.py").write_text(
                f"def pytest_fginit_adjust_config(fields, item):\n"
                f"    fields['timeout'] = {timeout}\n")
        (project.path / folder / f"test_{folder}.py").write_text(textwrap.dedent(f"""
            import pytest

            @pytest.mark.fginit(code_root="../fn")
            def test_timeout(fg_function):
                assert fg_function.config.timeout == {timeout or 3}
        """))
    project.runpytest_subprocess().assert_outcomes(passed=2)


def test_instances_are_released_after_each_test(project):
    make_tests(project, MARKED + """
import gc
import weakref

REFS = []

def test_first(fg_function):
    inv = fg_function.invoke({})
    REFS.append(weakref.ref(inv.instance.module))

def test_second():
    gc.collect()
    assert REFS[0]() is None, gc.get_referrers(REFS[0]())
""")
    project.runpytest_subprocess("-p", "no:randomly").assert_outcomes(passed=2)


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
