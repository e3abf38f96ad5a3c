"""Threads and processes that in-process instances start, and what is done about those left
running when emulation ends. [test process]

What cannot be given back is reported: at the host's close, a `LeftBehindWarning` (which pytest
shows in its warnings summary) names the function and every thread or child process its code
started that still runs; an `InProcessLimitWarning` names each standard descriptor (0, 1, 2:
the test process's own) its code closed or replaced. Such a thread is then let go: the
interpreter's exit no longer waits for it (a non-daemon thread would otherwise keep pytest from
exiting after its summary), nor does ``concurrent.futures``'s exit hook, nor
``multiprocessing``'s for a child process.

`WATCH` (a counted patch, installed while any in-process host is open) notes who started what:
``threading.Thread.start``, ``subprocess.Popen`` and ``multiprocessing``'s ``start`` called
on a thread running a phase, or on a thread such a phase started, note the new thread or
process on the phase's watchdog (`deadline.Watchdog.spawned`), and ``os.close`` and
``os.dup2`` a standard descriptor they close or replace. It also keeps
`deadline.running_loops` (so that a phase blocked in an ``asyncio`` loop is stopped at its
deadline) and refuses the ``spawn`` and ``forkserver`` start methods of ``multiprocessing`` in a
phase: their workers import the function's code by module name, which in-process is a private
name no other process knows, and a pool of them waits forever.
"""

from __future__ import annotations

import asyncio.events
import multiprocessing.process
import multiprocessing.spawn
import os
import subprocess
import sys
import threading
import warnings
import weakref
from typing import Any, NamedTuple

from .deadline import InProcessLimitWarning, Watchdog, current_phase, running_loops
from .patches import Patch


class LeftBehindWarning(UserWarning):
    """The function's code left threads or processes running when its emulator closed."""


class StandardDescriptor(NamedTuple):
    """A standard descriptor the function's code closed or replaced (`os.dup2` onto it)."""

    fd: int
    how: str  # "closed" or "replaced"


_STANDARD_NAMES = {0: "standard input", 1: "standard output", 2: "standard error"}


class SpawnInProcessError(RuntimeError):
    """``multiprocessing`` with ``spawn`` or ``forkserver`` in instance code, in-process."""


_owner_of: weakref.WeakKeyDictionary[Any, list[Any]] = weakref.WeakKeyDictionary()
"""A thread that a phase started (directly or not) -> where what it starts is noted."""


def _spawned_list() -> list[Any] | None:
    phase = current_phase()
    if phase is not None and phase.watchdog is not None:
        return phase.watchdog.spawned
    return _owner_of.get(threading.current_thread())


def _note(started: Any) -> None:
    spawned = _spawned_list()
    if spawned is not None:
        spawned.append(started)
        if isinstance(started, threading.Thread):
            _owner_of[started] = spawned


_real = {
    "thread_start": threading.Thread.start,
    "popen_execute": subprocess.Popen._execute_child,  # type: ignore[attr-defined]
    "process_start": multiprocessing.process.BaseProcess.start,
    "preparation_data": multiprocessing.spawn.get_preparation_data,
    "set_running_loop": asyncio.events._set_running_loop,
    "os_close": os.close,
    "os_dup2": os.dup2,
}


def _thread_start(self: threading.Thread) -> None:
    _note(self)
    _real["thread_start"](self)


def _popen_execute(self: subprocess.Popen[Any], *args: Any, **kwargs: Any) -> None:
    _real["popen_execute"](self, *args, **kwargs)
    _note(self)


def _process_start(self: multiprocessing.process.BaseProcess) -> None:
    _real["process_start"](self)
    _note(self)


def _preparation_data(name: str) -> dict[str, Any]:
    if _spawned_list() is not None:
        raise SpawnInProcessError(
            "multiprocessing's 'spawn' and 'forkserver' start methods cannot run in-process: "
            "their workers import your function's modules by name, and in-process those have "
            "private names (__fginit_N__.index) no other process knows. Use "
            "isolation=\"process\", or the 'fork' start method"
        )
    data: dict[str, Any] = _real["preparation_data"](name)
    return data


def _os_close(fd: int) -> None:
    if fd in _STANDARD_NAMES:
        _note(StandardDescriptor(fd, "closed"))
    _real["os_close"](fd)


def _os_dup2(fd: int, fd2: int, inheritable: bool = True) -> int:
    if fd2 in _STANDARD_NAMES:
        _note(StandardDescriptor(fd2, "replaced"))
    result: int = _real["os_dup2"](fd, fd2, inheritable)
    return result


def _set_running_loop(loop: Any) -> None:
    if loop is None:
        running_loops.pop(threading.get_ident(), None)
    else:
        running_loops[threading.get_ident()] = loop
    _real["set_running_loop"](loop)


