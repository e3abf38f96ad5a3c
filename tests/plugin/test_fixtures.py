"""The fixtures in pytester sessions: ``fg_function`` runs the core scenario, gives each
test a fresh function and releases it, keeps pytest's durations real, works under
xdist; ``fg_context`` serves a plain unit test."""

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


RESERVED_FUNCTION = """
import os

CLIENT = {}

def init(context):
    CLIENT["endpoint"] = os.environ.get("DB_ENDPOINT", "the real database")

def handler(event, context):
    return CLIENT["endpoint"]
"""


def test_a_mock_from_any_fixture_reaches_the_reserved_instances(pytester):
    pytester.makepyfile(**{"fn/index": RESERVED_FUNCTION})
    make_tests(pytester, """
        import pytest

        pytestmark = pytest.mark.fginit(code_root="fn", initializer_handler="index.init",
                                        reserved_instances=2)

        @pytest.fixture
        def fake_db(monkeypatch):
            monkeypatch.setenv("DB_ENDPOINT", "the fake")

        def test_mock_listed_after(fg_function, fake_db):
            inv = fg_function.invoke({})
            assert inv.result == "the fake"
            assert inv.instance.reserved and not inv.cold_start

        def test_mock_listed_before(fake_db, fg_function):
            assert fg_function.invoke({}).result == "the fake"

        @pytest.fixture
        def warmed(fg_function):
            # a fixture that uses the emulator brings the reserved instances up at once
            return [i.state for i in fg_function.instances]

        def test_first_use_in_a_fixture(warmed, fake_db, fg_function):
            assert warmed == ["ready", "ready"]
            assert fg_function.invoke({}).result == "the real database"

        def test_without_any_use_they_are_up_when_the_test_runs(fg_function):
            assert [a.ok for a in fg_function.reserved_init_attempts] == [True, True]
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)


FAKES = """
import sys
import types


def install():
    fake = types.ModuleType("redis")
    fake.ping = lambda: "fake pong"
    sys.modules["redis"] = fake
"""


@pytest.mark.parametrize("import_mode", ["prepend", "importlib"])
def test_instance_setup_named_by_file_works_under_every_import_mode(pytester, import_mode):
    pytester.makepyfile(**{"fn/index": "import redis\n\ndef handler(event, context):\n"
                                       "    return redis.ping()\n",
                           "tests/fakes": FAKES})
    pytester.makeini("[pytest]\nfginit_code_root = fn\n"
                     "fginit_instance_setup = tests/fakes.py:install\n")
    pytester.makepyfile(**{"tests/test_it": """
        import pytest

        def test_from_the_ini(fg_function):
            assert fg_function.invoke({}).result == "fake pong"

        @pytest.mark.fginit(isolation="process")
        def test_from_the_ini_in_an_instance_process(fg_function):
            assert fg_function.invoke({}).result == "fake pong"

        @pytest.mark.fginit(instance_setup="fakes.py:install", isolation="process")
        def test_from_a_marker_relative_to_this_file(fg_function):
            assert fg_function.invoke({}).result == "fake pong"

        @pytest.mark.fginit(instance_setup="fakes.py:install")
        def test_in_process(fg_function):
            assert fg_function.invoke({}).result == "fake pong"
    """})
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider",
                                           f"--import-mode={import_mode}")
    result.assert_outcomes(passed=4)  # (ini twice, marker twice)


def test_an_instance_setup_that_cannot_be_used_fails_at_setup_in_a_few_lines(project):
    make_tests(project, """
        import pytest

        @pytest.mark.fginit(code_root="fn", instance_setup="nope.fakes:install")
        def test_by_name(fg_function):
            pass

        @pytest.mark.fginit(code_root="fn", instance_setup="fakes.py:install",
                            isolation="process")
        def test_missing_file(fg_function):
            pass
    """)
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines([
        "*fg_function: invalid function configuration: instance_setup: 'nope.fakes:install' "
        "cannot be used: ModuleNotFoundError: No module named 'nope'; name it by file (e.g. "
        "'tests/fakes.py:install', *",
        "*fg_function: invalid function configuration: instance_setup: '*fakes.py:install': "
        "no file */fakes.py",
    ])
    assert "Traceback" not in result.stdout.str()
