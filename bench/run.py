"""pytest-fginit benchmarks: ours and a baseline, side by side, in one run.

    python bench/run.py            # full run (about ten minutes), prints the table
    python bench/run.py --quick    # smoke test for CI (well under a minute)
    python bench/run.py --write    # full run, and writes docs/benchmarks.md
    python bench/run.py --only triggers,warm   # only these row modules (not with --write)

Targets are reported, never asserted: the exit status is 0 whether they are met or not. It is
2 when the emulator gives a wrong answer (the numbers would mean nothing), and 1 with every
thread's traceback when a run hangs past its time limit (240 s with --quick, 1,200 s without).

The rows live in ``bench/fgbench/`` (see its ``__init__``): this file is the command.
"""

from __future__ import annotations

import argparse
import faulthandler
import shutil
import sys
import traceback
from pathlib import Path

from fgbench import runner
from fgbench.common import DEFAULT_DOC, PYCACHE, BenchError, now_ns
from fgbench.lambda_local import import_lambda_local
from fgbench.model import PLANS
from fgbench.report import environment, render_doc, text_table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="few iterations: a smoke test (targets reported, not asserted)")
    parser.add_argument("--write", action="store_true",
                        help="also write the table and the method to docs/benchmarks.md")
    parser.add_argument("--output", type=Path, default=DEFAULT_DOC,
                        help="where --write writes (default: docs/benchmarks.md)")
    parser.add_argument("--only", default="", metavar="NAME,...",
                        help="run only these row modules (" + ", ".join(runner.section_names())
                        + "); not with --write, which records every row")
    args = parser.parse_args(argv)
    only = frozenset(name for name in args.only.split(",") if name)
    unknown = sorted(only - set(runner.section_names()))
    if unknown:
        parser.error(f"--only: unknown row module(s) {', '.join(unknown)}; "
                     f"known: {', '.join(runner.section_names())}")
    if only and args.write:
        parser.error("--only cannot be combined with --write: the page records every row")

    mode_name = "quick" if args.quick else "full"
    plan = PLANS[mode_name]
    ll = import_lambda_local()
    env = environment()
    print(f"pytest-fginit benchmarks ({mode_name} mode), {env['date']}")
    for key, value in env.items():
        if key != "date":
            print(f"  {key}: {value}")
    started = now_ns()
    # A hang (e.g. a deadlock in the emulator) must not block CI: dump and exit instead.
    faulthandler.dump_traceback_later(plan.time_limit_s, exit=True)
    try:
        sections = runner.measure(plan, ll, only)
    except BenchError as exc:
        print(f"\nbench/run.py: the emulator misbehaved, no numbers reported: {exc}",
              file=sys.stderr)
        return 2
    except BaseException as exc:
        if type(exc).__name__ != "PhaseKilled":
            raise
        traceback.print_exc()
        print("\nbench/run.py: the emulator misbehaved, no numbers reported: its internal "
              "PhaseKilled escaped FunctionEmulator.invoke() (a watchdog race in "
              "pytest_fginit/_hosts/inprocess/deadline.py)", file=sys.stderr)
        return 2
    finally:
        faulthandler.cancel_dump_traceback_later()
        shutil.rmtree(PYCACHE, ignore_errors=True)
    wall_s = (now_ns() - started) / 1e9
    rows = runner.rows_of(sections)
    print()
    print(text_table(rows))
    print()
    missed = [r for r in rows if r.met is False]
    for r in missed:
        print(f"MISSED: {r.name}: {r.ratio_text()}, target {r.target_text()}")
    if not missed:
        print("All targets met.")
    if args.quick:
        print("(quick mode: few samples; targets are reported, not asserted)")
    print(f"measured in {wall_s:.1f} s")

    if args.write:
        command = "python bench/run.py --write" + (" --quick" if args.quick else "")
        method = runner.method_text(plan, sections)
        text = render_doc(rows, env, method, command, plan, mode_name, wall_s)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
