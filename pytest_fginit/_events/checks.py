"""Argument checks for the event factories: each names the argument and what it takes.
[test process]

``where`` is how the argument is shown, ``"events.obs(): event_name"`` or
``"events.dis(): records[2]"``, so that an error points at the caller's own keyword. A wrong
type is a `TypeError`, a wrong value of the right type a `ValueError`.
"""

from __future__ import annotations

import json
import reprlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 60


def shown(value: object) -> str:
    """A user's value, cut short: errors quote it, they do not dump it."""
    return _REPR.repr(value)


def _kind(value: object) -> str:
    return type(value).__name__


def text(where: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{where}: expected a str, got {_kind(value)} {shown(value)}")
    return value


def plain(where: str, value: object) -> Any:
    """``value`` if JSON can carry it (the platform hands the function parsed JSON)."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{where}: {shown(value)} is not JSON-serialisable ({exc})") from None
    return value


def json_text(value: Any) -> str:
    """JSON as the platform's services write it: compact, UTF-8 characters as they are."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def text_or_json(where: str, value: object) -> str:
    """A text field (a message, a timer's additional information): a str as is, a dict or a
    list as its JSON text, which is what the service carries when the text is JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json_text(plain(where, value))
    raise TypeError(f"{where}: expected a str (or a dict or list, sent as JSON text), got "
                    f"{_kind(value)} {shown(value)}")


def payload(where: str, value: object) -> bytes:
    """Raw bytes of a body or a record: bytes as they are, a str in UTF-8, a dict or a list
    (or another JSON value) as its JSON text."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode()
    if value is None or isinstance(value, (dict, list, int, float)):
        return json_text(plain(where, value)).encode()
    raise TypeError(f"{where}: expected bytes, a str or a JSON value (dict, list...), got "
                    f"{_kind(value)} {shown(value)}")


def choice(where: str, value: object, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    if value not in allowed:
        text(where, value)
        raise ValueError(f"{where}: {shown(value)} is not allowed; allowed: "
                         + ", ".join(allowed))
    return str(value)


def whole(where: str, value: object, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{where}: expected an int, got {_kind(value)} {shown(value)}")
    if value < minimum:
        raise ValueError(f"{where}: {value} is below {minimum}")
    return value


def flag(where: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{where}: expected True or False, got {_kind(value)} {shown(value)}")
    return value


def items(where: str, value: object) -> list[Any]:
    """A list argument: a list or a tuple (never a str, whose letters would become items)."""
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{where}: expected a list, got {_kind(value)} {shown(value)}")
    return list(value)


def mapping(where: str, value: object) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"{where}: expected a dict, got {_kind(value)} {shown(value)}")
    return value


def strings(where: str, value: object, *, lists: bool) -> dict[str, Any]:
    """A str→str dict; with ``lists``, a value may also be a list of str (a repeated query
    parameter or header)."""
    result: dict[str, Any] = {}
    for name, item in mapping(where, value).items():
        text(f"{where} key", name)
        inner = f"{where}[{name!r}]"
        if lists and isinstance(item, (list, tuple)):
            result[name] = [text(f"{inner}[{i}]", v) for i, v in enumerate(item)]
        elif not isinstance(item, str):
            wanted = "a str or a list of str" if lists else "a str"
            raise TypeError(f"{inner}: expected {wanted}, got {_kind(item)} {shown(item)}")
        else:
            result[name] = item
    return result


def texts(where: str, value: Sequence[object]) -> list[str]:
    """Messages: each a str, or a dict or list sent as its JSON text."""
    return [text_or_json(f"{where}[{i}]", item) for i, item in enumerate(items(where, value))]
