"""Process isolation seen from whole pytest sessions (pytester projects in a subprocess):
configuration, coverage of instance code, xdist, and nothing left behind."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="process isolation: Linux")

FUNCTION = """
import os

def init(context):
    prepared = "initializer ran"
    print(prepared, "in", os.getpid())

def handler(event, context):
    if event == "crash":
        os._exit(5)
    return {"pid": os.getpid()}
"""

# Counts the session's open file descriptors and child processes as it starts and after the
# plugin has shut its fork server down (trylast: after every other unconfigure hook).
LEAK_PROBE = """
import json, os, pytest

def _children():
    pids = []
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{task}/children") as f:
            pids += f.read().split()
    return pids

def pytest_configure(config):
    config._fds_before = len(os.listdir("/proc/self/fd"))

@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    report = {"fds_before": config._fds_before,
              "fds_after": len(os.listdir("/proc/self/fd")),  # (before leak.json is open)
              "children": _children()}
    with open("leak.json", "w") as f:
        json.dump(report, f)
"""

TESTS = """
import pytest

pytestmark = pytest.mark.fginit(code_root="fn", initializer_handler="index.init")

def test_warm(fg_function):
    assert fg_function.invoke().ok and fg_function.invoke().ok

def test_crash_then_cold(fg_function):
    assert fg_function.invoke("crash").error.kind == "crashed"
    assert fg_function.invoke().cold_start

def test_fails(fg_function):
    fg_function.invoke()
    assert False, "a failing test"
