"""Coverage of instance code in instance processes. [test process, fork server, instance
process]

Each side asks whether coverage measures it; a forked instance restarts measuring into a data
file of its own and saves it as it exits, also when it is killed (with `SAVE_AND_EXIT` first).
"""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Callable
from typing import Any

SAVE_AND_EXIT = signal.SIGRTMIN + 3
"""The signal an instance process's runtime answers by saving its coverage data and exiting: a
real-time signal, which user code does not handle (it may well handle SIGTERM)."""


def measuring_coverage() -> bool:
    """Whether coverage measures this process."""
    coverage = sys.modules.get("coverage")
    return coverage is not None and coverage.Coverage.current() is not None


def restart_after_fork(on_save_and_exit: Callable[[], Any]) -> None:
    """A forked child of a process that coverage measures must measure itself, into a data file
    of its own (what coverage's ``patch = ["fork"]`` does; done whatever the user's patch
    setting says). ``on_save_and_exit`` answers `SAVE_AND_EXIT`."""
    if not measuring_coverage():
        return
    with contextlib.suppress(Exception):
        from coverage.control import _after_fork_in_child

        _after_fork_in_child()
        # A kill while coverage measures comes as this signal first: save, then go.
        signal.signal(SAVE_AND_EXIT, lambda *_: on_save_and_exit())


def save() -> None:
    """Stop measuring and save the data, if coverage measures this process."""
    coverage = sys.modules.get("coverage")
    if coverage is not None:
        with contextlib.suppress(Exception):
            current = coverage.Coverage.current()
            if current is not None:
                current.stop()
                current.save()
