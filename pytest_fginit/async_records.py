"""What the emulator records of asynchronous requests: each request, its attempts, and the
records its destinations received (async-invocation reference, A1-A42). [test process]

Plain data, as `records`: an attempt is an ordinary `Invocation`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import FunctionError
from .records import Invocation

# The API (re-exported by `pytest_fginit`).
__all__ = ["AsyncInvocation", "AsyncStatus", "Delivery"]

AsyncStatus = Literal["WAIT", "RUNNING", "SUCCESS", "FAIL", "DISCARD"]
"""FunctionGraph's names (A28): ``WAIT`` queued (or waiting for a retry), ``RUNNING`` during an
attempt, then ``SUCCESS``, ``FAIL`` (the last attempt failed) or ``DISCARD`` (its event age ran
out before an attempt could start)."""


@dataclass(eq=False)
class AsyncInvocation:
    """One asynchronous request: accepted at once, then run from the queue (A1-A17)."""

    request_id: str
    event: Any
    accepted_at: float
    status: AsyncStatus = "WAIT"
    attempts: list[Invocation] = field(default_factory=list)
    """The `Invocation` of every attempt, in order (retries after failures)."""
    throttled: int = 0
    """How many times an attempt was throttled and put back (these are not retries, A11)."""
    next_attempt_at: float | None = None
    """When it runs next, while ``WAIT``."""
    ended_at: float | None = None
    notification: dict[str, Any] | None = field(default=None, repr=False)
    """The record sent to a destination (A34-A42), or ``None`` if none was configured."""
    accepted: bool = True
    refusal: FunctionError | None = None
    """Why the platform refused the request at once (``accepted`` False): FSS.0413 for a body
    over 256 KB, FSS.0429 "Function Disabled"; nothing was queued."""

    @property
    def done(self) -> bool:
        return self.status in ("SUCCESS", "FAIL", "DISCARD")

    @property
    def result(self) -> Any:
        """The last attempt's result once ``SUCCESS``; ``None`` otherwise."""
        return self.attempts[-1].result if self.status == "SUCCESS" else None

    @property
    def error(self) -> FunctionError | None:
        """The last attempt's error (``FAIL``, or ``DISCARD`` after a failed attempt)."""
        return self.attempts[-1].error if self.attempts and self.status != "SUCCESS" else None

    def __repr__(self) -> str:
        return (f"AsyncInvocation(request_id={self.request_id!r}, status={self.status!r}, "
                f"attempts={len(self.attempts)}, throttled={self.throttled})")


@dataclass(frozen=True)
class Delivery:
    """One record delivered to a destination (A26): an OBS object, an SMN message, a DIS
    record, or the event of an asynchronous request to another function."""

    destination: str
    """``OBS``, ``SMN``, ``DIS`` or ``FunctionGraph``."""
    where: str
    """The object key (``<prefix>/<request_id>.json``), topic URN, stream name or URN."""
    on: Literal["success", "failure"]
    request_id: str
    record: dict[str, Any] = field(repr=False)
