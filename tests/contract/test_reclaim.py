"""Idle instances are reclaimed after ``instance_idle_timeout``; an instance being stopped runs
its pre-stop handler once (not when the platform killed it), with its own timeout and faults."""

from __future__ import annotations

import pytest

from pytest_fginit import FunctionConfig, FunctionConfigError

BUFFERED = """
import json, os, time

BUFFER = []

def init(context):
    pass

def handler(event, context):
    if event == "slow":
        time.sleep(10)
    BUFFER.append(event)
    return len(BUFFER)

def flush(context):
    print("flushing", len(BUFFER), "as", context.getRequestID(),
          "with", context.getRemainingTimeInMilliSeconds(), "ms left")
    with open(os.environ["SINK"], "a") as sink:
        sink.write(json.dumps(BUFFER) + "\\n")
    if "boom" in BUFFER:
        raise RuntimeError("cannot flush")
    if "stuck" in BUFFER:
        time.sleep(1000)
"""


@pytest.fixture
def buffered(emulate, tmp_path):
    sink = tmp_path / "sink.jsonl"

    def make(**config):
        config.setdefault("pre_stop_handler", "index.flush")
        fn = emulate(index=BUFFERED, user_data={"SINK": str(sink)}, **config)
        return fn, sink
    return make


def flushed(sink) -> list[list[str]]:
    import json

    return [json.loads(line) for line in sink.read_text().splitlines()] if sink.exists() else []


def test_an_instance_idle_past_the_idle_timeout_is_reclaimed(buffered):
    fn, sink = buffered()
    first = fn.invoke("a")
    fn.advance(59)
    assert not fn.invoke("b").cold_start  # idle 59 s: still there
    fn.advance(59)
    assert not fn.invoke("c").cold_start  # idle is counted from the last request
    fn.advance(60)
    assert first.instance.state == "reclaimed"  # (at the advance: the platform's own timing)
    assert flushed(sink) == [["a", "b", "c"]]  # its pre-stop handler ran once
    again = fn.invoke("d")
    assert again.cold_start and again.result == 1


def test_the_idle_timeout_is_configurable(buffered):
    fn, _ = buffered(instance_idle_timeout=5)
    fn.invoke("a")
    fn.advance(5)
    assert fn.instances[0].state == "reclaimed" and fn.invoke("b").cold_start


def test_pre_stop_runs_on_recycle_and_at_the_end_with_its_context_and_log(buffered):
    fn, sink = buffered(pre_stop_timeout=20)
    fn.invoke("a")
    fn.recycle()
    first = fn.instances[0]
    assert first.state == "recycled" and first.pre_stop.ok
    assert "flushing 1 as pre-stop-instance-1 with" in first.pre_stop.log
    remaining = int(first.pre_stop.log.split(" with ")[1].split()[0])
    assert 19_000 < remaining <= 20_000
    fn.invoke("b")
    fn.close()  # the end of the test stops it too
    assert fn.instances[1].pre_stop.ok and flushed(sink) == [["a"], ["b"]]


def test_pre_stop_errors_and_timeouts_are_recorded_on_the_instance(buffered):
    fn, _ = buffered(pre_stop_timeout=5)
    fn.invoke("boom")
    fn.recycle()
    failed = fn.instances[0].pre_stop
    assert (failed.ok, failed.error.kind, failed.error.code) == (False, "pre_stop_failed", 4301)
    assert failed.error.type == "RuntimeError" and failed.error.message == "cannot flush"
    fn.invoke("stuck")
    fn.recycle()
    hung = fn.instances[1].pre_stop
    assert (hung.error.kind, hung.error.code) == ("pre_stop_timeout", 4311)
    assert hung.error.message == "pre-stop handler timed out after 5 s"
    assert hung.duration_ms == pytest.approx(5000, abs=1)
    assert fn.instances[1].state == "recycled"


def test_faults_can_target_pre_stop(buffered):
    fn, sink = buffered()
    fn.faults.pre_stop.raises(OSError("disk full")).hangs()
    for _ in range(3):
        fn.invoke("x")
        fn.recycle()
    first, second, third = (i.pre_stop for i in fn.instances)
    assert (first.error.type, first.error.message) == ("OSError", "disk full")
    assert second.error.kind == "pre_stop_timeout"
    assert third.ok and flushed(sink) == [["x"]]  # only the real handler wrote


