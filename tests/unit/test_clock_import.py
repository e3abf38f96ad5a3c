"""`_clock` imports freezegun only when the first virtual clock starts its freeze (a one-shot
``fginit invoke`` starts faster), and its real time functions stay real whatever the order:
freezegun loaded (even frozen by the user) before `_clock`, or imported after it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_freezegun_loads_with_the_first_virtual_clock_and_then_fakes_time():
    out = _run("""
        import sys, time
        from pytest_fginit import _clock
        print("after import", "freezegun" in sys.modules)
        real = _clock.RealClock()
        real.start(); real.pass_time(0.001); real.stop()
        print("after a real clock", "freezegun" in sys.modules)
        clock = _clock.VirtualClock()
        clock.start()
        clock.pass_time(3600)
        import freezegun.api as fz
        print("virtual", round(time.time() - fz.real_time()),
              round(clock.now() - _clock.real_time()))
        clock.stop()
        print("stopped", time.time is fz.real_time, abs(_clock.real_time() - fz.real_time()) < 5)
    """)
    assert out.splitlines() == ["after import False", "after a real clock False",
                                "virtual 3600 3600", "stopped True True"]


def test_imported_inside_a_users_freeze_it_reads_the_real_time():
    out = _run("""
        import freezegun.api as fz
        from freezegun import freeze_time
        with freeze_time("2001-01-01"):
            from pytest_fginit import _clock
            print(abs(_clock.real_time() - fz.real_time()) < 5,
                  abs(_clock.RealClock().now() - fz.real_time()) < 5)
    """)
    assert out.split() == ["True", "True"]


def test_freezegun_imported_after_it_leaves_its_real_time_real_under_a_freeze():
    out = _run("""
        from pytest_fginit import _clock
        import freezegun.api as fz
        from freezegun import freeze_time
        with freeze_time("2001-01-01"):  # (freezegun replaces module attributes: none of ours)
            print(abs(_clock.real_time() - fz.real_time()) < 5,
                  abs(_clock.real_monotonic() - fz.real_monotonic()) < 5)
    """)
    assert out.split() == ["True", "True"]
