"""What the deployment-file readers share: the session's parse cache, picking one function
among several, mapping a file's keys onto the configuration's, and short quotes of user
values in errors. [test process]

The cache keeps each parsed file for the session, keyed by its resolved path, modification
time (ns) and size: a suite that names one file in its ini parses it once, and a file changed
on disk is read again. What it holds is shared: readers never change it, and what they hand
out is built afresh (or copied) from it.

Behind it, a slow parser's results (python-hcl2: about 0.2 s for a small file, most of it
importing and building the parser, and 3 to 4 ms per resource) may also be kept between
sessions in a `Store` (the plugin gives pytest's cache, ``.pytest_cache``): one entry per
file path, which holds the SHA-256 of the text it was parsed from, so an edited file is parsed
again and the store never grows with edits. A file others may not read (a ``secrets.tfvars``
with mode 600) is never stored: its values would be copied into a file others may read.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
import reprlib
import stat
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ..errors import FunctionConfigError

T = TypeVar("T")

MAX_DEPTH = 64
"""How deeply lists and objects a reader works out may nest (Python's own recursion limit is
far away, so a deep file is an error naming its key, never a RecursionError)."""
EXCERPT = 80
"""At most this many characters of a user's value are quoted in an error."""
_CACHE_SIZE = 256
_cache: OrderedDict[tuple[str, str, int, int], Any] = OrderedDict()
_stats = {"parses": 0, "hits": 0, "stored": 0, "answers": 0}
_recorders: list[list[tuple[str, int, int]]] = []  # open `recording_reads`, innermost last


class Store(Protocol):
    """What `persisted` needs of a store (pytest's ``config.cache`` is one)."""

    def get(self, key: str, default: Any) -> Any: ...

    def set(self, key: str, value: Any) -> None: ...


_store: list[Store] = []  # (at most one: the session's, while it runs)
_FORMAT = 1  # of a stored entry: bumped when what a reader stores changes


def use_store(store: Store | None) -> None:
    """Keep slow parsers' results in ``store`` from now on (``None``: in memory only)."""
    _store[:] = [] if store is None else [store]


def persisted(parse: Callable[[Path], T], version: Callable[[], str]) -> Callable[[Path], T]:
    """``parse``, answered from the store when the file's text is what was parsed last time
    by the same parser (``version()``, asked only when a store is in use). Only JSON-shaped
    results are stored."""
    def answer(path: Path) -> T:
        if not _store or not path.stat().st_mode & stat.S_IROTH:
            return parse(path)  # (a private file, a secrets.tfvars: never copied elsewhere)
        store = _store[0]
        key = "fginit/parsed/" + hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:32]
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        stamp = [_FORMAT, version(), digest]
        entry = store.get(key, None)
        if isinstance(entry, dict) and entry.get("stamp") == stamp:
            _stats["stored"] += 1
            stored: T = entry["data"]
            return stored
        result = parse(path)
        try:
            if json.loads(json.dumps(result)) == result:
                store.set(key, {"stamp": stamp, "data": result})
        except (TypeError, ValueError, OSError):  # (not JSON, or the store is read-only)
            pass
        return result

    return answer


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
    for reads in _recorders:
        reads.append(key[1:])
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


_ANSWERS_KEPT = 64
_answers: OrderedDict[Any, tuple[list[tuple[str, int, int]], dict[str, Any]]] = OrderedDict()


def kept_answer(key: Any, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``work()``, or a copy of its last answer for ``key`` while the files it read (through
    `parsed`) and their folders are unchanged. An error is not kept."""
    kept = _answers.get(key)
    if kept is not None and _unchanged(kept[0]):
        _answers.move_to_end(key)
        _stats["answers"] += 1
        return copy.deepcopy(kept[1])
    with _recording_reads() as reads:
        answer = work()
    _answers[key] = (_with_folders(reads), copy.deepcopy(answer))
    if len(_answers) > _ANSWERS_KEPT:
        _answers.popitem(last=False)
    return answer


@contextlib.contextmanager
def _recording_reads() -> Iterator[list[tuple[str, int, int]]]:
    """Within it, every file `parsed` reads is listed (path, modification time, size)."""
    reads: list[tuple[str, int, int]] = []
    _recorders.append(reads)
    try:
        yield reads
    finally:
        _recorders.remove(reads)


def _unchanged(reads: list[tuple[str, int, int]]) -> bool:
    """Every file of ``reads`` is as it was, and no file came or went in their folders (a
    folder's modification time changes when an entry is added, removed or renamed)."""
    try:
        for name, mtime_ns, size in reads:
            stat = os.stat(name)
            if (stat.st_mtime_ns, stat.st_size) != (mtime_ns, size):
                return False
        return True
    except OSError:
        return False


def _with_folders(reads: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """``reads``, once each, and their folders: what `_unchanged` checks to know that reading
    again would give the same answer (readers also glob their file's folder)."""
    folders = {os.path.dirname(name) for name, _, _ in reads}
    stats = {folder: os.stat(folder) for folder in folders}
    return [*dict.fromkeys(reads), *((f, s.st_mtime_ns, s.st_size) for f, s in stats.items())]


def cache_info() -> dict[str, int]:
    """How many files were read (``parses``: by their parser or from the store, ``stored``
    of them), how many reads the in-memory cache answered, and how many questions
    `kept_answer` answered without reading, this session."""
    return {**_stats, "size": len(_cache)}


def clear_cache() -> None:
    _cache.clear()
    _answers.clear()
    _stats.update(parses=0, hits=0, stored=0, answers=0)


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
