"""Requests sent at the same moment: instances assigned before user code runs, initializers and
handlers really side by side, sleeps that overlap on the emulator's clock, ``concurrency_num``,
``max_instance_num`` (throttling) and ``reserved_instances``."""

from __future__ import annotations

import sys

import pytest

from pytest_fginit import FunctionConfig, FunctionEmulator

# ``meet`` is a real rendezvous: it returns True only if ``n`` requests (or initializers) reach
# it while the others are still inside theirs, that is, if they really run at the same time.
SIDE_BY_SIDE = """
import os, select, threading, time

INIT_CALLS = 0
LOCK = threading.Lock()

def meet(kind, n, name):
    where = os.path.join(os.environ["MEET"], kind)
    os.makedirs(where, exist_ok=True)
    open(os.path.join(where, name), "w").close()
    for _ in range(3000):  # up to 30 real seconds (select sleeps for real: no virtual time)
        if len(os.listdir(where)) >= n:
            return True
        select.select([], [], [], 0.01)
    return False

def init(context):
    global INIT_CALLS
    with LOCK:
        INIT_CALLS += 1
    n = int(os.environ.get("MEET_INITS", "0"))
    if n and not meet("init", n, context.getRequestID()):
        raise RuntimeError("the initializers did not run at the same time")

def handler(event, context):
    started = time.time()
    met = meet("handler", event["meet"], context.getRequestID()) if "meet" in event else None
    time.sleep(event.get("sleep", 0))
    print("served", event.get("n"))
    return {"init_calls": INIT_CALLS, "slept": time.time() - started, "met": met}
"""


@pytest.fixture
def side_by_side(emulate, tmp_path):
    def make(meet_inits: int = 0, **config):
        config.setdefault("timeout", 900)  # (a rendezvous waits in real time)
        config.setdefault("initializer_timeout", 300)
        user_data = {"MEET": str(tmp_path / "meet"), "MEET_INITS": str(meet_inits)}
        return emulate(index=SIDE_BY_SIDE, user_data=user_data, **config)
    return make


def test_simultaneous_requests_on_a_cold_function_initialize_instances_side_by_side(
        side_by_side):
    fn = side_by_side(meet_inits=4)
    invs = fn.invoke_concurrently([{"meet": 4, "n": n} for n in range(4)])
    assert [(i.ok, i.cold_start, i.instance.id) for i in invs] == [
        (True, True, f"instance-{n}") for n in range(1, 5)]
    assert [i.result["met"] for i in invs] == [True] * 4  # handlers at the same time, too
    assert [len(i.init_attempts) for i in invs] == [1, 1, 1, 1]
    assert [i.initializer_calls for i in fn.instances] == [1, 1, 1, 1]
    assert [i.result["init_calls"] for i in invs] == [1, 1, 1, 1]  # each its own module
    assert [i.log for i in invs] == [f"served {n}\n" for n in range(4)]  # each its own output


def test_their_sleeps_overlap_on_the_emulators_clock(side_by_side):
    fn = side_by_side(timeout=3)
    fn.invoke_concurrently([{}, {}, {}])  # three warm instances
    before = fn.elapsed
    invs = fn.invoke_concurrently([{"sleep": 2}, {"sleep": 1}, {"sleep": 2.5}])
    assert not any(i.cold_start for i in invs)
    # Each request saw its own time pass (and none passed the 3 s timeout, as it would if
    # they added up); the clock then stands where the last one ended.
    assert [i.result["slept"] for i in invs] == [pytest.approx(s, abs=0.5) for s in (2, 1, 2.5)]
    assert [i.duration_ms for i in invs] == [pytest.approx(s, abs=500) for s in (2000, 1000,
                                                                                2500)]
    assert 2.5 <= fn.elapsed - before < 4.5
    later = fn.invoke({"sleep": 0})
    assert later.started_at >= before + 2.5  # the clock never goes back for what follows


def test_requests_go_to_idle_ready_instances_first(emulate):
    fn = emulate()
    warm = fn.invoke("a").instance
    invs = fn.invoke_concurrently(["b", "c", "d"])
    assert invs[0].instance is warm and not invs[0].cold_start
    assert [(i.instance.id, i.cold_start) for i in invs[1:]] == [("instance-2", True),
                                                                  ("instance-3", True)]
    again = fn.invoke_concurrently(["e", "f", "g"])
    assert not any(i.cold_start for i in again)
    assert sorted(i.instance.id for i in again) == ["instance-1", "instance-2", "instance-3"]
    assert len(fn.instances) == 3


