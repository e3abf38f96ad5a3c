"""Instance hosts: how user code is loaded and run for one instance.

The host knows nothing of the platform's rules (retries, states, billing): the emulator asks it
to load an instance's code, run a phase before a deadline, and stop the instance; the host
answers with a `PhaseOutcome`. `InProcessHost` runs user code on the calling thread, in an
`IsolatedNamespace`; `process_host.ProcessHost` offers the same interface with one OS process
per instance (each of which runs an `InProcessHost` of its own, see `instance_runtime`).
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import IO, Any, Literal, Protocol

from ._clock import Clock
from ._redaction import Redactor, no_redaction
from .isolation import IsolatedNamespace, PlainNamespace, code_root_names
from .timeouts import (
    PhaseDeadline,
    PhaseKilled,
    Watchdog,
    current_phase,
    install_sleep,
    set_current_phase,
    uninstall_sleep,
)

PhaseStatus = Literal["ok", "error", "timeout", "crashed", "memory_exceeded", "setup_error"]
"""``crashed``: the instance's process ended (exit, signal); ``memory_exceeded``: it passed
``memory_size``; ``setup_error``: the test's ``instance_setup`` function failed."""
# Frames of these files are the emulator's or the import machinery's, not the user's.
_NOT_USER_CODE = (
    str(Path(__file__).resolve().parent),
    "<frozen importlib",
    str(Path(importlib.__file__).resolve().parent),
)


@dataclass(frozen=True)
class InstanceSpec:
    """What an instance runs."""

    code_root: Path
    handler_module: str
    handler_function: str
    initializer_function: str | None = None
    handler_file: str | None = None
    """The handler module's source file when it is a top-level ``.py`` file (loads faster)."""
    instance_setup: str | None = None
    """``package.module:function`` to call inside the instance before its code loads."""
    pre_stop_function: str | None = None


@dataclass(frozen=True)
class Injection:
    """A fault to apply to one phase: wait ``delay_s`` first, then hang or raise instead of
    running user code."""

    delay_s: float = 0.0
    hang: bool = False
    exception: BaseException | None = None
    exit_code: int | None = None
    """End the instance's process with this exit code."""
    exhaust_memory: bool = False
    """Use memory until the instance passes ``memory_size``."""


@dataclass(frozen=True)
class UserException:
    """A user exception, as FunctionGraph reports one (``type`` is ``None`` for platform
    complaints such as a missing entry function)."""

    type: str | None
    message: str
    stack_trace: tuple[str, ...] = ()

    @classmethod
    def of(cls, exc: BaseException) -> UserException:
        if isinstance(exc, EntryNotFound):  # the platform's complaint, not a user exception
            return cls(None, str(exc))
        # Only the user's frames: not the emulator's, nor the import machinery's.
        frames = [f for f in traceback.extract_tb(exc.__traceback__)
                  if not f.filename.startswith(_NOT_USER_CODE)]
        lines = "".join(traceback.format_list(frames)).rstrip("\n").split("\n")
        return cls(type(exc).__name__, str(exc), tuple(line for line in lines if line))


@dataclass(slots=True)
class PhaseOutcome:
    """How a phase ended; ``ended`` is on the emulator's clock (the deadline for a timeout)."""

    status: PhaseStatus
    ended: float
    value: Any = None
    exception: UserException | None = None
    log: str = ""
    detail: str = ""
    """How a crash or memory overrun happened ("exit code 3", "signal 9 (SIGKILL)")."""
    exit_code: int | None = None
    """The exit code a crash asked for (``sys.exit``, ``os._exit``, an injected crash)."""
    unserializable: tuple[str, str] | None = None
    """Set by a host that already found the value not JSON-serialisable: (type, message)."""
    peak_bytes: int | None = None
    """The instance's peak memory so far, where the host measures it (process isolation)."""


@dataclass(slots=True)
class StartOutcome:
    """How bringing an instance up went; ``loaded`` tells a load error from an init failure."""

    phase: PhaseOutcome
    loaded: bool


