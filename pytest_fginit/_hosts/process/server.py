"""The fork server: one small process per pytest process that forks instance processes.
[fork server]

It is started at the first process-isolated instance and shut down when the pytest session
ends (and, failing that, when the test process exits: it reads the end of its control socket).
It has imported the instance runtime, and no user code, so a new instance costs a ``fork()``
rather than an interpreter start, and starts clean.

Instances are forked ahead, as *spares*: the server forks one with a socket pair and hands the
test process its end. A spare waits there for its request (the function to run, its log and
status files); the test process sends it straight to the spare, and asks the server for the
next spare while this one starts. So no fork, and no message to the server, is on the way of a
cold start (each process hop costs a wake-up, which is slow on a virtual machine).

Each instance process gets a session of its own (its process group is its pid, so a kill
reaches what it started), dies with the server (``PR_SET_PDEATHSIG``), is the subreaper of its
own descendants, and is reaped by the server, which adopts and kills what it left behind. An
instance that ends through its runtime ends its descendants itself and says so in a byte of a
page shared with the server: its exit then costs the server one ``waitpid``, with no look at
all of its children (which made closing k instances O(k²)); one killed by a signal, or gone
another way, is followed by that look.

Control messages (`wire.Channel`), test process to server: ``("spare",)``, answered by
``("spare", pid)`` with the test process's end of the spare's socket attached; ``("base",
base)``, the process state most instances share (environment, ``sys.path``, working folder,
log level; see `server.settle`), which the server takes on so that the spares it forks next
have it already (a request then carries only what is the function's); ``("kill", pid)``;
``("release", pid, grace_s)`` (kill it if it has not exited by then); ``("shutdown",)``.
Server to test process, at any time: ``("exited", pid, exit_code)`` with a negative code for a
signal, as ``subprocess`` reports it, for every instance that ends (the test process waits for
them as its emulators close).

The server never waits on a full socket buffer: what it tells waits in an `wire.Outbox` while
the test process is busy, so it always goes on reading (a thousand releases at the end of a
burst, each answered by an exit, would otherwise fill both directions and hang both sides).

This module imports nothing of the test process's side (`client`, `host`): it runs in the
server and, after a fork, briefly in each instance process until the runtime takes over.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib
import logging
import mmap
import os
import select
import signal
import socket
import sys
import time
import traceback
from collections.abc import Sequence
from typing import Any

from ..._clock import real_monotonic as _now
from .coverage_support import SAVE_AND_EXIT, measuring_coverage
from .wire import Channel, ChannelClosed, Outbox

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_TERM_GRACE_S = 1.0
"""How long a killed instance that measures coverage has to save its data before SIGKILL."""
_PRELOADED = (
    "base64", "dataclasses", "datetime", "decimal", "hashlib", "hmac", "http.client", "json",
    "logging", "random", "socket", "ssl", "tempfile", "urllib.parse", "uuid",
)
"""Standard-library modules loaded in the fork server, so that instances do not each load
them again: a platform runtime has them loaded before it loads the function's code too.
(A module the code root provides under the same name still wins: see the runtime.)"""
_SLOTS = 1 << 16
"""How many instances at once get a byte in the shared `_Server.left_nothing` page (one
beyond that is reaped the slow way: a look at every child of ours)."""


_libc: Any = None


def _prctl(option: int, value: int) -> None:
    global _libc
    with contextlib.suppress(Exception):  # Linux only; elsewhere we do without
        if _libc is None:
            _libc = ctypes.CDLL(None, use_errno=True)
        _libc.prctl(option, value, 0, 0, 0)


def serve(control_fd: int) -> None:
    """The server's main loop (runs in the server process)."""
    from . import runtime  # imported once here, shared by every fork

    for name in _PRELOADED:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    runtime.prepare()
    # Everything loaded so far stays for good: out of the collector's sight, its pages are not
    # written to (copied) in each instance when a collection runs there.
    gc.freeze()

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the test process shuts us down
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    control = Channel(socket.socket(fileno=control_fd))
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_read, False)
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    server = _Server(control, (control_fd, wake_read, wake_write))
    try:
        server.loop(wake_read)
    finally:
        server.kill_all()
    os._exit(0)