def _install() -> None:
    threading.Thread.start = _thread_start  # type: ignore[method-assign]
    subprocess.Popen._execute_child = _popen_execute  # type: ignore[attr-defined]
    multiprocessing.process.BaseProcess.start = _process_start  # type: ignore[method-assign]
    multiprocessing.spawn.get_preparation_data = _preparation_data
    asyncio.events._set_running_loop = _set_running_loop
    os.close, os.dup2 = _os_close, _os_dup2


def _uninstall() -> None:
    # (each only if it is still ours: someone may have patched it since)
    if threading.Thread.start is _thread_start:
        threading.Thread.start = _real["thread_start"]  # type: ignore[method-assign]
    if subprocess.Popen._execute_child is _popen_execute:  # type: ignore[attr-defined]
        subprocess.Popen._execute_child = _real["popen_execute"]  # type: ignore[attr-defined]
    if multiprocessing.process.BaseProcess.start is _process_start:
        multiprocessing.process.BaseProcess.start = (  # type: ignore[method-assign]
            _real["process_start"])
    if multiprocessing.spawn.get_preparation_data is _preparation_data:
        multiprocessing.spawn.get_preparation_data = _real["preparation_data"]
    if asyncio.events._set_running_loop is _set_running_loop:
        asyncio.events._set_running_loop = _real["set_running_loop"]
    if os.close is _os_close:
        os.close = _real["os_close"]
    if os.dup2 is _os_dup2:
        os.dup2 = _real["os_dup2"]


WATCH = Patch(_install, _uninstall)


def report(watchdog: Watchdog, function: str) -> None:
    """Warn of what the function started and left running; let it go (see the module)."""
    spawned, watchdog.spawned = watchdog.spawned, []
    _report_descriptors([d for d in spawned if isinstance(d, StandardDescriptor)], function)
    threads = [t for t in spawned if isinstance(t, threading.Thread) and t.is_alive()]
    processes = [p for p in spawned if isinstance(p, (subprocess.Popen,
                                                      multiprocessing.process.BaseProcess))
                 and _running(p)]
    if not threads and not processes:
        return
    for thread in threads:
        _let_go(thread)
    for process in processes:
        multiprocessing.process._children.discard(process)  # type: ignore[attr-defined]
    left = [f"thread {t.name!r}" for t in threads]
    left += [f"process {p.pid}" for p in processes]
    warnings.warn(LeftBehindWarning(
        f"pytest-fginit: {function} left {', '.join(left)} running after its emulator "
        "closed (in-process emulation cannot stop them; the interpreter's exit will not wait "
        "for them). Join what your code starts, or use isolation=\"process\", whose instance "
        "processes are killed with everything they started"
    ), stacklevel=4)


def _report_descriptors(touched: list[StandardDescriptor], function: str) -> None:
    """In-process, an instance's standard descriptors are the test process's own: nothing
    can give back one that its code closed or replaced (a known limit)."""
    if not touched:
        return
    what = ", ".join(f"{how} the test process's {_STANDARD_NAMES[fd]} (descriptor {fd})"
                     for fd, how in sorted(set(touched)))
    warnings.warn(InProcessLimitWarning(
        f"pytest-fginit: {function} {what}: in-process, an instance's descriptors are the "
        "test's own (pytest's capture puts its own back after the test; with -s, the rest "
        "of the session writes to what the code left there). Use isolation=\"process\", "
        "where an instance has descriptors of its own"
    ), stacklevel=5)


def _running(process: Any) -> bool:
    if isinstance(process, subprocess.Popen):
        return process.poll() is None
    return bool(process.is_alive())


def _let_go(thread: threading.Thread) -> None:
    """Make interpreter exit stop waiting for ``thread``, as for a daemon thread.

    ``Thread.daemon`` cannot be set on a started thread, so this does what the flag does at
    exit (CPython 3.11's ``threading._shutdown`` waits on the ``_tstate_lock`` of every thread
    in ``_shutdown_locks``: non-daemon threads only): it takes the thread's lock out of that
    set, and the thread out of ``concurrent.futures``'s exit hook (which joins its workers).
    The thread then ends with the process, as a daemon thread does. Where the internals are
    not there (another Python), nothing is done and the warning still says what was left.
    """
    lock = getattr(thread, "_tstate_lock", None)
    locks = getattr(threading, "_shutdown_locks", None)
    guard = getattr(threading, "_shutdown_locks_lock", None)
    if lock is not None and locks is not None and guard is not None:
        with guard:
            locks.discard(lock)
        thread._daemonic = True  # type: ignore[attr-defined]  # (what .daemon reports)
    pool_threads = getattr(sys.modules.get("concurrent.futures.thread"), "_threads_queues",
                           None)
    if pool_threads is not None:
        pool_threads.pop(thread, None)
