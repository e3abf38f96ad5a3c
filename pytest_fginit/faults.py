"""Injected faults: per phase, a queue of rules, each covering the next ``times`` executions.
[test process]

``fg_function.faults.initializer.raises(ConnectionError("db down"), times=2).hangs()`` makes the
next two initializer runs raise, the third hang past its timeout, and later ones run normally.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections import deque
from dataclasses import dataclass
from typing import Literal

from ._hosts.protocol import Injection
from ._redaction import Redactor, no_redaction

# The API (re-exported by `pytest_fginit`); other names here are the package's own.
__all__ = ["FaultRule", "Faults", "PhaseFaults"]

Phase = Literal["load", "initializer", "handler", "pre_stop"]


@dataclass
class FaultRule:
    """One registered rule and how many executions it still covers."""

    phase: Phase
    description: str
    remaining: int
    delay_s: float = 0.0
    hang: bool = False
    exception: BaseException | type[BaseException] | None = None
    exit_code: int | None = None
    exhaust_memory: bool = False

    def injection(self) -> Injection:
        exc = self.exception
        if isinstance(exc, type):
            exc = exc()
        elif exc is not None:
            # A fresh copy per use: re-raising one object would chain its tracebacks.
            # (An exception type that cannot be copied is reused.)
            with contextlib.suppress(Exception):
                exc = copy.copy(exc)
        return Injection(delay_s=self.delay_s, hang=self.hang, exception=exc,
                         exit_code=self.exit_code, exhaust_memory=self.exhaust_memory)


class PhaseFaults:
    """The fault queue of one phase (``faults.load``, ``faults.initializer``,
    ``faults.handler`` or ``faults.pre_stop``)."""

    def __init__(self, phase: Phase, *, available: bool = True, why_not: str = "",
                 redact: Redactor = no_redaction) -> None:
        self._phase = phase
        self._redact = redact
        self.available = available
        self._why_not = why_not
        self._rules: deque[FaultRule] = deque()

    def raises(self, exception: BaseException | type[BaseException], *,
               times: int = 1) -> PhaseFaults:
        """The next ``times`` runs raise ``exception`` instead of running user code."""
        if not (isinstance(exception, BaseException) or (
                isinstance(exception, type) and issubclass(exception, BaseException))):
            raise TypeError(
                f"faults.{self._phase}.raises() takes an exception instance or class, "
                f"not {exception!r}"
            )
        if isinstance(exception, type):
            try:
                exception()  # raised fresh at each use: it must be constructible without args
            except Exception as exc:
                raise TypeError(
                    f"faults.{self._phase}.raises({exception.__name__}): the class cannot be "
                    f"made without arguments ({exc}); pass an instance instead"
                ) from None
        shown = exception.__name__ if isinstance(exception, type) else repr(exception)
        return self._add(FaultRule(self._phase, f"raises {shown}", times, exception=exception),
                         times)

    def hangs(self, *, times: int = 1) -> PhaseFaults:
        """The next ``times`` runs hang until their timeout (no real time on a virtual clock)."""
        return self._add(FaultRule(self._phase, "hangs", times, hang=True), times)

    def delays(self, seconds: float, *, times: int = 1) -> PhaseFaults:
        """The next ``times`` runs wait ``seconds`` first, then run the real code."""
        if (isinstance(seconds, bool) or not isinstance(seconds, (int, float))
                or not 0 <= seconds < math.inf):
            raise ValueError(
                f"faults.{self._phase}.delays(): seconds must be a finite number >= 0 (use "
                f"hangs() for forever), not {seconds!r}"
            )
        return self._add(
            FaultRule(self._phase, f"delays {seconds:g} s", times, delay_s=float(seconds)), times
        )

    def crashes(self, *, times: int = 1, exit_code: int = 1) -> PhaseFaults:
        """The next ``times`` runs end the instance's process with ``exit_code`` (kind
        ``crashed``). In process isolation the process really exits; in-process the instance
        is marked dead and the same error is recorded."""
        if isinstance(exit_code, bool) or not isinstance(exit_code, int) or not (
                0 <= exit_code <= 255):
            raise ValueError(f"faults.{self._phase}.crashes(): exit_code must be a whole number "
                             f"from 0 to 255, not {exit_code!r}")
        return self._add(FaultRule(self._phase, f"crashes (exit code {exit_code})", times,
                                   exit_code=exit_code), times)

    def exhausts_memory(self, *, times: int = 1) -> PhaseFaults:
        """The next ``times`` runs use memory past ``memory_size`` (kind ``memory_exceeded``).
        In process isolation the process really allocates it; in-process it is emulated."""
        return self._add(FaultRule(self._phase, "exhausts memory", times, exhaust_memory=True),
                         times)

    def clear(self) -> None:
        """Drop every rule not yet used up."""
        self._rules.clear()

    @property
    def pending(self) -> list[FaultRule]:
        """Rules not used up yet, in the order they will apply."""
        return list(self._rules)

    def take(self) -> Injection | None:
        """The injection for the next run of this phase (and use it up)."""
        if not self._rules:  # (the common case, on every request: no call further)
            return None
        rule = self.take_rule()
        return rule.injection() if rule is not None else None

    def take_rule(self) -> FaultRule | None:
        """Use up one run of the next rule, whose injection is made later (or the run given
        back): instances started side by side get their faults in creation order."""
        if not self._rules:
            return None
        rule = self._rules[0]
        rule.remaining -= 1
        if rule.remaining == 0:
            self._rules.popleft()
        return rule

    def give_back(self, rule: FaultRule) -> None:
        """Put one unused run of ``rule`` back at the front of the queue (give back in the
        reverse order of taking)."""
        if self._rules and self._rules[0] is rule:
            rule.remaining += 1
        else:
            rule.remaining = 1
            self._rules.appendleft(rule)

    def _add(self, rule: FaultRule, times: int) -> PhaseFaults:
        if not self.available:
            raise ValueError(f"faults.{self._phase}: {self._why_not}")
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise ValueError(f"faults.{self._phase}: times must be a whole number >= 1, "
                             f"not {times!r}")
        self._rules.append(rule)
        return self

    def __repr__(self) -> str:
        rules = ", ".join(f"{r.description} x{r.remaining}" for r in self._rules)
        return self._redact(f"<faults.{self._phase}: [{rules}]>")


class Faults:
    """``fg_function.faults``: one queue per phase. ``load`` is the import of the handler's
    module on a new instance (before the initializer, in the same start phase)."""

    def __init__(self, *, has_initializer: bool, has_pre_stop: bool = False,
                 redact: Redactor = no_redaction) -> None:
        self.load = PhaseFaults("load", redact=redact)
        self.initializer = PhaseFaults(
            "initializer", available=has_initializer,
            why_not="this function has no initializer_handler configured", redact=redact,
        )
        self.handler = PhaseFaults("handler", redact=redact)
        self.pre_stop = PhaseFaults(
            "pre_stop", available=has_pre_stop,
            why_not="this function has no pre_stop_handler configured", redact=redact,
        )

    @property
    def pending(self) -> list[FaultRule]:
        return (self.load.pending + self.initializer.pending + self.handler.pending
                + self.pre_stop.pending)

    def clear(self) -> None:
        self.load.clear()
        self.initializer.clear()
        self.handler.clear()
        self.pre_stop.clear()

    def __repr__(self) -> str:
        return (f"<Faults {self.load!r} {self.initializer!r} {self.handler!r} "
                f"{self.pre_stop!r}>")
