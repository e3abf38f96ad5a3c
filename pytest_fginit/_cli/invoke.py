"""``fginit invoke``: run the function once (or ``--count`` times) on an emulator and show
what the platform would answer. [test process]

stdout holds only the answers, one JSON document a line (pipeable); stderr the framed log of
each request and the lifecycle timeline. What the function prints goes to its log, never
straight to stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from typing import TYPE_CHECKING, Any, TextIO

from .generate import TRIGGERS, event_of
from .options import FAULT_HELP, add_config_arguments, add_faults, config_from, read_event

if TYPE_CHECKING:
    from ..emulator import FunctionEmulator
    from ..records import Invocation

DESCRIPTION = """\
Run a FunctionGraph function locally, on emulated instances: initializer, handler, retries and
timeouts as the platform runs them. The answer goes to stdout (the raw result, as the invoke
API's v0 answers it; --output json for the v1 body), the log and the timeline to stderr.
Exit status: 0 if every request succeeded, 1 if one failed, 2 on bad usage."""


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "invoke", help="run the function with an event", description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", nargs="?", metavar="CONFIG",
                        help="deployment file: API JSON, Terraform .tf or s.yaml "
                             "(path#name picks one function)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("-e", "--event", metavar="FILE|-",
                        help="the event, a JSON file or - for standard input (default {})")
    source.add_argument("-n", "--event-name", metavar="TRIGGER", choices=TRIGGERS,
                        help="the console's test event of a trigger: " + ", ".join(TRIGGERS))
    parser.add_argument("--count", type=_positive, default=1, metavar="N",
                        help="send the event N times, one after another (warm reuse)")
    parser.add_argument("--concurrently", action="store_true",
                        help="send the N events at the same moment (scale-out)")
    parser.add_argument("--fault", action="append", default=[], metavar="SPEC",
                        help=FAULT_HELP)
    parser.add_argument("--output", choices=("result", "json"), default="result",
                        help="result: the raw result (default); json: the v1 API body")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="print the full lifecycle timeline (instances, attempts, "
                             "pre-stop)")
    add_config_arguments(parser)
    parser.set_defaults(run=run)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1")
    return int(text)


def run(args: argparse.Namespace) -> int:
    # (imported here: every --help starts faster without the emulator)
    from ..emulator import FunctionEmulator
    from ..report import format_timeline

    config = config_from(args.config, args)
    event = event_of(args.event_name, []) if args.event_name else read_event(args.event)
    emulator = FunctionEmulator(config)
    with emulator:
        add_faults(emulator.faults, args.fault)
        # (what the function prints is in its log: kept off stdout, which holds the answers)
        with contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            if args.concurrently:
                invocations = emulator.invoke_concurrently([event] * args.count)
            else:
                invocations = [emulator.invoke(event) for _ in range(args.count)]
    for invocation in invocations:
        show(invocation, emulator, args.output, sys.stdout, sys.stderr)
    timeline = format_timeline(emulator).splitlines()
    shown = timeline if args.verbose else [line for line in timeline if "request " in line]
    print("\n".join(shown), file=sys.stderr)
    return 1 if any(inv.error is not None for inv in invocations) else 0


def show(invocation: Invocation, emulator: FunctionEmulator, output: str, out: TextIO,
         err: TextIO) -> None:
    from ..report import describe_error

    api = invocation.to_api_response()
    log = emulator.redact(str(api.body.get("log", "")))
    if api.status != 200:  # (refused by the platform: its error body)
        print(json.dumps(api.body, ensure_ascii=False), file=out)
        print(f"fginit: request {invocation.request_id} refused: "
              f"{describe_error(invocation.error)}", file=err)
        return
    if output == "json":
        print(json.dumps({**api.body, "log": log}, ensure_ascii=False), file=out)
    else:
        print(api.body["result"], file=out)
    print(log, file=err)
