"""What the emulator records for assertions: instances, initializer attempts, invocations,
the journal, and the invoke API's answer for an invocation. [test process]

Records are plain data: they hold what happened, never a handle on a live instance (the
control plane keeps those). Times (``*_at``) are seconds on the emulator's clock since the
emulator started; durations are milliseconds on the same clock, so a 300 s virtual timeout
reads as 300000 ms.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Literal, NamedTuple

from ._http_view import answer
from ._redaction import Redactor, no_redaction
from .errors import FunctionError

# The API (re-exported by `pytest_fginit`); other names here are the package's own.
__all__ = [
    "ApiResponse",
    "Billing",
    "HttpResponse",
    "InitAttempt",
    "Instance",
    "InstanceState",
    "Invocation",
    "InvocationError",
    "JournalEntry",
    "Note",
    "PreStop",
]

InstanceState = Literal["initializing", "ready", "failed", "killed", "recycled", "reclaimed"]
"""``initializing`` while code loads and the initializer runs; ``ready`` to serve requests;
``failed`` after its initialization failed (abandoned, R3); ``killed`` after a handler timeout,
crash or memory overrun (the platform discards the instance);
``recycled`` once stopped by the emulator (``recycle()``, end of test); ``reclaimed`` once
stopped for being idle longer than ``instance_idle_timeout``."""


@dataclass(eq=False)
class Instance:
    """One emulated function instance."""

    id: str
    created_at: float
    state: InstanceState = "initializing"
    initializer_calls: int = 0
    invocations: list[Invocation] = field(default_factory=list)
    """The requests it served, in order: the latest ``invocations_kept`` of them (all, with
    ``invocations_kept=None``); `invocation_count` counts every one."""
    last_used_at: float = 0.0
    """When it last finished initializing or serving (idle since then)."""
    pre_stop: PreStop | None = None
    """Its pre-stop handler's run, once it was stopped (``None``: none ran)."""
    reserved: bool = False
    """A reserved instance (``reserved_instances``): initialized ahead of requests, served
    first, never reclaimed for being idle."""
    module: ModuleType | None = field(default=None, repr=False)
    """The handler's module as loaded in this instance (``None`` if it failed to load, or in
    process isolation, where it lives in another process). It stays usable after the instance
    stopped, for white-box assertions."""
    pid: int | None = field(default=None, repr=False)
    """The instance's process id in process isolation (``None`` in-process)."""
    _let_go: int = field(default=0, repr=False)  # (its oldest invocations, no longer kept)

    @property
    def invocation_count(self) -> int:
        """How many requests it served: all of them, also those `invocations` no longer
        keeps."""
        return self._let_go + len(self.invocations)

    def __repr__(self) -> str:
        return (
            f"Instance(id={self.id!r}, state={self.state!r}, "
            f"initializer_calls={self.initializer_calls}, invocations={self.invocation_count}"
            + (", reserved=True)" if self.reserved else ")")
        )


def keep_latest(instance: Instance, kept: int) -> None:
    """Let ``instance``'s oldest invocations beyond the latest ``kept`` go (counted)."""
    excess = len(instance.invocations) - kept
    if excess > 0:
        del instance.invocations[:excess]
        instance._let_go += excess


@dataclass(eq=False)
class PreStop:
    """The run of an instance's pre-stop handler, as the instance was stopped."""

    ok: bool
    error: FunctionError | None
    duration_ms: float
    started_at: float
    log: str = ""

    def __repr__(self) -> str:
        outcome = "ok" if self.ok else repr(self.error)
        return f"PreStop({outcome}, {self.duration_ms:.3f} ms)"


@dataclass(eq=False)
class InitAttempt:
    """One attempt to bring up an instance: load its code, then run the initializer (if any)."""

    instance: Instance
    ok: bool
    error: FunctionError | None
    duration_ms: float
    started_at: float
    log: str = ""

    def __repr__(self) -> str:
        outcome = "ok" if self.ok else repr(self.error)
        return f"InitAttempt(instance={self.instance.id!r}, {outcome}, {self.duration_ms:.3f} ms)"


