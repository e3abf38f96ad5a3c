"""SDK-HMAC-SHA256: re-sign a received request and compare (invoke-api.md, section 6).
[test process]

The endpoint checks signatures itself, with the standard library, so that checking needs no
SDK installed (a caller may be Java or Go); the tests prove it agrees with the SDK's own
`Signer`. A secret key is only ever an argument of `hmac.new`: it is never formatted, logged
or put in an exception.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import parse_qsl, quote, unquote

ALGORITHM = "SDK-HMAC-SHA256"
EMPTY_BODY_HASH = hashlib.sha256(b"").hexdigest()


@dataclass(frozen=True)
class Refusal:
    """Why a request's signature is refused: the gateway's message (no secret in it)."""

    message: str


BAD_SIGNATURE = Refusal("Incorrect IAM authentication information: verify aksk signature "
                        "fail, ......")
UNKNOWN_AK = Refusal("Incorrect IAM authentication information: Get secretKey failed,"
                     "ak:******,err:ak not exist")  # (masked, as the gateway masks it)
# [assumption] the reference gives no text for a request signed too long ago: ours.
STALE = Refusal("Incorrect IAM authentication information: the request's X-Sdk-Date is too "
                "far from the server's time")
NO_AUTHORIZATION = Refusal("Incorrect IAM authentication information: Authorization not "
                           "found")


def check(method: str, raw_path: str, headers: Mapping[str, str], body: bytes,
          secrets: Mapping[str, str], *, now: float | None = None,
          max_skew_s: float | None = None) -> Refusal | None:
    """``None`` if ``headers["Authorization"]`` signs this request with the secret key of its
    access key in ``secrets`` (AK -> SK); the reason otherwise. ``raw_path`` is the path and
    query exactly as received (still percent-encoded); header names in any case. With
    ``max_skew_s``, a signature dated more than that from ``now`` is refused too."""
    lower = {name.lower(): value for name, value in headers.items()}
    authorization = lower.get("authorization")
    if authorization is None:
        return NO_AUTHORIZATION
    algorithm, _, rest = authorization.strip().partition(" ")
    fields = {}
    for part in rest.split(","):
        key, _, value = part.strip().partition("=")
        fields[key] = value
    access, signed, signature = (fields.get(k) for k in ("Access", "SignedHeaders",
                                                         "Signature"))
    if algorithm != ALGORITHM or not access or not signed or not signature:
        return BAD_SIGNATURE
    secret = secrets.get(access)
    if secret is None:
        return UNKNOWN_AK
    names = signed.split(";")
    date = lower.get("x-sdk-date")
    if date is None or "x-sdk-date" not in names or any(n not in lower for n in names):
        return BAD_SIGNATURE
    if max_skew_s is not None and now is not None and not _recent(date, now, max_skew_s):
        return STALE
    canonical = canonical_request(method, raw_path, [(n, lower[n]) for n in names], body)
    to_sign = f"{ALGORITHM}\n{date}\n{_sha256(canonical.encode())}"
    expected = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    return None if hmac.compare_digest(expected, signature) else BAD_SIGNATURE


def canonical_request(method: str, raw_path: str, signed: list[tuple[str, str]],
                      body: bytes) -> str:
    """The text the client signed, step 5 of the reference's section 6. ``signed``: the
    signed headers in the order ``SignedHeaders`` lists them, lower-case names, values as
    received."""
    path, _, query = raw_path.partition("?")
    uri = "/".join(quote(segment, safe="~") for segment in unquote(path).split("/"))
    if not uri.endswith("/"):
        uri += "/"
    pairs = sorted(parse_qsl(query, keep_blank_values=True))
    canonical_query = "&".join(f"{quote(k, safe='~')}={quote(v, safe='~')}" for k, v in pairs)
    # (values crossed the wire as UTF-8 read as latin-1, which is how http.server hands them)
    headers = "".join(f"{name}:{_as_sent(value).strip()}\n" for name, value in signed)
    # (a body the client chose not to hash says so in a signed header: UNSIGNED-PAYLOAD)
    payload = (EMPTY_BODY_HASH if not body
               else dict(signed).get("x-sdk-content-sha256") or _sha256(body))
    return "\n".join([method.upper(), uri, canonical_query, headers,
                      ";".join(name for name, _ in signed), payload])


def _recent(date: str, now: float, max_skew_s: float) -> bool:
    try:
        signed_at = datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return False
    return abs(signed_at.timestamp() - now) <= max_skew_s


def _as_sent(value: str) -> str:
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
