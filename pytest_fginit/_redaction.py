"""Masking secrets (``encrypted_user_data`` values, keys, tokens) in text we record or print.
[test process, instance process]"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final

MASK: Final = "******"
MIN_SECRET_LENGTH: Final = 4
"""Shorter values are not masked: masking "1" would mangle every number in the output, and a
value that short keeps no secret anyway (documented)."""

Redactor = Callable[[str], str]


def no_redaction(text: str) -> str:
    return text


def redactor(secrets: Iterable[str]) -> Redactor:
    """A function that masks every occurrence of each secret, longest first."""
    ordered = sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)
    if not ordered:
        return no_redaction

    def redact(text: str) -> str:
        for secret in ordered:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    return redact
