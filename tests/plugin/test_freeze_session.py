"""``fginit_freeze``: freezegun's freeze held for the session (the default) or per emulator.

freezegun's ``start()`` scans every loaded module (``dir()`` and a hash of each) to patch the
time functions they imported, which made it most of what ``fg_function`` cost per test. With
``session`` the first emulator's freeze stays on to the session's end, showing real time while
no emulator runs; ``emulator`` ends it with each emulator, as before. Either way: real time
between tests, pytest's durations real, a user's own freeze works, and no freeze is left once
the session ends.
"""

from __future__ import annotations

import re
import textwrap

import pytest

pytest_plugins = ["pytester"]

# Counts freezegun's real starts (the ones that scan modules: no freeze was running), and at
# the very end of the session says whether the process reads time through freezegun still.
CONFTEST = """
import json, os, time

import freezegun.api
import pytest

STARTS = []
_start = freezegun.api._freeze_time.start


def _counting_start(self):
    if not freezegun.api.freeze_factories:
        STARTS.append(1)
    return _start(self)


freezegun.api._freeze_time.start = _counting_start


@pytest.fixture
def scans():
    return STARTS


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    with open(os.path.join(str(config.rootpath), "at_end.json"), "w") as out:
        json.dump({"real_time": time.time is freezegun.api.real_time,
                   "factories": len(freezegun.api.freeze_factories)}, out)
"""

TESTS = """
import datetime, time

import freezegun
import freezegun.api
import pytest

pytestmark = pytest.mark.fginit(code_root="fn", initializer_handler="index.init")


def test_first(fg_function, scans):
    assert fg_function.invoke({}).ok
    fg_function.advance(86_400 * 365)  # a year ahead: nothing after the test may see it
    assert datetime.datetime.now().year > datetime.datetime.fromtimestamp(
        freezegun.api.real_time()).year


def test_between_reads_real_time(scans):
    assert time.time() == pytest.approx(freezegun.api.real_time(), abs=5)
    real_now = datetime.datetime.fromtimestamp(freezegun.api.real_time())
    assert abs((datetime.datetime.now() - real_now).total_seconds()) < 5
    with freezegun.freeze_time("2020-01-01"):  # a user's own freeze still works
        assert datetime.datetime.now().year == 2020
        assert time.time() == datetime.datetime(2020, 1, 1).timestamp()
    assert time.time() == pytest.approx(freezegun.api.real_time(), abs=5)


def test_second(fg_function, scans):
    assert fg_function.invoke({}).ok
    print("SCANS", len(scans))
"""


@pytest.fixture
def session(project: pytest.Pytester) -> pytest.Pytester:
    project.makeconftest(CONFTEST)
    project.makepyfile(test_freeze=textwrap.dedent(TESTS))
    return project


def _at_end(project: pytest.Pytester) -> dict[str, object]:
    import json

    return json.loads((project.path / "at_end.json").read_text())  # type: ignore[no-any-return]


def test_by_default_the_second_emulator_starts_without_a_module_scan(session):
    result = session.runpytest_subprocess("-s", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*SCANS 1*"])  # test_first's start only
    assert _at_end(session) == {"real_time": True, "factories": 0}


def test_fginit_freeze_emulator_ends_the_freeze_with_each_emulator(session):
    session.makeini("[pytest]\nfginit_freeze = emulator\n")
    session.makepyfile(test_identity=textwrap.dedent("""
        import time

        import freezegun.api


        def test_nothing_is_faked_between_emulators():
            assert time.time is freezegun.api.real_time
    """))
    result = session.runpytest_subprocess("-s", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
    # (each emulator's start scans, and so does the user's freeze between them)
    result.stdout.fnmatch_lines(["*SCANS 3*"])
    assert _at_end(session) == {"real_time": True, "factories": 0}


def test_the_command_line_option_wins_over_ini(session):
    session.makeini("[pytest]\nfginit_freeze = session\n")
    result = session.runpytest_subprocess("-s", "-p", "no:cacheprovider",
                                          "--fginit-freeze", "emulator")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*SCANS 3*"])


def test_pytest_durations_stay_real_while_the_freeze_is_held(session):
    result = session.runpytest_subprocess("--durations=0", "-vv", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
    durations = [float(d) for d in re.findall(r"^([\d.]+)s (?:setup|call|teardown)",
                                               result.stdout.str(), re.M)]
    assert durations and max(durations) < 1000


def test_an_unknown_value_is_a_usage_error(project):
    project.makeini("[pytest]\nfginit_freeze = always\n")
    result = project.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*fginit_freeze = 'always': is not one of session, emulator*"])


def test_a_marker_cannot_set_it(project):
    project.makepyfile(test_marker=textwrap.dedent("""
        import pytest

        @pytest.mark.fginit(code_root="fn", freeze="emulator")
        def test_it(fg_function):
            pass
    """))
    result = project.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*freeze: is the session's: set it in ini or options*"])
