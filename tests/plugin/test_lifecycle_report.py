"""The lifecycle report: which paths each function went through in a session (a table, a JSON
file), a gate on the ones a suite must exercise, under pytest-xdist too, and nothing at all
when it is off (issue 15)."""

from __future__ import annotations

import json

import pytest

pytest_plugins = ["pytester"]

SUITE = """
import pytest

pytestmark = pytest.mark.fginit(code_root="fn", initializer_handler="index.init",
                                func_name="orders")


def test_cold_then_warm(fg_function):
    assert fg_function.invoke({}).cold_start
    assert not fg_function.invoke({}).cold_start


def test_init_fails_once(fg_function):
    fg_function.faults.initializer.raises(ConnectionError("db down"), times=1)
    assert fg_function.invoke({}).ok


def test_idle_instance_reclaimed(fg_function):
    fg_function.invoke({})
    fg_function.advance(61)


def test_a_burst(fg_function):
    assert all(i.cold_start for i in fg_function.invoke_concurrently([{}, {}]))


SMN = {"destination": "SMN", "param": {"topic_urn": "urn:smn:cn-north-4:p:t"}}


@pytest.mark.fginit(max_async_retry_attempts=1, destination_config={"on_failure": SMN})
def test_async_retried_then_reported(fg_function):
    fg_function.faults.handler.raises(ValueError("bad"), times=2)
    fg_function.invoke_async({})
    fg_function.drain()
    fg_function.http("GET", "/")  # (the counting function returns no APIG response)
"""


@pytest.fixture
def suite(project):
    project.makepyfile(test_suite=SUITE)
    return project


def test_the_table_names_each_path_its_count_and_the_first_test_that_took_it(suite):
    result = suite.runpytest_subprocess("-p", "no:cacheprovider", "--fginit-lifecycle")
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines([
        "*- fginit lifecycle paths -*",
        "function 'orders':",
        "  cold_start * 7  first: test_suite.py::test_cold_then_warm",
        "  warm_reuse * 2  first: test_suite.py::test_cold_then_warm",
        "  init_retry_succeeded * 1  first: test_suite.py::test_init_fails_once",
        "  handler_error * 2  first: test_suite.py::test_async_retried_then_reported",
        "  concurrent_cold_starts * 1  first: test_suite.py::test_a_burst",
        # (and once more as the async request waited a minute for its retry)
        "  idle_reclaim * 2  first: test_suite.py::test_idle_instance_reclaimed",
        "  async_retry * 1  first: test_suite.py::test_async_retried_then_reported",
        "  destination_delivered * 1  first: test_suite.py::test_async_retried_then_reported",
        "  apig_contract_broken * 1  first: test_suite.py::test_async_retried_then_reported",
        "  never exercised: init_retries_exhausted, init_timeout, load_error, handler_timeout, *",
    ])


def test_the_json_file_holds_the_same_counts(suite):
    suite.runpytest_subprocess("-p", "no:cacheprovider", "--fginit-lifecycle-json=paths.json"
                               ).assert_outcomes(passed=5)
    report = json.loads((suite.path / "paths.json").read_text())
    orders = report["functions"]["orders"]
    assert orders["cold_start"] == {"count": 7, "first_test": "test_suite.py::test_cold_then_warm"}
    assert "handler_timeout" in report["never_exercised"]["orders"]
    assert set(report["paths"]) >= {"cold_start", "async_retry", "apig_contract_broken"}


def test_a_required_path_never_exercised_fails_the_session(suite):
    result = suite.runpytest_subprocess("-p", "no:cacheprovider",
                                        "--fginit-require=cold_start,orders:init_timeout")
    result.assert_outcomes(passed=5)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["fginit: required lifecycle paths never exercised: "
                                 "orders:init_timeout (--fginit-require)"])


def test_required_paths_from_the_ini_that_were_all_exercised_pass(suite):
    suite.makeini("[pytest]\nfginit_require = cold_start, idle_reclaim\n")
    result = suite.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)
    assert result.ret == pytest.ExitCode.OK


def test_an_unknown_path_is_a_usage_error_listing_the_known_ones(suite):
    result = suite.runpytest_subprocess("-p", "no:cacheprovider", "--fginit-require=cold")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--fginit-require: unknown lifecycle path 'cold'; known "
                                 "paths: cold_start, warm_reuse, *"])


def test_under_xdist_the_workers_records_are_merged(suite):
    result = suite.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2",
                                        "--fginit-lifecycle", "--fginit-require=idle_reclaim")
    result.assert_outcomes(passed=5)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["  cold_start * 7  first: *", "  idle_reclaim * 2  first: *"])


def test_off_it_registers_nothing(project):
    project.makepyfile(test_off="""
        def test_it(request):
            assert request.config.pluginmanager.get_plugin("fginit-lifecycle") is None
    """)
    project.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


