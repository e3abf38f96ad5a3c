"""Each instance's own copy of the code root's modules, inside one process. [test process,
instance process]

An instance gets a private package name (``__fginit_3__``) whose ``__path__`` is the code root,
so ``index.py`` loads as ``__fginit_3__.index`` (the entry module directly from its file, the
others through Python's normal path machinery and a finder first on ``sys.meta_path``). Every
module loaded that way gets its own ``__builtins__`` whose ``__import__`` sends the code root's
top-level names (``import db``, ``from lib import x``) to that instance's copies; every other
import goes to the shared ``sys.modules``, so mocks set by the test reach user code.

A code-root module named like a standard-library module that is already imported (``time.py``,
``os.py``) does not replace it: on the platform (and in process isolation) the runtime imported
the standard one before the code root came on ``sys.path``, so ``import time`` finds it in
``sys.modules``. The names of the modules user code's imports add to ``sys.modules`` (its
libraries) are noted in ``imported``, import by import, for the host to take out again when
emulation ends.

Known bypasses (documented): ``importlib.import_module("db")`` and ``sys.modules["db"]`` inside
user code, and ``exec`` with fresh globals; ``__name__`` and ``cls.__module__`` show the
private name.
"""

from __future__ import annotations

import builtins
import ctypes
import hashlib
import importlib
import itertools
import os
import sys
import threading
from collections.abc import Sequence
from importlib.abc import Loader, MetaPathFinder
from importlib.machinery import ModuleSpec, PathFinder, SourceFileLoader
from importlib.util import cache_from_source
from pathlib import Path
from types import CodeType, ModuleType
from typing import Any, Protocol

from ..._clock import real_time

_counter = itertools.count(1)
_PREFIX = "__fginit_"


def top_level_names(code_root: Path) -> frozenset[str]:
    """The names that ``import X`` resolves to inside the code root."""
    names = set()
    for entry in code_root.iterdir():
        stem = entry.name.split(".")[0]
        if not stem.isidentifier():
            continue
        if entry.is_dir() or entry.suffix in (".py", ".pyc", ".so", ".pyd"):
            names.add(stem)
    return frozenset(names)


_listed: dict[Path, tuple[int, frozenset[str]]] = {}


def code_root_names(code_root: Path) -> frozenset[str]:
    """`top_level_names`, listed again only when the folder changed (a test may add a module
    and recycle: a code update)."""
    mtime = code_root.stat().st_mtime_ns
    cached = _listed.get(code_root)
    if cached is None or cached[0] != mtime:
        cached = _listed[code_root] = (mtime, top_level_names(code_root))
    return cached[1]


class Namespace(Protocol):
    """Where one instance's modules live: `IsolatedNamespace` in a process shared by many
    instances, `PlainNamespace` in an instance's own process."""

    phases_running: int
    """How many of the instance's phases run now (counted by the phase runner, under its
    lock)."""

    def refresh_builtins(self) -> None: ...
    def import_module(self, name: str, source: str | None = None) -> ModuleType: ...
    def close(self) -> None: ...


