"""The loopback HTTP server: one thread per connection, one request at a time per function.
[test process: a thread of its own, and one per connection]

`Functions` decides every answer (route, body limit, signature, the emulator's run); the
handler only moves bytes. The emulator takes one send at a time, so each function has a lock:
concurrent HTTP requests to one function queue, in arrival order, and run one by one.
Nothing a client sends ends the server: a malformed request gets an error answer, an
unexpected failure a 500 ``FSS.0500`` (kept in `Functions.internal_errors`, never sent).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from ..errors import MAX_BODY_BYTES
from .answers import (
    Reply,
    accepted_reply,
    auth_reply,
    config_body,
    error_reply,
    invoke_reply,
    json_reply,
    list_body,
)
from .async_list import async_list_body
from .routes import (
    NO_FUNCTION,
    ApiError,
    Route,
    check_qualifier,
    function_urn,
    route,
)
from .signature import check

if TYPE_CHECKING:
    from ..emulator import FunctionEmulator

MAX_ASYNC_BODY_BYTES = 262144
"""Asynchronous request bodies: at most 256 KB (reference I4)."""
TOO_LARGE = ApiError(413, "FSS.0413", "The request body is too large.")
BAD_JSON = ApiError(400, "FSS.0400", "Invalid parameter. The request body is not JSON.")
INTERNAL = ApiError(500, "FSS.0500", "Internal server error.")
UNAVAILABLE = ApiError(503, "FSS.0503", "Service unavailable.")
CHUNKED = ApiError(400, "FSS.0400", "Invalid parameter. Send the body with a Content-Length.")


@dataclass
class Served:
    emulator: FunctionEmulator
    urn: str
    lock: threading.Lock = field(default_factory=threading.Lock)


class Functions:
    """The functions one endpoint serves, by (package, name), and how it answers."""

    def __init__(self, emulators: list[FunctionEmulator], *, project_id: str, region: str,
                 secrets: Mapping[str, str], max_clock_skew_s: float | None = None) -> None:
        self.project_id, self.region = project_id, region
        self._max_skew_s = max_clock_skew_s
        self._secrets = dict(secrets)  # (AK -> SK; empty: any signature is accepted)
        self.served: dict[tuple[str, str], Served] = {}
        self.internal_errors: list[BaseException] = []
        for emulator in emulators:
            config = emulator.config
            key = (config.package, config.func_name or "function")
            if key in self.served:
                raise ValueError(f"two functions named {key[1]!r} in package {key[0]!r}: "
                                 "an endpoint serves each URN once")
            urn = function_urn(region, project_id, *key)
            self.served[key] = Served(emulator, urn)

    def body_limit(self, method: str, raw_path: str) -> int:
        found = route(method, raw_path, self.project_id)
        asynchronous = isinstance(found, Route) and found.operation == "invoke_async"
        return MAX_ASYNC_BODY_BYTES if asynchronous else MAX_BODY_BYTES

    def answer(self, method: str, raw_path: str, headers: Mapping[str, str],
               body: bytes) -> Reply:
        request_id = str(uuid.uuid4())
        try:
            lower = {k.lower(): v for k, v in headers.items()}
            if self._secrets and not ("x-auth-token" in lower and "authorization" not in lower):
                # (time.time(): while an emulator runs, its virtual clock, as user code sees it)
                refusal = check(method, raw_path, headers, body, self._secrets,
                                now=time.time(), max_skew_s=self._max_skew_s)
                if refusal is not None:
                    return auth_reply(refusal, request_id)
            found = route(method, raw_path, self.project_id)
            if isinstance(found, ApiError):
                return error_reply(found, request_id)
            return self._run(found, lower, body, request_id)
        except Exception as exc:  # (a bug of ours, or a closed emulator: never a traceback)
            self.internal_errors.append(exc)
            return error_reply(INTERNAL, request_id)

    def _run(self, found: Route, headers: Mapping[str, str], body: bytes,
             request_id: str) -> Reply:
        if found.operation == "list_functions":
            return json_reply(200, list_body(
                config_body(s.emulator.config, s.urn, self.project_id)
                for s in self.served.values()), request_id)
        served = self.served.get((found.package, found.name))
        refused = (NO_FUNCTION if served is None
                   else check_qualifier(found.qualifier, served.emulator.version))
        if refused is not None or served is None:
            return error_reply(refused or NO_FUNCTION, request_id)
        if found.operation == "list_async":
            emulator = served.emulator
            listed = async_list_body(emulator.async_invocations(), found.query,
                                     lambda elapsed: emulator.now - emulator.elapsed + elapsed)
            if isinstance(listed, ApiError):
                return error_reply(listed, request_id)
            return json_reply(200, listed, request_id)
        if found.operation == "show_config":
            return json_reply(200, config_body(served.emulator.config, served.urn,
                                               self.project_id), request_id)
        try:
            event: Any = json.loads(body) if body.strip() else {}  # [assumption] empty: {}
        except ValueError:
            return error_reply(BAD_JSON, request_id)
        if found.operation == "invoke_async":
            return self._invoke_async(served, event, request_id)
        with served.lock:  # (one send at a time per emulator: the others queue here)
            try:
                invocation = served.emulator.invoke(event)
            except RuntimeError:  # (not started, or closed under the endpoint)
                return error_reply(UNAVAILABLE, request_id)
        return invoke_reply(invocation,
                            v1=headers.get("x-cff-request-version", "").lower() == "v1",
                            tail=headers.get("x-cff-log-type", "").lower() == "tail",
                            redact=served.emulator.redact)


    @staticmethod
    def _invoke_async(served: Any, event: Any, request_id: str) -> Reply:
        """Accept the request into the emulator's queue (A3: 202 and its id), or refuse it
        as the platform does (over 256 KB, a disabled function). [assumption] The queue is
        then run at once, retries and their waits included (fast on a virtual clock): what
        became of it is in the emulator's records and destinations."""
        with served.lock:
            try:
                request = served.emulator.invoke_async(event)
                if request.accepted:
                    served.emulator.drain()
            except RuntimeError:
                return error_reply(UNAVAILABLE, request_id)
        if request.refusal is not None:
            refusal = request.refusal
            status = int(str(refusal.code).rpartition(".")[2])
            return json_reply(status, refusal.to_body(), request_id)
        return accepted_reply(request.request_id)


