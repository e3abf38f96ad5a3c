"""SDK-HMAC-SHA256 verification: Huawei's own signer signs, the endpoint's verifier accepts;
any change to what was signed is refused (invoke-api.md, section 6)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from pytest_fginit._endpoint.signature import (
    BAD_SIGNATURE,
    NO_AUTHORIZATION,
    UNKNOWN_AK,
    canonical_request,
    check,
)

signer = pytest.importorskip("huaweicloudsdkcore.signer.signer")
sdk_request = pytest.importorskip("huaweicloudsdkcore.sdk_request")

AK, SK = "LOCALAK0123456789", "local-secret-key-0123456789abcdef"
SECRETS = {AK: SK}
PROJECT = "0123456789abcdef0123456789abcdef"
URN = f"urn:fss:cn-north-4:{PROJECT}:function:default:hello:latest"
PATH = f"/v2/{PROJECT}/fgs/functions/{quote(URN, safe='')}/invocations"


class Keys:
    def __init__(self, ak: str, sk: str) -> None:
        self.ak, self.sk = ak, sk


def signed(method: str = "POST", path: str = PATH, body: bytes = b'{"key": "value"}',
           query: list[tuple[str, object]] | None = None, headers: dict[str, str] | None = None,
           sk: str = SK) -> tuple[str, dict[str, str], bytes]:
    """(raw path, headers, body) as the SDK sends them, signed by its own `Signer`."""
    request = sdk_request.SdkRequest(
        method=method, schema="http", host="127.0.0.1:8000", resource_path=path,
        query_params=list(query or []), body=body,
        header_params={"Content-Type": "application/json", "User-Agent": "sdk-test",
                       "X-Project-Id": PROJECT, **(headers or {})})
    signer.Signer(Keys(AK, sk)).sign(request)
    return request.uri, dict(request.header_params), body


def test_the_sdks_signature_is_accepted():
    assert check("POST", *signed(), SECRETS) is None


def test_optional_headers_a_query_an_empty_body_and_a_get_are_accepted_too():
    path, headers, body = signed(headers={"X-Cff-Log-Type": "tail",
                                          "X-CFF-Request-Version": "v1"})
    assert check("POST", path, headers, body, SECRETS) is None
    listing = f"/v2/{PROJECT}/fgs/functions"
    path, headers, body = signed("GET", listing, b"", query=[("maxitems", "10"),
                                                             ("marker", "0"), ("a b", "c~d")])
    assert "?" in path
    assert check("GET", path, headers, body, SECRETS) is None


def test_header_names_are_read_in_any_case():
    path, headers, body = signed()
    assert check("POST", path, {k.upper(): v for k, v in headers.items()}, body,
                 SECRETS) is None


@pytest.mark.parametrize("change", ["body", "signed header", "date", "path", "query",
                                    "method"])
def test_a_change_to_what_was_signed_is_refused(change):
    path, headers, body = signed(query=[("marker", "0")])
    method = "POST"
    if change == "body":
        body = b'{"key": "other"}'
    elif change == "signed header":
        headers["X-Project-Id"] = "another"
    elif change == "date":
        headers["X-Sdk-Date"] = "20200101T000000Z"
    elif change == "path":
        path = path.replace("hello", "hellO")
    elif change == "query":
        path = path.replace("marker=0", "marker=1")
    else:
        method = "PUT"
    assert check(method, path, headers, body, SECRETS) is BAD_SIGNATURE


def test_an_unsigned_header_may_change():
    path, headers, body = signed()
    headers["Accept-Encoding"] = "gzip"  # (added by requests after signing: never signed)
    assert check("POST", path, headers, body, SECRETS) is None


def test_a_wrong_secret_key_an_unknown_access_key_and_no_authorization_are_refused():
    assert check("POST", *signed(sk="not-the-key"), SECRETS) is BAD_SIGNATURE
    assert check("POST", *signed(), {"OTHER": SK}) is UNKNOWN_AK
    path, headers, body = signed()
    del headers["Authorization"]
    assert check("POST", path, headers, body, SECRETS) is NO_AUTHORIZATION


@pytest.mark.parametrize("authorization", [
    "", "SDK-HMAC-SHA256", "Basic abc", "SDK-HMAC-SM3 Access=x, SignedHeaders=host, Signature=0",
    f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=host;x-missing, Signature=00",
    f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=host, Signature=00",  # (no x-sdk-date)
    "SDK-HMAC-SHA256 ,,,===",
])
def test_a_malformed_authorization_is_refused_never_raised(authorization):
    path, headers, body = signed()
    headers["Authorization"] = authorization
    assert check("POST", path, headers, body, SECRETS) in (BAD_SIGNATURE, UNKNOWN_AK)


def test_the_refusals_never_hold_the_secret_key():
    for refusal in (BAD_SIGNATURE, UNKNOWN_AK, NO_AUTHORIZATION):
        assert SK not in repr(refusal) and AK not in refusal.message


def test_the_canonical_request_matches_the_references_example():
    # (invoke-api.md section 6: the canonical request the server recomputed for section 3)
    urn = f"urn:fss:cn-north-4:{PROJECT}:function:default:hello:latest"
    text = canonical_request(
        "POST", f"/v2/{PROJECT}/fgs/functions/{quote(urn, safe='')}/invocations",
        [("content-type", "application/json"), ("host", "127.0.0.1:46051")], b"")
    lines = text.split("\n")
    assert lines[0] == "POST"
    assert lines[1].endswith("%3Ahello%3Alatest/invocations/")
    assert lines[2] == ""  # (no query)
    assert lines[3:6] == ["content-type:application/json", "host:127.0.0.1:46051", ""]
    assert lines[6] == "content-type;host"
    assert lines[7] == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_the_clock_skew_check_is_off_unless_asked():
    from datetime import datetime, timezone

    from pytest_fginit._endpoint.signature import STALE

    path, headers, body = signed(headers={"X-Sdk-Date": "20200101T000000Z"})
    signed_at = datetime(2020, 1, 1, tzinfo=timezone.utc).timestamp()
    assert check("POST", path, headers, body, SECRETS) is None  # (off: any date)
    assert check("POST", path, headers, body, SECRETS, now=signed_at + 899,
                 max_skew_s=900) is None
    assert check("POST", path, headers, body, SECRETS, now=signed_at + 901,
                 max_skew_s=900) is STALE
    headers["X-Sdk-Date"] = "yesterday"
    assert check("POST", path, headers, body, SECRETS, now=signed_at,
                 max_skew_s=900) is STALE
