"""What runs inside an instance process (process isolation): the runtime shim. [instance
process; imported by the fork server, to be loaded before it forks]

The fork server imports this module before it forks anything, so an instance starts with it
(and freezegun, and the phase runner) already loaded. `run` sets the process up as the
function's instance (environment, ``sys.path``, working folder, clock) and serves the test
process's requests over its socket with a `PhaseRunner` and a `CodeInstance`: the same code
that runs in-process instances, so both modes keep one set of rules for phases, faults and
timeouts. It never imports the test process's side (`client`, `host`). Output goes to file
descriptors 1 and 2, which the fork server pointed at a log file that the test process reads;
so it also survives a crash.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import logging
import mmap
import os
import pickle
import resource
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from ..._clock import (
    Clock,
    RealClock,
    Timeline,
    VirtualClock,
    real_monotonic,
    real_sleep,
    real_time,
)
from ..._redaction import redactor
from ...context import Context, ContextFields
from ..inprocess.deadline import Watchdog
from ..inprocess.interrupts import is_ctrl_c
from ..inprocess.namespace import PlainNamespace, top_level_names
from ..inprocess.patches import SLEEP
from ..inprocess.phase import CodeInstance, Death, PhaseRunner
from ..protocol import Injection, InstanceDied, PhaseOutcome
from . import coverage_support
from .wire import INSTANCE_STATUS, Channel, ChannelClosed

_CHUNK = 8 << 20
"""How much an injected memory overrun allocates at a time."""


_clock: VirtualClock | None = None


def prepare() -> None:
    """Start the virtual clock in the fork server, before any fork: freezegun's start scans
    every loaded module (tens of milliseconds), which each instance would pay otherwise. An
    instance then only moves the clock up to the emulator's."""
    global _clock
    _clock = VirtualClock()
    _clock.start()


def max_rss_bytes() -> int:
    """The most memory this process has held so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


_exiting = False
_left_nothing: tuple[mmap.mmap, int] | None = None
"""This instance's byte in the fork server's shared page, and its position (-1: none)."""
_owner = 0
"""The instance process's pid (a process its code forked is not the instance)."""
_DESCENDANTS_WAIT_S = 2.0


def exit_process(code: int) -> NoReturn:
    """End this instance process: flush output, save coverage data, end what it started, exit
    at once (a negative ``code``: die of that signal)."""
    global _exiting
    if _exiting:  # a kill that came while we were saving: let the save finish
        return  # type: ignore[misc]
    _exiting = True
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    coverage_support.save()
    if os.getpid() == _owner and _left_nothing is not None and _end_descendants():
        page, slot = _left_nothing
        if slot >= 0:
            page[slot] = 1  # the fork server need not look for what we left: nothing
    if code < 0:
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    _real_exit(code & 0xFF)


_real_exit = os._exit


def children() -> set[int]:
    """This process's children (Linux; an empty set elsewhere)."""
    found: set[int] = set()
    with contextlib.suppress(OSError):
        for task in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{task}/children") as listed:
                found.update(int(pid) for pid in listed.read().split())
    return found


def _end_descendants() -> bool:
    """Kill and reap every process this instance started that is still there: as the
    subreaper of its descendants, each one whose parent ended is its child. Whether none is
    left (the usual case costs one ``waitpid``: no child at all)."""
    limit = real_monotonic() + _DESCENDANTS_WAIT_S
    while True:
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass  # (one that had ended, reaped)
        except ChildProcessError:
            return True
        if real_monotonic() > limit:  # (one stuck in the kernel: the server kills it later)
            return False
        for pid in children():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        real_sleep(0.001)


def _exit_saving_coverage(status: int) -> NoReturn:
    exit_process(status)


def _real_death(memory_limit: int) -> Death:
    def die(injection: Injection) -> None:
        if injection.exhaust_memory:
            hoard = []
            while max_rss_bytes() <= memory_limit:
                hoard.append(b"\x01" * _CHUNK)  # written, so resident
            raise InstanceDied("memory_exceeded", "injected")
        code = injection.exit_code
        raise InstanceDied("crashed", f"exit code {code}", code)  # run() exits with it
    return die


