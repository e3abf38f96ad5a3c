"""The initializer contract (R1-R5) and the handler's, through `FunctionEmulator` directly."""

from __future__ import annotations

import pytest

from pytest_fginit import FunctionConfig, FunctionEmulator, InvocationError


def test_first_request_is_a_cold_start_that_runs_the_initializer_once(emulate):
    fn = emulate(user_data={"DB_URL": "pg://db"})
    first = fn.invoke({"n": 1})
    assert first.ok, first.error
    assert first.cold_start
    assert len(first.init_attempts) == 1 and first.init_attempts[0].ok
    assert first.result == {"event": {"n": 1}, "handled": 1, "init_calls": 1, "db": "pg://db"}
    assert first.instance is fn.instances[0]
    assert first.instance.state == "ready"


def test_warm_requests_reuse_the_instance_and_never_rerun_the_initializer(emulate, isolation):
    fn = emulate()
    invocations = [fn.invoke({"n": n}) for n in range(10)]
    assert [i.cold_start for i in invocations] == [True] + [False] * 9
    assert all(i.init_attempts == [] for i in invocations[1:])
    assert len(fn.instances) == 1
    instance = fn.instances[0]
    assert instance.initializer_calls == 1
    assert instance.invocations == invocations
    assert invocations[-1].result["handled"] == 10
    assert invocations[-1].result["init_calls"] == 1
    if isolation == "inprocess":  # (the module lives in another process otherwise)
        assert instance.module is not None and instance.module.INIT_CALLS == 1


def test_initializer_return_value_is_discarded_and_it_receives_only_the_context(emulate):
    fn = emulate(index="""
        SEEN = []
        def init(*args):
            SEEN.append(len(args))
            SEEN.append(type(args[0]).__name__)
            return {"secret": "from init"}
        def handler(event, context):
            return SEEN
    """)
    inv = fn.invoke()
    assert inv.result == [1, "Context"]
    assert "from init" not in repr(inv) and inv.log == ""


def test_a_failed_initializer_abandons_the_instance_and_retries_on_a_new_one(emulate):
    fn = emulate()
    fn.faults.initializer.raises(ConnectionError("db down"), times=2)
    inv = fn.invoke({"n": 1})
    assert inv.ok
    assert [a.ok for a in inv.init_attempts] == [False, False, True]
    assert [a.instance.id for a in inv.init_attempts] == ["instance-1", "instance-2", "instance-3"]
    assert [i.state for i in fn.instances] == ["failed", "failed", "ready"]
    first = inv.init_attempts[0].error
    assert (first.kind, first.code, first.type, first.message) == (
        "init_failed", 4201, "ConnectionError", "db down")
    assert inv.instance is fn.instances[2]
    # Each instance is fresh: the serving one ran its own initializer exactly once.
    assert inv.result["init_calls"] == 1
    assert [i.initializer_calls for i in fn.instances] == [1, 1, 1]


def test_after_three_retries_the_invocation_fails_with_the_last_attempts_error(emulate):
    fn = emulate()
    fn.faults.initializer.raises(ConnectionError("first")).raises(ConnectionError("second"))
    fn.faults.initializer.raises(RuntimeError("third")).raises(KeyError("last"))
    inv = fn.invoke()
    assert not inv.ok and inv.result is None and inv.instance is None
    assert len(inv.init_attempts) == 4
    assert (inv.error.kind, inv.error.code, inv.error.type) == ("init_failed", 4201, "KeyError")
    assert inv.error is inv.init_attempts[-1].error
    assert inv.duration_ms == 0
    # A later invocation starts afresh, with a full set of attempts.
    later = fn.invoke()
    assert later.ok and later.cold_start and len(later.init_attempts) == 1
    assert len(fn.instances) == 5


@pytest.mark.parametrize("retries", [0, 1, 5])
def test_init_retries_bounds_the_attempts(emulate, retries):
    fn = emulate(init_retries=retries)
    fn.faults.initializer.raises(OSError("down"), times=retries + 1)
    inv = fn.invoke()
    assert not inv.ok and len(inv.init_attempts) == retries + 1


def test_a_real_exception_in_user_code_is_recorded_with_its_stack(emulate):
    fn = emulate(index="""
        import helper
        def init(context):
            helper.connect(context.getUserData("DB_URL", "nowhere"))
        def handler(event, context):
            return "never"
    """, modules={"helper": """
        def connect(url):
            raise ConnectionRefusedError(f"cannot reach {url}")
    """}, init_retries=0)
    inv = fn.invoke()
    error = inv.error
    assert error.type == "ConnectionRefusedError"
    assert error.message == "cannot reach nowhere"
    assert error.platform_message == "Fail to run user init handler. err: cannot reach nowhere"
    trace = "\n".join(error.stack_trace)
    assert "helper.py" in trace and "in connect" in trace and "index.py" in trace
    assert "pytest_fginit" not in trace  # only the user's frames
    assert error.to_body()["errorType"] == "ConnectionRefusedError"


