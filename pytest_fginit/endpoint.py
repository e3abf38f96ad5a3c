"""A local FunctionGraph endpoint: the invoke API over HTTP, in front of emulators.
[test process: the server runs on threads of it]

``with serve(fn) as endpoint: endpoint.client().invoke_function(...)``: the real
``huaweicloudsdkfunctiongraph`` client, pointed at ``endpoint.url``, invokes the emulated
function, its requests' signatures checked when an AK/SK is set. Public, but not re-exported by
`pytest_fginit`: importing the package must not import an HTTP server.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ._endpoint.routes import function_urn
from ._endpoint.server import EndpointServer, Functions

if TYPE_CHECKING:
    from .emulator import FunctionEmulator

__all__ = ["LocalEndpoint", "serve"]

DEFAULT_REGION = "cn-north-4"
"""[assumption] the region the URNs name (any is accepted in a request's URN)."""


def serve(emulators: FunctionEmulator | Iterable[FunctionEmulator], *,
          host: str = "127.0.0.1", port: int = 0, ak: str | None = None,
          sk: str | None = None, project_id: str | None = None,
          region: str = DEFAULT_REGION,
          max_clock_skew_s: float | None = None) -> LocalEndpoint:
    """Serve started ``emulators`` on ``host:port`` (port 0: a free one) until `close()`.

    With ``ak`` and ``sk``, every request must be signed with them (SDK-HMAC-SHA256) or is
    refused as the gateway refuses it (401 ``APIGW.0301``); without, any signature is
    accepted. ``project_id`` defaults to the first function's ``project_id``.

    ``max_clock_skew_s`` (off by default: the SDK signs with the time a test froze) refuses
    signatures dated further than that from the clock the emulators show (the gateway allows
    900 s)."""
    __tracebackhide__ = True  # (``sk`` is a local: pytest -l would show it)
    listed = [emulators] if not isinstance(emulators, Iterable) else list(emulators)
    if not listed:
        raise ValueError("serve(): give at least one FunctionEmulator")
    if (ak is None) != (sk is None) or ak == "" or sk == "":
        raise ValueError("serve(): give both ak and sk (to check signatures) or neither")
    project = project_id or listed[0].config.project_id
    functions = Functions(listed, project_id=project, region=region,
                          secrets={ak: sk} if ak is not None and sk is not None else {},
                          max_clock_skew_s=max_clock_skew_s)
    return LocalEndpoint(EndpointServer((host, port), functions), ak, sk)


class LocalEndpoint:
    """A running endpoint (`serve`): where it listens, what it serves, a ready client."""

    def __init__(self, server: EndpointServer, ak: str | None, sk: str | None) -> None:
        __tracebackhide__ = True  # (``sk`` is a local: pytest -l would show it)
        self._server = server
        self._functions = server.functions
        self.ak = ak
        """The access key requests must be signed with (``None``: any signature goes)."""
        self._sk = sk
        self.project_id = self._functions.project_id
        self.region = self._functions.region
        host, port = server.server_address[:2]
        self.host, self.port = str(host), int(port)
        self.url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(target=server.serve_forever, kwargs={
            "poll_interval": 0.05}, name=f"fginit-endpoint-{self.port}", daemon=True)
        self._thread.start()
        self._closed = False

    @property
    def sk(self) -> str | None:
        """The secret key requests must be signed with (never shown in a repr)."""
        return self._sk

    @property
    def internal_errors(self) -> list[BaseException]:
        """Failures of the endpoint itself, each answered 500 ``FSS.0500``."""
        return self._functions.internal_errors

    def function_urn(self, name: str | None = None, *, package: str | None = None,
                     qualifier: str = "latest") -> str:
        """The URN to invoke a served function by (``name``: optional if there is one)."""
        served = [key for key in self._functions.served
                  if (name is None or key[1] == name) and (package is None or key[0] == package)]
        if len(served) != 1:
            known = ", ".join(n for _, n in self._functions.served)
            raise KeyError(f"function_urn({name!r}): {'no' if not served else 'more than one'}"
                           f" served function matches; served: {known}")
        return function_urn(self.region, self.project_id, *served[0], qualifier)

    @property
    def urns(self) -> list[str]:
        """Every served function's URN (qualifier ``latest``)."""
        return [s.urn for s in self._functions.served.values()]

    def client(self) -> Any:
        """A ``FunctionGraphClient`` for this endpoint, signing with its AK/SK (placeholders
        when it checks none). Needs the SDK: ``pip install 'pytest-fginit[sdk]'``."""
        try:
            from huaweicloudsdkcore.auth.credentials import BasicCredentials
            from huaweicloudsdkfunctiongraph.v2 import FunctionGraphClient
        except ImportError:
            raise RuntimeError("LocalEndpoint.client() needs Huawei Cloud's SDK: pip install "
                               "'pytest-fginit[sdk]' (huaweicloudsdkfunctiongraph)") from None
        ak, sk = self.signing_keys()
        return (FunctionGraphClient.new_builder()
                .with_credentials(BasicCredentials(ak, sk, self.project_id))
                .with_endpoint(self.url).build())

    def signing_keys(self) -> tuple[str, str]:
        """(AK, SK) a client signs with: the endpoint's, or placeholders if it checks none."""
        if self.ak is not None and self._sk is not None:
            return self.ak, self._sk
        return "fginit-local-ak", "fginit-local-sk"

    def environment(self) -> dict[str, str]:
        """Variables that point unmodified code at this endpoint: the region's endpoint
        (read by ``FunctionGraphRegion.value_of``) and the SDK's credentials."""
        ak, sk = self.signing_keys()
        region = self.region.upper().replace("-", "_")
        return {f"HUAWEICLOUD_SDK_REGION_FUNCTIONGRAPH_{region}": self.url,
                "HUAWEICLOUD_SDK_AK": ak, "HUAWEICLOUD_SDK_SK": sk,
                "HUAWEICLOUD_SDK_PROJECT_ID": self.project_id}

    def close(self) -> None:
        """Stop serving: the server thread ends and every socket is closed (the emulators
        stay open: they are the caller's)."""
        if self._closed:
            return
        self._closed = True
        self._server.shutdown()  # (the accept loop ends)
        self._server.close_connections()  # (keep-alive connections end too)
        self._server.server_close()  # (the listening socket; connection threads joined)
        self._thread.join()

    def __enter__(self) -> LocalEndpoint:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        checks = f"signatures checked for AK {self.ak!r}" if self.ak else "any signature"
        state = "closed" if self._closed else "serving"
        return f"<LocalEndpoint {self.url} {state}: {len(self.urns)} functions, {checks}>"


def new_secret_key() -> str:
    """A random secret key for a local endpoint."""
    return secrets.token_hex(20)