@dataclass(eq=False)
class Invocation:
    """One request, as the caller and the platform saw it."""

    request_id: str
    event: Any
    started_at: float
    ok: bool = False
    result: Any = None
    error: FunctionError | None = None
    instance: Instance | None = None
    cold_start: bool = False
    init_attempts: list[InitAttempt] = field(default_factory=list)
    duration_ms: float = 0.0
    """Time the handler ran (0 if no instance could be initialized)."""
    handler_log: str = field(default="", repr=False)
    memory_size: int = field(default=128, repr=False)
    """The function's ``memory_size`` (MB) when it ran: the billed memory."""
    version: str = field(default="latest", repr=False)
    """The version it ran on: ``latest``, or the one published last before it was sent."""
    memory_used_mb: int | None = field(default=None, repr=False)
    """The instance's peak memory (MB) in process isolation; ``None`` in-process (unmeasured)."""
    _redact: Redactor = field(default=no_redaction, repr=False)

    @property
    def init_duration_ms(self) -> float:
        """Time spent bringing up instances for this request (all attempts)."""
        if not self.init_attempts:  # (warm: most requests, and billing sums this for each)
            return 0.0
        return sum(a.duration_ms for a in self.init_attempts)

    @property
    def billed_duration_ms(self) -> int:
        """Handler plus initialization time, rounded up to the millisecond (R10)."""
        return math.ceil(round(self.duration_ms + self.init_duration_ms, 6))

    @property
    def billed_gb_s(self) -> float:
        """What this request is billed: memory (GB) times billed duration (s), initializer time
        included (R10)."""
        return gb_s(self.memory_size, self.billed_duration_ms)

    @property
    def log(self) -> str:
        """What the function printed or logged while serving this request, attempts included."""
        return "".join(a.log for a in self.init_attempts) + self.handler_log

    def to_api_response(self) -> ApiResponse:
        """What FunctionGraph's synchronous invoke API would have answered (reference,
        section 4): status, headers and the ``v1`` body."""
        return api_response(self)

    def http_response(self) -> HttpResponse:
        """What an HTTP caller of an API Gateway API backed by the function receives, for a
        request sent with an APIG event (see `FunctionEmulator.http`)."""
        status, headers, body, reason = answer(self, self._redact)
        return HttpResponse(status, headers, body, self, reason, self._redact)

    def raise_for_error(self) -> Invocation:
        """Raise `InvocationError` if this invocation failed; return it otherwise."""
        if self.error is not None:
            raise InvocationError(self)
        return self

    def __repr__(self) -> str:
        where = self.instance.id if self.instance else None
        outcome = (f"result={self._redact(repr(self.result))}" if self.ok
                   else f"error={self.error!r}")
        return (
            f"Invocation(request_id={self.request_id!r}, ok={self.ok}, {outcome}, "
            f"instance={where!r}, cold_start={self.cold_start}, "
            f"init_attempts={len(self.init_attempts)}, duration_ms={self.duration_ms:.3f})"
        )


@dataclass(frozen=True)
class Billing:
    """Sums over a function's requests (`FunctionEmulator.billing`): what they are billed, and
    what it took to serve them. Add two with ``+`` (the plugin's session summary does). Exact
    over every request, also those the records no longer keep (``invocations_kept``)."""

    invocations: int = 0
    instances: int = 0
    """Instances created (each one initialized, or tried to)."""
    cold_starts: int = 0
    init_failures: int = 0
    """Initialization attempts that failed, timeouts included."""
    init_timeouts: int = 0
    billed_duration_ms: int = 0
    gb_s: float = 0.0
    """Billed GB-seconds: memory (GB) times billed duration (s), initializer time included."""
    errors: int = 0
    """Requests that failed (their ``error`` is set), the platform's refusals included."""

    def __add__(self, other: Billing) -> Billing:
        # (field by field: astuple() deep-copies, and the plugin adds one per test)
        return Billing(*(getattr(self, name) + getattr(other, name) for name in _SUMMED))

    def summary(self) -> str:
        """One line: what the platform would have done and billed."""
        return (f"{self.invocations} requests, {self.instances} instances created, "
                f"{self.cold_starts} cold starts, {self.init_failures} init failures "
                f"({self.init_timeouts} timeouts), billed {self.gb_s:.6f} GB-s")


def gb_s(memory_size: int, billed_duration_ms: int) -> float:
    """GB-seconds billed for ``billed_duration_ms`` at ``memory_size`` MB (R10)."""
    return memory_size / 1024 * billed_duration_ms / 1000


_SUMMED = ("invocations", "instances", "cold_starts", "init_failures", "init_timeouts",
           "billed_duration_ms", "gb_s", "errors")
"""`Billing`'s fields, in order (a test checks that none is left out)."""


class InvocationError(Exception):
    """Raised by `Invocation.raise_for_error()` for an invocation that did not succeed."""

    def __init__(self, invocation: Invocation) -> None:
        error = invocation.error
        super().__init__(f"request {invocation.request_id} failed: {error}")
        self.invocation = invocation
        self.error = error


JournalWhat = Literal["instance", "attempt", "invocation", "advance", "pre_stop", "deploy",
                      "note"]


