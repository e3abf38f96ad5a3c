"""`ProcessHost`: every instance a real OS process, forked by the fork server. [test process]

The same interface as `inprocess.host.InProcessHost`, so the control plane does not know which
one it drives. Inside the instance process, `runtime` runs the phases with the in-process machinery
(virtual time, faults, a sleep past the deadline); this side adds what only a process boundary
gives: a phase still running when the instance's clock passes its deadline (busy code, a C
call, a deadlock) is killed with its whole process group, a process that dies is reported as
``crashed`` with its exit code or signal, and memory above ``memory_size`` as
``memory_exceeded``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import logging
import math
import os
import sys
import threading
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

from ..._clock import Clock, real_time
from ..._clock import real_monotonic as _now
from ..._redaction import Redactor, Secrets, no_redaction
from ...context import ContextFields
from ..inprocess.namespace import code_root_names
from ..protocol import Injection, InstanceSpec, PhaseOutcome, StartOutcome
from .client import (
    DescriptorLimitError,
    ForkServer,
    ForkServerError,
    anonymous_file,
    describe_exit,
    instance_environment,
    peak_rss_bytes,
    shared_server,
)
from .coverage_support import measuring_coverage
from .wire import INSTANCE_STATUS, Channel, ChannelClosed, frame_of, portable_exception

_POLL_S = 0.02
"""How often the host looks at a running phase's memory and real-time deadline."""

_EXIT_WAIT_S = 1.0
"""How long an instance that closed its connection has to be reaped before it is killed
(a crashed one is reaped within milliseconds; one that closed the connection but lives is not)."""
_STOP_GRACE_S = 5.0
"""How long a stopped instance has to exit before the fork server kills it."""


class ProcessHost:
    """Runs each instance in a process of its own. [assumption] The process serves one
    request at a time: requests that share an instance (``concurrency_num`` > 1) take turns,
    in order."""

    serves_side_by_side = False

    def __init__(self, clock: Clock, *, real_time_limit: float | None = None,
                 redact: Redactor = no_redaction, memory_size: int = 128,
                 inherit_env: bool = False, secrets: tuple[str, ...] = ()) -> None:
        self.clock = clock
        self.redact = redact
        self.real_time_limit = real_time_limit
        self.memory_size = memory_size
        self.memory_limit = memory_size << 20
        self._inherit_env = inherit_env
        self._secrets = Secrets(secrets)  # (its repr masks them: frames holding it print)
        self._function_env: dict[str, str] = {}
        self.in_flight: set[ProcessInstance] = set()
        """Instances running a phase now (their requests' threads add and remove them)."""
        self.ending: dict[ForkServer, set[int]] = {}
        """The instances stopped or killed since the last close, whose exits `close` waits
        for, by the fork server that forked them."""
        self.aborting = False
        self.holding = 0
        """Instances not stopped yet (each holds descriptors of ours: its socket and files)."""

    def abort(self) -> None:
        self.aborting = True
        for instance in tuple(self.in_flight):
            instance.abort()

    def resume(self) -> None:
        self.aborting = False

    def open(self, environment: Mapping[str, str]) -> None:
        self._function_env = dict(environment)
        shared_server()  # started now rather than in the first request's time

    def close(self) -> None:
        """Return once every instance stopped since the last close has exited (and been
        reaped): each has a moment to exit, then it is killed."""
        ending, self.ending = self.ending, {}
        for server, pids in ending.items():
            server.end(pids)

    def start_instance(self, spec: InstanceSpec) -> ProcessInstance:
        server = shared_server()  # (a new one if the last was abandoned)
        request = {"spec": spec, "code_root_names": code_root_names(spec.code_root),
                   "virtual": self.clock.virtual, "memory_limit": self.memory_limit,
                   "secrets": self._secrets}
        base = {"env": instance_environment(os.environ, self._function_env,
                                            inherit=self._inherit_env),
                "sys_path": list(sys.path), "cwd": os.getcwd(),  # (the code root: runtime's)
                "log_level": logging.getLogger().getEffectiveLevel()}
        log_fd = status_fd = -1
        try:
            log_fd = anonymous_file("fginit-instance-log")
            status_fd = anonymous_file("fginit-instance-status")
            lead = self.clock.now() - real_time()  # (the instance's clock starts at ours)
            os.pwrite(status_fd, INSTANCE_STATUS.pack(lead, 0, 0), 0)
            pid, sock = server.spawn(request, base, [log_fd, status_fd])
        except BaseException as exc:
            for fd in (log_fd, status_fd):
                if fd >= 0:
                    os.close(fd)
            if isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE):
                raise DescriptorLimitError(self.holding, exc) from exc
            raise
        self.holding += 1
        return ProcessInstance(self, server, pid, Channel(sock), log_fd, status_fd)


