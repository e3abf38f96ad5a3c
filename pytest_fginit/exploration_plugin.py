"""``fg_emulator``: a factory of fresh, configured emulators for Hypothesis-driven tests, and
the failing schedule in the failure report (issue 15). [test process]

Hypothesis runs a test body many times within one test, while function-scoped fixtures are
set up once: ``fg_function`` would carry one example's instances into the next. So
``fg_emulator`` is a factory, module-scoped (Hypothesis' health check accepts it), that builds
an emulator from the *current* test's configuration (markers, ini, deployment file, the
``pytest_fginit_adjust_config`` hook) at each call, closing the previous one: each example
starts clean. A failed test's report shows the last example's schedule (the minimal one, which
Hypothesis runs last), as numbered steps and as a test to paste back, beside its timeline.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import pytest

from .plugin import _EMULATORS, emulator_for

if TYPE_CHECKING:
    from .emulator import FunctionEmulator

__all__: list[str] = []  # no API: a fixture

SCHEDULE_SECTION = "fginit schedule"
_current: list[pytest.Item] = []  # (the test running now, in this process)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _current[:] = [item]


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    for emulator in item.stash.get(_MADE, []):
        emulator.close()


_MADE = pytest.StashKey[list["FunctionEmulator"]]()


@pytest.fixture(scope="module")
def fg_emulator() -> Callable[..., FunctionEmulator]:
    """``fg_emulator(**keys)``: a started `FunctionEmulator` of the current test's function
    (``keys`` override its configuration); the one made before it is closed. Use it as
    ``with fg_emulator() as fn:`` so that each example's emulator closes with the example."""
    def make(**keys: Any) -> FunctionEmulator:
        __tracebackhide__ = True
        if not _current:
            raise RuntimeError("fg_emulator() is called inside a test")
        return _make(_current[0], keys)
    return make


def _make(item: pytest.Item, keys: dict[str, Any]) -> FunctionEmulator:
    __tracebackhide__ = True
    made = item.stash.setdefault(_MADE, [])
    shown = item.stash.setdefault(_EMULATORS, [])  # (the plugin's: report and masking)
    while made:  # (the previous example's: each one starts clean, and only the latest, the
        previous = made.pop()  # example that failed if one did, is in the report)
        previous.close()
        shown[:] = [e for e in shown if e is not previous]
    emulator = emulator_for(item, keys, "fg_emulator")
    made.append(emulator)
    shown.append(emulator)
    return emulator.start()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed and call.when == "call":
        for emulator in item.stash.get(_MADE, []):
            schedule = emulator.last_schedule
            if schedule is not None:
                text = (f"{schedule.describe()}\n\nAs a test:\n\n"
                        f"{schedule.as_code()}")
                report.sections.append((SCHEDULE_SECTION, emulator.redact(text)))
    return report
