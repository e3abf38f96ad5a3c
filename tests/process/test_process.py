"""Process isolation: what only a real process per instance can show.

Each enforcement case of the platform is staged for real here (a busy loop, a deadlock, a
blocking call, ``os._exit``, a signal, a segfault, a memory blow-up, ``sys.exit``); the
contract shared with in-process emulation runs in both modes through the `emulate` fixture.
"""

from __future__ import annotations

import logging
import os
import re
import resource
import signal
import sys
import threading
import time
import types

import freezegun.api as _fz
import pytest
from freezegun import freeze_time

from pytest_fginit import InstanceSetupError
from pytest_fginit._hosts.process import client as forkserver

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="process isolation: Linux")

REAL_TIME_LIMIT = 0.5
"""A hung phase is taken as timed out after this many real seconds (keeps these tests fast)."""


def _gone(pid: int, within: float = 10.0) -> bool:
    """Whether process ``pid`` has ended (and been reaped) within ``within`` seconds."""
    limit = time.monotonic() + within
    while time.monotonic() < limit:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().split(") ")[1].startswith("Z"):  # a zombie: dead, not reaped
                    time.sleep(0.02)
                    continue
        except (FileNotFoundError, ProcessLookupError):  # (a process dying as we read)
            return True
        time.sleep(0.02)
    return False


HANDLER_OK = """
def handler(event, context):
    return "ok"
"""


@pytest.mark.parametrize("stuck", [
    "while True: pass",  # a busy loop
    "lock = threading.Lock(); lock.acquire(); lock.acquire()",  # a deadlock
    "select.select([], [], [], 1000)",  # a blocking call
])
def test_a_handler_that_never_returns_is_killed_at_its_timeout(run, stuck):
    fn = run(f"""
import select, threading
def handler(event, context):
    if event == "stuck":
        {stuck}
    return "ok"
""", real_time_limit=REAL_TIME_LIMIT)
    inv = fn.invoke("stuck")
    assert (inv.error.kind, inv.error.code) == ("handler_timeout", 4010)
    assert inv.duration_ms == pytest.approx(3000, abs=1)
    assert inv.instance.state == "killed"
    assert _gone(inv.instance.pid)
    after = fn.invoke("fine")
    assert after.ok and after.cold_start


def test_an_initializer_deadlock_is_an_init_timeout_and_r3_retries(run):
    fn = run("""
import threading
def init(context):
    lock = threading.Lock()
    lock.acquire()
    lock.acquire()
def handler(event, context):
    return "ok"
""", initializer_handler="index.init", initializer_timeout=300, init_retries=1,
        real_time_limit=REAL_TIME_LIMIT)
    inv = fn.invoke()
    assert [a.error.kind for a in inv.init_attempts] == ["init_timeout"] * 2
    assert inv.init_duration_ms == pytest.approx(600_000, abs=2)
    assert inv.error.message == "runtime initialization timed out after 300 s"
    assert all(_gone(i.pid) for i in fn.instances)


def test_the_kill_reaches_the_processes_the_instance_started(run, tmp_path):
    pid_file = tmp_path / "child.pid"
    fn = run(f"""
import subprocess
def handler(event, context):
    child = subprocess.Popen(["sleep", "600"])
    open({str(pid_file)!r}, "w").write(str(child.pid))
    while True:
        pass
""", real_time_limit=REAL_TIME_LIMIT)
    inv = fn.invoke()
    assert inv.error.kind == "handler_timeout"
    assert _gone(int(pid_file.read_text()))


@pytest.mark.parametrize(("death", "detail"), [
    ("os._exit(3)", "exit code 3"),
    ("sys.exit(4)", "exit code 4"),
    ("os.kill(os.getpid(), signal.SIGKILL)", "killed by signal 9 (SIGKILL)"),
    ("ctypes.string_at(0)", "killed by signal 11 (SIGSEGV)"),
    ("os.kill(os.getpid(), signal.SIGINT)", "killed by signal 2 (SIGINT)"),  # not handled
])
def test_a_handler_that_ends_its_process_is_crashed_and_the_next_request_is_cold(
        run, death, detail):
    fn = run(f"""
import ctypes, os, signal, sys
def handler(event, context):
    print("about to die")
    if event == "die":
        {death}
    return "ok"
""")
    dead = fn.invoke("die")
    assert (dead.error.kind, dead.error.code) == ("crashed", 4209)
    assert dead.error.message == f"the runtime process exited ({detail})"
    assert "about to die" in dead.log  # written before the crash, still recorded
    assert dead.instance.state == "killed"
    after = fn.invoke("live")
    assert after.ok and after.cold_start and after.result == "ok"