def test_the_outcome_does_not_depend_on_thread_timing(emulate):
    """Faults go to instances in creation order, retries too: the same test gives the same
    records every time."""
    fn = emulate()
    fn.faults.initializer.raises(ConnectionError("db down"), times=2)
    fn.faults.handler.raises(ValueError("bad row"))
    invs = fn.invoke_concurrently(["a", "b", "c"])
    assert [[(a.instance.id, a.ok) for a in i.init_attempts] for i in invs] == [
        [("instance-1", False), ("instance-4", True)],
        [("instance-2", False), ("instance-5", True)],
        [("instance-3", True)],
    ]
    assert [i.instance.id for i in invs] == ["instance-4", "instance-5", "instance-3"]
    assert [i.error.type if i.error else None for i in invs] == ["ValueError", None, None]
    assert fn.billing.init_failures == 2


def test_concurrency_num_requests_share_one_instance(emulate):
    fn = emulate(concurrency_num=2)
    invs = fn.invoke_concurrently([1, 2, 3])
    assert [i.instance.id for i in invs] == ["instance-1", "instance-1", "instance-2"]
    assert [i.cold_start for i in invs] == [True, True, True]  # all waited for an initializer
    assert [len(i.init_attempts) for i in invs] == [1, 0, 1]  # billed to the first (R10)
    assert [i.initializer_calls for i in fn.instances] == [1, 1]
    again = fn.invoke_concurrently([4, 5])  # idle instances first, then room on busy ones
    assert sorted(i.instance.id for i in again) == ["instance-1", "instance-2"]


@pytest.mark.inprocess_only("one instance's requests run on threads side by side in-process; "
                            "in a process they take turns (a documented limit)")
def test_concurrency_num_runs_one_instances_requests_at_the_same_time(side_by_side):
    fn = side_by_side(concurrency_num=3)
    invs = fn.invoke_concurrently([{"meet": 3}] * 3 + [{}])
    assert [i.instance.id for i in invs] == ["instance-1"] * 3 + ["instance-2"]
    assert [i.result["met"] for i in invs] == [True, True, True, None]
    assert [i.result["init_calls"] for i in invs] == [1, 1, 1, 1]


def test_requests_over_max_instance_num_are_throttled(emulate):
    fn = emulate(max_instance_num=2)
    invs = fn.invoke_concurrently([1, 2, 3])
    assert [i.ok for i in invs] == [True, True, False]
    throttled = invs[2]
    assert (throttled.error.kind, throttled.error.code, throttled.error.message) == (
        "throttled", "FSS.0429", "Too many requests.")
    assert throttled.instance is None and not throttled.cold_start
    response = throttled.to_api_response()
    assert (response.status, response.body) == (429, {"error_code": "FSS.0429",
                                                       "error_msg": "Too many requests."})
    assert len(fn.instances) == 2
    assert [i.instance.id for i in fn.invoke_concurrently([4, 5])] == ["instance-1",
                                                                        "instance-2"]


def test_max_instance_num_0_disables_the_function(emulate):
    fn = emulate(max_instance_num=0)
    assert [i.error.code for i in fn.invoke_concurrently([1, 2])] == ["FSS.0429"] * 2
    assert fn.invoke(3).error.kind == "throttled" and fn.instances == []


def test_a_handler_timeout_kills_only_its_own_instance(side_by_side):
    fn = side_by_side(timeout=3)
    invs = fn.invoke_concurrently([{"sleep": 5}, {"sleep": 1}])
    assert invs[0].error.kind == "handler_timeout" and invs[0].duration_ms == 3000
    assert invs[1].ok
    assert [i.state for i in fn.instances] == ["killed", "ready"]
    assert not fn.invoke({}).cold_start  # the live one serves


def test_reserved_instances_are_initialized_before_any_request(emulate):
    fn = emulate(reserved_instances=2)
    assert [(i.id, i.state, i.reserved, i.initializer_calls) for i in fn.instances] == [
        ("instance-1", "ready", True, 1), ("instance-2", "ready", True, 1)]
    assert [a.ok for a in fn.reserved_init_attempts] == [True, True] and not fn.invocations
    invs = fn.invoke_concurrently([1, 2, 3])  # reserved first, then on demand
    assert [(i.instance.id, i.cold_start) for i in invs] == [
        ("instance-1", False), ("instance-2", False), ("instance-3", True)]
    fn.advance(3600)  # an hour idle: the on-demand instance is reclaimed, reserved ones stay
    assert [i.state for i in fn.instances] == ["ready", "ready", "reclaimed"]
    assert not fn.invoke(4).cold_start
    fn.recycle()  # stopped, and brought up again as the platform would
    assert [i.reserved for i in fn.instances if i.state == "ready"] == [True, True]
    assert not fn.invoke(5).cold_start