class IsolatedNamespace:
    """The modules of one instance."""

    def __init__(self, code_root: Path, top_names: frozenset[str],
                 imported: list[tuple[str, ...]] | None = None) -> None:
        self.prefix = f"{_PREFIX}{next(_counter)}__"
        self._top_names = frozenset(name for name in top_names
                                    if not _loaded_standard_module(name))
        self._imported = imported
        self.module_names: list[str] = [self.prefix]
        """Every name this instance put in ``sys.modules`` (the finder adds to it)."""
        self.builtins: dict[str, Any] = {}  # filled by refresh_builtins() as each phase starts
        self.phases_running = 0  # (counted by the host, under its lock)
        self.refreshes = 0  # (how many times refresh_builtins() copied: for tests)
        self._own_version = dict_version(self.builtins)  # (None: no tag to read)
        self._versions_seen: tuple[int, int] | None = None
        package = ModuleType(self.prefix)
        package.__path__ = [str(code_root)]
        package.__spec__ = ModuleSpec(self.prefix, None, is_package=True)
        package.__spec__.submodule_search_locations = package.__path__
        sys.modules[self.prefix] = package
        _FINDER.register(self.prefix, self)

    def refresh_builtins(self) -> None:
        """Follow the real builtins (a test may have patched one), keeping our ``__import__``.

        (Between the two steps the shared ``__import__`` is in: the host calls this only while
        no other phase runs this instance's code.) Copied only when either dictionary changed
        since the last copy (a test patched a builtin, user code wrote its ``__builtins__``):
        a copy of every builtin at each phase was a tenth of a warm invoke."""
        own = self._own_version
        if own is not None and self._versions_seen == (_SHARED_VERSION.value, own.value):
            return
        self.builtins.update(builtins.__dict__)
        self.builtins["__import__"] = self._import
        self.refreshes += 1
        if own is not None:
            self._versions_seen = (_SHARED_VERSION.value, own.value)

    def import_module(self, name: str, source: str | None = None) -> ModuleType:
        """Import ``name`` (a code-root module path like ``index``) into this instance.

        With ``source`` (the file of a top-level module), the module is loaded the way a
        hand-written harness would, without the import system's search and locks: that was a
        third of a cold start's cost.
        """
        fullname = f"{self.prefix}.{name}"
        if source is None or fullname in sys.modules or source.endswith("__init__.py"):
            return importlib.import_module(fullname)  # (a package: the import system's way)
        loader = _IsolatingLoader(SourceFileLoader(fullname, source), self)
        module = _source_module(fullname, source, loader, self.prefix)
        sys.modules[fullname] = module
        self.module_names.append(fullname)
        try:
            loader.exec_module(module)
        except BaseException:
            del sys.modules[fullname]
            raise
        setattr(sys.modules[self.prefix], name, module)
        return module

    def close(self) -> None:
        """Forget this instance's modules; module objects already handed out stay usable."""
        _FINDER.unregister(self.prefix)
        for name in self.module_names:
            sys.modules.pop(name, None)

    def _import(
        self,
        name: str,
        globals: dict[str, Any] | None = None,
        locals: dict[str, Any] | None = None,
        fromlist: Sequence[str] | None = (),
        level: int = 0,
    ) -> ModuleType:
        real_import = builtins.__import__
        if level == 0 and name.partition(".")[0] in self._top_names:
            module = real_import(f"{self.prefix}.{name}", globals, locals, fromlist, 0)
            if fromlist:
                return module
            # "import a.b" binds "a": hand back this instance's "a", not the private package.
            return sys.modules[f"{self.prefix}.{name.partition('.')[0]}"]
        known = len(sys.modules)
        module = real_import(name, globals, locals, fromlist, level)
        if len(sys.modules) > known and self._imported is not None:
            self._note_imports(len(sys.modules) - known)
        return module

    def _note_imports(self, added: int) -> None:
        """Note the last ``added`` names of ``sys.modules`` (a dict keeps the order in which
        names came), the emulator's own aside: what the import that just ran added, as one
        batch (a library and what it imported)."""
        imported = self._imported
        assert imported is not None
        # (list() copies in one step: other threads may be importing at the same time)
        batch = tuple(name for name in list(sys.modules)[-added:]
                      if not name.startswith(_PREFIX))
        if batch:
            imported.append(batch)


def dict_version(mapping: dict[str, Any]) -> ctypes.c_uint64 | None:
    """CPython's version tag of ``mapping``, read in place (``.value``; PEP 509: it changes
    whenever the dictionary does), or ``None`` where there is none to read (another layout,
    another Python): then every refresh copies. The caller keeps ``mapping`` alive."""
    if _TAG_OFFSET is None:
        return None
    return ctypes.c_uint64.from_address(id(mapping) + _TAG_OFFSET)


def _tag_offset() -> int | None:
    """Where ``PyDictObject.ma_version_tag`` sits (after the object head and ``ma_used``),
    if a probe confirms it: the length is found just before it and the tag moves with each
    change."""
    if sys.implementation.name != "cpython":
        return None
    offset = object.__basicsize__ + ctypes.sizeof(ctypes.c_ssize_t)
    probe: dict[str, int] = {"a": 1, "b": 2, "c": 3}
    used = ctypes.c_ssize_t.from_address(id(probe) + offset - ctypes.sizeof(ctypes.c_ssize_t))
    tag = ctypes.c_uint64.from_address(id(probe) + offset)
    seen = [tag.value]
    for change in (lambda: probe.__setitem__("a", 4), lambda: probe.__setitem__("d", 5),
                   lambda: probe.pop("b")):
        change()
        if used.value != len(probe) or tag.value in seen:
            return None
        seen.append(tag.value)
    return offset


_TAG_OFFSET = _tag_offset()
_SHARED_VERSION = dict_version(builtins.__dict__) or ctypes.c_uint64(0)


def _loaded_standard_module(name: str) -> bool:
    return name in sys.stdlib_module_names and name in sys.modules


class PlainNamespace:
    """The modules of the only instance in a process (process isolation): imported under their
    own names, from the code root put first on ``sys.path``."""

    def __init__(self, code_root: Path) -> None:
        self.phases_running = 0
        root = str(code_root)
        if root in sys.path:
            sys.path.remove(root)
        sys.path.insert(0, root)

    def refresh_builtins(self) -> None:
        pass

    def import_module(self, name: str, source: str | None = None) -> ModuleType:
        return importlib.import_module(name)

    def close(self) -> None:
        pass


