"""Process isolation at its edges: bursts of a thousand instances, too few file descriptors,
what is left after `close()`, a handler that forks, an event nested as deep as allowed.

The hangs these guard against are run in pytester subprocesses with a timeout, so that a
regression fails the test rather than hanging the suite.
"""

from __future__ import annotations

import os
import sys

import pytest

from pytest_fginit._platform.dispatch import MAX_EVENT_DEPTH

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="process isolation: Linux")

HANG_GUARD_S = 600
"""A pytester session that takes longer than this is taken as hung (a slow CI box takes
tens of seconds for a thousand processes)."""

HANDLER_OK = """
def handler(event, context):
    return "ok"
"""


def _gone(pid: int) -> bool:
    """Whether process ``pid`` has ended and been reaped (not even a zombie is left)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


# --- a burst of a thousand instances ---------------------------------------------------------

def test_a_burst_of_1000_process_instances_starts_and_its_teardown_ends(pytester):
    # Closing sends a release per instance to the fork server, which answers each with an
    # exit notice: neither side may wait on a full buffer, or both hang.
    pytester.makepyfile(**{"fn/index.py": HANDLER_OK, "test_burst.py": """
import pytest

@pytest.mark.fginit(code_root="fn", isolation="process", max_instance_num=1000)
def test_burst(fg_function):
    invocations = fg_function.invoke_concurrently([{}] * 1000)
    assert all(inv.ok for inv in invocations)
    assert len({inv.instance.pid for inv in invocations}) == 1000
"""})
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=HANG_GUARD_S)
    result.assert_outcomes(passed=1)


# --- too few file descriptors ----------------------------------------------------------------

def test_running_out_of_descriptors_is_a_clear_error_and_leaves_nothing_behind(pytester):
    # 100 instances hold 300 descriptors of the test process; it may have 256.
    pytester.makepyfile(**{"fn/index.py": HANDLER_OK, "test_fds.py": """
import os, resource
import pytest
from pytest_fginit import FunctionConfig, FunctionEmulator

def test_fds():
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    fn = FunctionEmulator(FunctionConfig(code_root="fn", isolation="process",
                                         max_instance_num=100)).start()
    fn.invoke({})  # (a spare is now forked ahead, its socket open here: as after the burst)
    fn.recycle()
    before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(OSError) as raised:
        fn.invoke_concurrently([{}] * 100)
    fn.close()
    print("ERROR:", raised.value)
    started = [i.pid for i in fn.instances if i.pid is not None]
    assert started, "some instances had started"
    alive = []
    for pid in started:
        try:
            os.kill(pid, 0)
            alive.append(pid)
        except ProcessLookupError:
            pass
    assert alive == []
    assert len(os.listdir("/proc/self/fd")) <= before
"""})
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s",
                                           timeout=HANG_GUARD_S)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "*ERROR: *ran out of file descriptors*may have 256 open at once (its soft "
        "RLIMIT_NOFILE, `ulimit -n`*Raise the limit*or lower max_instance_num or the number "
        "of requests sent together*",
    ])


# --- close() returns once its processes have exited ------------------------------------------

SPINNING = """
import threading

def spin():
    while True:  # pure Python: the thread takes the GIL whenever it can
        pass

def handler(event, context):
    if event == "spin":
        threading.Thread(target=spin, daemon=True).start()
    return "ok"
"""


@pytest.mark.parametrize("event", ["idle", "spin"])
def test_after_close_every_instance_process_has_exited(run, event):
    fn = run(SPINNING)
    invocations = fn.invoke_concurrently([event] * 3)
    assert all(inv.ok for inv in invocations)
    pids = [inv.instance.pid for inv in invocations]
    fn.close()
    assert [pid for pid in pids if not _gone(pid)] == []


# --- a handler that forks --------------------------------------------------------------------

FORKING = """
import os

if os.environ.get("FORK_AT_IMPORT") == "1":
    os.fork()  # the child goes on loading the module, as its parent does

def handler(event, context):
    if event == "fork":
        os.fork()  # the child returns too
    return {"event": event, "pid": os.getpid()}
"""


@pytest.mark.parametrize("where", ["handler", "import"])
def test_a_child_the_function_forked_never_answers_for_its_instance(run, where):
    fn = run(FORKING, user_data={"FORK_AT_IMPORT": "1" if where == "import" else "0"})
    events = ["a", "fork", "b", "c", "fork", "d"]
    answers = [fn.invoke(event) for event in events]
    assert [inv.result["event"] for inv in answers] == events
    assert {inv.result["pid"] for inv in answers} == {answers[0].instance.pid}
    assert len(fn.instances) == 1 and not answers[-1].cold_start


# --- an event nested hundreds of levels deep -------------------------------------------------

DEPTH = """
def handler(event, context):
    depth = 0
    while isinstance(event, dict):
        event, depth = event.get("a"), depth + 1
    return depth
"""


def _nested(levels: int) -> dict:
    event: dict = {}
    for _ in range(levels - 1):
        event = {"a": event}
    return event


def test_an_event_at_the_depth_limit_reaches_a_warm_instance_and_one_deeper_leaves_it_warm(run):
    # (pickle recurses twice a level: the dispatcher's limit keeps every event far from
    # pickle's; one past it is refused before anything is sent)
    fn = run(DEPTH)
    warm = fn.invoke({})
    inv = fn.invoke(_nested(MAX_EVENT_DEPTH))
    assert inv.ok and inv.result == MAX_EVENT_DEPTH
    assert inv.instance is warm.instance and not inv.cold_start
    with pytest.raises(ValueError, match="nested too deeply"):
        fn.invoke(_nested(MAX_EVENT_DEPTH + 1))
    after = fn.invoke({})
    assert after.ok and after.instance is warm.instance and not after.cold_start
    assert warm.instance.state == "ready"
