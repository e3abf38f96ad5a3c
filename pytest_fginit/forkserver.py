"""The fork server: one small process per pytest process that forks instance processes.

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
own descendants, and is reaped by the server, which adopts and kills what it left behind.

Control messages (`wire.Channel`), test process to server: ``("spare",)``, answered by
``("spare", pid)`` with the test process's end of the spare's socket attached; ``("kill",
pid)``; ``("release", pid, grace_s)`` (kill it if it has not exited by then); ``("shutdown",)``.
Server to test process, at any time: ``("exited", pid, exit_code)`` with a negative code for a
signal, as ``subprocess`` reports it.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import ctypes
import functools
import gc
import importlib
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ._clock import real_monotonic as _now
from .wire import Channel, ChannelClosed


def measuring_coverage() -> bool:
    """Whether coverage measures this process."""
    coverage = sys.modules.get("coverage")
    return coverage is not None and coverage.Coverage.current() is not None


_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
SAVE_AND_EXIT = signal.SIGRTMIN + 3
"""The signal an instance process's runtime answers by saving its coverage data and exiting: a
real-time signal, which user code does not handle (it may well handle SIGTERM)."""
_TERM_GRACE_S = 1.0
"""How long a killed instance that measures coverage has to save its data before SIGKILL."""
_SHUTDOWN_WAIT_S = 10.0
_PRELOADED = (
    "base64", "dataclasses", "datetime", "decimal", "hashlib", "hmac", "http.client", "json",
    "logging", "random", "socket", "ssl", "tempfile", "urllib.parse", "uuid",
)
"""Standard-library modules loaded in the fork server, so that instances do not each load
them again: a platform runtime has them loaded before it loads the function's code too.
(A module the code root provides under the same name still wins: see instance_runtime.)"""
_ANSWER_WAIT_S = 30.0
"""How long a fork may take before the server is taken as hung."""


class ForkServerError(RuntimeError):
    """The fork server could not be started, or stopped answering."""


class ForkFailed(ForkServerError):
    """The fork server is fine, but ``fork()`` failed there (EAGAIN, ENOMEM)."""


# --- the test process's side -----------------------------------------------------------------

class ForkServer:
    """The test process's handle on its fork server. Thread-safe.

    A conversation that is interrupted half-way (KeyboardInterrupt, pytest-timeout's signal)
    leaves the stream at an unknown point: the server is then abandoned (it kills its
    instances when its connection closes) and the next instance starts a new one.
    """

    def __init__(self) -> None:
        self.owner = os.getpid()
        ours, theirs = socket.socketpair()
        package_parent = str(Path(__file__).resolve().parent.parent)
        code = (f"import sys; sys.path.insert(0, {package_parent!r}); "
                f"from pytest_fginit.forkserver import serve; serve({theirs.fileno()})")
        self._stderr = anonymous_file("fginit-forkserver-stderr")
        try:
            # The server's own environment is what every instance needs (see process_host):
            # an instance then changes few variables, which is most of a fork's set-up.
            from .process_host import instance_environment

            self._process = subprocess.Popen(
                [sys.executable, "-c", code],
                env=instance_environment(os.environ, {}, inherit=False),
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._stderr,
                close_fds=True,
            )
        except OSError as exc:
            ours.close()
            os.close(self._stderr)
            raise ForkServerError(f"cannot start the fork server: {exc}") from exc
        finally:
            theirs.close()
        self._channel = Channel(ours)
        self._lock = threading.Lock()
        self._spares: collections.deque[tuple[int, socket.socket]] = collections.deque()
        self._spare_asked = False
        self._exits: dict[int, int] = {}
        self._forgotten: set[int] = set()
        self.closed = False

    @property
    def pid(self) -> int:
        return self._process.pid

    def spawn(self, request: dict[str, Any], fds: Sequence[int]) -> tuple[int, socket.socket]:
        """Start an instance process on ``request`` with ``fds`` (its log and status files;
        the caller keeps and closes its own copies). Returns its pid and the socket to talk
        to it."""
        while True:
            with self._lock, self._talking():
                if self.closed:
                    raise ForkServerError(
                        "the fork server was shut down (the pytest session ended)")
                while self._channel.poll(0):  # spares (and exits) that came meanwhile
                    self._read()
                if not self._spares:
                    self._ask_for_spare()
                    limit = _now() + _ANSWER_WAIT_S
                    while not self._spares:
                        if not self._channel.poll(limit - _now()):
                            raise ForkServerError(
                                f"the fork server did not answer within {_ANSWER_WAIT_S:g} s")
                        self._read(waiting_for_spare=True)
                pid, sock = self._spares.popleft()
                self._ask_for_spare()  # the next one, forked while this one starts
            try:
                Channel(sock).send(("request", request), fds)
            except ChannelClosed:  # it died while it waited: take the next
                sock.close()
                self.release(pid, 0)
                continue
            return pid, sock

    def _ask_for_spare(self) -> None:
        if not self._spare_asked:
            self._channel.send(("spare",))
            self._spare_asked = True

    def kill(self, pid: int) -> None:
        """Kill the instance and everything in its process group (while coverage measures it,
        first with a signal its runtime handles by saving its data, then after a grace)."""
        self._post(("kill", pid))

    def release(self, pid: int, grace_s: float) -> None:
        """The instance was told to stop: forget its exit, and kill it if it has not exited
        after ``grace_s``."""
        with self._lock:
            if self._exits.pop(pid, None) is None:
                self._forgotten.add(pid)
        self._post(("release", pid, grace_s))

    def exit_code(self, pid: int, timeout: float) -> int | None:
        """The instance's exit code (negative: killed by that signal), waiting up to
        ``timeout`` for it to be reaped; ``None`` if it was not."""
        limit = _now() + timeout
        with self._lock, self._talking():
            while pid not in self._exits:
                left = limit - _now()
                if self.closed or left <= 0:
                    return None
                if self._channel.poll(left):
                    self._read()
            return self._exits.pop(pid)

    def close(self) -> None:
        """Stop the server; it kills whatever instances are still alive, and reaps them."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            with contextlib.suppress(ChannelClosed, OSError):
                self._channel.send(("shutdown",))
            self._end()

    def _post(self, message: tuple[Any, ...]) -> None:
        with self._lock:
            if not self.closed:
                with self._talking():
                    self._channel.send(message)

    def _read(self, waiting_for_spare: bool = False) -> tuple[Any, ...]:
        """One message; spares and exit notices are filed on the way (call with the lock
        held). A failed fork raises `ForkFailed` for a caller that waits for a spare."""
        message: tuple[Any, ...]
        message, fds = self._channel.recv_with_fds()
        if message[0] == "spare":
            self._spares.append((message[1], socket.socket(fileno=fds[0])))
            self._spare_asked = False
        elif message[0] == "fork_failed":
            self._spare_asked = False  # (the next spawn asks again)
            if waiting_for_spare:
                raise ForkFailed(f"the fork server could not fork: {message[1]}")
        elif message[0] == "exited":
            _, pid, code = message
            if pid in self._forgotten:
                self._forgotten.discard(pid)
            else:
                self._exits[pid] = code
        return message

    @contextlib.contextmanager
    def _talking(self) -> Iterator[None]:
        try:
            yield
        except ChannelClosed:
            self.closed = True
            self._end()
            raise ForkServerError("the fork server stopped unexpectedly"
                                  + self._last_words()) from None
        except ForkFailed:  # (said in a whole message: the conversation is intact)
            raise
        except BaseException:  # cut off mid-conversation: the stream cannot be trusted
            self.closed = True
            self._end()
            raise

    def _end(self) -> None:
        """Close our end (the server exits when it sees that) and reap the server."""
        self._channel.close()
        while self._spares:  # (they exit when they see their end closed)
            self._spares.popleft()[1].close()
        try:
            self._process.wait(_SHUTDOWN_WAIT_S)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        finally:
            with contextlib.suppress(OSError):
                os.close(self._stderr)

    def _last_words(self) -> str:
        """What the server wrote to stderr before it stopped, for the error message."""
        with contextlib.suppress(OSError):
            text = os.pread(self._stderr, 4000, 0).decode("utf-8", "replace").strip()
            if text:
                return f" (exit code {self._process.returncode}):\n{text}"
        return f" (exit code {self._process.returncode})"


_server: ForkServer | None = None
_server_lock = threading.Lock()


def shared_server() -> ForkServer:
    """This process's fork server, started on first use (a process forked from one that has a
    server gets a server of its own)."""
    global _server
    with _server_lock:
        if _server is None or _server.closed or _server.owner != os.getpid():
            _server = ForkServer()
            _register_shutdown_at_exit()
        return _server


@functools.cache
def _register_shutdown_at_exit() -> None:
    atexit.register(shutdown)


def shutdown() -> None:
    """Stop this process's fork server, if it started one (the plugin calls this at the end
    of the session)."""
    global _server
    with _server_lock:
        server, _server = _server, None
    if server is not None and server.owner == os.getpid():
        server.close()


def anonymous_file(name: str) -> int:
    """A file descriptor of a file with no name in any folder: nothing to clean up."""
    if hasattr(os, "memfd_create"):
        return os.memfd_create(name, os.MFD_CLOEXEC)
    with tempfile.TemporaryFile() as file:  # (unlinked at once on POSIX)
        return os.dup(file.fileno())


# --- the server process ----------------------------------------------------------------------

_libc: Any = None


def _prctl(option: int, value: int) -> None:
    global _libc
    with contextlib.suppress(Exception):  # Linux only; elsewhere we do without
        if _libc is None:
            _libc = ctypes.CDLL(None, use_errno=True)
        _libc.prctl(option, value, 0, 0, 0)


def serve(control_fd: int) -> None:
    """The server's main loop (runs in the server process)."""
    from . import instance_runtime  # imported once here, shared by every fork

    for name in _PRELOADED:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    instance_runtime.prepare()
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
        self.private_fds = private_fds
        self.live: set[int] = set()  # instances, spares included
        self.kill_at: dict[int, float] = {}  # pid -> when to SIGKILL its group

    def loop(self, wake_read: int) -> None:
        control = self.control.fileno()
        poller = select.poll()  # (not select(): descriptors may be numbered past 1024)
        poller.register(control, select.POLLIN)
        poller.register(wake_read, select.POLLIN)
        while True:
            timeout = (max(0.0, min(self.kill_at.values()) - _now()) * 1000
                       if self.kill_at else None)
            readable = {fd for fd, _ in poller.poll(timeout)}
            if wake_read in readable:
                with contextlib.suppress(BlockingIOError):
                    while os.read(wake_read, 512):
                        pass
            self.reap()
            self.kill_due()
            if control not in readable:
                continue
            try:
                message, fds = self.control.recv_with_fds()
            except ChannelClosed:  # the test process is gone
                return
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
            elif op == "shutdown":
                return

    def fork_spare(self) -> None:
        """Fork an instance process that waits for its request on a socket whose other end
        goes to the test process."""
        ours, theirs = socket.socketpair()
        server_pid = os.getpid()
        try:
            pid = os.fork()
        except OSError as exc:
            ours.close()
            theirs.close()
            self.tell(("fork_failed", str(exc)))
            return
        if pid == 0:
            ours.close()
            _instance_process(theirs.fileno(), self.private_fds, server_pid)  # never returns
        theirs.close()
        self.live.add(pid)
        try:
            self.tell(("spare", pid), [ours.fileno()])
        finally:
            ours.close()

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
            if pid in self.live:  # (else an orphan we adopted as subreaper)
                self.live.discard(pid)
                self.kill_at.pop(pid, None)
                _signal_group(pid, signal.SIGKILL)  # whatever it left running
                self.kill_adopted()  # ... also what left its process group (setsid)
                self.tell(("exited", pid, os.waitstatus_to_exitcode(status)))

    def kill_adopted(self) -> None:
        """Kill the processes an ended instance left behind that we adopted as subreaper:
        every child of ours that is not an instance. (Each instance is the subreaper of its
        own descendants while it lives, so these are only ever an ended instance's.)"""
        for pid in _children() - self.live:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def tell(self, message: tuple[Any, ...], fds: Sequence[int] = ()) -> None:
        with contextlib.suppress(ChannelClosed):
            self.control.send(message, fds)

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


def _children() -> set[int]:
    """This process's children (Linux; an empty set elsewhere)."""
    found: set[int] = set()
    with contextlib.suppress(OSError):
        for task in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{task}/children") as children:
                found.update(int(pid) for pid in children.read().split())
    return found


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _instance_process(request_fd: int, private_fds: tuple[int, ...],
                      server_pid: int) -> None:
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
        from .instance_runtime import exit_process, get_ready, run

        get_ready()
        channel = Channel(socket.socket(fileno=request_fd))
        try:
            (_, request), fds = channel.recv_with_fds()
        except ChannelClosed:  # never needed: the session ended
            os._exit(0)
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
