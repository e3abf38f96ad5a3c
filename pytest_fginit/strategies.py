"""Hypothesis strategies for lifecycle schedules (``pip install 'pytest-fginit[hypothesis]'``).
[test process]

``schedules(events=...)`` draws `Schedule`s: invokes of events drawn from the test's own
strategy, bursts, clock moves, a fault for the next attempt of a phase, code updates,
recycles, and asynchronous requests. With the ``fg_emulator`` fixture each example runs on a
fresh emulator (``fn.run(schedule)``), and a failing one shrinks to a minimal schedule, which
the failure report prints as numbered steps and as a test to paste back.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

try:
    from hypothesis import strategies as st
except ImportError as exc:  # (an optional extra)
    raise ImportError("pytest_fginit.strategies needs Hypothesis: pip install "
                      "'pytest-fginit[hypothesis]'") from exc

from .schedule import Schedule, Step

# The API.
__all__ = ["STEP_KINDS", "schedules"]

STEP_KINDS = ("invoke", "burst", "advance", "fault", "update", "recycle", "async")
"""The kinds of steps `schedules` may draw (``async``: an asynchronous request, then a
drain)."""
_FAULTS = ("raises", "hangs", "delays", "crashes", "exhausts_memory")
_PHASES = ("initializer", "handler", "pre_stop")


def schedules(events: st.SearchStrategy[Any] | None = None, *,
              kinds: Iterable[str] = ("invoke", "burst", "advance", "fault"),
              min_steps: int = 1, max_steps: int = 10, max_burst: int = 4,
              max_advance: float = 600.0, phases: Iterable[str] = ("initializer", "handler"),
              faults: Iterable[str] = _FAULTS) -> st.SearchStrategy[Schedule]:
    """Schedules of ``min_steps`` to ``max_steps`` steps of the given ``kinds``: invokes of
    events drawn from ``events`` (default: ``{}``), bursts of up to ``max_burst`` of them,
    clock moves up to ``max_advance`` s, faults of ``faults`` for the next attempt of one of
    ``phases`` (leave out ``initializer`` for a function without one, add ``pre_stop`` for
    one with a pre-stop handler: what cannot apply is never drawn)."""
    kinds, phases, faults = tuple(kinds), tuple(phases), tuple(faults)
    _check(kinds, STEP_KINDS, "kinds")
    _check(phases, _PHASES, "phases")
    _check(faults, _FAULTS, "faults")
    if not 0 <= min_steps <= max_steps:
        raise ValueError(f"schedules(): min_steps ({min_steps}) must be from 0 to max_steps "
                         f"({max_steps})")
    if max_burst < 2 and "burst" in kinds:
        raise ValueError(f"schedules(): max_burst ({max_burst}) must be at least 2 for "
                         "bursts; leave 'burst' out of kinds instead")
    if "fault" in kinds and not (phases and faults):
        raise ValueError("schedules(): 'fault' steps need at least one phase and one fault")
    steps = _step_strategies(events, max_burst, max_advance,
                             [(p, f) for p in phases for f in faults])
    step = st.one_of([steps[k] for k in kinds])
    return st.lists(step, min_size=min_steps, max_size=max_steps).map(
        lambda groups: Schedule([s for group in groups for s in group]))


def _step_strategies(events: st.SearchStrategy[Any] | None, max_burst: int,
                     max_advance: float, faults: list[tuple[str, str]]
                     ) -> dict[str, st.SearchStrategy[list[Step]]]:
    """Each kind's strategy of steps, with as few choices as each needs: Hypothesis' cost
    grows with the choices an example makes (a fault is one choice of phase and fault, and
    one of tenths of a second that only ``delays`` reads; without ``events``, an invoke is
    no choice and a burst only its size)."""
    if events is None:  # (the default event, {})
        invoke: st.SearchStrategy[list[Step]] = st.just([Step("invoke", ({},))])
        burst = st.integers(2, max(2, max_burst)).map(
            lambda n: [Step("burst", tuple({} for _ in range(n)))])
        sent: st.SearchStrategy[list[Step]] = st.just([Step("invoke_async", ({},)),
                                                       Step("drain")])
    else:
        invoke = events.map(lambda e: [Step("invoke", (e,))])
        burst = st.lists(events, min_size=2, max_size=max_burst).map(
            lambda es: [Step("burst", tuple(es))])
        sent = events.map(lambda e: [Step("invoke_async", (e,)), Step("drain")])
    return {
        "invoke": invoke,
        "burst": burst,
        "advance": st.floats(0, max_advance, allow_nan=False).map(
            lambda s: [Step("advance", seconds=round(s, 3))]),
        "fault": st.tuples(st.sampled_from(faults), st.integers(1, 300)).map(_fault),
        "update": st.just([Step("update")]),
        "recycle": st.just([Step("recycle")]),
        "async": sent,
    }


def _fault(drawn: tuple[tuple[str, str], int]) -> list[Step]:
    (phase, fault), tenths = drawn  # (a delay of 0.1 to 30 s)
    return [Step("fault", phase=phase, fault=fault,  # type: ignore[arg-type]
                 seconds=tenths / 10 if fault == "delays" else 0.0)]


def _check(given: tuple[str, ...], allowed: tuple[str, ...], name: str) -> None:
    unknown = [g for g in given if g not in allowed]
    if unknown:
        raise ValueError(f"schedules(): {name}: {', '.join(map(repr, unknown))} is not one of "
                         f"{', '.join(allowed)}")
