"""What in-process emulation leaves behind in the test's process: nothing it can give back
(working folder, signals, alarms, sys.path, imports, builtins, logging, the clock and the
environment, whatever order emulators close in), and a warning for what it cannot (threads,
processes), which never keeps pytest from exiting."""

from __future__ import annotations

import builtins
import logging
import os
import signal
import sys
import textwrap
import time

import freezegun.api
import pytest

from pytest_fginit import FunctionConfig, FunctionEmulator

pytest_plugins = ["pytester"]

MESSY = """
import builtins, logging, os, signal, sys, time

def handler(event, context):
    os.chdir(os.path.dirname(os.getcwd()))
    signal.signal(signal.SIGUSR1, lambda *args: None)
    signal.setitimer(signal.ITIMER_REAL, 500)
    sys.path.append("/fginit-added-by-the-function")
    import wave
    builtins.FGINIT_ADDED = 1
    sys.setrecursionlimit(sys.getrecursionlimit() + 77)
    logging.getLogger().addHandler(logging.StreamHandler())
    logging.getLogger().setLevel(logging.DEBUG)
    logging.getLogger("fginit.orders").setLevel(logging.ERROR)
    time.sleep = lambda seconds: None
    return "done"
"""


def _state() -> dict[str, object]:
    root = logging.getLogger()
    return {
        "cwd": os.getcwd(), "sigusr1": signal.getsignal(signal.SIGUSR1),
        "itimer": signal.getitimer(signal.ITIMER_REAL), "sys.path": list(sys.path),
        "wave": "wave" in sys.modules, "builtins": sorted(vars(builtins)),
        "recursion": sys.getrecursionlimit(), "handlers": list(root.handlers),
        "level": root.level, "orders": logging.getLogger("fginit.orders").level,
        "sleep": time.sleep,
    }


@pytest.mark.parametrize("isolation", ["inprocess", "process"])
def test_what_the_function_changed_in_the_process_is_given_back(code, isolation, monkeypatch):
    monkeypatch.chdir(code(MESSY))
    sys.modules.pop("wave", None)
    before = _state()
    with FunctionEmulator(FunctionConfig(code_root=".", handler="index.handler",
                                         isolation=isolation)) as fn:
        assert fn.invoke().result == "done"
    assert _state() == before


def _emulator(code, name: str, isolation: str = "inprocess") -> FunctionEmulator:
    root = code("def handler(event, context):\n    return 1\n")
    return FunctionEmulator(FunctionConfig(code_root=root, handler="index.handler",
                                           isolation=isolation, user_data={name: name}))


@pytest.mark.parametrize("order", ["start order", "reverse order"])
@pytest.mark.parametrize("isolation", ["inprocess", "process"])
def test_emulators_close_in_any_order(code, order, isolation, no_held_freeze):
    environ = dict(os.environ)
    first, second = _emulator(code, "FIRST", isolation), _emulator(code, "SECOND", isolation)
    first.start()
    second.start()
    assert first.invoke().ok and second.invoke().ok
    (first if order == "start order" else second).close()
    assert second.invoke().ok if order == "start order" else first.invoke().ok
    if isolation == "inprocess":  # (process isolation leaves the test's environment alone)
        still_open = "SECOND" if order == "start order" else "FIRST"
        assert os.environ[still_open] == still_open
        assert ({"FIRST", "SECOND"} - {still_open}) & set(os.environ) == set()
    first.close()
    second.close()
    assert time.time is freezegun.api.real_time
    assert time.monotonic is freezegun.api.real_monotonic
    assert dict(os.environ) == environ


STDLIB_NAMED = {"time": "def sleep(seconds):\n    raise AssertionError('the user time.py')\n"}


