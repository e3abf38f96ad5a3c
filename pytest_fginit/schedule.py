"""Lifecycle schedules: a sequence of steps a test applies to an emulator (issue 15).
[test process]

A step is plain data that says what it does (`Step.describe`) and the line of a test that does
the same (`Step.code`), so that a failing schedule found by Hypothesis
(`pytest_fginit.strategies.schedules`) reads as numbered steps and pastes back as a test.
`FunctionEmulator.run` applies one and returns what each step gave.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

# The API (re-exported by `pytest_fginit`).
__all__ = ["Schedule", "Step"]

Phase = Literal["initializer", "handler", "pre_stop"]
FaultKind = Literal["raises", "hangs", "delays", "crashes", "exhausts_memory"]
_ON = {"initializer": "on the next instance", "handler": "on the next request",
       "pre_stop": "on the next instance stopped"}


@dataclass(frozen=True)
class Step:
    """One step: ``kind`` and what it takes (an event, events, seconds, a fault)."""

    kind: Literal["invoke", "burst", "advance", "fault", "update", "recycle", "invoke_async",
                  "drain"]
    events: tuple[Any, ...] = ()
    seconds: float = 0.0
    phase: Phase = "handler"
    fault: FaultKind = "raises"

    def apply(self, fn: Any) -> Any:
        """Do the step on ``fn``; what it gave (an invocation, a list of them, ...)."""
        if self.kind == "invoke":
            return fn.invoke(self.events[0])
        if self.kind == "burst":
            return fn.invoke_concurrently(list(self.events))
        if self.kind == "advance":
            return fn.advance(self.seconds)
        if self.kind == "update":
            return fn.update()
        if self.kind == "recycle":
            return fn.recycle()
        if self.kind == "invoke_async":
            return fn.invoke_async(self.events[0])
        if self.kind == "drain":
            return fn.drain()
        faults = getattr(fn.faults, self.phase)
        if self.fault == "raises":
            return faults.raises(ConnectionError("injected by the schedule"))
        if self.fault == "delays":
            return faults.delays(self.seconds)
        return getattr(faults, self.fault)()

    def describe(self) -> str:
        what = {
            "invoke": lambda: f"invoke {self.events[0]!r}",
            "burst": lambda: f"{len(self.events)} requests at once: "
                             + ", ".join(repr(e) for e in self.events),
            "advance": lambda: f"the clock moves {self.seconds:g} s",
            "update": lambda: "the code is updated (new instances from here)",
            "recycle": lambda: "every instance is recycled",
            "invoke_async": lambda: f"an asynchronous request {self.events[0]!r}",
            "drain": lambda: "the asynchronous queue is drained",
            "fault": self._describe_fault,
        }[self.kind]
        return what()

    def _describe_fault(self) -> str:
        name = self.phase.replace("_", "-")
        action = {"raises": "raises ConnectionError", "hangs": "hangs past its timeout",
                  "delays": f"is delayed {self.seconds:g} s", "crashes": "crashes",
                  "exhausts_memory": "runs out of memory"}[self.fault]
        return f"{name} {action} {_ON[self.phase]}"

    def code(self) -> str:
        if self.kind in ("invoke", "invoke_async"):
            return f"fn.{self.kind}({self.events[0]!r})"
        if self.kind == "burst":
            return f"fn.invoke_concurrently({list(self.events)!r})"
        if self.kind == "advance":
            return f"fn.advance({self.seconds!r})"
        if self.kind in ("update", "recycle", "drain"):
            return f"fn.{self.kind}()"
        call = {"raises": 'raises(ConnectionError("injected by the schedule"))',
                "delays": f"delays({self.seconds!r})"}.get(self.fault, f"{self.fault}()")
        return f"fn.faults.{self.phase}.{call}"


@dataclass(frozen=True)
class Schedule:
    """Steps to apply in order (`FunctionEmulator.run`)."""

    steps: tuple[Step, ...]

    def __init__(self, steps: Sequence[Step]) -> None:
        object.__setattr__(self, "steps", tuple(steps))

    def describe(self) -> str:
        """The steps, numbered, one per line."""
        return "\n".join(f"{n}. {step.describe()}" for n, step in enumerate(self.steps, 1))

    def as_code(self, name: str = "test_this_schedule") -> str:
        """A test that applies the same steps (paste it into a test file)."""
        body = "\n".join(f"    {step.code()}" for step in self.steps) or "    pass"
        return f"def {name}(fg_function):\n    fn = fg_function\n{body}\n"

    def __repr__(self) -> str:  # (what Hypothesis prints for a falsifying example)
        lines = "\n".join(f"    {line}" for line in self.describe().splitlines())
        return f"Schedule(steps=[\n{lines}\n])" if lines else "Schedule(steps=[])"