class _IsolatingLoader(Loader):
    """Wraps the path machinery's loader to give each module its instance's builtins."""

    def __init__(self, inner: Loader, namespace: IsolatedNamespace) -> None:
        self._inner = inner
        self._namespace = namespace

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self._inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        module.__dict__["__builtins__"] = self._namespace.builtins
        inner = self._inner
        if not isinstance(inner, SourceFileLoader):
            inner.exec_module(module)
            return
        exec(_code_of(inner, module.__name__), module.__dict__)

    def __getattr__(self, name: str) -> Any:  # get_data, get_source, resource readers ...
        return getattr(self._inner, name)


_cached_paths: dict[tuple[str, str | None, int], str | None] = {}


def _source_module(fullname: str, source: str, loader: Loader, package: str) -> ModuleType:
    """A new module for a top-level source file, with what ``module_from_spec`` would set
    (spec, loader, package, file, cached), made directly: ``spec_from_file_location`` and
    ``module_from_spec`` asked the file system and worked out ``__cached__`` each time, a
    fifth of a cold start."""
    key = (source, sys.pycache_prefix, sys.flags.optimize)  # (what cache_from_source reads)
    cached = _cached_paths.get(key, "")
    if cached == "":
        try:
            cached = _cached_paths[key] = cache_from_source(source)
        except NotImplementedError:  # (sys.implementation.cache_tag is None)
            cached = _cached_paths[key] = None
    spec = ModuleSpec(fullname, loader, origin=source)
    spec.has_location = True
    spec.cached = cached
    module = ModuleType(fullname)
    module.__spec__ = spec
    module.__loader__ = loader
    module.__package__ = package
    module.__file__ = source
    module.__cached__ = cached  # type: ignore[attr-defined]
    return module


_code_cache: dict[tuple[str, int, int], tuple[CodeType, bytes | None]] = {}
"""(code, a hash of the text for a racy file: see `_code_of`)"""
_CODE_CACHE_MAX = 4096
_RACY_S = 2.0  # (as `_platform.revision.forget_stale_bytecode`'s)


def _code_of(loader: SourceFileLoader, fullname: str) -> CodeType:
    """The module's code object, compiled (or read from ``__pycache__``) once per version of
    its source file and shared by every instance that loads it.

    A code object is immutable and names no module, so running it in a fresh module is the
    same as importing the file again; a changed file (modification time or size) is a new key.
    A file changed less than `_RACY_S` before it was cached is racy: another edit within the
    same tick of the file system's clock, of the same size, would have the same key (a test
    that writes its code, rewrites it and calls ``update()``), so its entry also holds a hash
    of the text, checked at each load, and a text that differs is compiled from source
    (Python's bytecode cache could be as stale as the key).
    """
    path = loader.path
    stat = os.stat(path)
    key = (path, stat.st_mtime_ns, stat.st_size)
    entry = _code_cache.get(key)
    if entry is not None and entry[1] is None:
        return entry[0]
    if entry is None and stat.st_mtime_ns / 1e9 < real_time() - _RACY_S:
        code = loader.get_code(fullname)
        assert code is not None
        digest = None
    else:
        data = loader.get_data(path)
        digest = hashlib.blake2b(data, digest_size=16).digest()
        if entry is not None and entry[1] == digest:
            return entry[0]
        code = loader.source_to_code(data, path)
    if len(_code_cache) >= _CODE_CACHE_MAX:
        _code_cache.clear()
    _code_cache[key] = (code, digest)
    return code


class _InstanceFinder(MetaPathFinder):
    """First on ``sys.meta_path`` while any instance is alive."""

    def __init__(self) -> None:
        self._namespaces: dict[str, IsolatedNamespace] = {}
        self._lock = threading.Lock()

    def register(self, prefix: str, namespace: IsolatedNamespace) -> None:
        with self._lock:
            self._namespaces[prefix] = namespace
            if self not in sys.meta_path:
                sys.meta_path.insert(0, self)

    def unregister(self, prefix: str) -> None:
        with self._lock:
            self._namespaces.pop(prefix, None)
            if not self._namespaces and self in sys.meta_path:
                sys.meta_path.remove(self)

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        if not fullname.startswith(_PREFIX):
            return None
        namespace = self._namespaces.get(fullname.partition(".")[0])
        if namespace is None or "." not in fullname:
            return None
        spec = PathFinder.find_spec(fullname, path, target)
        if spec is not None:
            namespace.module_names.append(fullname)
            if spec.loader is not None:
                spec.loader = _IsolatingLoader(spec.loader, namespace)
        return spec


_FINDER = _InstanceFinder()
