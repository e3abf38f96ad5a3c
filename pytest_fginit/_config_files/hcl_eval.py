"""Working out the values of a Terraform file, as python-hcl2 leaves them. [test process]

python-hcl2 gives literals as Python values and everything else as HCL source text: ``"..."``
for a string (escapes and ``${...}`` interpolations still in it), ``"<<EOT ..."`` for a
heredoc, ``${...}`` for any other expression. `Evaluator` reads that text: literals, lists
and objects, ``var.x``, ``local.x``, ``path.module``, an iterator of a ``dynamic`` block,
``[index]`` and ``.attribute``, ``"${...}"`` templates and the functions in `FUNCTIONS`.
Anything else (another resource's attribute, an operator, a ``for`` expression, a function
Terraform has and this does not) is `Unsupported`, naming what.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .common import MAX_DEPTH, Raw, excerpt
from .hcl_functions import FUNCTIONS, HclError, index_of, to_string

_HEREDOC = re.compile(r'"<<(?P<indent>-?)(?P<tag>\w+)\n(?P<body>.*?)\n?[ \t]*(?P=tag)"', re.S)
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_TRAVERSAL = re.compile(r"[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*|\[[^\]]*\])*")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
_KEYWORDS = {"true": True, "false": False, "null": None}
_HIDDEN = ("__is_block__", "__comments__", "__inline_comments__")  # (python-hcl2's own)


class Unsupported(HclError):
    """A value that cannot be worked out without Terraform; the message says why."""


@dataclass
class Scope:
    """What the names in an expression mean."""

    variables: Mapping[str, Raw]
    locals: Mapping[str, Raw]
    module_path: str
    unset_hint: str = ""
    """Added to the error for a ``var.x`` nothing sets."""
    iterators: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    _local_values: dict[str, Any] = field(default_factory=dict)
    _open_locals: set[str] = field(default_factory=set)

    def with_iterator(self, name: str, key: Any, value: Any) -> Scope:
        return Scope(self.variables, self.locals, self.module_path, self.unset_hint,
                     {**self.iterators, name: (key, value)}, self._local_values,
                     self._open_locals)


def unquote(text: str) -> str:
    """A block label or object key as python-hcl2 gives it (quoted or not)."""
    return json.loads(text) if len(text) > 1 and text[0] == text[-1] == '"' else text


def evaluate(raw: Any, scope: Scope) -> Any:
    """``raw``'s value; `HclError` (`Unsupported`) if it cannot be worked out."""
    return Evaluator(scope).value(raw)


