"""The test process's handle on its fork server. [test process]

The fork server, its spares and the control messages are described in `server` (the side
that implements them); this module is the test process's end: it starts the server, asks it
for spares, kills and releases instance processes, and reads their exits (an emulator's close
waits for those of its instances). It reads whatever the server has told it before each
message it sends, and while a send waits for room: neither side ever waits on a full buffer.

The server is started by module name (`SERVER_MODULE`), never imported here: its side of the
boundary runs in another process.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import functools
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..._clock import real_monotonic as _now
from .wire import Channel, ChannelClosed, DescriptorsDropped

SERVER_MODULE = "pytest_fginit._hosts.process.server"
_SHUTDOWN_WAIT_S = 10.0
_ANSWER_WAIT_S = 30.0
"""How long a fork may take before the server is taken as hung."""
_END_WAIT_S = 2.0
"""How long `ForkServer.end` waits for stopped instances to exit before it kills them (an
instance told to stop exits within milliseconds, even while a thread of its code is busy)."""
_KILLED_WAIT_S = 10.0
"""How long it then waits for the killed ones to be reaped (a kill while coverage measures
gives them a second to save their data first)."""
PASSED_THROUGH_ENV = (
    "PATH", "PYTHONPATH", "PYTHONHOME", "PYTHONPYCACHEPREFIX", "PYTHONDONTWRITEBYTECODE",
    "PYTHONUTF8", "PYTHONIOENCODING", "VIRTUAL_ENV", "LD_LIBRARY_PATH", "TMPDIR", "LANG",
    "LC_ALL", "LC_CTYPE", "TZ",
)
"""Variables of the test process that an instance gets without ``inherit_env``: what the
interpreter needs to run (and every ``COVERAGE_*`` variable, so that coverage measures it)."""

def instance_environment(test_env: Mapping[str, str], function_env: Mapping[str, str], *,
                         inherit: bool) -> dict[str, str]:
    """The environment of an instance process: the function's, plus what Python needs."""
    if inherit:
        env = dict(test_env)
    else:
        env = {k: v for k, v in test_env.items()
               if k in PASSED_THROUGH_ENV or k.startswith("COVERAGE_")}
    env.update(function_env)
    return env


class ForkServerError(RuntimeError):
    """The fork server could not be started, or stopped answering."""


class ForkFailed(ForkServerError):
    """The fork server is fine, but ``fork()`` failed there (EAGAIN, ENOMEM)."""


DESCRIPTORS_PER_INSTANCE = 3
"""What an instance holds open in the test process while it lives: its socket, log and status
files."""


class DescriptorLimitError(OSError):
    """The test process ran out of file descriptors starting a process instance: a limit of
    the machine the tests run on, not of the platform, so the test fails with what to do
    (rather than requests recorded with errors FunctionGraph would not give)."""

    def __init__(self, holding: int, cause: OSError) -> None:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        hard_text = "unlimited" if hard == resource.RLIM_INFINITY else str(hard)
        super().__init__(cause.errno, (
            f"process isolation ran out of file descriptors ({cause.strerror}) with "
            f"{holding} process instances of this function alive: the test process may have "
            f"{soft} open at once (its soft RLIMIT_NOFILE, `ulimit -n`; the hard limit is "
            f"{hard_text}), and each process instance holds {DESCRIPTORS_PER_INSTANCE} while "
            f"it lives. Raise the limit (`ulimit -n` in the shell that runs pytest, or "
            f"resource.setrlimit(resource.RLIMIT_NOFILE, ...) in conftest.py), or lower "
            f"max_instance_num or the number of requests sent together."))


def describe_exit(code: int | None) -> str:
    if code is None:
        return "exit status unknown"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "unknown signal"
        return f"killed by signal {-code} ({name})"
    return f"exit code {code}"