MORE = """
import sys
import pytest

pytestmark = pytest.mark.fginit(code_root="fn", initializer_handler="index.init",
                                func_name="more", pre_stop_handler="index.init")


@pytest.mark.fginit(reserved_instances=1)
def test_reserved(fg_function):
    assert fg_function.invoke({}).instance.reserved


def test_init_gives_up_after_timeouts(fg_function):
    fg_function.faults.initializer.hangs(times=4)
    assert fg_function.invoke({}).error.kind == "init_timeout"


def test_handler_timeout_and_crash(fg_function):
    fg_function.faults.handler.hangs().crashes()
    fg_function.invoke({})
    fg_function.invoke({})


@pytest.mark.fginit(max_instance_num=1)
def test_throttled(fg_function):
    fg_function.invoke_concurrently([{}, {}])


def test_update_with_traffic_and_pre_stops(fg_function):
    fg_function.invoke({})
    fg_function.faults.pre_stop.raises(ValueError("flush failed"))
    fg_function.update(timeout=5)  # (the instance stops: its pre-stop raises)
    fg_function.invoke({})
    fg_function.faults.pre_stop.hangs()
    fg_function.recycle()
    fg_function.invoke({})  # (the end of the test stops it: its pre-stop runs fine)
"""


def test_every_kind_of_record_is_recognised(project):
    project.makepyfile(test_more=MORE)
    project.runpytest_subprocess("-p", "no:cacheprovider", "--fginit-lifecycle-json=p.json"
                                 ).assert_outcomes(passed=5)
    seen = json.loads((project.path / "p.json").read_text())["functions"]["more"]
    assert {path: entry["first_test"].partition("::")[2] for path, entry in seen.items()} == {
        # (a reserved instance is ready before the request: warm)
        "warm_reuse": "test_reserved", "reserved_instance_served": "test_reserved",
        "cold_start": "test_handler_timeout_and_crash",
        "pre_stop_ran": "test_reserved",
        "init_retries_exhausted": "test_init_gives_up_after_timeouts",
        "init_timeout": "test_init_gives_up_after_timeouts",
        "handler_timeout": "test_handler_timeout_and_crash",
        "crash": "test_handler_timeout_and_crash",
        "throttled": "test_throttled",
        "pre_stop_failed": "test_update_with_traffic_and_pre_stops",
        "code_update_with_traffic": "test_update_with_traffic_and_pre_stops",
        "pre_stop_timeout": "test_update_with_traffic_and_pre_stops",
    }


ACROSS_TESTS = """
import pytest

pytestmark = pytest.mark.fginit(code_root="fn", func_name="explored",
                                max_async_retry_attempts=1)


def test_a_note_after_the_last_request_of_an_explored_emulator(fg_emulator):
    with fg_emulator() as fn:
        fn.http("GET", "/")  # (the note that the answer broke the contract: after it)


def test_an_async_retry(fg_function):
    fg_function.faults.handler.raises(ValueError("bad"), times=1)
    fg_function.invoke_async({})
    fg_function.drain()


def test_nothing_recorded(fg_function):
    pass


def test_the_same_emulator_again_later(fg_function):
    fg_function.invoke({})
"""


def test_notes_are_counted_once_for_the_test_that_wrote_them_also_from_fg_emulator(project):
    project.makepyfile(test_across=ACROSS_TESTS)
    project.runpytest_subprocess("-p", "no:cacheprovider", "--fginit-lifecycle-json=p.json"
                                 ).assert_outcomes(passed=4)
    seen = json.loads((project.path / "p.json").read_text())["functions"]["explored"]
    firsts = {path: (entry["count"], entry["first_test"].partition("::")[2])
              for path, entry in seen.items()}
    assert firsts["apig_contract_broken"] == (
        1, "test_a_note_after_the_last_request_of_an_explored_emulator")
    assert firsts["async_retry"] == (1, "test_an_async_retry")
    assert firsts["cold_start"][1] == "test_a_note_after_the_last_request_of_an_explored_emulator"


ONE_EMULATOR_FOR_A_MODULE = """
import pytest
from pytest_fginit import FunctionConfig, FunctionEmulator
from pytest_fginit.hooks import HookRelay


@pytest.fixture(scope="module")
def shared(request):  # (its records reach the plugin's hooks, as fg_function's do)
    relay = HookRelay(request.config.hook)
    config = FunctionConfig(code_root="fn", func_name="shared", max_async_retry_attempts=1)
    with FunctionEmulator(config, listeners=[relay]) as fn:
        relay.emulator = fn
        yield fn


def test_retried(shared):
    shared.faults.handler.raises(ValueError("bad"), times=1)
    shared.invoke_async({})
    shared.drain()


def test_later(shared):
    shared.invoke({})
"""


def test_an_emulator_that_outlives_a_test_has_its_journal_read_once(project):
    project.makepyfile(test_shared=ONE_EMULATOR_FOR_A_MODULE)
    project.runpytest_subprocess("-p", "no:cacheprovider", "--fginit-lifecycle-json=p.json"
                                 ).assert_outcomes(passed=2)
    seen = json.loads((project.path / "p.json").read_text())["functions"]["shared"]
    assert seen["async_retry"] == {"count": 1, "first_test": "test_shared.py::test_retried"}
    assert seen["warm_reuse"]["first_test"] == "test_shared.py::test_later"