class HostedInstance(Protocol):
    """One instance as a host runs it."""

    @property
    def module(self) -> ModuleType | None:
        """The handler's module, once loaded here (``None`` in another process)."""

    @property
    def pid(self) -> int | None:
        """The instance's own process (``None``: it runs in the test process)."""

    def start(self, context: Any, deadline: float,
              injection: Callable[[], Injection | None] | None) -> StartOutcome:
        """Import the handler's module, find the entry functions, run the initializer (if
        any) before ``deadline``. ``injection`` (``None``: no fault is queued) is asked for the
        initializer's fault only once the code has loaded."""

    def handle(self, event: Any, context: Any, deadline: float,
               injection: Injection | None) -> PhaseOutcome: ...

    def pre_stop(self, context: Any, deadline: float,
                 injection: Injection | None) -> PhaseOutcome:
        """Run the pre-stop handler (the instance is then stopped)."""

    def stop(self) -> None: ...

    def alive(self) -> bool:
        """Whether the instance can still serve (a process may have died while idle)."""


class InstanceHost(Protocol):
    def open(self, environment: Mapping[str, str]) -> None: ...
    def start_instance(self, spec: InstanceSpec) -> HostedInstance: ...
    serves_side_by_side: bool
    """Whether one instance can run several requests' handlers at the same time."""

    def abort(self) -> None:
        """Stop every phase running now, and every phase started until `resume` (called
        from another thread: the test was interrupted while requests ran side by side);
        each ends as a timeout or a crash."""

    def resume(self) -> None:
        """Run phases again (the interrupted send is over)."""
    def close(self) -> None: ...


class InstanceDied(BaseException):
    """Raised in a phase whose instance's process ended: emulated in-process (``os._exit``,
    ``sys.exit``, an injected crash or memory overrun), real in an instance process."""

    def __init__(self, status: Literal["crashed", "memory_exceeded"], detail: str,
                 exit_code: int | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.exit_code = exit_code


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


class SetupFailed(BaseException):
    """The ``instance_setup`` function raised (carries its formatted traceback)."""


def run_instance_setup(target: str) -> None:
    """Import and call ``package.module:function`` (the ``instance_setup`` key)."""
    module_name, _, function_name = target.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), function_name)
        function()
    except Exception:
        raise SetupFailed(f"instance_setup {target!r} failed:\n"
                          + traceback.format_exc().rstrip()) from None


# --- in-process ------------------------------------------------------------------------------

class _PhaseOutput(threading.local):
    """Where the phase running on this thread collects its output, and how it masks it."""

    sink: list[str] | None = None
    redact: Redactor = staticmethod(no_redaction)


_phase_output = _PhaseOutput()


class _Tee:
    """``sys.stdout`` or ``sys.stderr`` while a host is open: what the thread running a phase
    writes is masked and also collected into the phase's log.

    One per host, for the host's life: a module that kept a reference to ``sys.stdout`` (a
    logging handler made at import time) keeps writing through it in later phases.
    """

    def __init__(self, inner: IO[str]) -> None:
        self.inner = inner

    def write(self, text: str) -> int:
        out = _phase_output
        if out.sink is not None:
            text = out.redact(text)
            out.sink.append(text)
        return self.inner.write(text)

    def flush(self) -> None:
        self.inner.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class _PhaseLogHandler(logging.Handler):
    """Copies ``logging`` records made while a phase runs on this thread into its log.

    One for the process (reference-counted by the open hosts): with one per host, a record
    would be collected once per open emulator, masked by another emulator's secrets.
    """

    def emit(self, record: logging.LogRecord) -> None:
        out = _phase_output
        if out.sink is not None:
            out.sink.append(out.redact(f"{record.levelname} {record.name}: "
                                       f"{record.getMessage()}\n"))


_log_handler = _PhaseLogHandler()
_log_handler_users = 0


def _install_log_handler() -> None:
    global _log_handler_users
    _log_handler_users += 1
    if _log_handler_users == 1:
        logging.getLogger().addHandler(_log_handler)


def _uninstall_log_handler() -> None:
    global _log_handler_users
    _log_handler_users -= 1
    if _log_handler_users == 0:
        logging.getLogger().removeHandler(_log_handler)


_os_exit_before: Callable[[int], Any] | None = None
_os_exit_users = 0
_os_exit_guard_pid = 0


def _guarded_os_exit(status: int) -> None:
    """``os._exit`` while an in-process host is open: on a thread running a phase it ends the
    instance (emulated), not pytest. (In a process user code forked, it is a real exit.)"""
    if current_phase() is not None and os.getpid() == _os_exit_guard_pid:
        raise InstanceDied("crashed", f"exit code {status & 0xFF}", status & 0xFF)
    assert _os_exit_before is not None
    _os_exit_before(status)


def _install_exit_guard() -> None:
    global _os_exit_before, _os_exit_users, _os_exit_guard_pid
    _os_exit_users += 1
    if _os_exit_users == 1:
        _os_exit_guard_pid = os.getpid()
        _os_exit_before = os._exit
        os._exit = _guarded_os_exit  # type: ignore[assignment]


