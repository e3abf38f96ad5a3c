"""``fginit serve``: the local endpoint in front of one or more functions, until Ctrl-C.
[test process]

The startup lines say where it listens, the URN of each function and a client snippet to
paste. SIGINT or SIGTERM stops it: the server closes first (no new request), then every
emulator (instances stopped, pre-stop run, instance processes ended).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import signal
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING, Any

from .options import UsageError, add_config_arguments, config_from

if TYPE_CHECKING:
    from ..endpoint import LocalEndpoint

DESCRIPTION = """\
Serve functions behind a local FunctionGraph endpoint: Huawei Cloud's SDK (or any HTTP client)
invokes them at http://HOST:PORT, as it would the cloud. With --ak and --sk, every request's
SDK-HMAC-SHA256 signature is checked. The project in paths and URNs is the first function's
project_id (--project-id sets it for every function). Ctrl-C stops it."""

SNIPPET = """\
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkfunctiongraph.v2 import FunctionGraphClient, InvokeFunctionRequest
client = (FunctionGraphClient.new_builder()
          .with_credentials(BasicCredentials("{ak}", "<your SK>", "{project}"))
          .with_endpoint("{url}").build())
print(client.invoke_function(InvokeFunctionRequest(
    function_urn="{urn}", x_cff_request_version="v1", body={{"key": "value"}})).result)"""


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "serve", help="serve functions behind a local invoke API", description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", nargs="*", metavar="CONFIG",
                        help="deployment files (path#name picks one function); none: the "
                             "function the flags describe")
    parser.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: free)")
    parser.add_argument("--ak", help="access key requests must be signed with")
    parser.add_argument("--sk", help="secret key requests must be signed with")
    parser.add_argument("--region", default="cn-north-4", help="region in the URNs")
    add_config_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # (imported here: `fginit invoke` and every --help start faster without them)
    from ..emulator import FunctionEmulator
    from ..endpoint import serve

    if (args.ak is None) != (args.sk is None):
        raise UsageError("give both --ak and --sk (to check signatures) or neither")
    configs = [config_from(c, args) for c in args.config] or [config_from(None, args)]
    stop = threading.Event()
    previous = {s: signal.signal(s, _stopper(stop)) for s in (signal.SIGINT, signal.SIGTERM)}
    emulators: list[Any] = []  # (FunctionEmulator)
    try:
        with contextlib.ExitStack() as stack:
            for config in configs:
                emulators.append(stack.enter_context(FunctionEmulator(config)))
            try:
                endpoint = serve(emulators, host=args.host, port=args.port, ak=args.ak,
                                 sk=args.sk, region=args.region)
            except OSError as exc:
                raise UsageError(f"cannot listen on {args.host}:{args.port}: "
                                 f"{exc.strerror or exc}") from None
            stack.callback(endpoint.close)  # (closed before the emulators: no new request)
            _announce(endpoint)
            # (what the functions print is in their logs, not on this terminal)
            stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
            while not stop.wait(0.2):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(f"fginit serve: stopped ({sum(len(e.invocations) for e in emulators)} requests "
          "served)", file=sys.stderr)
    return 0


def _stopper(stop: threading.Event) -> Any:
    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()
    return handler


def _announce(endpoint: LocalEndpoint) -> None:
    lines = [f"fginit serve: listening on {endpoint.url} (project {endpoint.project_id}; "
             + ("signatures checked" if endpoint.ak else "any signature accepted")
             + "; Ctrl-C stops)"]
    lines += [f"  {urn}" for urn in endpoint.urns]
    lines += ["client:", SNIPPET.format(ak=endpoint.ak or "any-ak", project=endpoint.project_id,
                                        url=endpoint.url, urn=endpoint.urns[0])]
    print("\n".join(lines), flush=True)