class Note(NamedTuple):
    """A ``note`` line of the journal: what kind of event (``async_retry``, ``async_fail``,
    ``destination_delivered``, ``apig_contract_broken``...) and the sentence the failure
    report shows."""

    kind: str
    text: str

    def __str__(self) -> str:
        return self.text


class JournalEntry(NamedTuple):
    """One line of `FunctionEmulator.journal`, in time order: ``what`` says what ``record``
    is: ``instance`` (a state change: ``(instance, state)``), ``attempt`` (an `InitAttempt`),
    ``invocation`` (an `Invocation`), ``advance`` (the seconds), ``pre_stop`` (the
    `Instance`), ``deploy`` (a sentence: what changed), ``note`` (a `Note`: what became of
    an asynchronous request, why API Gateway answered an error). Unpacks as ``(at, what,
    record)``."""

    at: float
    """Seconds since the emulator started."""
    what: JournalWhat
    record: Any


# --- the synchronous invoke API's answer ------------------------------------------------------
# ``POST .../invocations`` with ``X-CFF-Request-Version: v1`` (reference, section 4): a JSON body
# with the request id, the result as a string, the log framed by the runtime's Start/Finish
# lines, and a status; the headers carry the invocation summary, the billed duration and whether
# the function failed. A request the platform refuses itself (FSS.0413) gets an API error.


@dataclass(frozen=True, repr=False)
class ApiResponse:
    """One synchronous invoke API response."""

    status: int
    headers: dict[str, str]
    body: dict[str, Any]
    _redact: Redactor = field(default=no_redaction, compare=False)

    def text(self) -> str:
        """The body as the caller receives it (JSON)."""
        return json.dumps(self.body, ensure_ascii=False)

    def __repr__(self) -> str:
        return self._redact(f"ApiResponse(status={self.status}, headers={self.headers!r}, "
                            f"body={self.body!r})")


@dataclass(frozen=True, repr=False)
class HttpResponse:
    """One HTTP response of an API Gateway API backed by the function."""

    status: int
    headers: dict[str, str]
    body: bytes
    invocation: Invocation = field(compare=False)
    """The `Invocation` behind it (its lifecycle: instance, init attempts, log)."""
    reason: str | None = None
    """Why API Gateway answered with an error rather than the function's response (``None``
    when the function's response reached the caller)."""
    _redact: Redactor = field(default=no_redaction, compare=False)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON (``ValueError`` if it is not)."""
        return json.loads(self.body)

    def __repr__(self) -> str:
        body = self.body if len(self.body) <= 200 else self.body[:200] + b"..."
        why = f", reason={self.reason!r}" if self.reason else ""
        return self._redact(f"HttpResponse(status={self.status}, body={body!r}{why})")


def api_response(invocation: Invocation) -> ApiResponse:
    error, request_id = invocation.error, invocation.request_id
    if error is not None and error.by_platform:
        status = int(str(error.code).rpartition(".")[2])  # FSS.0413: HTTP 413
        return ApiResponse(status, {"X-Cff-Request-Id": request_id,
                                    "Content-Type": "application/json"},
                           error.to_body(), invocation._redact)
    duration = round(invocation.duration_ms, 3)
    billing = invocation.billed_duration_ms
    # [assumption] memory used is the instance's measured peak in process isolation; in-process
    # nothing is measured, and 0 is reported.
    used = invocation.memory_used_mb or 0
    summary = {"duration": duration, "billingDuration": billing,
               "memorySize": invocation.memory_size, "memoryUsed": used}
    log = (f"Start invoke request '{request_id}', version: {invocation.version}\n"
           f"{invocation.log}"
           f"Finish invoke request '{request_id}', duration: {duration}ms, billing duration: "
           f"{billing}ms, memory used: {used}MB, billing memory: {invocation.memory_size}MB")
    # [assumption] a function error is still HTTP 200 (the API's only documented success
    # status): the headers say that the function failed, the result carries its error body.
    result = (json.dumps(invocation.result, ensure_ascii=False) if error is None
              else json.dumps(error.to_body(), ensure_ascii=False))
    headers = {
        "X-Cff-Request-Id": request_id,
        "X-Cff-Invoke-Summary": json.dumps(summary),
        "X-CFF-Billing-Duration": str(billing),
        "X-Cff-Response-Version": "v1",
        "X-Func-Err-Code": "0" if error is None else str(error.code),
        "X-Is-Func-Err": "false" if error is None else "true",
        "Content-Type": "application/json",
    }
    body = {"request_id": request_id, "result": result, "log": log, "status": 200}
    return ApiResponse(200, headers, body, invocation._redact)
