"""What in-process instances change in the test's process, given back when emulation ends.
[test process]

User code runs in the test's process, so what it changes there would outlive the emulator:
the working folder, signal handlers and alarms, ``sys.path``, modules it imported, builtins,
the recursion limit, ``time.sleep``, ``logging``'s set-up, and ``os.environ``. The first
in-process host to open takes a `ProcessState` snapshot; the last to close puts it back
(`HostLayers`). A host that closes while others stay open takes back only the environment
variables it set, so that hosts may close in any order (``_clock`` shares freezegun's freeze
the same way).

What cannot be given back (threads and child processes left running) is reported instead:
see `leftovers`.
"""

from __future__ import annotations

import builtins
import contextlib
import logging
import operator
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from importlib.machinery import EXTENSION_SUFFIXES
from typing import Any

from ..._clock import real_monotonic

_TIMERS = tuple(getattr(signal, name) for name in ("ITIMER_REAL", "ITIMER_VIRTUAL",
                                                   "ITIMER_PROF") if hasattr(signal, name))
# Handlers of these packages belong to pytest (a capture handler per test phase) and to the
# plugin (the phase log handler shared by every open host): never the function's to undo.
_KEPT_HANDLER_MODULES = ("_pytest.", "pytest_fginit.")

# (plain numbers, listed once: making the `signal.Signals` members cost more than the reads)
_SIGNALS = tuple(int(sig) for sig in signal.valid_signals()
                 if sig not in (signal.SIGKILL, signal.SIGSTOP))

_LoggerState = tuple[int, list[logging.Handler], bool, bool]

# The snapshot is taken and checked at every emulator's start and close, so what it reads is
# read at C speed where Python allows: ``signal.getsignal`` makes an enum of every handler
# (ten times the cost of the C function it wraps), and ``os.environ`` decodes each name and
# value it yields, where its ``_data`` (the encoded copy it keeps) compares in one step.
_raw_getsignal: Callable[[int], Any] = getattr(signal, "_signal", signal).getsignal
_ENVIRON_DATA: dict[Any, Any] | None = getattr(os.environ, "_data", None)


class ProcessState:
    """The process-wide state user code may change, as it was when taken."""

    def __init__(self) -> None:
        self._environ = _environ_snapshot()
        try:
            self.cwd: str | None = os.getcwd()
        except OSError:  # (the folder was deleted under us: nothing to go back to)
            self.cwd = None
        self.sys_path = list(sys.path)
        self.builtins = dict(vars(builtins))
        self.recursion_limit = sys.getrecursionlimit()
        self.sleep = time.sleep  # (taken before `patches.SLEEP` replaces it)
        self.signals = [_raw_getsignal(sig) for sig in _SIGNALS]
        self.timers = {which: signal.getitimer(which) for which in _TIMERS}
        self.taken_at = real_monotonic()
        self.log_disable = logging.root.manager.disable
        self.logger_names, self.logger_states = _logger_snapshot()

    @property
    def environ(self) -> dict[str, str]:
        """``os.environ`` as it was (decoded when asked: it is kept as taken)."""
        return _decoded(self._environ)

    def restore(self, imported: Iterable[tuple[str, ...]]) -> None:
        """Put everything back; ``imported``: what user code's imports added to ``sys.modules``
        (a batch per import)."""
        # (builtins first: what follows calls them)
        if not _same_dict(vars(builtins), self.builtins):
            _restore_dict(vars(builtins), self.builtins)
        _restore_environ_snapshot(self._environ)
        if self.cwd is not None and _cwd() != self.cwd:
            with contextlib.suppress(OSError):
                os.chdir(self.cwd)
        if sys.path != self.sys_path:
            sys.path[:] = self.sys_path
        if sys.getrecursionlimit() != self.recursion_limit:
            sys.setrecursionlimit(self.recursion_limit)
        if time.sleep is not self.sleep:  # (user code replaced it: `patches.SLEEP` left it)
            time.sleep = self.sleep
        self._restore_signals()
        self._restore_timers()
        if (logging.root.manager.disable != self.log_disable
                or _logger_snapshot() != (self.logger_names, self.logger_states)):
            self._restore_logging()
        forget_modules(imported)

    def _restore_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # (only the main thread may set handlers; pytest closes emulators there)
        for sig, handler in zip(_SIGNALS, self.signals, strict=True):
            if handler is not None and _raw_getsignal(sig) is not handler:
                with contextlib.suppress(OSError, ValueError, RuntimeError, TypeError):
                    signal.signal(sig, handler)

    def _restore_timers(self) -> None:
        for which, (left, interval) in self.timers.items():
            now_left, now_interval = signal.getitimer(which)
            if left == 0:
                if now_left or now_interval:  # set by user code: cancel it
                    signal.setitimer(which, 0)
                continue
            if which != signal.ITIMER_REAL:  # (CPU timers: how much is left is unknowable)
                continue
            due = left - (real_monotonic() - self.taken_at)
            moved = now_interval != interval or abs(now_left - due) > 0.5 or not now_left
            if moved and due > 0:  # (one that has fired since is not set again)
                signal.setitimer(which, due, interval)

    def _restore_logging(self) -> None:
        if logging.root.manager.disable != self.log_disable:
            logging.disable(self.log_disable)
        saved = dict(zip(self.logger_names, self.logger_states, strict=True))
        for name, logger in _loggers():
            level, handlers, propagate, disabled = saved.get(
                name, (logging.NOTSET, [], True, False))
            if logger.level != level:
                logger.setLevel(level)
            logger.propagate, logger.disabled = propagate, disabled
            for handler in list(logger.handlers):
                if handler not in handlers and not _kept(handler):
                    logger.removeHandler(handler)
            for handler in handlers:
                if handler not in logger.handlers and not _kept(handler):
                    logger.addHandler(handler)