class Evaluator:
    """One recursive-descent read of HCL values and expression text."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.depth = 0
        self.text = ""
        self.at = 0

    # --- values as python-hcl2 gives them --------------------------------------------------

    def value(self, raw: Any) -> Any:
        self._enter()
        try:
            if isinstance(raw, list):
                return [self.value(item) for item in raw]
            if isinstance(raw, dict):
                return {unquote(k): self.value(v) for k, v in raw.items() if k not in _HIDDEN}
            if not isinstance(raw, str):
                return raw
            if raw.startswith("${") and raw.endswith("}"):
                return self._source(raw[2:-1], self.expression)
            if raw.startswith('"'):
                return self._source(raw, self._term)
            return raw
        finally:
            self.depth -= 1

    def _source(self, text: str, read: Callable[[], Any]) -> Any:
        saved = self.text, self.at
        self.text, self.at = text, 0
        try:
            result = read()
            self._space()
            if self.at != len(self.text):
                raise Unsupported(f"unexpected {self.text[self.at:self.at + 20]!r}")
            return result
        finally:
            self.text, self.at = saved

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise Unsupported(f"nested more than {MAX_DEPTH} levels deep")

    # --- expressions -----------------------------------------------------------------------

    def expression(self) -> Any:
        self._space()
        if re.match(r"for\s", self.text[self.at:self.at + 4]):
            raise Unsupported("for expressions are not supported")
        result = self._term()
        self._space()
        rest = self.text[self.at:self.at + 2]
        for operator in ("==", "!=", ">=", "<=", "&&", "||", "?", "+", "-", "*", "/", "%",
                         ">", "<", "!"):
            if rest.startswith(operator):
                raise Unsupported(f"the operator {operator} is not supported")
        return result

    def _term(self) -> Any:
        self._enter()
        try:
            self._space()
            return self._postfix(self._primary())
        finally:
            self.depth -= 1

    def _primary(self) -> Any:
        char = self.text[self.at:self.at + 1]
        heredoc = _HEREDOC.match(self.text, self.at)  # (python-hcl2 quotes them)
        if heredoc:
            self.at = heredoc.end()
            body = heredoc["body"] + "\n"
            body = textwrap.dedent(body) if heredoc["indent"] else body
            return self._source(body, lambda: self._template(quoted=False))
        if char == '"':
            self.at += 1
            return self._template(quoted=True)
        if char == "[":
            return self._list()
        if char == "{":
            return self._object()
        if char == "(":
            self.at += 1
            result = self.expression()
            self._expect(")")
            return result
        if char == "-" or char.isdigit():
            return self._number()
        name = _NAME.match(self.text, self.at)
        if name is None:
            raise Unsupported(f"unexpected {self.text[self.at:self.at + 20]!r}" if char
                              else "an expression ends too early")
        self.at = name.end()
        word = name.group()
        if word in _KEYWORDS:
            return _KEYWORDS[word]
        self._space()
        if self.text.startswith("(", self.at):
            return self._call(word)
        return self._reference(word)

    def _number(self) -> int | float:
        sign = -1 if self.text.startswith("-", self.at) else 1
        self.at += sign == -1  # (a minus sign before a number is part of it)
        match = _NUMBER.match(self.text, self.at)
        if match is None:
            raise Unsupported("the operator - is not supported")
        self.at = match.end()
        text = match.group()
        number = float(text) if any(c in text for c in ".eE") else int(text)
        return sign * number

    def _postfix(self, result: Any) -> Any:
        while True:
            self._space()
            if self.text.startswith(("[*]", ".*"), self.at):
                raise Unsupported("splat expressions ([*], .*) are not supported")
            if self.text.startswith("[", self.at):
                self.at += 1
                index = self.expression()
                self._expect("]")
                result = index_of(result, index)
            elif self.text.startswith(".", self.at) and not self.text[self.at + 1:
                                                                      self.at + 2].isdigit():
                self.at += 1
                name = _NAME.match(self.text, self.at)
                if name is None:
                    raise Unsupported("a . not followed by a name")
                self.at = name.end()
                result = index_of(result, name.group())
            else:
                return result

    def _reference(self, word: str) -> Any:
        if word in ("var", "local", "path") or word in self.scope.iterators:
            self._expect(".")
            name = _NAME.match(self.text, self.at)
            if name is None:
                raise Unsupported(f"{word}. not followed by a name")
            self.at = name.end()
            return self._named(word, name.group())
        if word in ("each", "count", "self", "data", "module", "terraform"):
            raise Unsupported(f"{word}.… is known only to Terraform")
        start = self.text.rfind(word, 0, self.at)
        traversal = _TRAVERSAL.match(self.text, start)
        shown = traversal.group() if traversal else word
        raise Unsupported(f"{shown[:60]} is another resource's attribute (or a name), known "
                          "only to Terraform")

    def _named(self, kind: str, name: str) -> Any:
        scope = self.scope
        if kind == "var":
            if name not in scope.variables:
                raise Unsupported(f"var.{name} has no default in the folder's variable blocks "
                                  f"and no variable file sets it{scope.unset_hint}")
            raw = scope.variables[name]
            return raw.value if raw.literal else self._nested(raw, Scope({}, {}, ""))
        if kind == "local":
            return self._local(name)
        if kind == "path":
            if name in ("module", "root"):
                return scope.module_path
            raise Unsupported(f"path.{name} is not supported; allowed: path.module, path.root")
        key, value = scope.iterators[kind]
        if name in ("key", "value"):
            return key if name == "key" else value
        raise Unsupported(f"{kind}.{name}: an iterator has .key and .value")

    def _local(self, name: str) -> Any:
        scope = self.scope
        if name in scope._local_values:
            return scope._local_values[name]
        if name not in scope.locals:
            raise Unsupported(f"local.{name} is not set in the folder's locals blocks")
        if name in scope._open_locals:
            raise Unsupported(f"local.{name} refers to itself")
        scope._open_locals.add(name)
        try:
            value = self._nested(scope.locals[name], scope, f"local.{name}")
        finally:
            scope._open_locals.discard(name)
        scope._local_values[name] = value
        return value

    def _nested(self, raw: Raw, scope: Scope, what: str = "") -> Any:
        inner = Evaluator(scope)
        inner.depth = self.depth
        try:
            return inner.value(raw.value)
        except HclError as exc:
            label = what or raw.where
            raise type(exc)(f"{label} = {excerpt(raw.value)}: {exc}") from None

    def _call(self, name: str) -> Any:
        function = FUNCTIONS.get(name)
        if function is None:
            raise Unsupported(f"the function {name}() is not supported; allowed: "
                              + ", ".join(sorted(FUNCTIONS)))
        self._expect("(")
        args: list[Any] = []
        self._space()
        while not self.text.startswith(")", self.at):
            args.append(self.expression())
            self._space()
            if self.text.startswith("...", self.at):
                raise Unsupported("argument expansion (...) is not supported")
            if not self.text.startswith(",", self.at):
                break
            self.at += 1
            self._space()
        self._expect(")")
        try:
            return function(*args)
        except TypeError:
            raise HclError(f"{name}() got {len(args)} arguments") from None

    def _list(self) -> list[Any]:
        self.at += 1
        result: list[Any] = []
        self._space()
        while not self.text.startswith("]", self.at):
            result.append(self.expression())
            self._space()
            if not self.text.startswith(",", self.at):
                break
            self.at += 1
            self._space()
        self._expect("]")
        return result

    def _object(self) -> dict[str, Any]:
        self.at += 1
        result: dict[str, Any] = {}
        self._space()
        while not self.text.startswith("}", self.at):
            name = _NAME.match(self.text, self.at)
            if self.text.startswith('"', self.at):
                self.at += 1
                key = to_string(self._template(quoted=True))
            elif name is not None:
                self.at, key = name.end(), name.group()
            else:
                raise Unsupported(f"an object key {self.text[self.at:self.at + 20]!r}")
            self._space()
            if self.text[self.at:self.at + 1] not in ("=", ":"):
                raise Unsupported("an object key not followed by = or :")
            self.at += 1
            result[key] = self.expression()
            self._space()
            if self.text.startswith(",", self.at):
                self.at += 1
            self._space()
        self._expect("}")
        return result

    # --- templates ---------------------------------------------------------------------------

    def _template(self, *, quoted: bool) -> Any:
        """A string's parts up to its closing quote (or the end, for a heredoc's body);
        ``"${x}"`` alone is ``x`` itself, of whatever type."""
        parts: list[Any] = []
        text = []
        while True:
            if self.at >= len(self.text):
                if quoted:
                    raise Unsupported("a string without its closing quote")
                break
            char = self.text[self.at]
            if quoted and char == '"':
                self.at += 1
                break
            if self.text.startswith(("$${", "%%{"), self.at):
                text.append(self.text[self.at + 1:self.at + 3])
                self.at += 3
            elif self.text.startswith("${", self.at):
                if text:
                    parts.append("".join(text))
                    text = []
                parts.append([self._interpolation()])
            elif self.text.startswith("%{", self.at):
                raise Unsupported("template directives %{...} are not supported")
            elif quoted and char == "\\":
                text.append(self._escape())
            else:
                text.append(char)
                self.at += 1
        if text:
            parts.append("".join(text))
        if len(parts) == 1 and isinstance(parts[0], list):
            return parts[0][0]
        return "".join(p if isinstance(p, str) else to_string(p[0]) for p in parts)

    def _interpolation(self) -> Any:
        self.at += 2
        if self.text.startswith("~", self.at):
            raise Unsupported("strip markers (~) are not supported")
        result = self.expression()
        self._space()
        self._expect("}")
        return result

    def _escape(self) -> str:
        letter = self.text[self.at + 1:self.at + 2]
        if letter in _ESCAPES:
            self.at += 2
            return _ESCAPES[letter]
        width = {"u": 4, "U": 8}.get(letter)
        digits = self.text[self.at + 2:self.at + 2 + (width or 0)]
        if width is None or len(digits) != width or not all(
                c in "0123456789abcdefABCDEF" for c in digits):
            raise Unsupported(f"the escape \\{letter} is not one HCL has")
        self.at += 2 + width
        return chr(int(digits, 16))

    # --- small steps -------------------------------------------------------------------------

    def _space(self) -> None:
        self.at = len(self.text) - len(self.text[self.at:].lstrip(" \t\r\n"))

    def _expect(self, text: str) -> None:
        self._space()
        if not self.text.startswith(text, self.at):
            found = self.text[self.at:self.at + 20]
            raise Unsupported(f"expected {text!r}, found {found!r}" if found
                              else f"expected {text!r} at the end")
        self.at += len(text)

