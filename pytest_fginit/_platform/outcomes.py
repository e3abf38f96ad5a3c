"""What a phase's outcome means to the caller: its `FunctionError`, and the result as the
caller decodes it (through JSON, within 6 MB). Pure. [test process]

(json's functions are bound at import so that a test mocking ``json`` for user code does not
break the emulator.)
"""

from __future__ import annotations

import threading
from json import JSONDecoder, JSONEncoder
from json import dumps as _json_dumps
from json import encoder as _encoder
from json import loads as _json_loads
from typing import Any

from .._hosts.protocol import PhaseOutcome
from .._redaction import Redactor
from ..errors import ERROR_CODES, MAX_BODY_BYTES, ErrorKind, FunctionError
from ..records import Invocation


class _Json:
    """``json.dumps``/``json.loads`` with their defaults, minus their set-up per call (a new C
    encoder each time, the whitespace checks): every request round-trips its event and its
    result, which cost a warm invoke more than the handler did. One thread at a time uses
    the encoder (its record of the containers being encoded, for circular references, is
    shared); another falls back to ``json.dumps``."""

    def __init__(self) -> None:
        self._markers: dict[int, Any] = {}
        self._lock = threading.Lock()
        self._encode: Any = None
        make = getattr(_encoder, "c_make_encoder", None)  # (CPython's accelerator)
        if make is not None:
            self._encode = make(self._markers, JSONEncoder().default,
                                _encoder.encode_basestring_ascii, None, ": ", ", ", False,
                                False, True)
            probe = {"a": [1, 2.5, None, True, "é\n"], "b": {"c": float("nan")}}
            if self.dumps(probe) != _json_dumps(probe):  # (another Python's encoder)
                self._encode = None
        self._scan: Any = JSONDecoder().scan_once  # type: ignore[attr-defined]

    def dumps(self, value: Any) -> str:
        """``json.dumps(value)``, raising what it raises."""
        if self._encode is None or not self._lock.acquire(blocking=False):
            return _json_dumps(value)
        try:
            return "".join(self._encode(value, 0))
        except BaseException:
            self._markers.clear()  # (what a failed encode left marked)
            raise
        finally:
            self._lock.release()

    def loads(self, text: str) -> Any:
        """``json.loads`` of what `dumps` made (complete, no surrounding whitespace)."""
        try:
            value, end = self._scan(text, 0)
        except StopIteration:
            return _json_loads(text)  # (raises the error json.loads raises)
        if end != len(text):
            return _json_loads(text)
        return value


JSON = _Json()

_TIMED_OUT = {"init_timeout": "runtime initialization", "pre_stop_timeout": "pre-stop handler"}
"""What timed out, by the kind of its timeout (else: the function invocation)."""


def function_error(kind: ErrorKind, type_name: str | None, message: str,
                   redact: Redactor, stack_trace: tuple[str, ...] = ()) -> FunctionError:
    """The error of ``kind``, its message and stack trace with every secret masked."""
    return FunctionError(kind, ERROR_CODES[kind], type_name, redact(message),
                         tuple(redact(line) for line in stack_trace))


def error_of(outcome: PhaseOutcome, error_kind: ErrorKind, timeout_kind: ErrorKind,
             timeout: int, redact: Redactor) -> FunctionError | None:
    """The error a phase ended with (``None``: it ended well); ``error_kind`` if the user's
    code raised, ``timeout_kind`` if it ran past ``timeout`` seconds."""
    if outcome.status == "ok":
        return None
    if outcome.status == "timeout":
        what = _TIMED_OUT.get(timeout_kind, "function invocation")
        return function_error(timeout_kind, None, f"{what} timed out after {timeout} s", redact)
    if outcome.status == "crashed":
        return function_error("crashed", None, f"the runtime process exited ({outcome.detail})",
                              redact)
    if outcome.status == "memory_exceeded":
        return function_error("memory_exceeded", None,
                              f"runtime memory limit exceeded ({outcome.detail})", redact)
    exc = outcome.exception
    assert exc is not None
    return function_error(error_kind, exc.type, exc.message, redact, exc.stack_trace)


def record_result(invocation: Invocation, outcome: PhaseOutcome, redact: Redactor) -> None:
    """Set what the caller decodes of a handler that ended well: the result after its JSON
    round trip (``ok``), or why it cannot be sent (not serialisable, over 6 MB)."""
    if outcome.unserializable is not None:
        type_name, message = outcome.unserializable
        invocation.error = function_error(
            "result_not_serializable", type_name,
            f"the handler's return value is not JSON-serialisable: {message}", redact)
        return
    try:
        text = JSON.dumps(outcome.value)
        size = len(text) if len(text) <= MAX_BODY_BYTES else body_size(outcome.value, text)
        if size > MAX_BODY_BYTES:
            invocation.error = function_error(
                "response_too_large", None,
                f"the response body is {size} bytes, larger than the limit of "
                f"{MAX_BODY_BYTES} bytes (6 MB)", redact)
        else:
            invocation.result = JSON.loads(text)
            invocation.ok = True
    except (TypeError, ValueError, RecursionError) as exc:  # (RecursionError: too deep)
        invocation.error = function_error(
            "result_not_serializable", type(exc).__name__,
            f"the handler's return value is not JSON-serialisable: {exc}", redact)


def body_size(value: Any, text: str) -> int:
    """The size of ``value`` as a JSON body: compact, in UTF-8. ``text`` (``json.dumps``'s
    default: ASCII escapes, spaced separators) is never smaller, so the exact size is worked
    out only when ``text`` is over the limit."""
    if len(text) <= MAX_BODY_BYTES:
        return len(text)
    return len(_json_dumps(value, ensure_ascii=False, separators=(",", ":"))
               .encode("utf-8", "surrogatepass"))