def test_no_pre_stop_for_an_instance_the_platform_killed_or_that_never_initialized(buffered):
    fn, sink = buffered(initializer_timeout=3)
    fn.faults.initializer.raises(ConnectionError)
    timed_out = fn.invoke("slow")  # 10 s in a 3 s handler
    assert timed_out.error.kind == "handler_timeout"
    fn.faults.handler.crashes()
    fn.invoke("x")
    assert [i.state for i in fn.instances] == ["failed", "killed", "killed"]
    assert [i.pre_stop for i in fn.instances] == [None, None, None]
    assert flushed(sink) == []


def test_faults_on_pre_stop_need_a_pre_stop_handler(emulate):
    fn = emulate()
    with pytest.raises(ValueError, match=r"faults\.pre_stop: this function has no "
                                         r"pre_stop_handler configured"):
        fn.faults.pre_stop.raises(OSError)


def test_a_missing_pre_stop_function_is_a_load_error(emulate):
    fn = emulate(pre_stop_handler="index.flush")  # the counting function has no flush()
    inv = fn.invoke()
    assert inv.error.kind == "load_error"
    assert inv.error.message == ("entry index.flush not found: module 'index' has no "
                                 "function 'flush'")


@pytest.mark.parametrize(("fields", "message"), [
    ({"pre_stop_handler": "other.flush"}, "pre_stop_handler: 'other.flush' must be in the "
                                          "handler's file 'index'"),
    ({"pre_stop_handler": "flush"}, "is not of the form file.function"),
    ({"pre_stop_handler": "index.flush", "pre_stop_timeout": 91}, "pre_stop_timeout: 91 is "
                                                                  "out of range"),
    ({"instance_idle_timeout": 0}, "instance_idle_timeout: 0 is out of range"),
])
def test_pre_stop_and_idle_settings_are_checked(code, fields, message):
    with pytest.raises(FunctionConfigError, match=message):
        FunctionConfig(code_root=code(), **fields)


def test_pre_stop_shows_in_the_failure_report(project, function_source):
    function_source(BUFFERED)
    project.makepyfile(test_it="""
import pytest

@pytest.mark.fginit(code_root="fn", initializer_handler="index.init",
                    pre_stop_handler="index.flush", user_data={"SINK": "sink.jsonl"})
def test_it(fg_function):
    fg_function.invoke("boom")
    fg_function.recycle()
    assert False
""")
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*instance-1 pre-stop failed: pre_stop_failed RuntimeError: cannot flush*",
        "*instance-1 recycled",
    ])


def test_an_instance_is_reclaimed_at_its_idle_deadline_not_when_the_advance_ends(buffered):
    fn, _ = buffered()
    fn.invoke("a")
    fn.advance(3600)
    instance = fn.instances[0]
    assert instance.state == "reclaimed"
    assert 60 < instance.pre_stop.started_at < 61  # idle 60 s: then, not an hour later
    assert fn.elapsed >= 3600


def test_no_pre_stop_for_an_instance_whose_process_died_while_idle(buffered):
    import os
    import signal

    fn, sink = buffered(isolation="process")
    fn.invoke("a")
    os.kill(fn.instances[0].pid, signal.SIGKILL)
    import time

    deadline = time.monotonic() + 10
    while fn._pool.hosted(fn.instances[0]).alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    fn.advance(61)
    assert fn.instances[0].state == "killed" and fn.instances[0].pre_stop is None
    assert flushed(sink) == []


CTRL_C = """
    os.kill(os.getpid(), signal.SIGINT)  # (Ctrl-C, while the pre-stop handler runs)
    while True:
        pass
"""


@pytest.mark.inprocess_only("a Ctrl-C of the instance's process is not the test's")
def test_a_pre_stop_interrupted_by_ctrl_c_does_not_run_again(emulate, tmp_path):
    fn = emulate(index="""
import os, signal
def init(context):
    pass
def handler(event, context):
    return 1
def flush(context):
    print("flushing")
""" + CTRL_C, pre_stop_handler="index.flush")
    fn.invoke()
    with pytest.raises(KeyboardInterrupt):
        fn.recycle()
    fn.close()  # runs no second pre-stop, and stops the instance
    assert fn.instances[0].state == "recycled"


@pytest.mark.inprocess_only("a Ctrl-C of the instance's process is not the test's")
def test_a_pre_stop_cut_off_by_ctrl_c_does_not_run_again_on_the_next_recycle(emulate):
    fn = emulate(index="""
import os, signal
RUNS = []
def init(context):
    pass
def handler(event, context):
    return 1
def flush(context):
    RUNS.append(1)
""" + CTRL_C, pre_stop_handler="index.flush")
    fn.invoke()
    with pytest.raises(KeyboardInterrupt):
        fn.recycle()
    fn.recycle()  # (the instance is still there: stopped now, with no second pre-stop)
    assert fn.instances[0].state == "recycled" and fn.instances[0].module.RUNS == [1]