def test_sys_exit_in_the_initializer_is_a_crashed_attempt_and_r3_retries(run, tmp_path):
    marker = tmp_path / "attempts"
    fn = run(f"""
import sys
def init(context):
    with open({str(marker)!r}, "a") as f:
        f.write("x")
    if len(open({str(marker)!r}).read()) <= 2:  # the first two instances fail
        sys.exit(2)
def handler(event, context):
    return "initialized"
""", initializer_handler="index.init")
    inv = fn.invoke()
    assert [a.error.kind if a.error else "ok" for a in inv.init_attempts] == [
        "crashed", "crashed", "ok"]
    assert inv.init_attempts[0].error.message == "the runtime process exited (exit code 2)"
    assert inv.result == "initialized"


def test_memory_above_memory_size_is_memory_exceeded(run):
    fn = run("""
def handler(event, context):
    if event == "blow up":
        hoard = b"x" * (300 << 20)  # 300 MB written, in a 128 MB function
        return len(hoard)
    return "ok"
""", memory_size=128)
    inv = fn.invoke("blow up")
    assert (inv.error.kind, inv.error.code) == ("memory_exceeded", 4205)
    assert inv.error.message.startswith("runtime memory limit exceeded (")
    assert "of 128 MB" in inv.error.message
    assert inv.instance.state == "killed"
    assert fn.invoke("fine").ok


def test_nothing_of_an_instance_reaches_the_test_process(run):
    before = (set(sys.modules), list(sys.path), threading.active_count(), dict(os.environ))
    fn = run("""
import sys, threading, os, json
sys.path.append("/nowhere")
os.environ["SET_BY_USER_CODE"] = "1"
threading.Thread(target=lambda: threading.Event().wait(), daemon=True).start()
LOADED = []
def handler(event, context):
    LOADED.append(event)
    return {"pid": os.getpid(), "name": __name__, "seen": LOADED}
""")
    first = fn.invoke("a").result
    fn.recycle()
    second = fn.invoke("b").result
    assert first["pid"] != second["pid"] != os.getpid()
    assert first["name"] == "index"  # its own name: no private prefix in a process of its own
    assert (first["seen"], second["seen"]) == (["a"], ["b"])
    after = (set(sys.modules), list(sys.path), threading.active_count(), dict(os.environ))
    assert after == before
    assert fn.instances[0].module is None  # it lives in another process


def test_instances_get_the_functions_environment_not_the_test_processes(run, monkeypatch):
    monkeypatch.setenv("CI_DEPLOY_TOKEN", "do-not-pass")
    source = """
import logging
import os
import re
import resource
import signal
def handler(event, context):
    return {k: os.environ.get(k) for k in ("CI_DEPLOY_TOKEN", "DB", "RUNTIME_FUNC_NAME")}
"""
    strict = run(source, user_data={"DB": "sqlite://"}).invoke().result
    assert strict == {"CI_DEPLOY_TOKEN": None, "DB": "sqlite://", "RUNTIME_FUNC_NAME": "fn"}
    inherited = run(source, user_data={"DB": "sqlite://"}, inherit_env=True).invoke().result
    assert inherited["CI_DEPLOY_TOKEN"] == "do-not-pass"


def test_user_code_sleeps_on_the_emulators_clock(run):
    fn = run("""
import time
import types
def init(context):
    time.sleep(250)  # well inside a 300 s initializer timeout
def handler(event, context):
    before = time.time()
    time.sleep(2)
    return time.time() - before
""", initializer_handler="index.init", initializer_timeout=300, timeout=10)
    started = _fz.real_monotonic()  # (the test sees the emulator's clock; freezegun swaps names)
    inv = fn.invoke()
    assert _fz.real_monotonic() - started < 30  # 252 s of virtual time, not of real time
    assert inv.init_duration_ms == pytest.approx(250_000, abs=200)
    assert inv.result == pytest.approx(2, abs=0.2)
    assert fn.elapsed >= 252


