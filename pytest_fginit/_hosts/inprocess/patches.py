"""Every interpreter-wide patch that hosting user code needs, in one place, one way.
[test process, instance process]

A patch is installed by its first user and undone by its last (`Patch`: one locked reference
count), the way time-machine patches on its first traveller. The patches:

* `SLEEP`: ``time.sleep`` passes a running phase's time on the emulator's clock (and dies at
  its deadline, see `deadline.PhaseDeadline.sleep`); elsewhere it sleeps for real.
* `EXIT_GUARD`: ``os._exit`` on a thread running a phase ends the (emulated) instance, not
  pytest.
* `LOG_HANDLER`: the root logger copies records made while a phase runs into its log.
* `MASKING` (counted by the hosts that have secrets, each adding its redactor): while one is
  open, what reaches pytest from any thread, not only from a phase's, is masked: log records
  (as they are made, so pytest's log capture, ``caplog`` and live logging see them masked),
  warnings (as they are shown or recorded: pytest's warning capture), and what other threads
  write through the tees. Not masked: writes to the descriptors themselves (``os.write(1,
  ...)``, ``sys.__stdout__``, a subprocess), which bypass ``sys.stdout``; the plugin masks
  them in its reports, process isolation everywhere (documented).

Not counted, because it belongs to one host: the streams' tees (`StreamTees`). (The
function's environment is `hygiene.LAYERS`'.)
"""

from __future__ import annotations

import copy
import logging
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable
from typing import IO, Any

from ..._clock import real_sleep
from ..._redaction import Redactor, no_redaction
from ..protocol import InstanceDied
from .deadline import current_phase


class Patch:
    """One interpreter-wide change: ``install`` runs for the first `acquire`, ``uninstall``
    for the release of the last user. Thread-safe."""

    def __init__(self, install: Callable[[], None], uninstall: Callable[[], None]) -> None:
        self._install = install
        self._uninstall = uninstall
        self._users = 0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        with self._lock:
            self._users += 1
            if self._users == 1:
                self._install()

    def release(self) -> None:
        with self._lock:
            if self._users == 0:  # (a close after a failed open: nothing to undo)
                return
            self._users -= 1
            if self._users == 0:
                self._uninstall()


# --- where a phase's output goes -------------------------------------------------------------

class _PhaseOutput(threading.local):
    """Where the phase running on this thread collects its output, and how it masks it."""

    sink: list[str] | None = None
    redact: Redactor = staticmethod(no_redaction)


phase_output = _PhaseOutput()


class _Tee:
    """``sys.stdout`` or ``sys.stderr`` while phases run: what the thread running a phase writes
    is masked and also collected into the phase's log."""

    def __init__(self, inner: IO[str]) -> None:
        self.inner = inner

    def write(self, text: str) -> int:
        out = phase_output
        if out.sink is not None:
            text = out.redact(text)
            out.sink.append(text)
        else:  # another thread: the test's, or one the function started
            text = MASKING.redact(text)
        return self.inner.write(text)

    def flush(self) -> None:
        self.inner.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class StreamTees:
    """One host's tees in ``sys.stdout``/``sys.stderr``. One pair for the host's life: a module
    that kept a reference to ``sys.stdout`` (a logging handler made at import time) keeps
    writing through it in later phases. The caller counts the phases running (`install` as the
    first starts, `restore` as the last ends)."""

    def __init__(self) -> None:
        self.stdout = _Tee(sys.stdout)
        self.stderr = _Tee(sys.stderr)
        self._replaced: tuple[Any, Any] = (sys.stdout, sys.stderr)

    def install(self) -> None:
        stdout, stderr = self._replaced = sys.stdout, sys.stderr
        if stdout is not self.stdout:  # pytest's capture may have swapped streams
            self.stdout.inner = stdout
        if stderr is not self.stderr:
            self.stderr.inner = stderr
        sys.stdout, sys.stderr = self.stdout, self.stderr

    def restore(self) -> None:
        sys.stdout, sys.stderr = self._replaced


# --- the counted patches ---------------------------------------------------------------------

def _instance_sleep(seconds: float) -> None:
    phase = current_phase()
    if phase is None:
        real_sleep(seconds)
    else:
        phase.sleep(seconds)


def _install_sleep() -> None:
    time.sleep = _instance_sleep  # type: ignore[assignment]


def _uninstall_sleep() -> None:
    if time.sleep is _instance_sleep:  # else someone patched it since: theirs stays
        time.sleep = real_sleep


SLEEP = Patch(_install_sleep, _uninstall_sleep)

_exit_before: list[Callable[[int], Any]] = []  # (what os._exit was: set while guarded)
_guard_pid = 0