class EndpointServer(ThreadingHTTPServer):
    """A threaded server that knows its open connections, to close them all at the end
    (a keep-alive client would otherwise hold a thread and a socket forever)."""

    daemon_threads = False
    block_on_close = True  # (server_close() joins the connection threads)
    request_queue_size = 128
    allow_reuse_address = False

    def __init__(self, address: tuple[str, int], functions: Functions) -> None:
        self.functions = functions
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._open_lock:
            open_now = list(self._open)
        for sock in open_now:
            with contextlib.suppress(OSError):  # (wakes its thread; it closes the socket)
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # (a client that went away midway: nothing to tell anyone)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # (keep-alive, as the SDK's requests session expects)
    timeout = 300  # (an idle connection is closed after this many seconds)
    disable_nagle_algorithm = True  # (headers and body are two writes: no 40 ms wait)
    server: EndpointServer

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    def _serve(self) -> None:
        functions = self.server.functions
        length_text = self.headers.get("Content-Length", "0")
        if "Transfer-Encoding" in self.headers:  # (no client of this API streams a body)
            self._send(error_reply(CHUNKED, str(uuid.uuid4())), close=True)
            return
        if not length_text.isdigit():
            self._send(error_reply(BAD_JSON, str(uuid.uuid4())), close=True)
            return
        length = int(length_text)
        if length > functions.body_limit(self.command, self.path):
            # (refused before reading: the connection closes, its body unread)
            self._send(error_reply(TOO_LARGE, str(uuid.uuid4())), close=True)
            return
        body = self.rfile.read(length)
        if len(body) < length:
            self.close_connection = True  # (the client went away midway)
            return
        self._send(functions.answer(self.command, self.path, dict(self.headers.items()),
                                    body))

    def _send(self, reply: Reply, *, close: bool = False) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if getattr(self, "command", None) != "HEAD":
            self.wfile.write(reply.body)

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        # (a request line or headers http.server cannot read: the platform's error body)
        error = ApiError(code, f"FSS.{code:04d}", message or "Invalid parameter.")
        self._send(error_reply(error, str(uuid.uuid4())), close=True)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # (no access log: a request line can carry what a user did not mean to print)
