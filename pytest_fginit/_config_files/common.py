"""What the deployment-file readers share: the session's parse cache, picking one function
among several, mapping a file's keys onto the configuration's, and short quotes of user
values in errors. [test process]

The cache keeps each parsed file for the session, keyed by its resolved path, modification
time (ns) and size: a suite that names one file in its ini parses it once, and a file changed
on disk is read again. What it holds is shared: readers never change it, and what they hand
out is built afresh (or copied) from it.
"""

from __future__ import annotations

import copy
import reprlib
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ..errors import FunctionConfigError

T = TypeVar("T")

MAX_DEPTH = 64
"""How deeply lists and objects a reader works out may nest (Python's own recursion limit is
far away, so a deep file is an error naming its key, never a RecursionError)."""
EXCERPT = 80
"""At most this many characters of a user's value are quoted in an error."""
_CACHE_SIZE = 256
_cache: OrderedDict[tuple[str, str, int, int], Any] = OrderedDict()
_stats = {"parses": 0, "hits": 0}


@dataclass(frozen=True)
class Raw:
    """A value as written, and where: a variable's default or a variable file's value, a
    local. ``literal``: a plain value (from JSON), not HCL text."""

    where: str
    value: Any
    literal: bool = False


def parsed(path: Path, kind: str, parse: Callable[[Path], T]) -> T:
    """``parse(path)``, once per version of the file this session (``kind`` tells parsers
    of the same file apart). The result is shared: do not change it."""
    resolved = path.resolve()
    stat = resolved.stat()
    key = (kind, str(resolved), stat.st_mtime_ns, stat.st_size)
    if key in _cache:
        _stats["hits"] += 1
        _cache.move_to_end(key)
        result: T = _cache[key]
        return result
    _stats["parses"] += 1
    result = parse(path)
    _cache[key] = result
    if len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)
    return result


def cache_info() -> dict[str, int]:
    """How many files were parsed, and how many reads the cache answered, this session."""
    return {**_stats, "size": len(_cache)}


def clear_cache() -> None:
    _cache.clear()
    _stats.update(parses=0, hits=0)


def excerpt(value: Any) -> str:
    """``repr(value)``, cut to `EXCERPT` characters; built with bounded work, however large
    or shared (YAML aliases) the value is."""
    shown = _REPR.repr(value)
    return shown if len(shown) <= EXCERPT else shown[:EXCERPT - 3] + "..."


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = EXCERPT
_REPR.maxlevel = 3


def depth_exceeds(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether lists and dicts in ``value`` nest more than ``limit`` deep (iterative: works
    on any depth)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, dict)):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def take(source: Mapping[str, Any], keys: Mapping[str, str], skip: frozenset[str],
         where: str) -> dict[str, Any]:
    """``source``'s keys the emulator uses, under the configuration's names, copied (the
    parse cache's data stays untouched); keys in ``skip`` (the caller gives them) and
    ``None`` values are left out."""
    fields: dict[str, Any] = {}
    for name, value in source.items():
        key = keys.get(name)
        if key is None or key in skip or value is None:
            continue
        if depth_exceeds(value):
            raise FunctionConfigError("config", f"{where}, {name}: nested more than "
                                                f"{MAX_DEPTH} levels deep")
        fields[key] = copy.deepcopy(value)
    return fields


def pick(path: Path, what: str, found: Mapping[str, Any], resource: str | None) -> str:
    """The one function of ``found`` (by name) that ``resource`` names, or the only one."""
    if resource is not None:
        if resource not in found:
            raise FunctionConfigError(
                "resource", f"{resource!r} is not in {str(path)!r}; it has: "
                            + (", ".join(sorted(found)) or "none"))
        return resource
    if len(found) != 1:
        raise FunctionConfigError(
            "resource", f"{str(path)!r} has {len(found)} of {what}"
                        + (f" ({', '.join(sorted(found))}): say which one with resource="
                           if found else ""))
    return next(iter(found))
