"""Running one phase of instance code, and the code of one instance. [test process, instance
process]

A phase is the start of an instance (its code loads, then its initializer runs) or one
request's handler, or the pre-stop handler: `PhaseRunner.run_phase` runs it on the calling
thread before its deadline and says how it ended (a `PhaseOutcome`). `CodeInstance` is one
instance's code: it loads the handler's module in a `Namespace` and runs its entry functions as
phases. Both modes use them: the in-process host for every instance, and the runtime of an
instance process for its one instance.
"""

from __future__ import annotations

import importlib
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

from ..._clock import Clock
from ..._redaction import Redactor, no_redaction
from ...context import Context, ContextFields
from ..instance_setup import SetupFailed, run_instance_setup
from ..protocol import (
    Injection,
    InstanceDied,
    InstanceSpec,
    PhaseOutcome,
    PhaseStatus,
    StartOutcome,
    UserException,
)
from .deadline import PhaseDeadline, PhaseKilled, Watchdog, current_phase, set_current_phase
from .interrupts import CTRL_C_MARK, belongs_to_test, on_main_thread
from .namespace import Namespace
from .patches import StreamTees, phase_output

# Frames of these files are the emulator's or the import machinery's, not the user's.
_NOT_USER_CODE = (
    str(Path(__file__).resolve().parents[2]),
    "<frozen importlib",
    str(Path(importlib.__file__).resolve().parent),
)


class EntryNotFound(Exception):
    """The handler's module lacks a configured entry function (FunctionGraph's 4001)."""


def user_exception(exc: BaseException) -> UserException:
    """``exc`` as FunctionGraph reports it: only the user's frames."""
    if isinstance(exc, EntryNotFound):  # the platform's complaint, not a user exception
        return UserException(None, str(exc))
    frames: list[traceback.FrameSummary]
    if getattr(sys, "tracebacklimit", None) is None:
        frames = traceback.extract_tb(_user_frames(exc.__traceback__))
    else:  # (the limit counts every frame, the emulator's too)
        frames = [f for f in traceback.extract_tb(exc.__traceback__)
                  if not f.filename.startswith(_NOT_USER_CODE)]
    lines = "".join(traceback.format_list(frames)).rstrip("\n").split("\n")
    return UserException(type(exc).__name__, text_of(exc),
                         tuple(line for line in lines if line))


