"""The emulator's verbs for what triggers do: `http` (an API Gateway API's caller), and
`invoke_async`, `drain`, `async_invocations` and the deliveries to destinations (asynchronous
triggers; rules A1-A47 of the reference). [test process]

A part of `FunctionEmulator` (it is one of its bases) kept apart so that the façade stays one
screenful per job. The queue's rules are the control plane's (`_platform.async_queue`); this
module accepts requests as the platform does (256 KB, a disabled function) and runs the
queue's batches as ordinary sends, so that every attempt is an `Invocation` like any other
(in ``invocations``, the billing and the failure report's timeline).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from ._async_config import AsyncPolicy, Destination, async_policy, check_assumptions
from ._endpoint.routes import function_urn
from ._platform.async_notice import MAX_ASYNC_BODY_BYTES
from ._platform.async_queue import AsyncQueue
from .async_records import AsyncInvocation, AsyncStatus, Delivery
from .config import FunctionConfig
from .errors import ERROR_CODES, FunctionError
from .events import apig
from .records import HttpResponse, Invocation
from .schedule import Schedule

_STATUSES = ("WAIT", "RUNNING", "SUCCESS", "FAIL", "DISCARD")
_UNLIMITED_ROOM = 1000  # (max_instance_num -1: as many at once as the platform's cap)
_BODY_TEXT = json.JSONEncoder(ensure_ascii=False).encode
"""``json.dumps(value, ensure_ascii=False)``, without making its encoder on every request."""


class TriggerVerbs:
    """The trigger verbs of `FunctionEmulator` (see the module)."""

    _async_queue: AsyncQueue
    _async_ids: itertools.count[int]
    _async_assumed: dict[str, Any]
    _wired: dict[str, TriggerVerbs]
    last_schedule: Schedule | None = None
    """The schedule `run` applied last (for the failure report)."""

    # (provided by FunctionEmulator)
    def _send(self, what: str, events: list[Any], ids: list[str | None]) -> list[Invocation]:
        raise NotImplementedError

    def _require_running(self, what: str) -> None:
        raise NotImplementedError

    def _elapsed_now(self) -> float:
        raise NotImplementedError

    def _pass_to(self, target: float) -> None:
        raise NotImplementedError

    def _journal_note(self, kind: str, text: str) -> None:
        raise NotImplementedError

    def _new_async_queue(self, policy: AsyncPolicy, *, function_urn: str,
                         room: Callable[[], int], epoch_of: Callable[[float], float]) -> None:
        self._async_queue = AsyncQueue(policy, function_urn=function_urn, room=room,
                                       now=self._elapsed_now, epoch_of=epoch_of,
                                       note=self._journal_note, forward=self._forward)
        self._wired: dict[str, TriggerVerbs] = {}
        self._async_ids = itertools.count(1)
        self._async_assumed = {}

    def http(self, method: str, path: str, *, body: Any = None, json: Any = None,
             headers: Mapping[str, Any] | None = None, query: Mapping[str, Any] | None = None,
             path_params: Mapping[str, str] | None = None) -> HttpResponse:
        """Call the function as an API Gateway API's caller does: the APIG event of this
        request (`pytest_fginit.events.apig`: ``body`` bytes or str, or ``json`` a JSON value;
        not both) is sent as `invoke` sends it, and the answer is what the caller receives:
        the function's response if it keeps the APIG contract, else 500 (504 for a timeout)
        with the reason (`HttpResponse.reason`)."""
        if body is not None and json is not None:
            raise TypeError("http(): give body (bytes or str) or json (a JSON value), not both")
        if body is not None and not isinstance(body, (str, bytes, bytearray, memoryview)):
            raise TypeError(f"http(): body must be bytes or str (a JSON value goes in json=), "
                            f"not {type(body).__name__}")
        event = apig(method, path, body=json if json is not None else body, headers=headers,
                     query=query, path_params=path_params)
        invocation = self._send("http()", [event], [None])[0]
        response = invocation.http_response()
        if response.reason is not None and invocation.error is None:  # (the report says why)
            self._journal_note("apig_contract_broken",
                               f"request {invocation.request_id}: API Gateway answered "
                             f"{response.status}: {response.reason}")
        return response

    def run(self, schedule: Schedule) -> list[Any]:
        """Apply ``schedule``'s steps in order (`pytest_fginit.strategies.schedules` draws
        them); what each gave, in order. The failure report shows the last one run."""
        self._require_running("run()")
        self.last_schedule = schedule
        return [step.apply(self) for step in schedule.steps]

    def invoke_async(self, event: Any = None, *, request_id: str | None = None
                     ) -> AsyncInvocation:
        """Send one asynchronous request: accepted at once (``WAIT``) and run from the queue
        when the clock reaches it (`advance`, `drain`). A body over 256 KB, or a disabled
        function (``max_instance_num=0``), is refused and nothing is queued: the record says
        ``accepted=False`` and its ``refusal`` is the API error."""
        self._require_running("invoke_async()")
        request_id = request_id or f"00000000-0000-4000-a000-{next(self._async_ids):012d}"
        refusal = self._refusal(event)
        if refusal is not None:
            return AsyncInvocation(request_id, event, self._elapsed_now(), status="FAIL",
                                   accepted=False, refusal=refusal)
        return self._async_queue.accept(event, request_id)

    def drain(self) -> list[AsyncInvocation]:
        """Run the queue until no request waits, passing virtual time through the retry and
        throttle waits; returns the requests that ended, in the order they ended."""
        self._require_running("drain()")
        queue = self._async_queue
        before = {id(r) for r in queue.requests if r.done}
        while (due := queue.next_due()) is not None:
            self._pass_to(max(due, self._elapsed_now()))
        ended = [r for r in queue.requests if r.done and id(r) not in before]
        return sorted(ended, key=lambda r: r.ended_at or 0.0)

    def async_assumptions(self, **choices: Any) -> None:
        """Change the figures the platform does not publish (the reference's
        **[assumption]**s): ``retry_intervals`` (seconds before the 1st, 2nd, 3rd retry after
        a failure; default ``(60, 120, 180)``), ``throttle_first`` and ``throttle_cap`` (a
        throttled request is put back after 1 s, doubling, at most 300 s), ``invoke_count``
        (``"retries"``, the default, or ``"attempts"``: what ``approximate_invoke_count``
        counts). They hold until the emulator closes, across `update`."""
        checked = check_assumptions(choices)
        self._async_assumed = {**self._async_assumed, **checked}
        self._async_queue.policy = replace(self._async_queue.policy, **checked)

    @property
    def function_urn(self) -> str:
        """This function's URN, as its async records name it."""
        return self._async_queue.function_urn

    def wire(self, target: TriggerVerbs, func_urn: str | None = None) -> None:
        """Deliver the records of this function's ``FunctionGraph`` destination whose
        ``func_urn`` is ``func_urn`` (default: ``target``'s own URN) to ``target``, as the
        event of an asynchronous request to it (A26), which ``target`` then runs from its own
        queue. A loop of wired functions is refused (A24)."""
        urn = target.function_urn if func_urn is None else func_urn
        if not isinstance(target, TriggerVerbs) or not isinstance(urn, str):
            raise TypeError("wire(target, func_urn=None): target is a FunctionEmulator and "
                            "func_urn a str")
        if target is self or self._reaches(target):
            raise ValueError(f"wire(): {self.function_urn} -> {target.function_urn} would make "
                             "a loop of destinations, which FunctionGraph refuses (A24)")
        self._wired[urn] = target

    def _reaches(self, target: TriggerVerbs) -> bool:
        """Whether records from ``target`` can come back to this emulator."""
        seen, todo = set(), [target]
        while todo:
            current = todo.pop()
            if current is self:
                return True
            if id(current) not in seen:
                seen.add(id(current))
                todo += current._wired.values()
        return False

    def _forward(self, destination: Destination, delivery: Delivery) -> None:
        target = self._wired.get(delivery.where) if destination.kind == "FunctionGraph" else None
        if target is not None:
            target.invoke_async(delivery.record)

    def async_invocations(self, status: AsyncStatus | None = None) -> list[AsyncInvocation]:
        """The accepted asynchronous requests, in acceptance order (ListAsyncInvocations);
        only those with ``status`` if given."""
        if status is not None and status not in _STATUSES:
            raise ValueError(f"async_invocations(): status must be one of "
                             f"{', '.join(_STATUSES)} or None, not {status!r}")
        return [r for r in self._async_queue.requests if status is None or r.status == status]

    @property
    def destinations(self) -> list[Delivery]:
        """Every record delivered to an ``async_on_success``/``async_on_failure``
        destination, in order."""
        return list(self._async_queue.deliveries)

    def _run_due_async(self) -> None:
        """Run the batch of queued requests due now (called as the clock passes them)."""
        self._async_queue.run_due(lambda batch: self._send(
            "an asynchronous request", [r.event for r in batch], [r.request_id for r in batch]))

    def _async_due(self) -> float | None:
        return self._async_queue.next_due()

    def _refusal(self, event: Any) -> FunctionError | None:
        if self._async_queue.room() == 0:  # A5: a disabled function
            return FunctionError("throttled", ERROR_CODES["throttled"], None, "Function Disabled")
        try:
            size = len(_BODY_TEXT(event).encode())
        except (TypeError, ValueError) as exc:
            raise TypeError(f"invoke_async(): the event must be JSON-serialisable ({exc})"
                            ) from None
        if size > MAX_ASYNC_BODY_BYTES:  # A6 [assumption]: refused, nothing queued
            return FunctionError("request_too_large", ERROR_CODES["request_too_large"], None,
                                 "The request body is too large.")
        return None


def room_of(max_instance_num: int, concurrency_num: int) -> int:
    """How many queued requests may run at once (A9)."""
    if max_instance_num < 0:
        return _UNLIMITED_ROOM * concurrency_num
    return max_instance_num * concurrency_num


REGION = "cn-north-4"
"""[assumption] The region in the emulator's function URNs: the configuration has none."""


def function_urn_of(project_id: str, package: str, func_name: str, version: str) -> str:
    """The function's URN with its version, as FunctionGraph writes it (invoke-api.md, 2;
    the same as the local endpoint's)."""
    return function_urn(REGION, project_id, package, func_name, version)


def policy_of(config: FunctionConfig) -> AsyncPolicy:
    """The async policy of a configuration."""
    return async_policy(config.max_async_event_age_in_seconds,
                        config.max_async_retry_attempts, config.destination_config)