def _guarded_os_exit(status: int) -> None:
    """``os._exit`` while guarded: on a thread running a phase it ends the instance
    (emulated), not pytest. (In a process user code forked, it is a real exit.)"""
    if current_phase() is not None and os.getpid() == _guard_pid:
        raise InstanceDied("crashed", f"exit code {status & 0xFF}", status & 0xFF)
    _exit_before[0](status)


def _install_exit_guard() -> None:
    global _guard_pid
    _guard_pid = os.getpid()
    _exit_before[:] = [os._exit]
    os._exit = _guarded_os_exit  # type: ignore[assignment]


def _uninstall_exit_guard() -> None:
    if os._exit is _guarded_os_exit:  # else someone patched it since
        os._exit = _exit_before[0]  # type: ignore[assignment]


EXIT_GUARD = Patch(_install_exit_guard, _uninstall_exit_guard)


class _PhaseLogHandler(logging.Handler):
    """Copies ``logging`` records made while a phase runs on this thread into its log. One for
    the process: with one per host, a record would be collected once per open emulator,
    masked by another emulator's secrets."""

    def emit(self, record: logging.LogRecord) -> None:
        out = phase_output
        if out.sink is not None:
            out.sink.append(out.redact(f"{record.levelname} {record.name}: "
                                       f"{record.getMessage()}\n"))


_log_handler = _PhaseLogHandler()
LOG_HANDLER = Patch(lambda: logging.getLogger().addHandler(_log_handler),
                    lambda: logging.getLogger().removeHandler(_log_handler))


# --- one host's environment ------------------------------------------------------------------

# --- masking what reaches pytest from any thread ----------------------------------------------

class _Masking:
    """The redactors of the open hosts that have secrets (see the module's docstring): the
    first added installs the log record factory and the warnings wrapper, the last removed
    takes them out."""

    def __init__(self) -> None:
        self._redactors: list[Redactor] = []
        self._lock = threading.Lock()
        self.redact: Redactor = no_redaction
        self._factory_before: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()
        self._show_before: Callable[[Any], None] | None = None

    def add(self, redact: Redactor) -> None:
        if redact is no_redaction:
            return
        with self._lock:
            self._redactors.append(redact)
            self.redact = self._combined()
            if len(self._redactors) == 1:
                self._install()

    def discard(self, redact: Redactor) -> None:
        with self._lock:
            if redact not in self._redactors:
                return
            self._redactors.remove(redact)
            self.redact = self._combined()
            if not self._redactors:
                self._uninstall()

    def _combined(self) -> Redactor:
        redactors = tuple(self._redactors)
        if len(redactors) <= 1:
            return redactors[0] if redactors else no_redaction

        def redact(text: str) -> str:
            for each in redactors:
                text = each(text)
            return text

        return redact

    def _install(self) -> None:
        self._factory_before = logging.getLogRecordFactory()
        logging.setLogRecordFactory(self._record)
        # ``warnings._showwarnmsg`` is what every warning shown or recorded goes through,
        # ``warnings.catch_warnings`` (pytest's, per test) included: it swaps what is below.
        self._show_before = getattr(warnings, "_showwarnmsg", None)
        if self._show_before is not None:
            warnings._showwarnmsg = self._show_warning  # type: ignore[attr-defined]

    def _uninstall(self) -> None:
        if logging.getLogRecordFactory() == self._record:  # else someone set theirs since
            logging.setLogRecordFactory(self._factory_before)
        if getattr(warnings, "_showwarnmsg", None) == self._show_warning:
            warnings._showwarnmsg = self._show_before  # type: ignore[attr-defined]

    def _record(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        """A log record, its message (and traceback, stack) masked as it is made."""
        record = self._factory_before(*args, **kwargs)
        redact = self.redact
        try:
            message = record.getMessage()
        except Exception:  # (a bad format: logging reports it when the record is handled)
            return record
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, ()
        if record.exc_info and not record.exc_text:
            text = logging.Formatter().formatException(record.exc_info)
            if redact(text) != text:  # (formatted now, masked: a handler would show it)
                record.exc_text = redact(text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return record

    def _show_warning(self, message: warnings.WarningMessage) -> None:
        text = str(message.message)
        masked = self.redact(text)
        if masked != text:
            message = copy.copy(message)  # (the warning itself stays the caller's)
            warning: Warning = UserWarning(masked)
            if isinstance(message.message, Warning):  # (always, made by warnings.warn)
                warning = copy.copy(message.message)
                warning.args = (masked,)
                if str(warning) != masked:  # (a __str__ of its own)
                    warning = UserWarning(masked)
            message.message = warning
        if self._show_before is not None:
            self._show_before(message)


MASKING = _Masking()
