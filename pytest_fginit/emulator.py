"""`FunctionEmulator`: the platform's control plane for one function.

It decides what FunctionGraph decides (reference, section 1 and 2): which instance serves a
request, when an instance is created and initialized, how often a failed initialization is
retried (R3), what a timeout does to an instance, what is billed. How user code is loaded and
run is the host's business (`host.py`); what happened is kept as `records`.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
from collections.abc import Iterable
from json import dumps as _json_dumps
from json import loads as _json_loads
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from .clock import Clock, RealClock, VirtualClock
from .config import FunctionConfig
from .context import Context, cpu_millicores
from .errors import (
    ERROR_CODES,
    MAX_BODY_BYTES,
    ErrorKind,
    FunctionConfigError,
    FunctionError,
    InstanceSetupError,
)
from .faults import Faults
from .host import InProcessHost, InstanceHost, InstanceSpec, PhaseOutcome
from .records import Billing, InitAttempt, Instance, InstanceState, Invocation, PreStop
from .redaction import redactor

_VERSION = re.compile(r"^(?!latest$)[A-Za-z0-9][A-Za-z0-9._-]{0,41}$")
JournalEntry = tuple[float, str, Any]
"""``(seconds since start, what, record)`` with ``what`` one of ``instance`` (a state change:
record is ``(instance, state)``), ``attempt``, ``invocation``, ``advance`` (record: seconds),
``pre_stop`` (record: the instance), ``deploy`` (record: what changed)."""


class EmulatorListener(Protocol):
    """Told about what happens, as it happens (the plugin relays these to pluggy hooks)."""

    def instance_state_changed(self, instance: Instance, previous: InstanceState | None) -> None:
        ...

    def invocation_finished(self, invocation: Invocation) -> None: ...


class FunctionEmulator:
    """Emulated FunctionGraph instances of one function.

    Use it as a context manager (``with FunctionEmulator(config) as fn: fn.invoke({...})``) or
    call `start()` and `close()`; in pytest, the `fg_function` fixture does this for you.
    """

    def __init__(
        self,
        config: FunctionConfig,
        *,
        listeners: Iterable[EmulatorListener] = (),
    ) -> None:
        self.faults = Faults(has_initializer=config.initializer_handler is not None,
                             has_pre_stop=config.pre_stop_handler is not None,
                             redact=self.redact)
        self.instances: list[Instance] = []
        """Every instance created, in creation order."""
        self.invocations: list[Invocation] = []
        """Every invocation, in order."""
        self.journal: list[JournalEntry] = []
        self._ready: list[Instance] = []  # live instances able to serve, oldest first
        self._listeners = tuple(listeners)
        self._clock: Clock = VirtualClock() if config.virtual_time else RealClock()
        self._version = "latest"
        self._configure(config)
        self._t0 = 0.0
        self._state: str = "new"
        self._requests = 0
        self._invoking = False

    def _configure(self, config: FunctionConfig) -> None:
        """Take ``config`` on: what instances created from now on run, and how."""
        self.config = config
        self._redact = redactor(config.secrets)
        self.faults.initializer.available = config.initializer_handler is not None
        self.faults.pre_stop.available = config.pre_stop_handler is not None
        self._host: InstanceHost
        if config.isolation == "process":
            from .process_host import ProcessHost  # (imports the fork server's client)

            self._host = ProcessHost(
                self._clock, real_time_limit=config.real_time_limit, redact=self._redact,
                memory_size=config.memory_size, inherit_env=config.inherit_env,
                secrets=config.secrets,
            )
        else:
            self._host = InProcessHost(
                self._clock, real_time_limit=config.real_time_limit, redact=self._redact
            )
        handler_path = config.handler_path  # (looks at the file system: once)
        self._spec = InstanceSpec(
            code_root=config.code_root,
            handler_module=config.handler_module,
            handler_function=config.handler_function,
            initializer_function=config.initializer_function,
            handler_file=(str(handler_path) if "." not in config.handler_module
                          and handler_path and handler_path.suffix == ".py" else None),
            instance_setup=config.instance_setup,
            pre_stop_function=config.pre_stop_function,
        )

    # --- life ----------------------------------------------------------------------------

    def start(self) -> FunctionEmulator:
        if self._state == "new":
            self._clock.start()
            self._t0 = self._clock.now()
            try:
                self._host.open(self._environment())
            except BaseException:
                self._clock.stop()  # leave no freeze behind
                raise
            self._state = "running"
        elif self._state == "closed":
            raise RuntimeError("this FunctionEmulator is closed; create a new one")
        return self

    def close(self) -> None:
        """Stop every instance, restore the process (clock, environment, ``time.sleep``)."""
        if self._state != "running":
            self._state = "closed"
            return
        try:
            # Every instance is stopped, also an instance left initializing by an interrupt
            # (KeyboardInterrupt in user code), before a listener is told: a listener that
            # raises must not leave instances' modules behind.
            live = [i for i in self.instances if i.state in ("ready", "initializing")]
            try:
                for instance in live:  # (the end of the test stops them: pre-stop first)
                    if (instance.state == "ready" and instance._hosted is not None
                            and instance._hosted.alive()):
                        self._run_pre_stop(instance)
            finally:
                for instance in live:
                    if instance._hosted is not None:
                        instance._hosted.stop()
                for instance in live:
                    self._set_state(instance, "recycled")
        finally:
            self._state = "closed"
            try:
                self._host.close()
            finally:
                self._clock.stop()

    def __enter__(self) -> FunctionEmulator:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # --- what a test does ----------------------------------------------------------------

    def invoke(self, event: Any = None, *, request_id: str | None = None) -> Invocation:
        """Send one synchronous request; the answer is recorded and returned, never raised."""
        self._require_running("invoke()")
        if self._invoking:
            raise RuntimeError(
                "invoke() is already running: an emulator serves one request at a time "
                "(call it from one thread; concurrent requests are not emulated yet)"
            )
        self._invoking = True
        try:
            return self._invoke(event, request_id)
        finally:
            self._invoking = False

    def _invoke(self, event: Any, request_id: str | None) -> Invocation:
        try:
            body = _json_dumps(event)
            payload = _json_loads(body)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"invoke(): the event must be JSON-serialisable: {exc}") from None
        self._reclaim_idle()  # (before the request arrives: its time is its own)
        self._requests += 1
        invocation = Invocation(
            request_id=request_id or f"00000000-0000-4000-8000-{self._requests:012d}",
            event=payload,
            started_at=self._elapsed(),
            memory_size=self.config.memory_size,
            _redact=self._redact,
        )
        size = _body_size(event, body)
        if size > MAX_BODY_BYTES:  # refused by the platform: no instance sees it
            # [assumption] the platform's wording of this refusal is not published.
            invocation.error = self._error(
                "request_too_large", None,
                f"Request body too large: {size} bytes, the limit is {MAX_BODY_BYTES}.")
        else:
            instance = self._warm_instance()
            if instance is None:
                invocation.cold_start = True
                instance = self._start_instance(invocation)
            if instance is not None:
                self._serve(instance, invocation)
        self.invocations.append(invocation)
        self.journal.append((self._elapsed(), "invocation", invocation))
        for listener in self._listeners:
            listener.invocation_finished(invocation)
        return invocation

    def advance(self, seconds: float) -> None:
        """Move the clock user code sees forward by ``seconds`` (virtual time only)."""
        self._require_running("advance()")
        if (isinstance(seconds, bool) or not isinstance(seconds, (int, float))
                or not 0 <= seconds < math.inf):
            raise ValueError(f"advance() moves the clock forward only: seconds must be a "
                             f"finite number >= 0, not {seconds!r}")
        if not self._clock.virtual:
            raise RuntimeError("advance() needs virtual_time=True; this function runs on "
                               "real time")
        target = self._elapsed() + seconds
        while self._ready:  # reclaim each instance at its idle deadline, on the way
            due = min(i.last_used_at for i in self._ready) + self.config.instance_idle_timeout
            if due >= target:
                break
            self._clock.pass_time(max(0.0, due - self._elapsed()) + 1e-6)
            self._reclaim_idle()
        self._clock.pass_time(max(0.0, target - self._elapsed()))
        self.journal.append((self._elapsed(), "advance", seconds))

    def recycle(self) -> None:
        """Stop every live instance: the next request is a cold start."""
        for instance in list(self._ready):
            self._stop(instance, "recycled")

    def update(self, **fields: Any) -> FunctionConfig:
        """Deploy new code or configuration (R11): ``fields`` are `FunctionConfig` keys
        (``code_root=`` for new code; the same folder changed on disk is new code too). The
        live instances stop (pre-stop first, once their requests are done: here, one request
        runs at a time); every request from now on goes to new instances, which run the new
        initializer first. Returns the new configuration."""
        self._require_running("update()")
        for fixed in ("isolation", "virtual_time"):
            if fixed in fields and fields[fixed] != getattr(self.config, fixed):
                raise FunctionConfigError(
                    fixed, f"cannot change on a running emulator (it is "
                           f"{getattr(self.config, fixed)!r}): start a new FunctionEmulator")
        config = self.config.replace(**fields)  # (checked before anything stops)
        self._redeploy(config, f"updated ({', '.join(sorted(fields)) or 'same configuration'})")
        return config

    def publish_version(self, version: str) -> None:
        """Publish the current code and configuration as ``version``: requests from now on
        run on new instances of it, whose context says ``getVersion() == version``."""
        self._require_running("publish_version()")
        if not isinstance(version, str) or not _VERSION.match(version):
            raise FunctionConfigError(
                "version", f"{version!r}: allowed: 1-42 letters, digits, '.', '-' or '_', "
                           "starting with a letter or digit, and not 'latest'")
        self._version = version
        self._redeploy(self.config, f"version {version} published")

    def _redeploy(self, config: FunctionConfig, what: str) -> None:
        for instance in list(self._ready):
            self._stop(instance, "recycled")
        self._host.close()  # (the environment of instances changes with the configuration)
        self._configure(config)
        self._host.open(self._environment())
        self.journal.append((self._elapsed(), "deploy", what))

    @property
    def billing(self) -> Billing:
        """What this function's requests so far are billed, and what it took to serve them."""
        attempts = [a for i in self.invocations for a in i.init_attempts]
        return Billing(
            invocations=len(self.invocations),
            instances=len(self.instances),
            cold_starts=sum(1 for i in self.invocations if i.cold_start),
            init_failures=sum(1 for a in attempts if not a.ok),
            init_timeouts=sum(1 for a in attempts
                              if a.error is not None and a.error.kind == "init_timeout"),
            billed_duration_ms=sum(i.billed_duration_ms for i in self.invocations),
            gb_s=sum(i.billed_gb_s for i in self.invocations),
        )

    @property
    def now(self) -> float:
        """Seconds since the epoch on the emulator's clock."""
        return self._clock.now()

    @property
    def elapsed(self) -> float:
        """Seconds on the emulator's clock since it started."""
        return self._elapsed()

    def redact(self, text: str) -> str:
        """``text`` with every secret of this function's configuration masked."""
        return self._redact(text)

    def __repr__(self) -> str:
        live = sum(1 for i in self.instances if i.state == "ready")
        return (f"<FunctionEmulator {self.config.func_name!r} {self._state}: "
                f"{len(self.instances)} instances ({live} ready), "
                f"{len(self.invocations)} invocations>")

    # --- the platform's rules --------------------------------------------------------------

    def _reclaim_idle(self) -> None:
        """Stop the instances idle for ``instance_idle_timeout`` (reference, section 2)."""
        now = self._elapsed()
        for instance in list(self._ready):
            if now - instance.last_used_at > self.config.instance_idle_timeout:
                self._stop(instance, "reclaimed")

    def _run_pre_stop(self, instance: Instance) -> None:
        """Run the pre-stop handler of a ready instance that is being stopped, and record it.

        (An instance whose handler timed out, crashed or ran out of memory gets none: the
        platform killed it.)"""
        if (self.config.pre_stop_handler is None or instance._hosted is None
                or instance.pre_stop is not None):  # (once: also after an interrupted run)
            return
        timeout = self.config.pre_stop_timeout or 3
        started = self._clock.now()
        deadline = started + timeout
        context = self._context(f"pre-stop-{instance.id}", timeout, deadline)
        # Marked as run before it runs: an interrupt in it must not make close() run it again.
        instance.pre_stop = PreStop(ok=False, error=None, duration_ms=0.0,
                                    started_at=started - self._t0)
        outcome = instance._hosted.pre_stop(context, deadline, self.faults.pre_stop.take())
        error = self._error_of(outcome, "pre_stop_failed", "pre_stop_timeout", timeout)
        instance.pre_stop = PreStop(ok=error is None, error=error,
                                    duration_ms=(outcome.ended - started) * 1000.0,
                                    started_at=started - self._t0, log=outcome.log)
        self.journal.append((instance.pre_stop.started_at, "pre_stop", instance))

    def _warm_instance(self) -> Instance | None:
        # With one request at a time there is at most one ready instance.
        while self._ready:
            instance = self._ready[-1]
            if instance._hosted is not None and instance._hosted.alive():
                return instance
            self._stop(instance, "killed")  # its process died while idle: the platform's
        return None                         # instance would be gone too

    def _start_instance(self, invocation: Invocation) -> Instance | None:
        """Bring up new instances until one initializes: 1 + init_retries attempts (R1-R3)."""
        config = self.config
        phase_timeout = config.initializer_timeout or config.timeout
        for _ in range(1 + config.init_retries):
            instance = Instance(id=f"instance-{len(self.instances) + 1}",
                                created_at=self._elapsed())
            self.instances.append(instance)
            self._set_state(instance, "initializing")
            hosted = self._host.start_instance(self._spec)
            instance._hosted = hosted
            started = self._clock.now()
            deadline = started + phase_timeout
            context = self._context(invocation.request_id, phase_timeout, deadline)
            faults = self.faults.initializer
            start = hosted.start(context, deadline, faults.take if faults.pending else None)
            outcome = start.phase
            if outcome.status == "setup_error":
                self._stop(instance, "failed")
                assert outcome.exception is not None
                raise InstanceSetupError(f"{instance.id}: {outcome.exception.message}")
            if start.loaded and self._spec.initializer_function is not None:
                instance.initializer_calls += 1
            error = self._error_of(outcome, "init_failed" if start.loaded else "load_error",
                                   "init_timeout", phase_timeout)
            attempt = InitAttempt(
                instance=instance,
                ok=error is None,
                error=error,
                duration_ms=(outcome.ended - started) * 1000.0,
                started_at=started - self._t0,
                log=outcome.log,
            )
            invocation.init_attempts.append(attempt)
            self.journal.append((attempt.started_at, "attempt", attempt))
            if error is None:
                self._set_state(instance, "ready")
                return instance
            invocation.error = error  # the last attempt's error stands if all fail
            self._stop(instance, "failed")
        return None

    def _serve(self, instance: Instance, invocation: Invocation) -> None:
        timeout = self.config.timeout
        started = self._clock.now()
        context = self._context(invocation.request_id, timeout, started + timeout)
        outcome = instance._hosted.handle(  # type: ignore[union-attr]
            invocation.event, context, started + timeout, self.faults.handler.take()
        )
        invocation.instance = instance
        invocation.duration_ms = (outcome.ended - started) * 1000.0
        if outcome.peak_bytes is not None:
            invocation.memory_used_mb = math.ceil(outcome.peak_bytes / (1 << 20))
        invocation.handler_log = outcome.log
        instance.invocations.append(invocation)
        instance.last_used_at = self._elapsed()  # (idle from now on)
        invocation.error = self._error_of(outcome, "handler_error", "handler_timeout", timeout)
        if invocation.error is None and outcome.unserializable is not None:
            type_name, message = outcome.unserializable
            invocation.error = self._error(
                "result_not_serializable", type_name,
                f"the handler's return value is not JSON-serialisable: {message}",
            )
        elif invocation.error is None:
            # What the caller decodes: the result went through JSON on the wire. (json's functions
            # are bound at import so that a test mocking json for user code doesn't break this.)
            try:
                text = _json_dumps(outcome.value)
                size = _body_size(outcome.value, text)
                if size > MAX_BODY_BYTES:
                    invocation.error = self._error(
                        "response_too_large", None,
                        f"the response body is {size} bytes, larger than the limit of "
                        f"{MAX_BODY_BYTES} bytes (6 MB)")
                else:
                    invocation.result = _json_loads(text)
                    invocation.ok = True
            except (TypeError, ValueError) as exc:
                invocation.error = self._error(
                    "result_not_serializable", type(exc).__name__,
                    f"the handler's return value is not JSON-serialisable: {exc}",
                )
        elif outcome.status in ("timeout", "crashed", "memory_exceeded"):
            # [assumption] a timed-out instance is discarded (reference, section 2); one whose
            # process ended or passed its memory is gone.
            self._stop(instance, "killed")

    def _error_of(self, outcome: PhaseOutcome, error_kind: ErrorKind,
                  timeout_kind: ErrorKind, timeout: int) -> FunctionError | None:
        if outcome.status == "ok":
            return None
        if outcome.status == "timeout":
            what = {"init_timeout": "runtime initialization",
                    "pre_stop_timeout": "pre-stop handler"}.get(timeout_kind,
                                                                "function invocation")
            return self._error(timeout_kind, None, f"{what} timed out after {timeout} s")
        if outcome.status == "crashed":
            return self._error("crashed", None, f"the runtime process exited ({outcome.detail})")
        if outcome.status == "memory_exceeded":
            return self._error("memory_exceeded", None,
                               f"runtime memory limit exceeded ({outcome.detail})")
        exc = outcome.exception
        assert exc is not None
        return self._error(error_kind, exc.type, exc.message, exc.stack_trace)

    def _error(self, kind: ErrorKind, type_name: str | None, message: str,
               stack_trace: tuple[str, ...] = ()) -> FunctionError:
        return FunctionError(kind, ERROR_CODES[kind], type_name, self.redact(message),
                             tuple(self.redact(line) for line in stack_trace))

    def _stop(self, instance: Instance, state: InstanceState) -> None:
        if instance.state == "ready" and state in ("recycled", "reclaimed"):
            if instance._hosted is not None and not instance._hosted.alive():
                state = "killed"  # its process died while idle: the platform's is gone too
            else:
                self._run_pre_stop(instance)
        if instance._hosted is not None:
            instance._hosted.stop()
        self._set_state(instance, state)

    def _set_state(self, instance: Instance, state: InstanceState) -> None:
        previous = instance.state if instance.state != state else None
        if state == "ready":
            self._ready.append(instance)
            instance.last_used_at = self._elapsed()
        elif previous == "ready":
            self._ready.remove(instance)
        instance.state = state
        self.journal.append((self._elapsed(), "instance", (instance, state)))
        for listener in self._listeners:
            listener.instance_state_changed(instance, previous)

    # --- helpers -------------------------------------------------------------------------

    def _context(self, request_id: str, timeout: int, deadline: float) -> Context:
        config, clock = self.config, self._clock
        return Context(
            request_id=request_id,
            func_name=config.func_name or "function",
            timeout=timeout,
            memory_size=config.memory_size,
            remaining_ms=lambda: max(0, int((deadline - clock.now()) * 1000)),
            now=clock.now,
            user_data=config.user_data,
            encrypted_user_data=config.encrypted_user_data,
            package=config.package,
            project_id=config.project_id,
            version=self._version,
            access_key=config.access_key,
            secret_key=config.secret_key,
            security_token=config.security_token,
            token=config.token,
            redact=self.redact,
        )

    def _environment(self) -> dict[str, str]:
        """The variables FunctionGraph's runtime sets (reference, section 3), and user_data.

        [assumption] ``encrypted_user_data`` is readable through ``getUserData`` only, so that
        secrets stay out of ``os.environ`` (and out of anything that dumps it).
        """
        c = self.config
        env = {
            "RUNTIME_PROJECT_ID": c.project_id,
            "RUNTIME_FUNC_NAME": c.func_name or "function",
            "RUNTIME_FUNC_VERSION": self._version,
            "RUNTIME_PACKAGE": c.package,
            "RUNTIME_HANDLER": c.handler,
            "RUNTIME_TIMEOUT": str(c.timeout),
            "RUNTIME_USERDATA": json.dumps(dict(c.user_data)),
            "RUNTIME_CPU": str(cpu_millicores(c.memory_size)),
            "RUNTIME_MEMORY": str(c.memory_size),
            "RUNTIME_MAX_RESP_BODY_SIZE": "6291456",
            "RUNTIME_INITIALIZER_HANDLER": c.initializer_handler or "",
            "RUNTIME_INITIALIZER_TIMEOUT": str(c.initializer_timeout or ""),
            "RUNTIME_CODE_ROOT": str(c.code_root.resolve()),
            "RUNTIME_ROOT": str(Path(__file__).resolve().parent),
            "RUNTIME_LOG_DIR": tempfile.gettempdir(),
        }
        env.update(c.user_data)
        return env

    def _elapsed(self) -> float:
        return self._clock.now() - self._t0

    def _require_running(self, what: str) -> None:
        if self._state != "running":
            raise RuntimeError(
                f"{what} needs a started emulator: use `with FunctionEmulator(config) as fn:` "
                f"or call start() first" if self._state == "new"
                else f"{what}: this FunctionEmulator is closed"
            )


def _body_size(value: Any, text: str) -> int:
    """The size of ``value`` as a JSON body: compact, in UTF-8. ``text`` (``json.dumps``'s
    default: ASCII escapes, spaced separators) is never smaller, so the exact size is worked
    out only when ``text`` is over the limit."""
    if len(text) <= MAX_BODY_BYTES:
        return len(text)
    return len(_json_dumps(value, ensure_ascii=False, separators=(",", ":"))
               .encode("utf-8", "surrogatepass"))
