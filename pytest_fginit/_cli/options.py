"""What the command line's flags mean: a `FunctionConfig` from a deployment file and/or
flags in FunctionGraph's field names, the event, and ``--fault`` rules. [test process]

Every problem is a `UsageError` whose message says what is wrong: the command exits 2.
"""

from __future__ import annotations

import argparse
import builtins
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import FunctionConfig, field_help, field_names, parse_field_text
from ..errors import FunctionConfigError

if TYPE_CHECKING:  # (the emulator imports it: ``--help`` and generate-event need not)
    from ..faults import Faults

FAULT_KINDS = ("raises", "hangs", "crashes", "exhausts-memory", "delays")
FAULT_HELP = ("PHASE:KIND[:TIMES], PHASE one of load, initializer, handler, pre_stop; KIND one "
              "of raises (or raises=ExceptionName, a builtin), hangs, crashes, "
              "exhausts-memory, delays=SECONDS; e.g. initializer:raises:2 (repeatable)")


class UsageError(Exception):
    """Bad input from the command line: the message is printed, the exit status is 2."""


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One ``--field-name`` per configuration key (they win over the deployment file)."""
    group = parser.add_argument_group(
        "function configuration", "FunctionGraph's field names; they win over CONFIG's values")
    for name in field_names():
        group.add_argument("--" + name.replace("_", "-"), dest=f"field_{name}",
                           metavar="VALUE", help=field_help(name))
    group.add_argument("--var-file", action="append", default=[], metavar="FILE",
                       help="a Terraform variable file for CONFIG (repeatable)")


def config_from(source: str | None, args: argparse.Namespace) -> FunctionConfig:
    """CONFIG (``file`` or ``file#name``: API JSON, Terraform, s.yaml) with the flags on top;
    without CONFIG, the flags alone (``code_root`` defaults to the current folder)."""
    try:
        fields: dict[str, Any] = {}
        for name in field_names():
            text = getattr(args, f"field_{name}")
            if text is not None:
                fields[name] = parse_field_text(name, text)
        if source is None:
            return FunctionConfig.from_fields({"code_root": Path.cwd(), **fields})
        path, _, resource = source.partition("#")
        if not Path(path).is_file():
            raise UsageError(f"{path}: no such deployment file")
        return FunctionConfig.from_file(path, resource or None, var_files=args.var_file,
                                        **fields)
    except FunctionConfigError as exc:
        raise UsageError(f"invalid function configuration: {exc}") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{source}: cannot read it: {exc}") from None


def read_event(source: str | None) -> Any:
    """The event: a JSON file, ``-`` for standard input, ``{}`` without ``-e``."""
    if source is None:
        return {}
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--event {source}: {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        shown = "standard input" if source == "-" else source
        raise UsageError(f"--event {source}: {shown} is not JSON ({exc})") from None


def add_faults(faults: Faults, specs: list[str]) -> None:
    """Register each ``--fault PHASE:KIND[:TIMES]`` on the emulator's queues."""
    for spec in specs:
        phase, _, rest = spec.partition(":")
        kind, _, times_text = rest.partition(":")
        kind, _, argument = kind.partition("=")
        queue = getattr(faults, phase, None) if phase in (
            "load", "initializer", "handler", "pre_stop") else None
        if queue is None or kind not in FAULT_KINDS:
            raise UsageError(f"--fault {spec}: expected {FAULT_HELP}")
        if times_text and not times_text.isdigit():
            raise UsageError(f"--fault {spec}: TIMES must be a whole number, not {times_text!r}")
        times = int(times_text or 1)
        try:
            _add_fault(queue, kind, argument, times)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"--fault {spec}: {exc}") from None


def _add_fault(queue: Any, kind: str, argument: str, times: int) -> None:
    if kind == "raises":
        exception = getattr(builtins, argument or "RuntimeError", None)
        if not (isinstance(exception, type) and issubclass(exception, BaseException)):
            raise ValueError(f"{argument!r} is not a builtin exception")
        queue.raises(exception("injected by fginit --fault"), times=times)
    elif kind == "delays":
        try:
            seconds = float(argument)
        except ValueError:
            raise ValueError("delays=SECONDS needs a number of seconds") from None
        queue.delays(seconds, times=times)
    elif kind == "exhausts-memory":
        queue.exhausts_memory(times=times)
    else:
        getattr(queue, kind)(times=times)