class _Server:
    def __init__(self, control: Channel, private_fds: tuple[int, ...]) -> None:
        self.control = control
        self.outbox = Outbox(control.sock)
        self.private_fds = private_fds
        self.live: dict[int, int] = {}  # instances, spares included: pid -> slot (or -1)
        self.kill_at: dict[int, float] = {}  # pid -> when to SIGKILL its group
        # One byte per instance, shared with them all: set by an instance that ends through
        # its runtime once it has ended its own descendants (see `runtime.exit_process`). Its
        # exit then costs O(1): no look at all our children for what it left behind.
        self.left_nothing = mmap.mmap(-1, _SLOTS)
        self.free_slots = list(range(_SLOTS - 1, -1, -1))

    def loop(self, wake_read: int) -> None:
        control = self.control.fileno()
        poller = select.poll()  # (not select(): descriptors may be numbered past 1024)
        poller.register(wake_read, select.POLLIN)
        while True:
            # Never blocked on a full buffer: what we tell waits in the outbox while the test
            # process is busy (it may be sending us a thousand releases meanwhile).
            poller.register(control, select.POLLIN | (select.POLLOUT if self.outbox.pending
                                                      else 0))
            timeout = (max(0.0, min(self.kill_at.values()) - _now()) * 1000
                       if self.kill_at else None)
            events = dict(poller.poll(timeout))
            if wake_read in events:
                with contextlib.suppress(BlockingIOError):
                    while os.read(wake_read, 512):
                        pass
            try:
                self.reap()
                self.kill_due()
                happened = events.get(control, 0)
                if happened & select.POLLOUT:
                    self.outbox.flush()
                if (happened & (select.POLLIN | select.POLLHUP | select.POLLERR)
                        and not self.obey(self.control.recv_with_fds())):
                    return
            except ChannelClosed:  # the test process is gone
                return

    def obey(self, received: tuple[Any, list[int]]) -> bool:
        """Do what the test process asked; ``False``: shut down."""
        message, fds = received
        for fd in fds:  # (none are expected)
            os.close(fd)
        op = message[0]
        if op == "spare":
            self.fork_spare()
        elif op == "kill":
            self.kill(message[1])
        elif op == "release":
            _, pid, grace = message
            if pid in self.live:
                self.kill_at[pid] = _now() + grace
        elif op == "base":  # what the spares forked from now on take on ahead
            settle(message[1])
        elif op == "shutdown":
            return False
        return True

    def fork_spare(self) -> None:
        """Fork an instance process that waits for its request on a socket whose other end
        goes to the test process."""
        try:
            ours, theirs = socket.socketpair()
        except OSError as exc:  # (EMFILE: the limit the test process gave us)
            self.tell(("fork_failed", str(exc)))
            return
        server_pid = os.getpid()
        slot = self.free_slots.pop() if self.free_slots else -1
        if slot >= 0:
            self.left_nothing[slot] = 0
        try:
            pid = os.fork()
        except OSError as exc:
            if slot >= 0:
                self.free_slots.append(slot)
            ours.close()
            theirs.close()
            self.tell(("fork_failed", str(exc)))
            return
        if pid == 0:
            ours.close()
            # (descriptors still waiting in the outbox are other spares' ends: not this one's)
            _instance_process(theirs.fileno(), self.private_fds + self.outbox.descriptors(),
                              server_pid, (self.left_nothing, slot))  # never returns
        theirs.close()
        self.live[pid] = slot
        self.tell(("spare", pid), [ours.detach()])  # (the outbox closes it once sent)

    def kill(self, pid: int) -> None:
        if pid not in self.live:
            return
        if measuring_coverage():
            _signal_group(pid, SAVE_AND_EXIT)
            self.kill_at[pid] = _now() + _TERM_GRACE_S
        else:
            _signal_group(pid, signal.SIGKILL)

    def kill_due(self) -> None:
        now = _now()
        for pid, when in list(self.kill_at.items()):
            if when <= now:
                del self.kill_at[pid]
                _signal_group(pid, signal.SIGKILL)

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            slot = self.live.pop(pid, None)
            if slot is not None:  # (else an orphan we adopted as subreaper)
                self.kill_at.pop(pid, None)
                if slot < 0 or not self.left_nothing[slot]:
                    _signal_group(pid, signal.SIGKILL)  # whatever it left running
                    self.kill_adopted()  # ... also what left its process group (setsid)
                if slot >= 0:
                    self.free_slots.append(slot)
                self.tell(("exited", pid, os.waitstatus_to_exitcode(status)))

    def kill_adopted(self) -> None:
        """Kill the processes an ended instance left behind that we adopted as subreaper:
        every child of ours that is not an instance. (Each instance is the subreaper of its
        own descendants while it lives, so these are only ever an ended instance's.)"""
        from .runtime import children  # (loaded at the server's start)

        for pid in children() - self.live.keys():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def tell(self, message: tuple[Any, ...], fds: Sequence[int] = ()) -> None:
        with contextlib.suppress(ChannelClosed):  # (the loop sees the end, on its own)
            self.outbox.put(message, fds)

    def kill_all(self) -> None:
        """Kill every instance (a grace first while coverage measures), reap everything."""
        if self.live and measuring_coverage():
            for pid in self.live:
                _signal_group(pid, SAVE_AND_EXIT)
            limit = _now() + _TERM_GRACE_S
            while self.live and _now() < limit:
                self.reap()
                time.sleep(0.01)
        for pid in self.live:
            _signal_group(pid, signal.SIGKILL)
        self.live.clear()
        self.kill_adopted()
        limit = _now() + 2.0
        while _now() < limit:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return  # nothing left, orphans included
            if pid == 0:
                self.kill_adopted()  # (one that was still being reparented to us)
                time.sleep(0.005)


