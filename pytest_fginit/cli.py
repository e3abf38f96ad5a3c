"""``fginit``: the command line (``fginit invoke``, ``fginit generate-event``, ``fginit
serve``). [test process]

Exit status: 0 on success, 1 when the function failed, 2 on bad usage (argparse's own errors
included), each with a message on stderr. ``python -m pytest_fginit.cli`` runs it too.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from typing import Any

from ._cli import generate, invoke, serve
from ._cli.options import UsageError

__all__: list[str] = []  # no API to import: a console script


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="fginit", description="Run and serve Huawei Cloud FunctionGraph functions "
        "locally, on emulated instances (pytest-fginit).")
    commands = top.add_subparsers(dest="command", metavar="COMMAND", required=True)
    invoke.add_parser(commands)
    generate.add_parser(commands)
    serve.add_parser(commands)
    return top


def _show_warning(message: Warning | str, category: type[Warning], filename: str,
                  lineno: int, file: Any = None, line: str | None = None) -> None:
    """A warning as a command's message (``fginit: warning: ...``), not as Python shows one
    (the script's file and line, which say nothing to whoever runs the command)."""
    print(f"fginit: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    top = parser()
    args = top.parse_args(argv)
    warnings.showwarning = _show_warning
    try:
        status: int = args.run(args)
        sys.stdout.flush()  # (here, not at exit: a closed pipe is caught below)
    except UsageError as exc:
        print(f"fginit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`fginit generate-event obs | head -3`): as other commands do,
        # no traceback. Python's recipe: what is left for stdout goes nowhere at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    finally:
        # Process isolation's fork server, if a function started it (looked up, not imported:
        # the command has no business with the hosts otherwise).
        client = sys.modules.get("pytest_fginit._hosts.process.client")
        if client is not None:
            client.shutdown()
    return status


if __name__ == "__main__":
    sys.exit(main())
