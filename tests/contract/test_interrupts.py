"""Whose an exception is: what user code raises is the function's, ``BaseException``s included
(recorded as its error, the same in both modes); a real Ctrl-C and pytest's outcomes are the
test's (they stop it); what ``instance_setup`` raises is the test's scaffolding failing
(``InstanceSetupError``); a message or result that cannot be made is an error, not a crash."""

from __future__ import annotations

import os
import signal

import pytest

from pytest_fginit import FunctionConfig, FunctionEmulator, InstanceSetupError

RAISES = """
import os, signal, sys

class Custom(BaseException):
    pass

class NoStr(Exception):
    def __str__(self):
        raise ValueError("no str for you")

RAISED = {"KeyboardInterrupt": KeyboardInterrupt("raised by code"),
          "GeneratorExit": GeneratorExit("raised by code"),
          "Custom": Custom("raised by code")}

def init(context):
    kind = context.getUserData("INIT_RAISES")
    if kind:
        raise RAISED[kind]

def handler(event, context):
    if event in RAISED:
        raise RAISED[event]
    if event == "no str":
        raise NoStr()
    if event == "exit no str":
        sys.exit(NoStr())
    if event == "self":
        looped = {}
        looped["again"] = looped
        return looped
    if event == "deep":
        deep = {}
        for _ in range(100_000):
            deep = {"a": deep}
        return deep
    if event == "deep 700":  # (JSON-encodable on the instance's shallow stack)
        deep = {}
        for _ in range(700):
            deep = {"a": deep}
        return deep
    if event == "ctrl-c":  # (a real SIGINT, to the process named, while this code runs)
        os.kill(int(context.getUserData("CTRL_C_PID", os.getpid())), signal.SIGINT)
        while True:
            pass
    if event == "pytest.fail":
        import pytest
        pytest.fail("failed by a mock")
    return event
"""

BASE_EXCEPTIONS = ["KeyboardInterrupt", "GeneratorExit", "Custom"]


@pytest.mark.parametrize("kind", BASE_EXCEPTIONS)
def test_a_base_exception_raised_by_the_handler_is_its_error(emulate, kind):
    fn = emulate(index=RAISES)
    inv = fn.invoke(kind)
    assert (inv.error.kind, inv.error.code, inv.error.type, inv.error.message) == (
        "handler_error", 4002, kind, "raised by code")
    assert inv.instance.state == "ready"
    again = fn.invoke("fine")  # the instance serves on, warm, as after any handler error
    assert again.result == "fine" and not again.cold_start


@pytest.mark.parametrize("kind", BASE_EXCEPTIONS)
def test_a_base_exception_raised_by_the_initializer_is_a_failed_attempt(emulate, kind):
    fn = emulate(index=RAISES, user_data={"INIT_RAISES": kind})
    inv = fn.invoke("fine")
    assert (inv.error.kind, inv.error.type) == ("init_failed", kind)
    assert [a.error.type for a in inv.init_attempts] == [kind] * 4  # retried (R3)


def test_an_injected_keyboard_interrupt_is_the_functions_error(emulate):
    fn = emulate(index=RAISES)
    fn.faults.initializer.raises(KeyboardInterrupt("injected"))
    fn.faults.handler.raises(KeyboardInterrupt)
    inv = fn.invoke("fine")
    assert [a.error.type for a in inv.init_attempts if a.error] == ["KeyboardInterrupt"]
    assert (inv.error.kind, inv.error.type) == ("handler_error", "KeyboardInterrupt")
    assert fn.invoke("fine").ok


def test_sys_exit_stays_a_crash_whatever_its_code_prints(emulate):
    fn = emulate(index=RAISES)
    inv = fn.invoke("exit no str")
    assert (inv.error.kind, inv.error.message) == (
        "crashed", "the runtime process exited (exit code 1)")
    assert "<exception str() failed>" in inv.log
    assert fn.invoke("fine").cold_start


def test_an_exception_whose_str_fails_is_recorded_as_python_prints_it(emulate):
    fn = emulate(index=RAISES)
    inv = fn.invoke("no str")
    assert (inv.error.kind, inv.error.type, inv.error.message) == (
        "handler_error", "NoStr", "<exception str() failed>")
    assert any("raise NoStr()" in line for line in inv.error.stack_trace)
    assert not fn.invoke("fine").cold_start


@pytest.mark.parametrize("event", ["self", "deep"])
def test_a_result_too_deep_or_looped_for_json_is_not_serialisable(emulate, event):
    fn = emulate(index=RAISES)
    inv = fn.invoke(event)
    assert inv.error.kind == "result_not_serializable" and inv.error.code == 4007
    assert inv.error.type == ("ValueError" if event == "self" else "RecursionError")
    assert inv.instance.state == "ready" and not fn.invoke("fine").cold_start


class NoStrHere(Exception):
    def __str__(self) -> str:
        raise ValueError("no str for you")


def test_an_injected_exception_whose_str_fails_is_recorded_as_python_prints_it(emulate):
    """Process isolation sends an injected exception with its message: made with care."""
    fn = emulate(index=RAISES)
    fn.faults.handler.raises(NoStrHere())
    inv = fn.invoke("fine")
    assert (inv.error.kind, inv.error.type, inv.error.message) == (
        "handler_error", "NoStrHere", "<exception str() failed>")
    assert fn.invoke("fine").ok