def settle(base: dict[str, Any]) -> None:
    """Take on the process state most instances share (the ``base`` the test process sends:
    environment, ``sys.path``, working folder, log level). The fork server does it at each
    change, so that the spares forked after have it already; a spare forked before does it
    as it gets its request."""
    with contextlib.suppress(OSError):
        os.chdir(base["cwd"])
    env = base["env"]
    for key in [k for k in os.environ if k not in env]:
        del os.environ[key]
    for key, value in env.items():
        if os.environ.get(key) != value:
            os.environ[key] = value
    time.tzset()  # (TZ may be the function's own)
    sys.path[:] = base["sys_path"]
    # What the test's logging lets through (pytest's log_level), as in-process.
    logging.getLogger().setLevel(base["log_level"])


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _instance_process(request_fd: int, private_fds: tuple[int, ...], server_pid: int,
                      left_nothing: tuple[mmap.mmap, int]) -> None:
    """The child side of a fork: get ready, wait for a request, run the instance, exit."""
    code = 70
    try:
        os.setsid()
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != server_pid:  # the server died before the line above
            os._exit(code)
        _prctl(_PR_SET_CHILD_SUBREAPER, 1)  # what its descendants orphan stays with it
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for fd in private_fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        from .runtime import exit_process, get_ready, run

        get_ready(left_nothing)
        channel = Channel(socket.socket(fileno=request_fd))
        try:
            (_, request), fds = channel.recv_with_fds()
        except ChannelClosed:  # never needed: the session ended
            os._exit(0)
        if request["base"] is not None:  # (forked before the test process's last base)
            settle(request["base"])
        sock_fd = channel.sock.detach()  # (now the instance's connection)
        log_fd, status_fd = fds
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(log_fd)
        try:
            code = run(sock_fd, status_fd, request)
        except KeyboardInterrupt:  # SIGINT that user code did not handle: die of it, as Python
            exit_process(-signal.SIGINT)
        exit_process(code)
    except BaseException:
        with contextlib.suppress(BaseException):
            traceback.print_exc()
            sys.stderr.flush()
    finally:
        os._exit(code)
