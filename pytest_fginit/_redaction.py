"""Masking secrets (``encrypted_user_data`` values, keys, tokens) in text we record or print.
[test process, instance process]

A secret is also masked in the forms that code commonly escapes it into on the way to text:
``repr()`` (a PEM key's newlines become ``\\n``, a backslash doubles, a quote gets one),
``json.dumps`` (non-ASCII becomes ``\\uXXXX``, ``"`` and ``\\`` are escaped), ``ascii()`` and
the ``repr()`` of its UTF-8 bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

MASK: Final = "******"
MIN_SECRET_LENGTH: Final = 4
"""Shorter values are not masked: masking "1" would mangle every number in the output, and a
value that short keeps no secret anyway (documented)."""

Redactor = Callable[[str], str]


def no_redaction(text: str) -> str:
    return text


def escaped_forms(secret: str) -> set[str]:
    """``secret`` and the forms it takes escaped: by ``repr()`` (in either quote), by
    ``json.dumps`` (with and without ``ensure_ascii``), by ``ascii()``, and as the ``repr()``
    of its UTF-8 bytes (``b'p\\xc3\\xa4ss'``)."""
    forms = {secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}
    encoded = secret.encode("utf-8", "backslashreplace")
    for quoted in (repr(secret), ascii(secret), repr(secret + "'\""), ascii(secret + "'\""),
                   repr(encoded)[1:], repr(encoded + b"'\"")[1:]):
        # (the quote-escaped variant: a secret followed by both quotes makes repr() pick "'"
        # and escape the "'" inside, the form a secret takes in the repr of a str holding both)
        forms.add(quoted[1:-1].removesuffix("\\'\""))
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


def redactor(secrets: Iterable[str]) -> Redactor:
    """A function that masks every occurrence of each secret and of its escaped forms, longest
    first (a form that contains another is masked whole)."""
    forms: set[str] = set()
    for secret in secrets:
        if len(secret) >= MIN_SECRET_LENGTH:
            forms |= escaped_forms(secret)
    ordered = sorted(forms, key=len, reverse=True)
    if not ordered:
        return no_redaction

    def redact(text: str) -> str:
        # (one `in` test per form: faster, for the few forms a configuration has, than one
        # compiled alternation, whose scan tries every form at every position)
        for form in ordered:
            if form in text:
                text = text.replace(form, MASK)
        return text

    return redact


class Secrets(tuple[str, ...]):
    """Secret values to hand on (to an instance process): a tuple whose repr shows none of
    them, so that no frame holding one prints it (``pytest -l`` shows frames' locals)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Secrets({MASK} x{len(self)})"


def mask_strings_in(tree: object, redact: Redactor) -> object:
    """``tree`` with every string in it masked: strings in lists and dicts are replaced in
    place, tuples rebuilt, and objects' attributes (``vars()``) set anew, through any depth.
    For what pytest prints of a test (its report's traceback, locals and captured output),
    which it keeps as such plain objects."""
    seen: set[int] = set()

    def mask(node: object) -> object:
        if isinstance(node, str):
            return redact(node)
        if id(node) in seen or isinstance(node, (int, float, bytes, type(None))):
            return node
        seen.add(id(node))
        if isinstance(node, list):
            node[:] = [mask(item) for item in node]
        elif isinstance(node, tuple):
            masked = tuple(mask(item) for item in node)
            if type(node) is tuple and any(a is not b for a, b in zip(masked, node, strict=True)):
                return masked
        elif isinstance(node, dict):
            for key, value in node.items():
                node[key] = mask(value)
        elif hasattr(node, "__dict__") and not isinstance(node, type):
            for name, value in list(vars(node).items()):
                new = mask(value)
                if new is not value:
                    setattr(node, name, new)
        return node

    return mask(tree)


def mask_report(report: object, redactors: Iterable[Redactor],
                fields: dict[str, Any] | None = None, secret_names: Iterable[str] = ()) -> None:
    """Mask a pytest test report in place: its traceback (the locals of every frame with
    ``pytest -l``) and its sections (captured output and log, which hold what the function
    wrote to the descriptors themselves): what the terminal and ``--junitxml`` show. Masked:
    what each of ``redactors`` masks, and the secrets among configuration ``fields`` (those
    named in ``secret_names``: a string, or a dict's string values)."""
    secrets = []
    for name in secret_names:
        value = (fields or {}).get(name)
        values = value.values() if isinstance(value, Mapping) else [value]
        secrets += [v for v in values if isinstance(v, str)]
    for redact in {*redactors, redactor(secrets)} - {no_redaction}:
        for name in ("longrepr", "sections"):
            if hasattr(report, name):
                setattr(report, name, mask_strings_in(getattr(report, name), redact))
