"""Which exceptions that end a phase are the test's, not the function's: a real Ctrl-C, and
pytest's outcomes. [test process, instance process]

Whatever user code raises is the function's, ``BaseException``s included: a handler that
raises ``KeyboardInterrupt``, ``GeneratorExit`` or a ``BaseException`` of its own gets it
recorded as its error, as FunctionGraph's runtime records what a handler raises. Two kinds
stop the test instead:

* a real Ctrl-C (SIGINT). Python raises it as a plain ``KeyboardInterrupt`` in whatever the
  main thread runs, so it is told apart from one that code raised by `CTRL_C_MARK`: a SIGINT
  handler, chained to the one it replaces, that marks what that handler raises. It is needed
  only where a phase runs on the main thread (the only thread Python runs signal handlers on);
  a runner takes it before its first phase there (installing a handler costs some
  microseconds: not once per phase) and gives it back when its host closes.
* pytest's outcomes (``pytest.fail``, ``skip``, ``exit``, and pytest-timeout's signal method,
  which fails the test from its SIGALRM handler in whatever code runs), in the test process.
  pytest is not imported for that: its module is looked up where it is loaded.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType
from typing import Any

from .patches import Patch

_MARK = "_fginit_ctrl_c"
_replaced: list[Any] = []  # (the SIGINT handler ours chains to, while it is installed)


def _mark_ctrl_c(signum: int, frame: FrameType | None) -> None:
    __tracebackhide__ = True  # (pytest shows where the interrupt came, not this frame)
    try:
        _replaced[0](signum, frame)
    except BaseException as exc:
        setattr(exc, _MARK, True)
        raise


def _install() -> None:
    current = signal.getsignal(signal.SIGINT)
    if callable(current) and current is not _mark_ctrl_c:  # (not SIG_IGN: a Ctrl-C that is
        _replaced[:] = [current]                            # ignored needs no mark)
        signal.signal(signal.SIGINT, _mark_ctrl_c)


def _uninstall() -> None:
    if not _replaced:
        return
    if (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is _mark_ctrl_c):  # (else theirs stays)
        signal.signal(signal.SIGINT, _replaced.pop())


CTRL_C_MARK = Patch(_install, _uninstall)
"""Take it on the main thread only (Python sets signal handlers there alone)."""


def on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def is_ctrl_c(exc: BaseException) -> bool:
    """Whether ``exc`` is the interrupt of a real SIGINT (marked by `CTRL_C_MARK`)."""
    return isinstance(exc, KeyboardInterrupt) and getattr(exc, _MARK, False)


def is_test_outcome(exc: BaseException) -> bool:
    """Whether ``exc`` is one of pytest's outcomes (``pytest.fail``, ``skip``, ``exit``)."""
    outcomes = sys.modules.get("_pytest.outcomes")
    if outcomes is None:
        return False
    return isinstance(exc, (outcomes.OutcomeException, outcomes.Exit))


def belongs_to_test(exc: BaseException) -> bool:
    """In the test process: a real Ctrl-C, or one of pytest's outcomes."""
    return is_ctrl_c(exc) or is_test_outcome(exc)