def _uninstall_exit_guard() -> None:
    global _os_exit_users
    _os_exit_users -= 1
    if _os_exit_users == 0 and os._exit is _guarded_os_exit:  # else someone patched it since
        assert _os_exit_before is not None
        os._exit = _os_exit_before  # type: ignore[assignment]


class InProcessHost:
    """Runs every instance in this process, each in its own module namespace (the handlers
    of requests that share an instance run on their own threads, side by side).

    With ``own_process`` it is the host inside one instance process of process isolation:
    modules load under their real names, output goes to the process's own streams (which the
    test process collects), and crashes and memory overruns are real (``death``).
    """

    serves_side_by_side = True

    def __init__(self, clock: Clock, *, real_time_limit: float | None = None,
                 redact: Redactor = no_redaction, own_process: bool = False,
                 death: Death = emulated_death) -> None:
        self._clock = clock
        self._redact = redact
        self._own_process = own_process
        self.death = death
        self._watchdog = Watchdog(real_time_limit)
        self._saved_env: dict[str, str] = {}
        self._stdout = _Tee(sys.stdout)
        self._stderr = _Tee(sys.stderr)
        self._streams: tuple[Any, Any] = (sys.stdout, sys.stderr)  # what the tees replaced
        self._phases_lock = threading.Lock()
        self._phases_running = 0
        self._generation = 0  # (bumped at every close: see _forget_phases)
        self._open = False

    def open(self, environment: Mapping[str, str]) -> None:
        """Set the instances' environment and clocks up, for as long as the host is open.

        [assumption] every instance of one function has the same environment, so it is set
        once for the host's life rather than switched per call.
        """
        if self._open:
            return
        self._saved_env = dict(os.environ)
        self._open = True
        try:
            os.environ.update(environment)
            time.tzset()  # (TZ may be the function's own)
            install_sleep()
            if not self._own_process:
                _install_log_handler()
                _install_exit_guard()
                # (An instance process needs no watchdog: the test process watches its clock
                # and kills it when a phase overruns.)
                self._watchdog.start()
        except BaseException:
            self.close()  # undo whatever was done
            raise

    def close(self) -> None:
        if not self._open:
            return
        self._open = False
        self._forget_phases()
        if not self._own_process:
            if _log_handler in logging.getLogger().handlers:
                _uninstall_log_handler()
            if os._exit is _guarded_os_exit:
                _uninstall_exit_guard()
        uninstall_sleep()
        self._watchdog.close()
        # Put the whole environment back: what we set, and what user code set or removed.
        saved = self._saved_env
        for key in [k for k in os.environ if k not in saved]:
            del os.environ[key]
        for key, value in saved.items():
            if os.environ.get(key) != value:
                os.environ[key] = value
        time.tzset()

    def abort(self) -> None:
        self._watchdog.abort()

    def resume(self) -> None:
        self._watchdog.resume()

    def start_instance(self, spec: InstanceSpec) -> InProcessInstance:
        if self._own_process:  # the only instance in this process: nothing to isolate from
            return InProcessInstance(self, spec, PlainNamespace(spec.code_root))
        names = code_root_names(spec.code_root)
        return InProcessInstance(self, spec, IsolatedNamespace(spec.code_root, names))

    def run_phase(
        self,
        namespace: IsolatedNamespace | PlainNamespace,
        call: Callable[[], Any],
        deadline: float,
        injection: Injection | None,
    ) -> PhaseOutcome:
        """Run ``call`` as instance code until it returns, raises or passes ``deadline``."""
        clock = self._clock
        phase = PhaseDeadline(clock, deadline)
        log: list[str] = []
        capture = not self._own_process
        started = clock.now()
        status: PhaseStatus = "ok"
        value: Any = None
        exception: UserException | None = None
        generation = self._phase_starts(namespace, capture)
        if capture:
            _phase_output.sink, _phase_output.redact = log, self._redact
        set_current_phase(phase)
        failure: BaseException | None = None
        try:
            try:
                self._watchdog.arm(phase)
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
                _phase_output.sink = None
            self._phase_ends(namespace, capture, generation)
        # From here on no kill can arrive: disarm() has run to its end.
        if isinstance(failure, KeyboardInterrupt):
            raise failure
        if phase.hung:  # stopped by real_time_limit: its timeout comes at once
            clock.pass_time(deadline - clock.now())
        detail, exit_code = "", None
        if isinstance(failure, SystemExit):  # sys.exit() ends the runtime process
            exit_code = exit_code_of(failure)
            if failure.code is not None and not isinstance(failure.code, int):
                # As Python does when such an exit ends a process: the message on stderr.
                message = self._redact(f"{failure.code}\n")
                log.append(message)
                (self._stderr.inner if capture else sys.stderr).write(message)
            failure = InstanceDied("crashed", f"exit code {exit_code}", exit_code)
        if isinstance(failure, PhaseKilled) or phase.expired:
            status = "timeout"
        elif isinstance(failure, InstanceDied):
            status, detail, exit_code = failure.status, failure.detail, failure.exit_code
        elif isinstance(failure, SetupFailed):
            status, exception = "setup_error", UserException(None, str(failure))
        elif failure is not None:
            status, exception = "error", UserException.of(failure)
        ended = clock.now()
        if phase.fired or ended > deadline:
            status, value, exception, ended = "timeout", None, None, max(deadline, started)
        return PhaseOutcome(status, ended, value, exception, "".join(log), detail, exit_code)

    def _phase_starts(self, namespace: IsolatedNamespace | PlainNamespace,
                      capture: bool) -> int:
        """What the first phase to start sets up for the phases running side by side (the
        requests of one send): the tees in ``sys.stdout``/``sys.stderr`` (the last phase out
        puts the streams back), and the instance's builtins (refreshed only while none of its
        phases runs: its code must never see the shared ``__import__``)."""
        with self._phases_lock:
            if capture and self._phases_running == 0:
                stdout, stderr = self._streams = sys.stdout, sys.stderr
                if stdout is not self._stdout:  # pytest's capture may have swapped streams
                    self._stdout.inner = stdout
                if stderr is not self._stderr:
                    self._stderr.inner = stderr
                sys.stdout, sys.stderr = self._stdout, self._stderr
            self._phases_running += 1
            if namespace.phases_running == 0:
                namespace.refresh_builtins()
            namespace.phases_running += 1
            return self._generation

    def _phase_ends(self, namespace: IsolatedNamespace | PlainNamespace,
                    capture: bool, generation: int) -> None:
        with self._phases_lock:
            namespace.phases_running -= 1
            if generation != self._generation:  # a phase left behind by an interrupt, ending
                return                          # after the host closed: the streams are not
            self._phases_running -= 1           # its to put back any more
            if capture and self._phases_running == 0:
                sys.stdout, sys.stderr = self._streams

    def _forget_phases(self) -> None:
        """At close: phases still running (left behind by an interrupt, blocked in C code)
        give the streams back now, not whenever they end."""
        with self._phases_lock:
            if self._phases_running and not self._own_process:
                sys.stdout, sys.stderr = self._streams
            self._phases_running = 0
            self._generation += 1