class ProcessInstance:
    """One instance process, as the test process sees it."""

    def __init__(self, host: ProcessHost, server: ForkServer, pid: int, channel: Channel,
                 log_fd: int, status_fd: int) -> None:
        self._host = host
        self._server = server
        self._pid = pid
        self._channel = channel
        self._log_fd = log_fd
        self._log_read = 0  # how much of the log file has been read
        self._status_fd = status_fd
        self._phases = 0  # phases sent
        self._turn = threading.Lock()
        self._alive = True
        self._stopped = False
        self._death: PhaseOutcome | None = None  # how it ended, once it did

    @property
    def module(self) -> ModuleType | None:
        """``None``: the handler's module lives in another process."""
        return None

    def alive(self) -> bool:
        """Whether the process can still serve (it may have died while idle)."""
        if self._alive and self._channel.poll(0):  # idle, yet readable: it closed its end
            self._crashed()
        return self._alive

    @property
    def pid(self) -> int | None:
        return self._pid

    def start(self, fields: ContextFields, deadline: float,
              injection: Callable[[], Injection | None] | None,
              load: Injection | None = None) -> StartOutcome:
        payload = {"context": fields, "load": _portable(load)}
        outcome, loaded = self._phase("start", payload, deadline, injection)
        return StartOutcome(outcome, loaded)

    def handle(self, event: Any, fields: ContextFields, deadline: float,
               injection: Injection | None) -> PhaseOutcome:
        payload = {"context": fields, "event": event,
                   "injection": _portable(injection)}
        outcome, _ = self._phase("handle", payload, deadline, None)
        return outcome

    def pre_stop(self, fields: ContextFields, deadline: float,
                 injection: Injection | None) -> PhaseOutcome:
        payload = {"context": fields, "injection": _portable(injection)}
        outcome, _ = self._phase("pre_stop", payload, deadline, None)
        return outcome

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        try:
            if self._alive:
                self._alive = False
                with contextlib.suppress(ChannelClosed, OSError):
                    self._channel.send(("stop", None))
                self._wait_or_release()
        finally:
            self._channel.close()
            os.close(self._log_fd)
            os.close(self._status_fd)
            self._host.holding -= 1

    # --- one phase ---------------------------------------------------------------------------

    def abort(self) -> None:
        """Kill the process under a running phase (from another thread); the phase's thread
        then finds it dead."""
        if self._alive:
            with contextlib.suppress(ForkServerError):
                self._server.kill(self._pid)

    def _phase(self, op: str, payload: dict[str, Any], deadline: float,
               injection: Callable[[], Injection | None] | None) -> tuple[PhaseOutcome, bool]:
        # One phase at a time on the connection (the emulator sends the requests that share
        # an instance one after the other; this is the guard).
        with self._turn:
            in_flight = self._host.in_flight
            in_flight.add(self)
            if self._host.aborting:  # (the send was interrupted before this phase began)
                self.abort()
            try:
                return self._run_phase(op, payload, deadline, injection)
            finally:
                in_flight.discard(self)

    def _run_phase(self, op: str, payload: dict[str, Any], deadline: float,
                   injection: Callable[[], Injection | None] | None
                   ) -> tuple[PhaseOutcome, bool]:
        host, clock = self._host, self._host.clock
        if not self._alive:  # (an interrupted test may go on using the emulator; a request
            return self._dead(), False  # that shared the instance may find it ended)
        payload["deadline"] = deadline
        payload["offset"] = clock.now() - real_time()
        payload["fault_queued"] = injection is not None
        frame = frame_of((op, payload))  # (an event too deep to send fails here, unsent)
        self._phases += 1
        try:
            self._channel.send_frame(frame)
            ended, body, loaded = self._await_answer(deadline, injection, op != "start")
        except ChannelClosed:
            return self._crashed(deadline), op != "start"
        except BaseException:  # KeyboardInterrupt, or a bug: leave no process running
            self._kill()
            raise
        if ended is not None:  # killed, or it died
            return ended, loaded
        status, ended_at, exception, unserializable, loaded, value_json, peak = body
        if peak > host.memory_limit or status == "memory_exceeded":  # (injected: at the limit)
            return self._killed("memory_exceeded", deadline, peak), loaded
        outcome = PhaseOutcome(status, ended_at, None, exception, unserializable=unserializable,
                               peak_bytes=peak)
        if value_json is not None:
            try:
                outcome.value = json.loads(value_json)
            except RecursionError as exc:  # (the instance's stack was shallower than ours)
                outcome.unserializable = (type(exc).__name__, str(exc))
        self._follow(ended_at)
        outcome.log = self._read_log()
        return outcome, loaded

    def _await_answer(self, deadline: float, injection: Callable[[], Injection | None] | None,
                      loaded: bool) -> tuple[PhaseOutcome | None, Any, bool]:
        """Wait for the phase's answer, watching its deadline and memory: (the outcome if it
        was killed or died, else ``None``; the answer's body; whether its code loaded)."""
        host, channel = self._host, self._channel
        hung_at = (_now() + host.real_time_limit
                   if host.real_time_limit is not None and host.clock.virtual else math.inf)
        try:
            while True:
                # Stopped at the deadline of the instance's own clock, which its sleeps may
                # have moved ahead of ours (the status file says by how much).
                offset, ended, _ = self._status()
                left = min(deadline - (real_time() + offset), hung_at - _now())
                if left <= 0 and ended < self._phases:
                    return self._killed("timeout", deadline), None, loaded
                wait = _POLL_S if ended == self._phases else min(_POLL_S, max(left, 0.0))
                if not channel.poll(wait):  # (an ended phase: its answer is on the way)
                    if ended < self._phases:
                        # The peak first, then whether the phase had ended by then: memory it
                        # takes after, to copy its answer, is not the function's.
                        peak = peak_rss_bytes(self._pid)
                        if peak > host.memory_limit and self._status()[1] < self._phases:
                            return self._killed("memory_exceeded", deadline, peak), None, loaded
                    continue
                kind, body = channel.recv()
                if kind != "loaded":
                    return None, body, loaded
                loaded = True  # its code loaded: the initializer's fault, if one is queued
                answer = injection() if injection is not None else None
                channel.send(("injection", _portable(answer)))
        except ChannelClosed:
            return self._crashed(deadline), None, loaded

    def _dead(self) -> PhaseOutcome:
        """The outcome for a phase sent to an instance that has already ended (a request
        that waited its turn on it ends when it died)."""
        death = self._death
        if death is None:
            return PhaseOutcome("crashed", self._host.clock.now(), detail="killed")
        self._follow(death.ended)
        return PhaseOutcome("crashed", self._host.clock.now(), detail=death.detail,
                            exit_code=death.exit_code)

    def _killed(self, status: str, deadline: float, peak: int = 0) -> PhaseOutcome:
        """Kill the instance for a timeout, or for memory above its limit (``peak`` seen)."""
        if status == "memory_exceeded":
            peak = max(peak, peak_rss_bytes(self._pid))  # (while it can still be read)
        self._kill()
        clock = self._host.clock
        if status == "timeout":
            self._follow(deadline)
            self._death = PhaseOutcome("crashed", deadline, detail="killed at a timeout")
            return PhaseOutcome("timeout", deadline, log=self._read_log())
        self._follow_status(deadline)  # the time it passed before it was stopped
        used_mb = -(-peak // (1 << 20))  # rounded up: 128.4 MB is over a 128 MB limit
        detail = f"{used_mb} MB used of {self._host.memory_size} MB"
        self._death = PhaseOutcome("crashed", clock.now(), detail=f"killed: {detail}")
        return PhaseOutcome("memory_exceeded", clock.now(), log=self._read_log(), detail=detail)

    def _crashed(self, deadline: float | None = None) -> PhaseOutcome:
        """The instance closed its connection: it died (or, alive, closed it: kill it)."""
        self._alive = False
        try:
            code = self._server.exit_code(self._pid, _EXIT_WAIT_S)
        except ForkServerError:  # the server died: so did this instance (and its exit code)
            code = None
        if code is None:
            self._server.kill(self._pid)
            self._released()
        if deadline is not None:
            self._follow_status(deadline)  # the time it passed before it died
        self._death = PhaseOutcome("crashed", self._host.clock.now(),
                                   detail=describe_exit(code), exit_code=code)
        return PhaseOutcome("crashed", self._host.clock.now(), log=self._read_log(),
                            detail=describe_exit(code), exit_code=code)

    def _kill(self) -> None:
        if self._alive:
            self._alive = False
            self._server.kill(self._pid)
            self._wait_or_release()

    def _wait_or_release(self) -> None:
        """Let the ended instance go. While coverage measures the test process, wait for it
        to exit: it saves its coverage data as it exits, and pytest-cov combines the data
        files as soon as the tests have run."""
        if measuring_coverage() and self._server.exit_code(self._pid, _STOP_GRACE_S) is not None:
            return
        self._released()

    def _released(self) -> None:
        """Let the fork server kill the instance if it has not exited after a grace, and
        have the host's `close` wait for its exit."""
        self._host.ending.setdefault(self._server, set()).add(self._pid)
        self._server.release(self._pid, _STOP_GRACE_S)

    def _status(self) -> tuple[float, int, int]:
        """The instance's status file: (its clock's lead, last phase ended, peak then)."""
        status: tuple[float, int, int] = INSTANCE_STATUS.unpack(
            os.pread(self._status_fd, INSTANCE_STATUS.size, 0))
        return status

    def _follow_status(self, deadline: float) -> None:
        """Move the emulator's clock up to where the (ended) instance's was, at most to the
        deadline of its phase."""
        self._follow(min(real_time() + self._status()[0], deadline))

    def _follow(self, instance_now: float) -> None:
        """Move the emulator's clock up to the instance's (its code passed virtual time)."""
        clock = self._host.clock
        if clock.virtual and instance_now > clock.now():
            clock.pass_time(instance_now - clock.now())

    def _read_log(self) -> str:
        """What the instance wrote since the last read. (Read from where the last read ended,
        never truncated: the instance's threads may be writing at any moment.)"""
        fd = self._log_fd
        size = os.fstat(fd).st_size
        if size <= self._log_read:
            return ""
        data = os.pread(fd, size - self._log_read, self._log_read)
        self._log_read += len(data)
        text = self._host.redact(data.decode("utf-8", "replace"))
        sys.stdout.write(text)  # where in-process output goes: the test's (captured) stdout
        return text


def _portable(injection: Injection | None) -> Injection | None:
    """The injection as it can cross to the instance (its exception in a carrier)."""
    if injection is None or injection.exception is None:
        return injection
    return dataclasses.replace(injection, exception=portable_exception(injection.exception))