def test_a_handler_exception_keeps_the_instance_warm(emulate):
    fn = emulate(index="""
        def init(context):
            pass
        def handler(event, context):
            if event.get("fail"):
                raise ValueError("bad input")
            return "fine"
    """)
    failed = fn.invoke({"fail": True})
    assert (failed.error.kind, failed.error.code, failed.error.type) == (
        "handler_error", 4002, "ValueError")
    assert failed.error.platform_message == "function invocation exception, error: bad input"
    with pytest.raises(InvocationError, match="handler_error"):
        failed.raise_for_error()
    after = fn.invoke({})
    assert after.ok and not after.cold_start and after.instance is failed.instance
    assert after.raise_for_error() is after


def test_a_handler_timeout_discards_the_instance(emulate):
    fn = emulate(timeout=10)
    fn.faults.handler.hangs()
    inv = fn.invoke()
    assert (inv.error.kind, inv.error.code, inv.error.type) == ("handler_timeout", 4010, None)
    assert inv.duration_ms == pytest.approx(10_000)
    assert inv.instance.state == "killed"
    after = fn.invoke()
    assert after.ok and after.cold_start and after.instance is not inv.instance


@pytest.mark.parametrize(
    ("index", "type_name", "message"),
    [
        ("def handler(event, context):\n    return 1\ndef broken(:\n", "SyntaxError", "syntax"),
        ("import not_a_module_anywhere\n", "ModuleNotFoundError", "not_a_module_anywhere"),
        ("raise RuntimeError('import-time failure')\n", "RuntimeError", "import-time failure"),
        ("def init(context):\n    pass\n", None, "has no function 'handler'"),
        ("def handler(event, context):\n    pass\n", None, "has no function 'init'"),
    ],
    ids=["syntax", "import", "module-raises", "no-handler", "no-initializer"],
)
def test_a_load_error_is_an_init_attempt_that_is_retried(emulate, index, type_name, message):
    fn = emulate(index=index)
    inv = fn.invoke()
    assert not inv.ok
    assert len(inv.init_attempts) == 4  # load errors use up attempts like init failures
    assert (inv.error.kind, inv.error.code, inv.error.type) == ("load_error", 4001, type_name)
    assert message in inv.error.message
    assert "importlib" not in "\n".join(inv.error.stack_trace)  # the user's frames only
    assert all(i.state == "failed" for i in fn.instances)
    assert all(i.initializer_calls == 0 for i in fn.instances)


def test_without_an_initializer_the_handler_runs_after_loading(emulate):
    fn = emulate(initializer_handler=None)
    inv = fn.invoke({"x": 1})
    assert inv.ok and inv.cold_start and inv.result["init_calls"] == 0
    assert len(inv.init_attempts) == 1 and inv.instance.initializer_calls == 0
    with pytest.raises(ValueError, match="no initializer_handler"):
        fn.faults.initializer.raises(OSError)


def test_results_and_events_travel_as_json(emulate, isolation):
    fn = emulate(index="""
        import datetime
        RECEIVED = []
        def init(context):
            pass
        def handler(event, context):
            RECEIVED.append(event)
            if event == "object":
                return object()
            if event == "date":
                return {"when": datetime.date(2026, 1, 1)}
            return {"tuple": (1, 2), 3: "int key"}
    """)
    inv = fn.invoke("plain")
    assert inv.result == {"tuple": [1, 2], "3": "int key"}
    for event in ("object", "date"):
        bad = fn.invoke(event)
        assert (bad.error.kind, bad.error.code, bad.error.type) == (
            "result_not_serializable", 4007, "TypeError")
    with pytest.raises(TypeError, match="JSON-serialisable"):
        fn.invoke({"not json": {1, 2}})
    event = {"a": [1]}
    fn.invoke(event)
    if isolation == "inprocess":
        received = fn.instances[0].module.RECEIVED[-1]
        assert received == event and received is not event


def test_billing_counts_initializer_time(emulate):
    fn = emulate(index="""
        import time
        def init(context):
            time.sleep(2.5)
        def handler(event, context):
            time.sleep(0.25)
    """, initializer_timeout=10)
    inv = fn.invoke()
    # Virtual sleeps, plus the little real time the code took (generous for slow machines).
    assert 2500 <= inv.init_duration_ms < 3500
    assert 250 <= inv.duration_ms < 1250
    assert inv.billed_duration_ms >= 2750
    warm = fn.invoke()
    assert warm.init_duration_ms == 0 and warm.billed_duration_ms >= 250


def test_recycle_makes_the_next_request_cold(emulate):
    fn = emulate()
    first = fn.invoke()
    fn.recycle()
    assert first.instance.state == "recycled"
    second = fn.invoke()
    assert second.cold_start and second.result["init_calls"] == 1
    assert second.instance is not first.instance


