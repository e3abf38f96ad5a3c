"""The Terraform functions deployment files use for the values the emulator reads: `format`,
`replace` (with its ``/regex/`` form), `lower`, `upper`, `join`, `trimspace`, `jsonencode`,
`tostring`, `tonumber`; each as Terraform documents it, on plain Python values.
[test process]
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from .common import MAX_DEPTH, depth_exceeds, excerpt


class HclError(Exception):
    """A value Terraform would refuse, or that this cannot work out; the message says why."""


def to_string(value: Any) -> str:
    """A primitive as Terraform converts it to a string (``1e3`` is ``"1000"``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 2**63 else repr(value)
    if value is None:
        raise HclError("null cannot be used as a string")
    raise HclError(f"a {'list' if isinstance(value, list) else 'object'} cannot be used as "
                   "a string")


def to_number(value: Any) -> int | float | None:
    """``tonumber``: a number, or a string that is one."""
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?",
                                               value.strip()):
        number = float(value)
        return int(number) if number.is_integer() and abs(number) < 2**63 else number
    raise HclError(f"tonumber({excerpt(value)}): not a number")


def index_of(value: Any, key: Any) -> Any:
    """``value[key]`` (or ``value.key``) as Terraform does it."""
    if isinstance(value, list):
        if isinstance(key, float) and key.is_integer():
            key = int(key)
        if isinstance(key, str) and key.isdigit():
            key = int(key)
        if isinstance(key, bool) or not isinstance(key, int) or not 0 <= key < len(value):
            raise HclError(f"index {excerpt(key)} is not in a list of {len(value)}")
        return value[key]
    if isinstance(value, dict):
        if not isinstance(key, str) or key not in value:
            raise HclError(f"key {excerpt(key)} is not in the object (it has: "
                           f"{excerpt(sorted(value))})")
        return value[key]
    raise HclError(f"{excerpt(value)} has no element {excerpt(key)}")


def _tostring(value: Any) -> str | None:
    return None if value is None else to_string(value)


def _strings(function: str, *values: Any) -> list[str]:
    try:
        return [to_string(v) for v in values]
    except HclError as exc:
        raise HclError(f"{function}(): {exc}") from None


def _join(separator: Any, *lists: Any) -> str:
    if not lists or not all(isinstance(items, list) for items in lists):
        raise HclError("join(separator, list, ...): the arguments after the first are lists")
    items = [item for items in lists for item in items]
    return _strings("join", separator)[0].join(_strings("join", *items))


def _replace(*args: Any) -> str:
    string, search, replacement = _strings("replace", *args)
    if len(args) != 3:
        raise HclError(f"replace() takes 3 arguments, got {len(args)}")
    if len(search) > 1 and search.startswith("/") and search.endswith("/"):
        try:
            pattern = re.compile(search[1:-1])
        except re.error as exc:
            raise HclError(f"replace(): {excerpt(search)} is not a regular expression "
                           f"({exc})") from None
        # RE2's $1, ${1}, ${name} and $$ in the replacement, as Python writes them
        python = re.sub(r"\$(?:\{(\w+)\}|(\w+)|(\$))",
                        lambda m: "$" if m[3] else f"\\g<{m[1] or m[2]}>",
                        replacement.replace("\\", "\\\\"))
        try:
            result: str = pattern.sub(python, string)
            return result
        except (re.error, IndexError) as exc:
            raise HclError(f"replace(): {excerpt(replacement)}: {exc}") from None
    return string.replace(search, replacement)


def _jsonencode(value: Any) -> str:
    if depth_exceeds(value):
        raise HclError(f"jsonencode(): nested more than {MAX_DEPTH} levels deep")
    # (Terraform's objects have their keys in lexical order)
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


_VERB = re.compile(r"%(?P<flags>[-+# 0]*)(?P<width>[0-9]*)(?:\.(?P<precision>[0-9]+))?"
                   r"(?P<verb>.?)")


def _format(spec: Any, *args: Any) -> str:
    """Terraform's ``format``: the verbs %v %s %q %t %d %b %o %x %X %e %E %f %g %G and %%."""
    spec = _strings("format", spec)[0]
    out: list[str] = []
    at = position = 0
    for match in _VERB.finditer(spec):
        out.append(spec[position:match.start()])
        position = match.end()
        verb = match["verb"]
        if verb == "%":
            out.append("%")
            continue
        if verb == "[" or verb not in "vsqtdboxXeEfgG" or not verb:
            raise HclError(f"format(): the verb %{verb} is not supported")
        if at >= len(args):
            raise HclError(f"format(): not enough arguments for {excerpt(spec)}")
        out.append(_verb(match, args[at]))
        at += 1
    out.append(spec[position:])
    if at != len(args):
        raise HclError(f"format(): {len(args) - at} arguments too many for {excerpt(spec)}")
    return "".join(out)


def _verb(match: re.Match[str], value: Any) -> str:
    verb, flags, width = match["verb"], match["flags"], match["width"]
    precision = f".{match['precision']}" if match["precision"] is not None else ""
    if verb in "vs":
        text = _jsonencode(value) if isinstance(value, (list, dict)) and verb == "v" else (
            _strings("format", value)[0])
        return f"%{flags.replace('0', '')}{width}{precision}s" % text
    if verb == "q":
        return f"%{width}s" % json.dumps(_strings("format", value)[0], ensure_ascii=False)
    if verb == "t":
        if not isinstance(value, bool):
            raise HclError(f"format(): %t needs a bool, not {excerpt(value)}")
        return f"%{width}s" % to_string(value)
    number = to_number(value) if isinstance(value, str) else value
    if isinstance(number, bool) or not isinstance(number, (int, float)):
        raise HclError(f"format(): %{verb} needs a number, not {excerpt(value)}")
    if verb in "dboxX":
        if isinstance(number, float) and not number.is_integer():
            raise HclError(f"format(): %{verb} needs a whole number, not {excerpt(value)}")
        return format(int(number), f"{flags}{width}{verb if verb != 'd' else 'd'}")
    return f"%{flags}{width}{precision}{verb}" % float(number)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "format": _format,
    "replace": _replace,
    "lower": lambda s: _strings("lower", s)[0].lower(),
    "upper": lambda s: _strings("upper", s)[0].upper(),
    "join": _join,
    "trimspace": lambda s: _strings("trimspace", s)[0].strip(),
    "jsonencode": _jsonencode,
    "tostring": _tostring,
    "tonumber": to_number,
}
"""Name → the function, on Python values."""