class _InstanceChannel(Channel):
    """The instance's connection, which only the instance process may use. A process that the
    function's code forked and that came back into the runtime (the child's side of
    ``os.fork()`` returned from the handler) ends at once, silently: reading a request or
    answering one for its parent would put every later answer one request off."""

    __slots__ = ("owner",)

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(sock)
        self.owner = os.getpid()

    def send(self, message: Any, fds: Sequence[int] = (), *,
             reading: Callable[[], object] | None = None) -> None:
        self.only_the_instance()
        super().send(message, fds, reading=reading)

    def recv(self) -> Any:
        self.only_the_instance()
        return super().recv()

    def only_the_instance(self) -> None:
        if os.getpid() != self.owner:
            _real_exit(0)  # (not exit_process: nothing of the instance's is this one's)


class _StatusFile:
    """Keeps the instance's status file (`wire.INSTANCE_STATUS`) up to date."""

    def __init__(self, fd: int, clock: Clock) -> None:
        self.fd = fd
        self.clock = clock
        self.phase = 0
        self.peak = 0
        self.owner = os.getpid()

    def write(self) -> None:
        if os.getpid() != self.owner:  # (a process the function forked: not the instance)
            return
        offset = self.clock.now() - real_time()  # its lead on real time
        os.pwrite(self.fd, INSTANCE_STATUS.pack(offset, self.phase, self.peak), 0)

    def phase_ended(self) -> None:
        self.phase += 1
        self.peak = max_rss_bytes()
        self.write()


class _ReportingClock:
    """The instance's clock, telling the status file each time it jumps: the test process
    knows how much virtual time passed even if the instance dies before it answers."""

    def __init__(self, inner: Clock) -> None:
        self.inner = inner
        self.virtual = inner.virtual
        self.status: _StatusFile | None = None

    def start(self) -> None:
        self.inner.start()

    def stop(self) -> None:
        self.inner.stop()

    def now(self) -> float:
        return self.inner.now()

    def now_on(self, timeline: Timeline | None) -> float:
        return self.inner.now_on(timeline)

    def pass_time(self, seconds: float) -> None:
        self.inner.pass_time(seconds)
        if self.status is not None:
            self.status.write()

    def join(self, timelines: list[Timeline]) -> None:
        self.inner.join(timelines)


def _forget_vendored(provided: frozenset[str]) -> None:
    """Drop the modules the fork server had loaded (freezegun's dependencies, say) whose names
    the code root provides: the function's own copies load instead, as in-process."""
    provided = (provided - {"pytest_fginit"}) & _loaded_at_fork
    if provided:  # (rare: no walk over every module, each a page to copy, otherwise)
        for name in [n for n in sys.modules if n.partition(".")[0] in provided]:
            del sys.modules[name]


_loaded_at_fork: frozenset[str] = frozenset()
"""The top-level names of the modules loaded when the spare got ready."""


def _follow_clock(clock: Clock, offset: float) -> None:
    """Move this process's clock up to the emulator's (``offset``: its lead on real time)."""
    if clock.virtual:
        behind = real_time() + offset - clock.now()
        if behind > 0:
            clock.pass_time(behind)


def get_ready(left_nothing: tuple[mmap.mmap, int] | None = None) -> None:
    """What a new instance process does before it knows its request (while it waits as the
    fork server's spare): measure coverage, and write its output and log records unbuffered
    to its standard streams, which will be its log file. ``left_nothing``: where it tells the
    fork server, as it ends, that it left no process behind."""
    global _left_nothing, _owner, _loaded_at_fork
    _left_nothing, _owner = left_nothing, os.getpid()
    coverage_support.restart_after_fork(
        lambda: exit_process(128 + coverage_support.SAVE_AND_EXIT))
    os._exit = _exit_saving_coverage
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(line_buffering=True, write_through=True)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    _rehearse()
    _loaded_at_fork = frozenset(name.partition(".")[0] for name in sys.modules)


class _NoModules:
    phases_running = 0

    def refresh_builtins(self) -> None:
        pass

    def import_module(self, name: str, source: str | None = None) -> Any:
        raise ImportError(name)

    def close(self) -> None:
        pass