def test_request_ids_are_unique_and_can_be_given(emulate):
    fn = emulate()
    ids = {fn.invoke().request_id for _ in range(3)}
    assert len(ids) == 3
    assert fn.invoke(request_id="r-42").request_id == "r-42"


def test_the_emulator_must_be_started_and_cannot_be_reused_after_close(code):
    emulator = FunctionEmulator(FunctionConfig(code_root=code()))
    with pytest.raises(RuntimeError, match="started emulator"):
        emulator.invoke()
    with emulator as fn:
        assert fn.invoke().ok
    with pytest.raises(RuntimeError, match="closed"):
        emulator.invoke()
    assert emulator.instances[0].state == "recycled"


@pytest.mark.inprocess_only("a Ctrl-C of the instance's process is not the test's")
def test_a_ctrl_c_while_user_code_runs_propagates_and_close_cleans_up(emulate):
    import sys

    fn = emulate(index="""
        import os, signal
        def init(context):
            os.kill(os.getpid(), signal.SIGINT)  # (Ctrl-C, while the initializer runs)
            while True:
                pass
        def handler(event, context):
            return 1
    """)
    with pytest.raises(KeyboardInterrupt):
        fn.invoke()
    prefix = fn.instances[0].module.__name__.partition(".")[0]
    fn.close()
    assert fn.instances[0].state == "recycled"
    assert not any(name.startswith(prefix) for name in sys.modules)


def test_a_listener_that_raises_does_not_leave_instances_behind_at_close(code):
    import sys

    class Raising:
        def instance_state_changed(self, instance, previous):
            if instance.state == "recycled":
                raise RuntimeError("listener bug")

        def invocation_finished(self, invocation):
            pass

    fn = FunctionEmulator(FunctionConfig(code_root=code()), listeners=[Raising()]).start()
    fn.invoke()
    prefix = fn.instances[0].module.__name__.partition(".")[0]
    with pytest.raises(RuntimeError, match="listener bug"):
        fn.close()
    assert not any(name.startswith(prefix) for name in sys.modules)


@pytest.mark.inprocess_only("user code calls the emulator back, in the test process")
def test_invoke_refuses_to_run_twice_at_once(emulate, monkeypatch):
    import builtins

    fn = emulate(index="""
        def init(context):
            pass
        def handler(event, context):
            return REENTER()
    """)
    monkeypatch.setattr(builtins, "REENTER", lambda: fn.invoke({}), raising=False)
    inv = fn.invoke({})
    assert (inv.error.type, inv.error.kind) == ("RuntimeError", "handler_error")
    assert "already running" in inv.error.message
    monkeypatch.setattr(builtins, "REENTER", lambda: "fine", raising=False)
    assert fn.invoke({}).result == "fine"  # and the emulator is usable afterwards


def test_sys_exit_ends_the_instance_and_its_message_goes_to_the_log(emulate):
    fn = emulate(index="""
import sys
def init(context):
    pass
def handler(event, context):
    sys.exit("bye: " + event)
""")
    inv = fn.invoke("now")
    assert (inv.error.kind, inv.error.message) == (
        "crashed", "the runtime process exited (exit code 1)")
    assert "bye: now" in inv.log
    assert inv.instance.state == "killed" and fn.invoke("again").cold_start



def test_virtual_time_passed_before_a_crash_is_kept(emulate):
    fn = emulate(index="""
import os, time
def init(context):
    pass
def handler(event, context):
    time.sleep(2)
    os._exit(1)
""")
    before = fn.elapsed
    inv = fn.invoke()
    assert inv.error.kind == "crashed"
    assert inv.duration_ms == pytest.approx(2000, abs=200)
    assert fn.elapsed - before >= 2


@pytest.mark.parametrize(("status", "reported"), [(300, 44), (0, 0), (None, 0)])
def test_exit_codes_are_what_the_os_keeps(emulate, status, reported):
    fn = emulate(index=f"""
import sys
def init(context):
    pass
def handler(event, context):
    sys.exit({status!r})
""")
    assert fn.invoke().error.message == f"the runtime process exited (exit code {reported})"


FOLDER_HANDLER = """
import os
import src.helper
from src.helper import VALUE
STATE = {}

def init(context):
    STATE["value"] = src.helper.VALUE

def handler(event, context):
    return {"value": STATE["value"], "same": VALUE, "entry": os.environ["RUNTIME_HANDLER"]}
"""


def test_a_handler_in_a_folder_is_written_as_its_path_in_the_zip(emulate):
    fn = emulate(modules={"src.index": FOLDER_HANDLER, "src.helper": "VALUE = 42\n"},
                 handler="src/index.handler", initializer_handler="src/index.init")
    first, second = fn.invoke({}), fn.invoke({})
    assert first.ok, first.error
    assert first.result == {"value": 42, "same": 42, "entry": "src/index.handler"}
    assert first.cold_start and not second.cold_start
    assert [a.ok for a in first.init_attempts] == [True]