class EntryNotFound(Exception):
    """The handler's module lacks a configured entry function (FunctionGraph's 4001)."""


class InProcessInstance:
    def __init__(self, host: InProcessHost, spec: InstanceSpec,
                 namespace: IsolatedNamespace | PlainNamespace) -> None:
        self._host = host
        self._spec = spec
        self._namespace = namespace
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

    def start(self, context: Any, deadline: float,
              injection: Callable[[], Injection | None] | None) -> StartOutcome:
        """Load the code, then run the initializer (if any): one phase, one deadline."""
        outcome = self._host.run_phase(
            self._namespace, lambda: self._boot(context, injection), deadline, None
        )
        return StartOutcome(outcome, self._loaded)

    def _boot(self, context: Any, injection: Callable[[], Injection | None] | None) -> None:
        spec = self._spec
        if spec.instance_setup is not None:
            run_instance_setup(spec.instance_setup)
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
                apply_injection(injection(), self._host.death)
            initializer(context)

    def handle(self, event: Any, context: Any, deadline: float,
               injection: Injection | None) -> PhaseOutcome:
        handler = self._handler
        assert handler is not None, "handle() before a successful start()"
        return self._host.run_phase(
            self._namespace, lambda: handler(event, context), deadline, injection
        )

    def pre_stop(self, context: Any, deadline: float,
                 injection: Injection | None) -> PhaseOutcome:
        function = self._pre_stop
        assert function is not None, "pre_stop() without a pre-stop handler"
        return self._host.run_phase(self._namespace, lambda: function(context), deadline,
                                    injection)

    def stop(self) -> None:
        self._namespace.close()

    def alive(self) -> bool:
        return True