"""


def _processes_in(folder: Path) -> list[int]:
    """Processes whose working folder is ``folder`` (a session's fork server and instances)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                if Path(os.readlink(f"/proc/{entry}/cwd")) == folder:
                    with open(f"/proc/{entry}/stat") as stat:
                        if stat.read().split(") ")[1].startswith("Z"):
                            continue  # a zombie: dead, about to be reaped
                    found.append(int(entry))
            except OSError:
                continue
    return found


def _none_left(folder: Path, within: float = 10.0) -> list[int]:
    limit = time.monotonic() + within
    while (left := _processes_in(folder)) and time.monotonic() < limit:
        time.sleep(0.05)
    return left


@pytest.fixture
def session(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\nfginit_isolation = process\n")
    (pytester.path / "fn").mkdir()
    (pytester.path / "fn" / "index.py").write_text(FUNCTION)
    pytester.makeconftest(LEAK_PROBE)
    return pytester


def _leaks(pytester: pytest.Pytester) -> dict[str, object]:
    report: dict[str, object] = json.loads((pytester.path / "leak.json").read_text())
    return report


def test_a_session_leaves_no_process_descriptor_or_zombie_behind(session):
    session.makepyfile(test_fn=TESTS)
    result = session.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    leaks = _leaks(session)
    assert leaks["children"] == []
    assert leaks["fds_after"] == leaks["fds_before"]
    assert _none_left(session.path) == []


def test_an_interrupted_session_leaves_nothing_behind(session):
    session.makepyfile(test_fn=TESTS + """
def test_interrupted(fg_function):
    fg_function.invoke()
    raise KeyboardInterrupt
""")
    result = session.runpytest_subprocess("-p", "no:cacheprovider", "-k", "interrupted")
    result.stdout.fnmatch_lines(["*KeyboardInterrupt*"])
    leaks = _leaks(session)
    # (An interrupted session has already closed its output capture's files: fewer.)
    assert leaks["children"] == [] and leaks["fds_after"] <= leaks["fds_before"]
    assert _none_left(session.path) == []


@pytest.mark.parametrize("method", ["signal", "thread"])
def test_a_test_stopped_by_pytest_timeout_leaves_nothing_behind(session, method):
    pytest.importorskip("pytest_timeout")
    session.makepyfile(test_fn="""
import time
import pytest

@pytest.mark.fginit(code_root="fn", initializer_handler="index.init")
def test_hangs_in_the_test(fg_function):
    fg_function.invoke()
    time.sleep(60)  # (the test's own sleep: real time)
""")
    result = session.runpytest_subprocess("-p", "no:cacheprovider", "--timeout", "2",
                                          "--timeout-method", method)
    result.stdout.fnmatch_lines(["*Timeout*"])
    # "thread" ends the whole session with os._exit: the fork server notices and cleans up.
    assert _none_left(session.path) == []


def test_ini_and_command_line_choose_the_isolation(session):
    session.makepyfile(test_fn="""
import os
import pytest

@pytest.mark.fginit(code_root="fn")
def test_where(fg_function):
    pid = fg_function.invoke().result["pid"]
    assert (pid == os.getpid()) is (fg_function.config.isolation == "inprocess")
    print("ISOLATION", fg_function.config.isolation)
""")
    session.runpytest_subprocess("-s").stdout.fnmatch_lines(["*ISOLATION process*"])
    result = session.runpytest_subprocess("-s", "--fginit-isolation", "inprocess")
    result.stdout.fnmatch_lines(["*ISOLATION inprocess*", "*1 passed*"])
    bad = session.runpytest_subprocess("--fginit-isolation", "docker")
    bad.stderr.fnmatch_lines(["*--fginit-isolation = 'docker': isolation: 'docker' is not an "
                              "isolation mode; allowed: inprocess, process*"])


def test_each_xdist_worker_has_its_own_fork_server(session):
    pytest.importorskip("xdist")
    session.makepyfile(test_fn="""
import os
import pytest

@pytest.mark.fginit(code_root="fn", initializer_handler="index.init")
@pytest.mark.parametrize("n", range(6))
def test_instances(fg_function, n):
    inv = fg_function.invoke()
    assert inv.ok and inv.result["pid"] != os.getpid()
    assert "initializer ran" in inv.log
""")
    result = session.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=6)
    assert _none_left(session.path) == []


@pytest.mark.parametrize("runner", ["coverage run", "pytest --cov"])
def test_coverage_measures_the_lines_instances_run(session, runner):
    """With only ``patch = ["subprocess"]`` in the user's coverage configuration."""
    pytest.importorskip("coverage", minversion="7.10")
    session.makepyprojecttoml("""
[tool.coverage.run]
patch = ["subprocess"]
source = ["fn"]
""")
    # Each instance saves its data as it exits, after the tests; a slow save must still count.
    session.makepyfile(slow_save="""
import time
import coverage

def slow_coverage_save():
    cov = coverage.Coverage.current()
    save = cov.save
    def slowly():
        time.sleep(0.5)
        save()
    cov.save = slowly
""")
    session.makepyfile(test_fn="""
import pytest

@pytest.mark.fginit(code_root="fn", initializer_handler="index.init",
                    instance_setup="slow_save:slow_coverage_save")
def test_it(fg_function):
    assert fg_function.invoke().ok
""")
    if runner == "coverage run":
        ran = session.run(sys.executable, "-m", "coverage", "run", "-m", "pytest",
                          "-p", "no:cacheprovider")
        assert ran.ret == 0, ran.stdout.str()
        assert session.run(sys.executable, "-m", "coverage", "combine").ret == 0
        assert session.run(sys.executable, "-m", "coverage", "json", "-o", "cov.json").ret == 0
    else:
        pytest.importorskip("pytest_cov", minversion="7.0")
        ran = session.runpytest_subprocess("-p", "no:cacheprovider", "--cov",
                                           "--cov-report=json:cov.json")
        ran.assert_outcomes(passed=1)
    measured = json.loads((session.path / "cov.json").read_text())["files"]["fn/index.py"]
    source = FUNCTION.splitlines()
    executed = {source[n - 1].strip() for n in measured["executed_lines"]}
    assert 'prepared = "initializer ran"' in executed  # the initializer's body, in an instance
    assert 'return {"pid": os.getpid()}' in executed  # the handler's
    assert "os._exit(5)" not in executed  # (not run: the measurement is real)


def test_a_process_forked_by_in_process_user_code_exits_for_real(pytester):
    """``os._exit`` is emulated on the thread running a phase, in the test process only: a
    child that user code forks (multiprocessing does) must not go on running the session."""
    (pytester.path / "fn").mkdir()
    (pytester.path / "fn" / "index.py").write_text("""
import os

def handler(event, context):
    pid = os.fork()
    if pid == 0:
        os._exit(3)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)
""")
    pytester.makepyfile(test_fork="""
import pytest

@pytest.mark.fginit(code_root="fn", isolation="inprocess")
def test_fork(fg_function):
    assert fg_function.invoke().result == 3

def test_after():
    pass
""")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    assert result.stdout.str().count("passed") == 1  # one session summary, not two


def test_coverage_keeps_the_lines_of_an_instance_killed_at_its_timeout(session):
    """Even when the function handles SIGTERM itself: the runtime saves on a signal of its
    own before the kill."""
    pytest.importorskip("coverage", minversion="7.10")
    session.makepyprojecttoml("""
[tool.coverage.run]
patch = ["subprocess"]
source = ["fn"]
""")
    (session.path / "fn" / "busy.py").write_text("""
import signal
signal.signal(signal.SIGTERM, lambda *_: print("graceful"))
LOADED = "busy module loaded"

def handler(event, context):
    before_the_loop = True
    while True:
        pass
""")
    session.makepyfile(test_fn="""
import pytest

@pytest.mark.fginit(code_root="fn", handler="busy.handler", real_time_limit=0.5)
def test_it(fg_function):
    assert fg_function.invoke().error.kind == "handler_timeout"
""")
    ran = session.run(sys.executable, "-m", "coverage", "run", "-m", "pytest",
                      "-p", "no:cacheprovider")
    assert ran.ret == 0, ran.stdout.str()
    assert session.run(sys.executable, "-m", "coverage", "combine").ret == 0
    assert session.run(sys.executable, "-m", "coverage", "json", "-o", "cov.json").ret == 0
    measured = json.loads((session.path / "cov.json").read_text())["files"]["fn/busy.py"]
    source = (session.path / "fn" / "busy.py").read_text().splitlines()
    executed = {source[n - 1].strip() for n in measured["executed_lines"]}
    assert {'LOADED = "busy module loaded"', "before_the_loop = True"} <= executed