def _user_frames(tb: TracebackType | None) -> TracebackType | None:
    """``tb`` without the frames of `_NOT_USER_CODE`, as a new chain: only the user's frames
    are extracted (their source lines and positions read), not the emulator's, which every
    injected fault and failed attempt has."""
    kept: list[TracebackType] = []
    while tb is not None:
        if not tb.tb_frame.f_code.co_filename.startswith(_NOT_USER_CODE):
            kept.append(tb)
        tb = tb.tb_next
    chain: TracebackType | None = None
    for entry in reversed(kept):
        chain = TracebackType(chain, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return chain


def text_of(value: object) -> str:
    """``str(value)``, or what Python's tracebacks print when that raises: user code's
    ``__str__`` is user code, and may fail."""
    try:
        return str(value)
    except Exception:
        return "<exception str() failed>"


def exit_code_of(exc: SystemExit) -> int:
    """The exit code Python gives a process that ends with ``exc`` (``sys.exit("msg")``: 1)."""
    code = exc.code
    if code is None:
        return 0
    return code & 0xFF if isinstance(code, int) else 1  # (what the OS keeps of it)


Death = Callable[[Injection], None]
"""What a host does for an injected crash or memory overrun (it does not return)."""


def emulated_death(injection: Injection) -> None:
    if injection.exhaust_memory:
        raise InstanceDied("memory_exceeded", "emulated in-process")
    code = injection.exit_code
    raise InstanceDied("crashed", f"exit code {code}", code)


def apply_injection(injection: Injection | None, death: Death = emulated_death) -> None:
    """Do what a fault says, in the running phase (a delay or hang passes its clock)."""
    if injection is None:
        return
    phase = current_phase()
    assert phase is not None, "an injection applies inside a running phase"
    if injection.delay_s:
        phase.sleep(injection.delay_s)
    if injection.hang:
        phase.hang()
    if injection.exit_code is not None or injection.exhaust_memory:
        death(injection)
    if injection.exception is not None:
        raise injection.exception


class PhaseRunner:
    """Runs phases of instance code, each before its deadline, several at once if asked.

    ``tees`` (in-process): what a phase writes is collected into its log through the streams'
    tees, installed while any phase runs. Without them (an instance process), output goes to
    the process's own streams, which the test process collects. ``death`` is what an injected
    crash or memory overrun does: emulated in-process, real in an instance process.
    ``test_owns`` says which exceptions that end a phase are the test's (they propagate; see
    `interrupts`): in the test process a real Ctrl-C and pytest's outcomes, in an instance
    process (no test runs there) a real Ctrl-C only. Every other is the phase's outcome.
    """

    def __init__(self, clock: Clock, watchdog: Watchdog, *, redact: Redactor = no_redaction,
                 tees: StreamTees | None = None, death: Death = emulated_death,
                 test_owns: Callable[[BaseException], bool] = belongs_to_test) -> None:
        self.clock = clock
        self.death = death
        self.test_owns = test_owns
        self._marks_ctrl_c = False  # (holds `CTRL_C_MARK`: from its first main-thread phase)
        self._watchdog = watchdog
        self._redact = redact
        self._tees = tees
        self._lock = threading.Lock()
        self._running = 0
        self._generation = 0  # (bumped at every forget(): see there)

    def run_phase(self, namespace: Namespace, call: Callable[[], Any], deadline: float,
                  injection: Injection | None) -> PhaseOutcome:
        """Run ``call`` as instance code until it returns, raises or passes ``deadline``."""
        clock = self.clock
        phase = PhaseDeadline(clock, deadline)
        log: list[str] = []
        capture = self._tees is not None
        started = clock.now()
        if not self._marks_ctrl_c and on_main_thread():
            CTRL_C_MARK.acquire()
            self._marks_ctrl_c = True
        generation = self._phase_starts(namespace)
        if capture:
            phase_output.sink, phase_output.redact = log, self._redact
        set_current_phase(phase)
        failure: BaseException | None = None
        value: Any = None
        try:
            try:
                self._watchdog.arm(phase)
                if injection is not None:
                    apply_injection(injection, self.death)
                value = call()
            except BaseException as exc:  # PhaseKilled included: sorted out below
                failure = exc
            finally:
                self._watchdog.disarm(phase)
        except PhaseKilled:
            # A kill that landed here, after user code ended, before disarm() had run to its
            # end: the phase ran out its time all the same.
            self._watchdog.disarm(phase)
            failure = PhaseKilled()
        finally:
            set_current_phase(None)
            if capture:
                phase_output.sink = None
            self._phase_ends(namespace, generation)
        # From here on no kill can arrive: disarm() has run to its end.
        return self._outcome(phase, started, deadline, value, failure, log)

    def _outcome(self, phase: PhaseDeadline, started: float, deadline: float, value: Any,
                 failure: BaseException | None, log: list[str]) -> PhaseOutcome:
        """How the phase ended, from what it raised (if anything) and its deadline's flags."""
        clock = self.clock
        if failure is None and not (phase.hung or phase.expired or phase.fired):
            ended = clock.now()  # (it returned in time, the common case: nothing to sort out)
            if ended <= deadline:
                return PhaseOutcome("ok", ended, value, None, "".join(log))
        if failure is not None and self.test_owns(failure):  # stops the test: not recorded
            raise failure
        if phase.hung:  # stopped by real_time_limit: its timeout comes at once
            clock.pass_time(deadline - clock.now())
        status: PhaseStatus = "ok"
        exception: UserException | None = None
        detail, exit_code = "", None
        if isinstance(failure, SystemExit):  # sys.exit() ends the runtime process
            exit_code = exit_code_of(failure)
            if failure.code is not None and not isinstance(failure.code, int):
                # As Python does when such an exit ends a process: the message on stderr.
                message = self._redact(f"{text_of(failure.code)}\n")
                log.append(message)
                (self._tees.stderr.inner if self._tees is not None else sys.stderr).write(message)
            failure = InstanceDied("crashed", f"exit code {exit_code}", exit_code)
        if isinstance(failure, PhaseKilled) or phase.expired:
            status = "timeout"
        elif isinstance(failure, InstanceDied):
            status, detail, exit_code = failure.status, failure.detail, failure.exit_code
        elif isinstance(failure, SetupFailed):
            status, exception = "setup_error", UserException(None, str(failure))
        elif failure is not None:
            status, exception = "error", user_exception(failure)
        ended = clock.now()
        if phase.fired or ended > deadline:
            status, value, exception, ended = "timeout", None, None, max(deadline, started)
        return PhaseOutcome(status, ended, value, exception, "".join(log), detail, exit_code)

    def _phase_starts(self, namespace: Namespace) -> int:
        """What the first phase to start sets up for the phases running side by side (the
        requests of one send): the tees (the last phase out puts the streams back), and the
        instance's builtins (refreshed only while none of its phases runs: its code must never
        see the shared ``__import__``)."""
        with self._lock:
            if self._tees is not None and self._running == 0:
                self._tees.install()
            self._running += 1
            if namespace.phases_running == 0:
                namespace.refresh_builtins()
            namespace.phases_running += 1
            return self._generation

    def _phase_ends(self, namespace: Namespace, generation: int) -> None:
        with self._lock:
            namespace.phases_running -= 1
            if generation != self._generation:  # a phase left behind by an interrupt, ending
                return                          # after the host closed: the streams are not
            self._running -= 1                  # its to put back any more
            if self._tees is not None and self._running == 0:
                self._tees.restore()

    def setup_passes(self, exc: BaseException) -> bool:
        """Whether ``exc``, raised in ``instance_setup``, is not the setup's failure: the
        test's own, or the phase's end (its deadline, an emulated exit)."""
        return isinstance(exc, PhaseKilled | InstanceDied) or self.test_owns(exc)

    def forget(self) -> None:
        """At the host's close: phases still running (left behind by an interrupt, blocked in
        C code) give the streams back now, not whenever they end; the Ctrl-C mark goes."""
        if self._marks_ctrl_c:
            self._marks_ctrl_c = False
            CTRL_C_MARK.release()
        with self._lock:
            if self._running and self._tees is not None:
                self._tees.restore()
            self._running = 0
            self._generation += 1


class CodeInstance:
    """The code of one instance: its module, loaded in its namespace, and its entry functions,
    each run as a phase."""

    def __init__(self, runner: PhaseRunner, spec: InstanceSpec, namespace: Namespace,
                 redact: Redactor = no_redaction) -> None:
        self._runner = runner
        self._spec = spec
        self._namespace = namespace
        self._redact = redact
        self._module: ModuleType | None = None
        self._handler: Callable[..., Any] | None = None
        self._pre_stop: Callable[..., Any] | None = None
        self._loaded = False

    @property
    def module(self) -> ModuleType | None:
        return self._module

    @property
    def pid(self) -> int | None:
        return None

    def context(self, fields: ContextFields, deadline: float) -> Context:
        """The context user code gets: ``fields`` on this instance's clock."""
        clock = self._runner.clock
        return Context.of(fields, now=clock.now, redact=self._redact,
                          remaining_ms=lambda: max(0, int((deadline - clock.now()) * 1000)))

    def start(self, fields: ContextFields, deadline: float,
              injection: Callable[[], Injection | None] | None,
              load: Injection | None = None) -> StartOutcome:
        """Load the code, then run the initializer (if any): one phase, one deadline."""
        context = self.context(fields, deadline)
        outcome = self._runner.run_phase(
            self._namespace, lambda: self._boot(context, injection, load), deadline, None
        )
        return StartOutcome(outcome, self._loaded)

    def _boot(self, context: Context, injection: Callable[[], Injection | None] | None,
              load: Injection | None) -> None:
        spec = self._spec
        if spec.instance_setup is not None:
            run_instance_setup(spec.instance_setup, self._runner.setup_passes)
        apply_injection(load, self._runner.death)  # (the import's fault: a load error)
        module = self._module = self._namespace.import_module(spec.handler_module,
                                                              spec.handler_file)
        names = (spec.handler_function, spec.initializer_function, spec.pre_stop_function)
        entries = [getattr(module, name, None) if name else None for name in names]
        for name, entry in zip(names, entries, strict=True):
            if name and not callable(entry):
                raise EntryNotFound(
                    f"entry {spec.handler_module}.{name} not found: module "
                    f"'{spec.handler_module}' has no function '{name}'"
                )
        self._handler, initializer, self._pre_stop = entries
        self._loaded = True
        if initializer is not None:
            if injection is not None:
                apply_injection(injection(), self._runner.death)
            initializer(context)

    def handle(self, event: Any, fields: ContextFields, deadline: float,
               injection: Injection | None) -> PhaseOutcome:
        handler = self._handler
        assert handler is not None, "handle() before a successful start()"
        context = self.context(fields, deadline)
        return self._runner.run_phase(
            self._namespace, lambda: handler(event, context), deadline, injection
        )

    def pre_stop(self, fields: ContextFields, deadline: float,
                 injection: Injection | None) -> PhaseOutcome:
        function = self._pre_stop
        assert function is not None, "pre_stop() without a pre-stop handler"
        context = self.context(fields, deadline)
        return self._runner.run_phase(self._namespace, lambda: function(context), deadline,
                                      injection)

    def stop(self) -> None:
        self._namespace.close()

    def alive(self) -> bool:
        return True
