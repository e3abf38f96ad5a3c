"""``fginit generate-event TRIGGER [--field value ...]``: a trigger's event on stdout, from
`pytest_fginit.events` (pipe it into ``fginit invoke -e -``). [test process]

Each factory's keyword arguments are its options (``--event-name`` for ``event_name``); a
value is read as JSON when it parses (``--size 5``, ``--records '["a", "b"]'``), as text
otherwise (``--key cat.png``).
"""

from __future__ import annotations

import argparse
import inspect
import json
from typing import Any

from .. import events
from .options import UsageError

TRIGGERS = tuple(name for name in events.__all__ if name != "load")
"""The factories, named after the trigger type codes."""


def add_parser(commands: Any) -> None:
    listing = "\n".join(f"  {name:<11} {', '.join(_fields(name)) or '(no fields)'}"
                        for name in TRIGGERS)
    parser = commands.add_parser(
        "generate-event", help="print a trigger's event (pipe it into invoke -e -)",
        description="Print the event a trigger sends, as the console's test template with "
                    "the fields given changed.\n\ntriggers and their fields:\n" + listing,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trigger", choices=TRIGGERS, metavar="TRIGGER",
                        help="one of: " + ", ".join(TRIGGERS))
    parser.add_argument("fields", nargs=argparse.REMAINDER, metavar="--FIELD VALUE",
                        help="a field of the trigger's event (see the list above)")
    parser.set_defaults(run=run)


def _fields(trigger: str) -> list[str]:
    signature = inspect.signature(getattr(events, trigger))
    return [f"--{name.replace('_', '-')}" for name in signature.parameters]


def event_of(trigger: str, fields: list[str]) -> Any:
    """The event ``trigger``'s factory makes with ``fields`` (``--name value`` pairs)."""
    known = _fields(trigger)
    keywords: dict[str, Any] = {}
    pairs = iter(fields)
    for option in pairs:
        if option not in known:
            raise UsageError(f"{trigger}: unknown field {option!r}; its fields: "
                             f"{', '.join(known) or 'none'}")
        value = next(pairs, None)
        if value is None:
            raise UsageError(f"{trigger}: {option} needs a value")
        keywords[option[2:].replace("-", "_")] = _value(value)
    try:
        return getattr(events, trigger)(**keywords)
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def trigger_help(trigger: str) -> str:
    """``generate-event TRIGGER --help``: what the factory says, and each field's default."""
    factory = getattr(events, trigger)
    lines = [f"usage: fginit generate-event {trigger} [--FIELD VALUE ...]", "",
             inspect.cleandoc(factory.__doc__ or ""), "", "fields (default):"]
    for name, parameter in inspect.signature(factory).parameters.items():
        default = ("(none: the template's)" if parameter.default in (None, inspect.Parameter.empty)
                   else json.dumps(parameter.default, ensure_ascii=False))
        lines.append(f"  --{name.replace('_', '-'):<18} {default}")
    lines += ["", "A value is read as JSON when it parses, as text otherwise."]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if "-h" in args.fields or "--help" in args.fields:  # (argparse leaves them to the fields)
        print(trigger_help(args.trigger))
        return 0
    print(json.dumps(event_of(args.trigger, args.fields), indent=2, ensure_ascii=False))
    return 0