def test_reserved_instances_init_failures_are_recorded_and_retried(code, emulate, isolation):
    config = FunctionConfig(code_root=code(), initializer_handler="index.init",
                            reserved_instances=1, isolation=isolation)
    fn = FunctionEmulator(config)
    fn.faults.initializer.raises(PermissionError("token expired"))
    with fn:
        attempts = fn.reserved_init_attempts
        assert [(a.instance.id, a.ok) for a in attempts] == [("instance-1", False),
                                                             ("instance-2", True)]
        assert attempts[0].error.kind == "init_failed"
        assert "token expired" in attempts[0].error.message
        assert [i.state for i in fn.instances] == ["failed", "ready"]
        assert fn.billing.init_failures == 1 and fn.billing.gb_s > 0
        assert not fn.invoke(1).cold_start


def test_a_code_update_brings_reserved_instances_up_again(emulate):
    fn = emulate(reserved_instances=1)
    fn.update(timeout=10)
    assert [(i.state, i.reserved) for i in fn.instances] == [("recycled", True),
                                                            ("ready", True)]


def test_an_initializer_fault_not_reached_is_kept_for_later(emulate):
    """A fault for an initializer goes to an instance whose code loaded: one that failed to
    load leaves it for the next."""
    fn = emulate(index="raise ImportError('missing dependency')\n")
    fn.faults.initializer.raises(RuntimeError("later"))
    invs = fn.invoke_concurrently([1, 2])
    assert {i.error.kind for i in invs} == {"load_error"}
    assert len(fn.faults.initializer.pending) == 1


def test_request_ids_and_bad_events(emulate):
    fn = emulate()
    invs = fn.invoke_concurrently([1, 2], request_ids=["r-1", None])
    assert invs[0].request_id == "r-1" and invs[1].request_id != "r-1"
    assert fn.invoke_concurrently([]) == []
    with pytest.raises(ValueError, match="2 events but 1 request_ids"):
        fn.invoke_concurrently([1, 2], request_ids=["x"])
    with pytest.raises(TypeError, match="event 1 must be JSON-serialisable"):
        fn.invoke_concurrently([1, object()])
    assert len(fn.invocations) == 2  # nothing of a refused send was recorded


@pytest.mark.inprocess_only("the test's own streams, and its failure raised by user code")
def test_streams_are_restored_and_an_interrupt_reaches_the_test(emulate):
    stdout, stderr = sys.stdout, sys.stderr
    fn = emulate(index="""
        import pytest
        def init(context):
            pass
        def handler(event, context):
            if event == "stop":  # (a mock that fails the test: the test's, not the function's)
                pytest.fail("stop")
            print("served", event)
            return event
    """)
    invs = fn.invoke_concurrently(list(range(8)))
    assert [i.log for i in invs] == [f"served {n}\n" for n in range(8)]
    assert (sys.stdout, sys.stderr) == (stdout, stderr)
    with pytest.raises(pytest.fail.Exception, match="stop"):
        fn.invoke_concurrently([1, "stop"])
    assert (sys.stdout, sys.stderr) == (stdout, stderr)
    assert fn.invoke(1).ok  # still usable


# --- what goes wrong in the middle of a send --------------------------------------------------

SETUP_FAILS_SECOND_TIME = """
import os

def install():  # the first instance to get here gets its fake database, the next does not
    try:
        os.close(os.open(os.path.join(os.environ["SETUP_DIR"], "taken"),
                         os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        raise RuntimeError("the fake database did not start") from None
"""


def test_a_failed_instance_setup_in_a_send_leaves_the_records_and_the_clock_right(
        emulate, tmp_path, monkeypatch):
    from pytest_fginit import InstanceSetupError

    (tmp_path / "setups").mkdir()
    (tmp_path / "setups" / "fakes_for_send.py").write_text(SETUP_FAILS_SECOND_TIME)
    monkeypatch.syspath_prepend(str(tmp_path / "setups"))
    monkeypatch.setenv("SETUP_DIR", str(tmp_path))
    fn = emulate(index=SIDE_BY_SIDE, instance_setup="fakes_for_send:install", timeout=10,
                 user_data={"MEET": str(tmp_path / "meet"), "MEET_INITS": "0"},
                 inherit_env=True)
    fn.faults.initializer.delays(2, times=2)
    with pytest.raises(InstanceSetupError, match="the fake database did not start"):
        fn.invoke_concurrently([{}, {}])
    assert sorted(i.state for i in fn.instances) == ["failed", "ready"]
    assert fn.invocations == []  # no request of the send got its outcome
    # The instance that came up passed 2 s: the clock stands after that, and the journal is
    # in order of time.
    assert fn.elapsed >= 2
    times = [entry[0] for entry in fn.journal]
    assert times == sorted(times)
    assert fn.invoke({}).ok and not fn.invocations[-1].cold_start  # the ready one serves