def peak_rss_bytes(pid: int) -> int:
    """The most memory the process has held (``VmHWM``), 0 if it cannot be read."""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


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
        package_parent = str(Path(__file__).resolve().parents[3])
        code = (f"import sys; sys.path.insert(0, {package_parent!r}); "
                f"from {SERVER_MODULE} import serve; serve({theirs.fileno()})")
        self._stderr = anonymous_file("fginit-forkserver-stderr")
        try:
            # The server's own environment is what every instance needs: an instance then
            # changes few variables, which is most of a fork's set-up.
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
        # Spares: (pid, socket, the number of the base it was forked with).
        self._spares: collections.deque[tuple[int, socket.socket, int]] = collections.deque()
        self._spare_asked = False
        self._asked_with = 0  # (the base number the spare asked for will have)
        self._base: dict[str, Any] | None = None  # the last base sent to the server ...
        self._base_number = 0  # ... and its number
        self._exits: dict[int, int] = {}
        self._forgotten: set[int] = set()  # instances whose exits nobody waits for
        self.closed = False

    @property
    def pid(self) -> int:
        return self._process.pid

    def spawn(self, request: dict[str, Any], base: dict[str, Any],
              fds: Sequence[int]) -> tuple[int, socket.socket]:
        """Start an instance process on ``request`` with ``fds`` (its log and status files;
        the caller keeps and closes its own copies) and ``base`` (see `server.settle`: sent
        to the server when it changes, and to a spare only if it was forked before). Returns
        its pid and the socket to talk to it."""
        while True:
            with self._lock, self._talking():
                if self.closed:
                    raise ForkServerError(
                        "the fork server was shut down (the pytest session ended)")
                while self._channel.poll(0):  # spares (and exits) that came meanwhile
                    self._read()
                if base != self._base:  # (before any spare is asked for: those have it)
                    self._channel.send(("base", base), reading=self._read)
                    self._base, self._base_number = base, self._base_number + 1
                if not self._spares:
                    self._ask_for_spare()
                    limit = _now() + _ANSWER_WAIT_S
                    while not self._spares:
                        if not self._channel.poll(limit - _now()):
                            raise ForkServerError(
                                f"the fork server did not answer within {_ANSWER_WAIT_S:g} s")
                        self._read(waiting_for_spare=True)
                pid, sock, forked_with = self._spares.popleft()
                self._ask_for_spare()  # the next one, forked while this one starts
                request["base"] = None if forked_with == self._base_number else base
            try:
                Channel(sock).send(("request", request), fds)
            except ChannelClosed:  # it died while it waited: take the next
                sock.close()
                with self._lock:
                    if self._exits.pop(pid, None) is None:
                        self._forgotten.add(pid)  # (its exit is nobody's to wait for)
                self._post(("release", pid, 0))
                continue
            return pid, sock

    def _ask_for_spare(self) -> None:
        if not self._spare_asked:
            self._channel.send(("spare",), reading=self._read)
            self._spare_asked, self._asked_with = True, self._base_number

    def kill(self, pid: int) -> None:
        """Kill the instance and everything in its process group (while coverage measures it,
        first with a signal its runtime handles by saving its data, then after a grace)."""
        self._post(("kill", pid))

    def release(self, pid: int, grace_s: float) -> None:
        """The instance was told to stop: kill it if it has not exited after ``grace_s``.
        (Its exit is kept for `exit_code` or `await_exits`.)"""
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

    def await_exits(self, pids: Iterable[int], timeout: float) -> set[int]:
        """Wait up to ``timeout`` for the instances ``pids`` to exit (and be reaped); returns
        those that have not. (Their exits are used up: `exit_code` no longer has them.)"""
        waiting = set(pids)
        limit = _now() + timeout
        with self._lock, self._talking():
            while True:
                for pid in [pid for pid in waiting if pid in self._exits]:
                    del self._exits[pid]
                    waiting.discard(pid)
                left = limit - _now()
                if not waiting or self.closed or left <= 0:
                    return waiting
                if self._channel.poll(left):
                    self._read()

    def end(self, pids: Iterable[int]) -> None:
        """Return once the instances ``pids`` (told to stop, or killed) have exited and been
        reaped: after a moment to exit, those left are killed. (If the server has died, so
        have they, of its death.)"""
        with contextlib.suppress(ForkServerError):
            left = self.await_exits(pids, _END_WAIT_S)
            for pid in left:
                self.kill(pid)
            self.await_exits(left, _KILLED_WAIT_S)

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
                    while self._channel.poll(0):  # (what it told us meanwhile: exits)
                        self._read()
                    # (read while sending too: neither side may wait on a full buffer)
                    self._channel.send(message, reading=self._read)

    def _read(self, waiting_for_spare: bool = False) -> tuple[Any, ...]:
        """One message; spares and exit notices are filed on the way (call with the lock
        held). A failed fork raises `ForkFailed` for a caller that waits for a spare."""
        message: tuple[Any, ...]
        try:
            message, fds = self._channel.recv_with_fds()
        except DescriptorsDropped as dropped:  # a spare whose socket we had no room for
            message = dropped.message
            self._forgotten.add(message[1])  # (it exits, its end of the socket closed)
            self._spare_asked = False
            if waiting_for_spare:
                raise
            return message
        if message[0] == "spare":
            self._spares.append((message[1], socket.socket(fileno=fds[0]), self._asked_with))
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
        except (ForkFailed, DescriptorsDropped):  # (whole messages: the stream is intact)
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