@pytest.mark.parametrize("isolation", ["inprocess", "process"])
def test_a_code_root_module_named_like_a_loaded_stdlib_module_does_not_replace_it(
        code, isolation):
    root = code("import time\n\ndef handler(event, context):\n"
                "    return hasattr(time, 'monotonic')\n",
                **STDLIB_NAMED)
    with FunctionEmulator(FunctionConfig(code_root=root, handler="index.handler",
                                         isolation=isolation)) as fn:
        assert fn.invoke().result is True


@pytest.mark.parametrize("isolation", ["inprocess", "process"])
def test_asyncio_sleep_past_the_deadline_is_stopped_at_it(code, isolation):
    root = code("import asyncio\n\ndef handler(event, context):\n"
                "    asyncio.run(asyncio.sleep(600))\n")
    with FunctionEmulator(FunctionConfig(code_root=root, handler="index.handler",
                                         timeout=3, isolation=isolation)) as fn:
        inv = fn.invoke()  # (600 real seconds without the wake-up: the hang guard is the CI's)
    assert inv.error.kind == "handler_timeout"


SPAWN_POOL = """
import multiprocessing

def square(x):
    return x * x

def handler(event, context):
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.map(square, [2])
"""


def test_a_spawn_pool_works_in_process_isolation(code):
    with FunctionEmulator(FunctionConfig(code_root=code(SPAWN_POOL), handler="index.handler",
                                         timeout=120, isolation="process")) as fn:
        assert fn.invoke().result == [4]


def test_a_spawn_pool_in_process_is_a_clear_error(code):
    root = code("import multiprocessing\n\ndef square(x):\n    return x * x\n\n"
                "def handler(event, context):\n"
                "    with multiprocessing.get_context('spawn').Pool(1) as pool:\n"
                "        return pool.map(square, [2])\n")
    with FunctionEmulator(FunctionConfig(code_root=root, handler="index.handler",
                                         timeout=60)) as fn:
        inv = fn.invoke()
    assert inv.error.type == "SpawnInProcessError"
    assert 'isolation="process"' in inv.error.message


LEAVES_A_THREAD = """
import threading

STOP = threading.Event()

def handler(event, context):
    threading.Thread(target=STOP.wait, name="poller", daemon=False).start()
    return "started"
"""


def test_a_thread_left_running_is_warned_of_and_does_not_hang_pytest(pytester):
    (pytester.path / "fn").mkdir()
    (pytester.path / "fn" / "index.py").write_text(textwrap.dedent(LEAVES_A_THREAD))
    pytester.makepyfile(test_left="""
        import pytest

        @pytest.mark.fginit(code_root="fn")
        def test_leaves_a_thread(fg_function):
            assert fg_function.invoke().result == "started"
    """)
    result = pytester.runpytest_subprocess(timeout=120)
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines([
        "*LeftBehindWarning: pytest-fginit: index.handler left thread 'poller' running*",
    ])


def test_a_library_with_compiled_modules_stays_imported(code):
    if "cProfile" in sys.modules or "_lsprof" in sys.modules:
        pytest.skip("cProfile is imported already")
    root = code("def handler(event, context):\n    import cProfile\n    return cProfile.__name__\n")
    with FunctionEmulator(FunctionConfig(code_root=root, handler="index.handler")) as fn:
        assert fn.invoke().result == "cProfile"
    # (_lsprof is compiled: it stays, and cProfile, imported with it, too)
    assert "cProfile" in sys.modules and "_lsprof" in sys.modules


LEAVES_A_PROCESS = """
import subprocess, sys

CHILD = []

def handler(event, context):
    CHILD.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]))
    return CHILD[0].pid
"""


def test_a_child_process_left_running_is_warned_of(code):
    root = code(LEAVES_A_PROCESS)
    fn = FunctionEmulator(FunctionConfig(code_root=root, handler="index.handler")).start()
    pid = fn.invoke().result
    child = fn.instances[0].module.CHILD[0]
    with pytest.warns(UserWarning, match=r"index\.handler left process \d+ running"):
        fn.close()
    assert child.pid == pid
    child.kill()
    child.wait()