INSTANCE_SETUP = """
import logging
import os
import re
import resource
import signal

def install_fake_database():
    os.environ["DB_URL"] = "fake://in-setup"
    import fake_client
    fake_client.CONNECT = lambda url: "fake connection to " + url
"""
FAKE_CLIENT = """
def CONNECT(url):
    raise ConnectionError("a real database in a test!")
"""


@pytest.mark.parametrize("isolation", ["inprocess", "process"])
def test_instance_setup_runs_in_each_new_instance_before_its_code_loads(
        run, tmp_path, monkeypatch, isolation):
    support = tmp_path / "support"
    support.mkdir()
    (support / "fginit_setup.py").write_text(INSTANCE_SETUP)
    (support / "fake_client.py").write_text(FAKE_CLIENT)
    monkeypatch.syspath_prepend(str(support))
    fn = run("""
import logging
import os
import re
import resource
import signal
import fake_client
CONNECTION = fake_client.CONNECT(os.environ["DB_URL"])  # at import time
def handler(event, context):
    return CONNECTION
""", instance_setup="fginit_setup:install_fake_database", isolation=isolation)
    assert fn.invoke().result == "fake connection to fake://in-setup"


def test_a_failing_instance_setup_fails_the_test_with_its_traceback(run, tmp_path, monkeypatch):
    (tmp_path / "broken_setup.py").write_text("def setup():\n    raise RuntimeError('oops')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    fn = run(HANDLER_OK, instance_setup="broken_setup:setup")
    with pytest.raises(InstanceSetupError, match=r"(?s)instance-1: instance_setup "
                                                 r"'broken_setup:setup' failed.*oops"):
        fn.invoke()


def test_logs_of_print_stderr_logging_and_the_context_logger_reach_the_record(run):
    fn = run("""
import logging, sys
def handler(event, context):
    print("to stdout")
    print("to stderr", file=sys.stderr)
    logging.getLogger("app").warning("a warning")
    context.getLogger().info("via context")
    return "ok"
""", encrypted_user_data={"PASSWORD": "hunter2-secret"})
    inv = fn.invoke()
    for line in ("to stdout", "to stderr", "WARNING app: a warning", "via context"):
        assert line in inv.log


@pytest.mark.parametrize("phase", ["initializer", "handler"])
def test_injected_crashes_and_memory_overruns_are_real_in_a_process(run, phase):
    fn = run(HANDLER_OK + "\ndef init(context):\n    pass\n", initializer_handler="index.init")
    getattr(fn.faults, phase).exhausts_memory().crashes(exit_code=7)
    if phase == "initializer":  # one request: R3 retries on new instances
        overrun, crash = (a.error for a in fn.invoke().init_attempts[:2])
    else:  # each failure discards the instance: two requests
        overrun, crash = fn.invoke().error, fn.invoke().error
    used = int(re.fullmatch(r"runtime memory limit exceeded \((\d+) MB used of 128 MB\)",
                            overrun.message)[1])
    assert used > 128  # really allocated, in the instance process
    assert crash.message == "the runtime process exited (exit code 7)"  # a real exit code


def test_a_busy_loop_after_a_virtual_sleep_dies_at_the_deadline_of_the_instances_clock(run):
    fn = run("""
import time
import types
def handler(event, context):
    time.sleep(9)  # 9 of the 10 s pass at once on the virtual clock
    while True:
        pass
""", timeout=10)
    started = _fz.real_monotonic()
    inv = fn.invoke()
    assert inv.error.kind == "handler_timeout" and inv.duration_ms == pytest.approx(10_000, abs=1)
    # About 1 s of real time: not the 10 s the phase had when it started (generous bound).
    assert _fz.real_monotonic() - started < 6


def test_processes_that_left_the_instances_process_group_go_with_it(run, tmp_path):
    pid_file = tmp_path / "escaped.pid"
    fn = run(f"""
import os, subprocess
def handler(event, context):
    escaped = subprocess.Popen(["setsid", "sleep", "600"])  # a session of its own
    open({str(pid_file)!r}, "w").write(str(escaped.pid))
    os._exit(1)
""")
    assert fn.invoke().error.kind == "crashed"
    assert _gone(int(pid_file.read_text()))


def test_a_fault_exception_the_instance_cannot_import_arrives_by_name(run, monkeypatch):
    only_here = types.ModuleType("only_in_the_test_process")
    only_here.PaymentDeclined = type("PaymentDeclined", (Exception,),
                                     {"__module__": only_here.__name__})
    monkeypatch.setitem(sys.modules, only_here.__name__, only_here)
    fn = run(HANDLER_OK)
    fn.faults.handler.raises(only_here.PaymentDeclined("no funds"))
    fn.faults.handler.raises(type("Local", (Exception,), {})("does not pickle"))
    first, second = fn.invoke(), fn.invoke()
    assert (first.error.kind, first.error.type, first.error.message) == (
        "handler_error", "PaymentDeclined", "no funds")
    assert (second.error.type, second.error.message) == ("Local", "does not pickle")
    assert first.instance is second.instance  # a user exception: the instance lives on


def test_instances_log_at_the_tests_log_level(run, caplog):
    caplog.set_level(logging.INFO)
    fn = run("""
import logging
def handler(event, context):
    logging.getLogger("app").info("an info line")
    logging.getLogger("app").debug("a debug line")
    return "ok"
""")
    log = fn.invoke().log
    assert "INFO app: an info line" in log and "debug line" not in log


def test_an_interrupted_talk_with_the_fork_server_starts_a_new_one(run, monkeypatch):
    forkserver.shutdown()  # (a new server: no spare yet, the first request waits for one)
    fn = run("""
import os
def handler(event, context):
    return os.getpid()
""")
    first = forkserver.shared_server()

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt  # as if Ctrl-C came while the server's answer was on its way

    with monkeypatch.context() as patch:
        patch.setattr(forkserver.ForkServer, "_read", interrupted)
        with pytest.raises(KeyboardInterrupt):
            fn.invoke()
    assert first.closed and first._process.poll() is not None  # abandoned, and gone
    inv = fn.invoke()
    assert inv.ok and inv.result == inv.instance.pid  # the right process answers
    assert forkserver.shared_server() is not first


def test_a_freeze_started_by_the_test_does_not_stop_real_time_kills(run):
    fn = run("""
import select
def handler(event, context):
    select.select([], [], [], 1000)
""", real_time_limit=REAL_TIME_LIMIT)
    with freeze_time("2020-01-01"):  # freezes time.monotonic in the test process too
        inv = fn.invoke()
    assert inv.error.kind == "handler_timeout"


def test_output_of_threads_that_outlive_a_phase_is_never_lost_or_garbled(run):
    fn = run("""
import itertools, sys, threading

def chatter():
    for n in itertools.count():
        print(f"line {n:06d} " + "x" * 50)

def init(context):
    threading.Thread(target=chatter, daemon=True).start()

def handler(event, context):
    return "ok"
""", initializer_handler="index.init")
    log = "".join(fn.invoke().log for _ in range(30))
    assert "\0" not in log
    numbers = [int(line.split()[1]) for line in log.splitlines() if line.startswith("line ")]
    assert numbers == list(range(len(numbers)))  # every line, in order, none lost or cut
    assert all(line == f"line {n:06d} " + "x" * 50
               for n, line in enumerate(log.splitlines()) if line.startswith("line "))


def test_an_instance_that_closes_its_connection_is_killed_not_waited_for(run):
    fn = run("""
import os, time
def handler(event, context):
    os.closerange(3, 65536)  # the runtime's socket among them
    while True:
        pass
""", real_time_limit=REAL_TIME_LIMIT)
    inv = fn.invoke()
    assert inv.error.kind == "crashed"
    assert _gone(inv.instance.pid)


def test_an_instance_that_dies_while_idle_is_replaced_by_a_cold_start(run):
    fn = run("""
import os, threading, time
def handler(event, context):
    if event == "die soon":
        threading.Timer(0.1, os._exit, (3,)).start()  # after the answer, from a thread
    return os.getpid()
""")
    first = fn.invoke("die soon")
    assert first.ok and _gone(first.result)
    second = fn.invoke("fine")
    assert second.ok and second.cold_start and second.result != first.result
    assert first.instance.state == "killed"


def test_descriptors_numbered_past_1024_are_fine(run, code):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2048:
        pytest.skip(f"the open-files limit is {hard}")
    forkserver.shutdown()  # the next server starts with descriptors past 1024 open
    resource.setrlimit(resource.RLIMIT_NOFILE, (2048, hard))
    filler = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        fn = run(HANDLER_OK)
        assert fn.invoke().ok and fn.invoke().ok
        assert fn._pool.hosted(fn.instances[0])._channel.fileno() > 1024
    finally:
        for fd in filler:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_copies_made_to_answer_are_not_counted_as_the_functions_memory(run):
    fn = run("""
import resource
BALLAST = []

def handler(event, context):
    limit = context.getMemorySize() << 20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    BALLAST.append(b"x" * (limit - peak - (8 << 20)))  # held: 3 MB under the limit, with ...
    return "y" * (5 << 20)  # ... a 5 MB answer, which the runtime copies three times to send
""", memory_size=128)
    inv = fn.invoke()
    assert inv.ok and len(inv.result) == 5 << 20
    assert 110 < inv.memory_used_mb <= 128


def test_helpers_of_a_live_instance_survive_another_instance_ending(run, tmp_path):
    pid_file = tmp_path / "helper.pid"
    keeper = run(f"""
import os
def handler(event, context):
    if os.fork() == 0:  # double fork: the helper is orphaned at once
        if os.fork() == 0:
            open({str(pid_file)!r}, "w").write(str(os.getpid()))
            os.execvp("sleep", ["sleep", "600"])
        os._exit(0)
    return "helper started"
""")
    assert keeper.invoke().ok
    helper = int(pid_file.read_text()) if _wait_for(pid_file) else None
    other = run(HANDLER_OK + "\nimport os\n")
    other.faults.handler.crashes()
    assert other.invoke().error.kind == "crashed"  # another instance ends ...
    time.sleep(0.3)
    assert not _gone(helper, within=0.1)  # ... the live instance's helper lives on
    keeper.recycle()
    assert _gone(helper)  # and goes when its own instance ends


def _wait_for(path, within: float = 10.0) -> bool:
    limit = time.monotonic() + within
    while not (path.exists() and path.read_text()) and time.monotonic() < limit:
        time.sleep(0.02)
    return path.exists()


def test_a_fork_server_that_died_under_an_idle_instance_means_a_cold_start(run):
    fn = run("""
import os
def handler(event, context):
    return os.getpid()
""")
    first = fn.invoke()
    os.kill(forkserver.shared_server().pid, signal.SIGKILL)  # the instance dies with it
    assert _gone(first.result)
    second = fn.invoke()
    assert second.ok and second.cold_start and first.instance.state == "killed"


def test_requests_sharing_an_instance_take_turns_in_order_and_share_its_end(run):
    fn = run("""
import sys, time

def handler(event, context):
    if event == "exit":
        sys.exit(3)
    time.sleep(1)
    return event
""", concurrency_num=4, timeout=3)
    invs = fn.invoke_concurrently(["a", "b", "c", "d"])  # one process: one after the other
    assert {i.instance.id for i in invs} == {"instance-1"}
    assert [i.error.kind if i.error else "ok" for i in invs] == [
        "ok", "ok", "handler_timeout", "handler_timeout"]  # waiting counts: a, b, then late
    started = time.monotonic()
    invs = fn.invoke_concurrently(["exit", "x"])
    assert [(i.error.kind, i.error.message) for i in invs] == [
        ("crashed", "the runtime process exited (exit code 3)")] * 2
    assert time.monotonic() - started < 1  # the second found it ended: no wait for an exit