class HostLayers:
    """The open in-process hosts, in the order they opened, each with the environment it set.

    The first to open takes the `ProcessState`; the last to close restores it (the function's
    imports included). One closing before others takes back only its variables: each goes
    back to the value of the latest host still open that set it, or to the snapshot's.
    """

    def __init__(self) -> None:
        self._layers: list[tuple[object, dict[str, str]]] = []
        self._state: ProcessState | None = None
        self.imported: list[tuple[str, ...]] = []
        """What user code's imports added to ``sys.modules``, a batch of names per import
        (the namespaces add)."""
        self._lock = threading.Lock()

    def enter(self, host: object, environment: Mapping[str, str]) -> None:
        with self._lock:
            if not self._layers:
                self._state = ProcessState()
            self._layers.append((host, dict(environment)))
            os.environ.update(environment)
            time.tzset()  # (TZ may be the function's own)

    def leave(self, host: object) -> None:
        with self._lock:
            mine = [env for owner, env in self._layers if owner is host]
            if not mine:
                return
            self._layers = [(o, e) for o, e in self._layers if o is not host]
            state = self._state
            assert state is not None
            if not self._layers:
                self._state = None
                imported = list(self.imported)
                self.imported.clear()  # (the same list: namespaces hold it)
                state.restore(imported)
                return
            for key in mine[0]:
                value = next((e[key] for _, e in reversed(self._layers) if key in e),
                             state.environ.get(key))
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            time.tzset()


LAYERS = HostLayers()


def _environ_snapshot() -> dict[Any, Any]:
    """``os.environ`` as ``os.environ`` keeps it (encoded, on POSIX): copied at C speed."""
    return dict(_ENVIRON_DATA) if _ENVIRON_DATA is not None else dict(os.environ)


def _decoded(snapshot: Mapping[Any, Any]) -> dict[str, str]:
    if _ENVIRON_DATA is None:
        return dict(snapshot)
    key, value = os.environ.decodekey, os.environ.decodevalue
    return {key(k): value(v) for k, v in snapshot.items()}


def _restore_environ_snapshot(snapshot: dict[Any, Any]) -> None:
    """Put the whole environment back (what was set, and what user code set or removed) from
    a `_environ_snapshot`: it compares in one step (the common case: nothing else to do);
    else only the variables that differ are decoded and set."""
    current = _ENVIRON_DATA if _ENVIRON_DATA is not None else dict(os.environ)
    if current == snapshot:
        return
    changed = {k: v for k, v in snapshot.items() if current.get(k) != v}
    gone = [k for k in current if k not in snapshot]
    decode = os.environ.decodekey if _ENVIRON_DATA is not None else str
    for key in gone:
        del os.environ[decode(key)]
    for key, value in _decoded(changed).items():
        os.environ[key] = value
    time.tzset()


def forget_modules(batches: Iterable[tuple[str, ...]]) -> None:
    """Take the modules user code imported out of ``sys.modules``, one import's batch at a
    time, except a batch that holds, or whose packages hold, compiled (or built-in) modules:
    many of those cannot be imported twice in a process (numpy: "cannot load module more than
    once per process"), and one kept loaded would go on making objects of the old copies of
    the modules beside it (PyYAML's ``_yaml`` makes ``yaml.nodes`` nodes). Those stay."""
    for batch in batches:
        packages = {name.partition(".")[0] for name in batch}
        loaded = [module for name, module in list(sys.modules.items())
                  if name.partition(".")[0] in packages]
        if all(_pure_python(module) for module in loaded):
            for name in batch:
                sys.modules.pop(name, None)


def _pure_python(module: Any) -> bool:
    spec = getattr(module, "__spec__", None)
    origin = getattr(spec, "origin", None) or getattr(module, "__file__", None)
    if spec is None and origin is None:
        return True  # (a namespace package, or an object a library put there)
    if not isinstance(origin, str) or origin in ("built-in", "frozen"):
        return False
    return not origin.endswith(tuple(EXTENSION_SUFFIXES))


def _restore_dict(current: dict[str, Any], saved: Mapping[str, Any]) -> None:
    for key in [k for k in current if k not in saved]:
        del current[key]
    for key, value in saved.items():
        if current.get(key) is not value:
            current[key] = value


def _same_dict(current: dict[str, Any], saved: dict[str, Any]) -> bool:
    """The same keys, in the same order, each to the very same object (compared at C speed:
    ``==`` would call the objects' own ``__eq__``)."""
    return (len(current) == len(saved) and list(current) == list(saved)
            and all(map(operator.is_, current.values(), saved.values())))


def _cwd() -> str | None:
    try:
        return os.getcwd()
    except OSError:
        return None


def _loggers() -> list[tuple[str, logging.Logger]]:
    found: list[tuple[str, logging.Logger]] = [("", logging.root)]
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger):
            found.append((name, logger))
    return found


def _logger_state(logger: logging.Logger) -> _LoggerState:
    # (not the kept handlers: pytest swaps its capture handlers at each phase of a test)
    handlers = [h for h in logger.handlers if not _kept(h)]
    return logger.level, handlers, logger.propagate, logger.disabled


def _logger_snapshot() -> tuple[list[str], list[_LoggerState]]:
    """Every logger's name and state, in two lists that compare in one step (the handlers
    by identity: `logging.Handler` has no ``__eq__``)."""
    loggers = _loggers()
    return [name for name, _ in loggers], [_logger_state(logger) for _, logger in loggers]


def _kept(handler: logging.Handler) -> bool:
    return type(handler).__module__.startswith(_KEPT_HANDLER_MODULES)