def _rehearse() -> None:
    """Run the runtime's own steps of a request once, on nothing. A forked process copies each
    memory page it first writes to (reference counts are writes); done here, while the spare
    waits, that copying is not on the way of its first request. It copies no page that the
    first request would not have copied."""
    clock = _clock if _clock is not None else RealClock()
    runner = PhaseRunner(clock, Watchdog(None))
    SLEEP.acquire()
    try:
        fields = ContextFields(request_id="rehearsal", func_name="rehearsal", timeout=3,
                               memory_size=128)
        deadline = clock.now() + 3
        context = Context.of(fields, now=clock.now,
                             remaining_ms=lambda: max(0, int((deadline - clock.now()) * 1000)))

        def phase() -> Any:
            return json.dumps({"remaining": context.getRemainingTimeInMilliSeconds()})

        outcome = runner.run_phase(_NoModules(), phase, deadline, None)
        pickle.loads(pickle.dumps(("outcome", (outcome.status, outcome.ended,
                                               outcome.exception, None, True, outcome.value,
                                               max_rss_bytes()))))
        top_level_names(Path(__file__).parent)
        _rehearse_import()
    finally:
        SLEEP.release()


def _rehearse_import() -> None:
    """Import a module through a folder put first on ``sys.path``, as the request imports the
    function's (this package's own ``__init__`` file, as a top-level module), then forget it:
    its path finder, loader and compiler pages are copied, which halves that first import."""
    folder = str(Path(__file__).parent)
    sys.path.insert(0, folder)
    try:
        importlib.import_module("__init__")
    finally:
        sys.path.remove(folder)
        sys.modules.pop("__init__", None)
        sys.path_importer_cache.pop(folder, None)


def _become_the_instance(request: dict[str, Any]) -> _ReportingClock:
    """Set the process up as the function's instance (its base is set: see `server.settle`):
    the function's own modules, and its clock (the one started in the fork server, if
    virtual)."""
    _forget_vendored(request["code_root_names"])
    inner: Clock
    if request["virtual"] and _clock is not None:
        inner = _clock
    else:
        if _clock is not None:
            _clock.stop()
        inner = VirtualClock() if request["virtual"] else RealClock()
        inner.start()
    return _ReportingClock(inner)


def run(sock_fd: int, status_fd: int, request: dict[str, Any]) -> int:
    """Serve one instance until told to stop; returns the process's exit code."""
    channel = _InstanceChannel(socket.socket(fileno=sock_fd))
    clock = _become_the_instance(request)
    status = clock.status = _StatusFile(status_fd, clock)
    redact = redactor(request["secrets"])
    spec = request["spec"]
    runner = PhaseRunner(clock, Watchdog(None), redact=redact,
                         death=_real_death(request["memory_limit"]), test_owns=is_ctrl_c)
    SLEEP.acquire()  # (for the process's life: it ends with the instance)
    instance = CodeInstance(runner, spec, PlainNamespace(spec.code_root), redact)
    while True:
        try:
            op, payload = channel.recv()
        except ChannelClosed:  # the test process is gone
            return 0
        if op == "stop":
            return 0
        _follow_clock(clock, payload["offset"])
        outcome, loaded = _run_phase(channel, instance, op, payload)
        channel.only_the_instance()  # (the function forked, and its child returned here)
        status.phase_ended()  # (before the result is copied: that is not the function's memory)
        if outcome.status == "crashed":  # sys.exit() or an injected crash: exit for real
            return outcome.exit_code if outcome.exit_code is not None else 1
        value_json = None
        if outcome.status == "ok" and op == "handle":
            try:
                value_json = json.dumps(outcome.value)
            except (TypeError, ValueError, RecursionError) as exc:  # (RecursionError: too deep)
                outcome.unserializable = (type(exc).__name__, str(exc))
        for stream in (sys.stdout, sys.stderr):  # all of the phase's output in the log file
            with contextlib.suppress(Exception):
                stream.flush()
        channel.send(("outcome", (
            outcome.status, outcome.ended, outcome.exception, outcome.unserializable, loaded,
            value_json, status.peak,
        )))


def _run_phase(channel: Channel, instance: CodeInstance, op: str,
               payload: dict[str, Any]) -> tuple[PhaseOutcome, bool]:
    """Run the phase the test process asked for: (how it ended, whether the code loaded)."""
    deadline, fields = payload["deadline"], payload["context"]
    if op == "start":
        def injection() -> Injection | None:  # asked for once the code has loaded
            channel.send(("loaded", None))
            answer: Injection | None = channel.recv()[1]
            return answer

        start = instance.start(fields, deadline,
                               injection if payload["fault_queued"] else None,
                               payload["load"])
        return start.phase, start.loaded
    if op == "pre_stop":
        return instance.pre_stop(fields, deadline, payload["injection"]), True
    return instance.handle(payload["event"], fields, deadline, payload["injection"]), True