def _deep_call(levels: int, call):
    return call() if levels == 0 else _deep_call(levels - 1, call)


def test_a_result_the_instance_encodes_but_the_test_process_cannot_decode_is_not_serialisable(
        code):
    """Process isolation only: in-process, the result is encoded on the test's own stack."""
    config = FunctionConfig(code_root=code(RAISES), isolation="process")
    with FunctionEmulator(config) as fn:
        inv = _deep_call(400, lambda: fn.invoke("deep 700"))  # (the test's stack is deep)
        assert (inv.error.kind, inv.error.type) == ("result_not_serializable", "RecursionError")
        assert inv.instance.state == "ready" and not fn.invoke("fine").cold_start


# --- what is the test's -----------------------------------------------------------------------

def test_a_ctrl_c_of_the_test_process_stops_the_test_and_leaves_no_instance_running(
        emulate, process_ends):
    fn = emulate(index=RAISES, user_data={"CTRL_C_PID": str(os.getpid())})
    fn.invoke("fine")
    with pytest.raises(KeyboardInterrupt):
        fn.invoke("ctrl-c")
    assert len(fn.invocations) == 1  # nothing of the interrupted request is the function's
    pid = fn.instances[0].pid
    if pid is not None:  # process isolation: the instance it was running in is killed
        assert process_ends(pid)
    assert fn.invoke("fine").ok


@pytest.mark.inprocess_only("pytest's outcome, raised in the test's own process")
def test_pytest_outcomes_raised_in_user_code_are_the_tests(emulate):
    fn = emulate(index=RAISES)
    with pytest.raises(pytest.fail.Exception, match="failed by a mock"):
        fn.invoke("pytest.fail")
    assert fn.invocations == []
    assert fn.invoke("fine").ok


@pytest.mark.inprocess_only("pytest's outcome, raised in the test's own process")
def test_pytest_outcomes_raised_in_the_initializer_are_not_retried(emulate):
    fn = emulate(index=RAISES.replace("def init(context):",
                                      "def init(context):\n    import pytest\n"
                                      "    pytest.skip('skipped by a mock')"))
    with pytest.raises(pytest.skip.Exception, match="skipped by a mock"):
        fn.invoke("fine")
    assert len(fn.instances) == 1  # one attempt, then the test stopped


@pytest.mark.inprocess_only("runs once: it asks for process isolation itself")
def test_in_an_instance_process_pytest_outcomes_are_the_functions(emulate):
    fn = emulate(index=RAISES, isolation="process")  # (no test runs in that process)
    inv = fn.invoke("pytest.fail")
    assert (inv.error.kind, inv.error.type, inv.error.message) == (
        "handler_error", "Failed", "failed by a mock")


@pytest.mark.inprocess_only("the test process's own SIGINT handler")
def test_the_ctrl_c_handler_is_put_back_when_the_emulator_closes(code):
    from pytest_fginit import FunctionConfig, FunctionEmulator

    calls = []

    def theirs(signum, frame):
        calls.append(signum)
        raise KeyboardInterrupt("theirs")

    before = signal.signal(signal.SIGINT, theirs)
    try:
        config = FunctionConfig(code_root=code(RAISES), initializer_handler="index.init")
        with (FunctionEmulator(config) as fn,
              pytest.raises(KeyboardInterrupt, match="theirs")):  # (ours chains to theirs)
            fn.invoke("ctrl-c")
        assert calls == [signal.SIGINT]
        assert signal.getsignal(signal.SIGINT) is theirs
    finally:
        signal.signal(signal.SIGINT, before)


@pytest.mark.inprocess_only("the test process's own SIGINT handler")
def test_an_ignored_ctrl_c_gets_no_handler_and_user_interrupts_stay_the_functions(emulate):
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)  # (as a background job's is)
    try:
        fn = emulate(index=RAISES)
        assert fn.invoke("KeyboardInterrupt").error.type == "KeyboardInterrupt"
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        fn.close()  # (first: the last in-process emulator to close puts back the handlers it
    finally:        # found at its start, and would undo a change made while it was open)
        signal.signal(signal.SIGINT, before)


# --- instance_setup ---------------------------------------------------------------------------

SETUPS = """
import sys

def interrupts():
    raise KeyboardInterrupt("raised by the setup")

def exits():
    sys.exit(5)

def generator_exit():
    raise GeneratorExit("raised by the setup")
"""


@pytest.mark.parametrize(("setup", "named"), [
    ("interrupts", "KeyboardInterrupt: raised by the setup"),
    ("exits", "SystemExit: 5"),
    ("generator_exit", "GeneratorExit: raised by the setup"),
])
def test_a_base_exception_from_instance_setup_is_an_instance_setup_error(
        emulate, tmp_path, setup, named):
    (tmp_path / "setups.py").write_text(SETUPS)
    fn = emulate(index=RAISES, instance_setup=f"{tmp_path / 'setups.py'}:{setup}")
    with pytest.raises(InstanceSetupError, match=f"(?s)instance-1: instance_setup .*{named}"):
        fn.invoke("fine")
    assert [i.state for i in fn.instances] == ["failed"]  # not retried: not the function's
    assert fn.invocations == []