@pytest.mark.inprocess_only("the test's failure raised by user code, in the test process")
def test_an_interrupt_in_one_request_keeps_the_others_records(emulate, code):
    told = []

    class Listener:
        def instance_state_changed(self, instance, previous):
            pass

        def invocation_finished(self, invocation):
            told.append(invocation.event)

    root = code(index="""
import time
def init(context):
    pass
def handler(event, context):
    if event == "stop":  # (a mock that fails the test, say: the test's, not the function's)
        import pytest
        pytest.fail("stop")
    time.sleep(event)
    return event
""")
    config = FunctionConfig(code_root=root, initializer_handler="index.init")
    with FunctionEmulator(config, listeners=[Listener()]) as fn:
        with pytest.raises(pytest.fail.Exception, match="stop"):
            fn.invoke_concurrently([2, "stop"])
        assert [(i.event, i.ok) for i in fn.invocations] == [(2, True)]
        assert told == [2]  # hooks hear of what was recorded
        assert fn.elapsed >= 2  # its 2 s passed, for the test too
        assert fn.invoke(0).ok  # usable afterwards


def test_reserved_initialization_is_billed_at_the_memory_of_its_time(emulate):
    fn = emulate(index=SIDE_BY_SIDE.replace("def init(context):",
                                            "def init(context):\n    time.sleep(1)"),
                 reserved_instances=1, user_data={"MEET": "/nonexistent"})
    billed = fn.billing
    assert billed.billed_duration_ms >= 1000
    assert billed.gb_s == pytest.approx(128 / 1024 * billed.billed_duration_ms / 1000)
    fn.update(memory_size=4096)  # a new reserved instance comes up, at 4096 MB
    after = fn.billing
    new_ms = after.billed_duration_ms - billed.billed_duration_ms
    assert after.gb_s == pytest.approx(billed.gb_s + 4096 / 1024 * new_ms / 1000)


@pytest.mark.parametrize(("isolation", "virtual_time", "busy"), [
    ("inprocess", True, "while True: pass"),
    ("inprocess", False, "time.sleep(600)"),  # a real sleep: stopped in slices, not at its end
    ("process", True, "while True: pass"),
])
def test_an_interrupted_send_leaves_no_user_code_running(pytester, isolation, virtual_time,
                                                         busy):
    pytester.makepyfile(**{"fn/index": f"""
        import os, time
        def handler(event, context):
            if event == "busy":
                {busy}
            with open(os.environ["MARKS"], "a") as marks:
                marks.write(event + "\\n")
            return event
    """})
    pytester.makepyfile(test_interrupted=f"""
        import os, threading, time
        import pytest

        MARKS = os.path.abspath("marks.txt")

        @pytest.mark.timeout(2, method="signal")
        @pytest.mark.fginit(code_root="fn", timeout=900, isolation="{isolation}",
                            virtual_time={virtual_time}, concurrency_num=2,
                            user_data={{"MARKS": MARKS}})
        def test_hung_send(fg_function):
            fg_function.invoke_concurrently(["quick", "busy", "after"])

        def test_nothing_left_running():
            time.sleep(0.5)
            # (the watchdog's thread runs no user code: the session keeps it, idle, as it
            # keeps freezegun's freeze; see fginit_freeze)
            left = [t.name for t in threading.enumerate()
                    if t.name.startswith("fginit-") and t.name != "fginit-watchdog"]
            assert left == []
            # (in a process, "after" waits for its turn behind "busy": it never runs)
            assert sorted(open(MARKS).read().split()) in (["after", "quick"], ["quick"])
    """)
    result = pytester.runpytest_subprocess("-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        # the stopped request is not recorded: it was stopped, not served
        "*function 'fn': 2 requests, 2 instances created*",
        "*test_hung_send*Timeout*",
    ])


@pytest.mark.parametrize("first_use", ["invoke", "instances", "bring_up_reserved", "advance"])
def test_deferred_reserved_instances_come_up_at_first_use(code, first_use):
    config = FunctionConfig(code_root=code(), initializer_handler="index.init",
                            reserved_instances=2)
    with FunctionEmulator(config).start(defer_reserved=True) as fn:
        assert "0 instances" in repr(fn)  # (repr looks without using)
        if first_use == "invoke":
            inv = fn.invoke({})
            assert inv.ok and not inv.cold_start and inv.instance.reserved
        elif first_use == "advance":
            fn.advance(1)
        elif first_use == "instances":
            assert [i.reserved for i in fn.instances] == [True, True]
        else:
            fn.bring_up_reserved()
        assert "2 instances (2 ready)" in repr(fn)
        assert [a.ok for a in fn.reserved_init_attempts] == [True, True]
        fn.bring_up_reserved()  # (once up, a no-op)
        assert len(fn.instances) == 2
