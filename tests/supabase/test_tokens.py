"""Local access-token verification (lib/supabase/tokens.py): the attack matrix, claims, and the JWKS cache."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import random
import string
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose import jwt as jose_jwt

from lib.config import Settings, resolve_settings
from lib.supabase import tokens
from lib.supabase.tokens import Claims, InvalidToken, KeySource, default_key_source, verify_access_token
from lib.supabase.transport import ConnectFailed, Pool, ReadTimedOut, Response

SUPABASE_URL = "http://127.0.0.1:54321"
ISSUER = f"{SUPABASE_URL}/auth/v1"
JWKS_URL = f"{ISSUER}/.well-known/jwks.json"
JWT_SECRET = "jwt-secret-LEAKCANARY-for-tests-at-least-32-characters"
PUBLISHABLE_KEY = "sb_publishable_LEAKCANARYpublic0001"
SECRET_KEY = "sb_secret_LEAKCANARYsecret0001"
NOW = 1_700_000_000
USER_ID = "8d0fd2b3-9ca7-4c9e-a5a2-5b5a1b0f3c11"

BASE_ENV = {
    "APP_ENV": "development",
    "SUPABASE_URL": SUPABASE_URL,
    "SUPABASE_JWT_SECRET": JWT_SECRET,
    "SUPABASE_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
    "SUPABASE_SECRET_KEY": SECRET_KEY,
}


# --- helpers -------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_json(value: object) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def int_b64url(number: int, length: int | None = None) -> str:
    return b64url(number.to_bytes(length or (number.bit_length() + 7) // 8, "big"))


def ec_jwk(key: ec.EllipticCurvePrivateKey, kid: str, **extra: Any) -> dict[str, Any]:
    numbers = key.public_key().public_numbers()
    size = (key.curve.key_size + 7) // 8
    curve = {256: "P-256", 384: "P-384"}[key.curve.key_size]
    jwk = {
        "kty": "EC",
        "crv": curve,
        "x": int_b64url(numbers.x, size),
        "y": int_b64url(numbers.y, size),
        "kid": kid,
        "use": "sig",
        "alg": "ES256",
    }
    return {**jwk, **extra}


def rsa_jwk(key: rsa.RSAPrivateKey, kid: str, **extra: Any) -> dict[str, Any]:
    numbers = key.public_key().public_numbers()
    jwk = {"kty": "RSA", "n": int_b64url(numbers.n), "e": int_b64url(numbers.e), "kid": kid, "alg": "RS256"}
    return {**jwk, **extra}


def claims(**overrides: Any) -> dict[str, Any]:
    """A valid access token's claims at NOW; an override of None removes the claim."""
    base: dict[str, Any] = {
        "sub": USER_ID,
        "aud": "authenticated",
        "iss": ISSUER,
        "role": "authenticated",
        "exp": NOW + 3600,
        "iat": NOW - 10,
        "email": "driver@example.com",
        "session_id": "a3c8e1f0-0000-4000-8000-000000000001",
        "user_role": "admin",
        "aal": "aal1",
    }
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


def hs256(payload: Mapping[str, Any], secret: str = JWT_SECRET, headers: dict[str, Any] | None = None) -> str:
    return str(jose_jwt.encode(dict(payload), secret, algorithm="HS256", headers=headers))


def craft(header: Mapping[str, Any], payload: Mapping[str, Any], signature: bytes = b"") -> str:
    """A token assembled by hand, with whatever header and signature the test wants."""
    return f"{b64url_json(header)}.{b64url_json(payload)}.{b64url(signature)}"


def hmac_token(header: Mapping[str, Any], payload: Mapping[str, Any], secret: bytes) -> str:
    """HS256 over header and payload with raw bytes as the secret (python-jose refuses PEM secrets)."""
    signing_input = f"{b64url_json(header)}.{b64url_json(payload)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def with_header(token: str, header: Mapping[str, Any]) -> str:
    """The same payload and signature under a different header."""
    _, payload, signature = token.split(".")
    return f"{b64url_json(header)}.{payload}.{signature}"


def with_payload(token: str, payload: Mapping[str, Any]) -> str:
    """A different payload under the original header and signature."""
    header, _, signature = token.split(".")
    return f"{header}.{b64url_json(payload)}.{signature}"


def rejected(token: str, settings: Settings, reason: str | None = None, **kwargs: Any) -> InvalidToken:
    """Assert InvalidToken (whose message contains `reason`) and that nothing secret leaks."""
    with pytest.raises(InvalidToken, match=reason) as caught:
        verify_access_token(token, settings, now=NOW, **kwargs)
    error = caught.value
    # Nothing secret in the message or anything chained to it.
    text = "".join(traceback.format_exception(error))
    assert "LEAKCANARY" not in text
    if len(token) > 20:
        assert token not in text
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__
    return error


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


class FakeFetch:
    """A JWKS endpoint: returns `document` (or raises it, if it is an exception) and counts calls."""

    def __init__(self, document: object) -> None:
        self.document = document
        self.urls: list[str] = []

    def __call__(self, url: str) -> Any:
        self.urls.append(url)
        if isinstance(self.document, BaseException):
            raise self.document
        return self.document

    @property
    def count(self) -> int:
        return len(self.urls)


# --- fixtures ------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail any test that would reach the real JWKS endpoint through the shared pool."""
    from lib.supabase import clients

    calls: list[str] = []

    def forbidden() -> Pool:
        calls.append("upstream_pool")
        raise AssertionError("unit tests must not use the network")

    monkeypatch.setattr(clients, "upstream_pool", forbidden)
    yield
    assert calls == []


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def ec_key_2() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """HS256 only: the legacy secret, JWKS fetched from the (never reached) default URL."""
    return resolve_settings(BASE_ENV, root=tmp_path)


@pytest.fixture
def jwks(ec_key: ec.EllipticCurvePrivateKey, rsa_key: rsa.RSAPrivateKey) -> dict[str, Any]:
    return {"keys": [ec_jwk(ec_key, "ec-1"), rsa_jwk(rsa_key, "rsa-1")]}


@pytest.fixture
def inline_settings(tmp_path: Path, jwks: dict[str, Any]) -> Settings:
    """The secret plus an inline JWKS with one EC and one RSA key."""
    return resolve_settings({**BASE_ENV, "SUPABASE_JWKS": json.dumps(jwks)}, root=tmp_path)


@pytest.fixture
def es256(ec_key: ec.EllipticCurvePrivateKey) -> Callable[..., str]:
    def mint(payload: Mapping[str, Any], kid: str = "ec-1", key: Any = ec_key) -> str:
        return str(jose_jwt.encode(dict(payload), key, algorithm="ES256", headers={"kid": kid}))

    return mint


@pytest.fixture
def rs256(rsa_key: rsa.RSAPrivateKey) -> Callable[..., str]:
    def mint(payload: Mapping[str, Any], kid: str = "rsa-1") -> str:
        return str(jose_jwt.encode(dict(payload), rsa_key, algorithm="RS256", headers={"kid": kid}))

    return mint


@pytest.fixture
def decode_calls(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The `algorithms` argument of every python-jose decode call."""
    seen: list[Any] = []
    original = jose_jwt.decode

    def spy(token: str, key: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs.get("algorithms"))
        return original(token, key, *args, **kwargs)

    monkeypatch.setattr(jose_jwt, "decode", spy)
    return seen


# --- valid tokens --------------------------------------------------------------------


def test_valid_hs256_token_yields_its_claims(settings: Settings) -> None:
    result = verify_access_token(hs256(claims()), settings, now=NOW)
    assert result == Claims(
        sub=USER_ID,
        email="driver@example.com",
        role="admin",
        session_id="a3c8e1f0-0000-4000-8000-000000000001",
        expires_at=NOW + 3600,
        raw={},
    )
    assert result.raw["aal"] == "aal1"
    with pytest.raises(TypeError):
        result.raw["user_role"] = "member"  # type: ignore[index]
    assert "raw" not in repr(result)


def test_optional_claims_may_be_absent(settings: Settings) -> None:
    result = verify_access_token(hs256(claims(email=None, session_id=None)), settings, now=NOW)
    assert result.email is None
    assert result.session_id is None


@pytest.mark.parametrize(
    ("user_role", "expected"),
    [
        ("admin", "admin"),
        ("manager", "manager"),
        ("member", "member"),
        (None, "member"),
        ("superuser", "member"),
        ("Admin", "member"),
        ("", "member"),
        (["admin"], "member"),
        ({"role": "admin"}, "member"),
        (True, "member"),
    ],
)
def test_role_comes_from_user_role_with_least_privilege_default(
    settings: Settings, user_role: object, expected: str
) -> None:
    token = hs256(claims(user_role=user_role))
    assert verify_access_token(token, settings, now=NOW).role == expected


@pytest.mark.parametrize(
    "extra",
    [
        {"user_metadata": {"role": "admin", "user_role": "admin"}},
        {"app_metadata": {"role": "admin", "user_role": "admin", "provider": "email"}},
        {"user_metadata": {"role": "admin"}, "app_metadata": {"role": "admin"}},
    ],
)
def test_metadata_never_grants_a_role(settings: Settings, extra: dict[str, Any]) -> None:
    token = hs256(claims(user_role=None, **extra))
    assert verify_access_token(token, settings, now=NOW).role == "member"


def test_audience_may_be_a_list_containing_authenticated(settings: Settings) -> None:
    token = hs256(claims(aud=["authenticated", "other"]))
    assert verify_access_token(token, settings, now=NOW).sub == USER_ID


def test_clock_leeway_is_small(settings: Settings) -> None:
    assert verify_access_token(hs256(claims(nbf=NOW + 5)), settings, now=NOW)
    assert verify_access_token(hs256(claims(iat=NOW + 60)), settings, now=NOW)
    assert verify_access_token(hs256(claims(exp=NOW + 1)), settings, now=NOW)
    rejected(hs256(claims(nbf=NOW + 6)), settings)
    rejected(hs256(claims(iat=NOW + 61)), settings)
    rejected(hs256(claims(exp=NOW)), settings)


def test_default_clock_is_the_wall_clock(settings: Settings) -> None:
    # NOW is in the past: without an injected clock this token has expired.
    with pytest.raises(InvalidToken):
        verify_access_token(hs256(claims()), settings)


def test_valid_es256_and_rs256_tokens_via_inline_jwks(
    inline_settings: Settings, es256: Callable[..., str], rs256: Callable[..., str]
) -> None:
    keys = KeySource(inline_settings, fetch=FakeFetch(AssertionError("inline keys are never fetched")))
    for token in (es256(claims()), rs256(claims(user_role="manager"))):
        result = verify_access_token(token, inline_settings, now=NOW, keys=keys)
        assert result.sub == USER_ID
    # The default source (no keys argument) reads the same inline set.
    assert verify_access_token(es256(claims()), inline_settings, now=NOW).role == "admin"
    assert verify_access_token(rs256(claims()), inline_settings, now=NOW).role == "admin"


def test_legacy_hs256_still_accepted_alongside_a_jwks(inline_settings: Settings) -> None:
    assert verify_access_token(hs256(claims()), inline_settings, now=NOW).sub == USER_ID


def test_algorithm_list_is_one_element_decided_by_the_key(
    inline_settings: Settings,
    es256: Callable[..., str],
    rs256: Callable[..., str],
    decode_calls: list[Any],
) -> None:
    verify_access_token(hs256(claims()), inline_settings, now=NOW)
    verify_access_token(es256(claims()), inline_settings, now=NOW)
    verify_access_token(rs256(claims()), inline_settings, now=NOW)
    assert decode_calls == [["HS256"], ["ES256"], ["RS256"]]


# --- the attack matrix ---------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE", " none", "none "])
@pytest.mark.parametrize("signature", [b"", b"garbage-signature", b"\x00"])
@pytest.mark.parametrize("kid", [None, "ec-1"])
def test_alg_none_is_rejected(
    inline_settings: Settings, decode_calls: list[Any], alg: str, signature: bytes, kid: str | None
) -> None:
    header = {"alg": alg, "typ": "JWT"} | ({"kid": kid} if kid else {})
    rejected(craft(header, claims(), signature), inline_settings, reason="none|segments")
    # Unsigned tokens never even reach python-jose.
    assert decode_calls == []


@pytest.mark.parametrize(
    "header", [{"typ": "JWT"}, {"alg": None}, {"alg": 256}, {"alg": ""}, {"alg": ["HS256"]}]
)
def test_missing_or_odd_alg_is_rejected(settings: Settings, header: dict[str, Any]) -> None:
    rejected(with_header(hs256(claims()), header), settings)


def test_hs256_with_a_wrong_secret_is_rejected(settings: Settings) -> None:
    rejected(hs256(claims(), secret="another-secret-that-is-at-least-32-characters"), settings)


def _public_key_secrets(ec_key: ec.EllipticCurvePrivateKey, rsa_key: rsa.RSAPrivateKey) -> dict[str, bytes]:
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    return {
        "rsa-pem": rsa_key.public_key().public_bytes(serialization.Encoding.PEM, spki),
        "rsa-der": rsa_key.public_key().public_bytes(serialization.Encoding.DER, spki),
        "rsa-pkcs1-pem": rsa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
        ),
        "ec-pem": ec_key.public_key().public_bytes(serialization.Encoding.PEM, spki),
        "ec-der": ec_key.public_key().public_bytes(serialization.Encoding.DER, spki),
    }


@pytest.mark.parametrize("which", ["rsa-pem", "rsa-der", "rsa-pkcs1-pem", "ec-pem", "ec-der"])
def test_key_confusion_public_key_as_hmac_secret_is_rejected(
    inline_settings: Settings,
    ec_key: ec.EllipticCurvePrivateKey,
    rsa_key: rsa.RSAPrivateKey,
    decode_calls: list[Any],
    which: str,
) -> None:
    secret = _public_key_secrets(ec_key, rsa_key)[which]
    kid = "rsa-1" if which.startswith("rsa") else "ec-1"
    # With the key's kid: HS256 is only ever verified with the JWT secret, which the
    # public key is not; the asymmetric key is never used as an HMAC secret.
    rejected(hmac_token({"alg": "HS256", "typ": "JWT", "kid": kid}, claims(), secret), inline_settings)
    # Without a kid: likewise.
    rejected(hmac_token({"alg": "HS256", "typ": "JWT"}, claims(), secret), inline_settings)
    assert decode_calls == [["HS256"], ["HS256"]]
    # The public key in JWK form (what the JWKS endpoint serves) as the secret, too.
    jwk_text = json.dumps(ec_jwk(ec_key, "ec-1") if kid == "ec-1" else rsa_jwk(rsa_key, "rsa-1"))
    rejected(hmac_token({"alg": "HS256", "kid": kid}, claims(), jwk_text.encode()), inline_settings)


@pytest.mark.parametrize(
    ("alg", "reason"),
    [
        ("RS256", "alg does not match"),
        # HS256 means the JWT secret whatever the kid: the ES256 signature fails under it.
        ("HS256", "python-jose rejected"),
        ("ES384", "not an allowed"),
        ("ES512", "not an allowed"),
        ("PS256", "not an allowed"),
        ("EdDSA", "not an allowed"),
        ("es256", "not an allowed"),
        ("HS384", "not an allowed"),
        ("HS512", "not an allowed"),
    ],
)
def test_es256_token_with_another_alg_in_the_header_is_rejected(
    inline_settings: Settings, es256: Callable[..., str], alg: str, reason: str
) -> None:
    token = es256(claims())
    rejected(with_header(token, {"alg": alg, "typ": "JWT", "kid": "ec-1"}), inline_settings, reason)


@pytest.mark.parametrize("alg", ["HS384", "HS512", "PS256", "ES384", "EdDSA"])
def test_an_alg_outside_the_allow_list_never_fetches_the_jwks(
    settings: Settings, fetched: tuple[KeySource, FakeFetch, FakeClock], es256: Callable[..., str], alg: str
) -> None:
    keys, fetch, _ = fetched
    rejected(with_header(es256(claims()), {"alg": alg, "kid": "ec-1"}), settings, "not an allowed", keys=keys)
    assert fetch.count == 0


def test_rs256_token_under_the_ec_kid_is_rejected(
    inline_settings: Settings, rs256: Callable[..., str]
) -> None:
    rejected(rs256(claims(), kid="ec-1"), inline_settings)


def test_es256_signed_by_another_key_is_rejected(
    inline_settings: Settings, es256: Callable[..., str], ec_key_2: ec.EllipticCurvePrivateKey
) -> None:
    rejected(es256(claims(), key=ec_key_2), inline_settings)


@pytest.mark.parametrize("kid", ["5a7c3f0e-2d4b-4c1a-9e8f-0b1c2d3e4f5a", "not-in-the-jwks", "ec-1", "rsa-1"])
def test_hs256_with_a_kid_is_verified_with_the_jwt_secret(
    inline_settings: Settings, decode_calls: list[Any], kid: str
) -> None:
    # A hosted project's shared-secret signing key puts its kid in the header and
    # leaves the HMAC key out of the JWKS (GoTrue's WellKnownJwks skips oct keys):
    # the secret verifies HS256 whatever the kid names.
    token = hs256(claims(), headers={"kid": kid})
    assert verify_access_token(token, inline_settings, now=NOW).sub == USER_ID
    assert decode_calls == [["HS256"]]


def test_hs256_with_a_kid_never_fetches_the_jwks(
    settings: Settings, fetched: tuple[KeySource, FakeFetch, FakeClock]
) -> None:
    keys, fetch, _ = fetched
    token = hs256(claims(), headers={"kid": "5a7c3f0e-2d4b-4c1a-9e8f-0b1c2d3e4f5a"})
    assert verify_access_token(token, settings, now=NOW, keys=keys).sub == USER_ID
    assert fetch.count == 0


def test_hs256_with_a_kid_and_a_wrong_secret_is_rejected(inline_settings: Settings) -> None:
    other = "another-secret-that-is-at-least-32-characters"
    rejected(hs256(claims(), secret=other, headers={"kid": "ec-1"}), inline_settings, "python-jose rejected")
    rejected(hs256(claims(), secret=other, headers={"kid": "x"}), inline_settings, "python-jose rejected")


@pytest.mark.parametrize("kid", ["", 7, ["k"], {"kid": "k"}, None])
def test_hs256_kid_when_present_must_be_a_non_empty_string(inline_settings: Settings, kid: object) -> None:
    token = hs256(claims())
    rejected(with_header(token, {"alg": "HS256", "typ": "JWT", "kid": kid}), inline_settings, "kid")


def test_asymmetric_token_with_an_unknown_kid_is_rejected(
    inline_settings: Settings, es256: Callable[..., str]
) -> None:
    rejected(es256(claims(), kid="not-in-the-jwks"), inline_settings, "unknown kid")


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_asymmetric_token_without_a_kid_is_rejected(
    inline_settings: Settings, es256: Callable[..., str], rs256: Callable[..., str], alg: str
) -> None:
    token = es256(claims()) if alg == "ES256" else rs256(claims())
    rejected(with_header(token, {"alg": alg, "typ": "JWT"}), inline_settings, "kid")


@pytest.mark.parametrize("kid", [None, "", 7, ["ec-1"], {"kid": "ec-1"}])
def test_kid_must_be_a_non_empty_string(
    inline_settings: Settings, es256: Callable[..., str], kid: object
) -> None:
    token = es256(claims())
    rejected(with_header(token, {"alg": "ES256", "kid": kid}), inline_settings)


def test_crit_header_is_rejected(settings: Settings) -> None:
    rejected(hs256(claims(), headers={"crit": ["exp"], "exp": 1}), settings, "crit")


def test_a_pem_shaped_jwt_secret_is_rejected_not_raised(
    settings: Settings, rsa_key: rsa.RSAPrivateKey
) -> None:
    pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    misconfigured = dataclasses.replace(settings, jwt_secret=pem.decode())
    rejected(hmac_token({"alg": "HS256", "typ": "JWT"}, claims(), pem), misconfigured, "HMAC key")


def test_a_malformed_inline_jwks_makes_no_key_usable(settings: Settings, es256: Callable[..., str]) -> None:
    misconfigured = dataclasses.replace(settings, jwks={"keys": "not-a-list"})
    keys = KeySource(misconfigured)
    rejected(es256(claims()), misconfigured, "unknown kid", keys=keys)


def test_token_without_kid_needs_the_jwt_secret(tmp_path: Path) -> None:
    production = resolve_settings(
        {
            "APP_ENV": "production",
            "SUPABASE_URL": SUPABASE_URL,
            "SUPABASE_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
            "SUPABASE_SECRET_KEY": SECRET_KEY,
        },
        root=tmp_path,
    )
    assert production.jwt_secret is None
    rejected(hs256(claims()), production, "SUPABASE_JWT_SECRET")
    # With a kid too: no JWKS ever holds the HMAC key, so nothing else could verify it.
    keys = KeySource(production, fetch=FakeFetch({"keys": []}))
    rejected(hs256(claims(), headers={"kid": "k"}), production, "SUPABASE_JWT_SECRET", keys=keys)


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"exp": NOW - 1}, id="expired"),
        pytest.param({"exp": NOW}, id="expires-now"),
        pytest.param({"exp": NOW - 3600, "iat": NOW - 7200}, id="expired-long-ago"),
        pytest.param({"nbf": NOW + 3600}, id="nbf-future"),
        pytest.param({"iat": NOW + 365 * 86400}, id="iat-a-year-ahead"),
        pytest.param({"aud": "anon"}, id="aud-anon"),
        pytest.param({"aud": "Authenticated"}, id="aud-case"),
        pytest.param({"aud": ["other"]}, id="aud-list-without"),
        pytest.param({"aud": []}, id="aud-empty-list"),
        pytest.param({"aud": 1}, id="aud-number"),
        pytest.param({"iss": "supabase-demo"}, id="iss-legacy-demo"),
        pytest.param({"iss": "supabase"}, id="iss-supabase"),
        pytest.param({"iss": f"{ISSUER}/"}, id="iss-trailing-slash"),
        pytest.param({"iss": SUPABASE_URL}, id="iss-without-path"),
        pytest.param({"iss": "http://localhost:54321/auth/v1"}, id="iss-other-host"),
        pytest.param({"iss": "https://evil.example/auth/v1"}, id="iss-foreign"),
        pytest.param({"iss": [ISSUER]}, id="iss-list"),
        pytest.param({"sub": ""}, id="sub-empty"),
        pytest.param({"sub": 42}, id="sub-number"),
        pytest.param({"sub": [USER_ID]}, id="sub-list"),
        pytest.param({"role": "anon"}, id="role-anon"),
        pytest.param({"role": "service_role"}, id="role-service"),
        pytest.param({"role": "postgres"}, id="role-postgres"),
        pytest.param({"role": ["authenticated"]}, id="role-list"),
        pytest.param({"sub": None}, id="missing-sub"),
        pytest.param({"exp": None}, id="missing-exp"),
        pytest.param({"iat": None}, id="missing-iat"),
        pytest.param({"aud": None}, id="missing-aud"),
        pytest.param({"iss": None}, id="missing-iss"),
        pytest.param({"role": None}, id="missing-role"),
    ],
)
def test_bad_claims_are_rejected(settings: Settings, overrides: dict[str, Any]) -> None:
    rejected(hs256(claims(**overrides)), settings)


@pytest.mark.parametrize("name", ["exp", "iat", "nbf"])
@pytest.mark.parametrize(
    "value",
    [
        pytest.param(str, id="string"),
        pytest.param(float, id="float"),
        pytest.param(lambda good: good + 0.5, id="fraction"),
        pytest.param(lambda good: [good], id="list"),
        pytest.param(lambda good: {"t": good}, id="object"),
        pytest.param(lambda good: True, id="true"),
        pytest.param(lambda good: False, id="false"),
        pytest.param(lambda good: "", id="empty-string"),
    ],
)
def test_time_claims_must_be_json_integers(
    settings: Settings, name: str, value: Callable[[int], object]
) -> None:
    good = {"exp": NOW + 3600, "iat": NOW - 10, "nbf": NOW - 10}[name]
    rejected(hs256(claims(**{name: value(good)})), settings)


def test_null_nbf_is_rejected(settings: Settings) -> None:
    payload = claims()
    payload["nbf"] = None
    rejected(hs256(payload), settings)


def test_oversized_token_is_rejected_at_8_kib(settings: Settings) -> None:
    def token_with_padding(size: int) -> str:
        return hs256(claims(padding="x" * size))

    size = 5000
    while len(token_with_padding(size + 1)) <= tokens.MAX_TOKEN_BYTES:
        size += 1
    largest = token_with_padding(size)
    assert len(largest) <= tokens.MAX_TOKEN_BYTES
    assert verify_access_token(largest, settings, now=NOW).sub == USER_ID
    assert len(token_with_padding(size + 1)) > tokens.MAX_TOKEN_BYTES
    rejected(token_with_padding(size + 1), settings, "8 KiB")
    rejected(token_with_padding(100_000), settings, "8 KiB")


def test_tampered_payload_is_rejected(
    settings: Settings, inline_settings: Settings, es256: Callable[..., str]
) -> None:
    member = claims(user_role="member")
    promoted = claims(user_role="admin")
    rejected(with_payload(hs256(member), promoted), settings)
    rejected(with_payload(es256(member), promoted), inline_settings)
    rejected(with_payload(hs256(member), claims(user_role="member", sub="someone-else")), settings)
    rejected(with_payload(hs256(claims(exp=NOW - 1)), claims()), settings)


def test_tampered_signature_is_rejected(settings: Settings) -> None:
    header, payload, signature = hs256(claims()).split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[0] ^= 1
    rejected(f"{header}.{payload}.{b64url(bytes(raw))}", settings)
    rejected(f"{header}.{payload}.{signature[:-4]}", settings)


def test_api_key_jwts_are_not_users(settings: Settings) -> None:
    legacy_anon = {"iss": "supabase-demo", "role": "anon", "exp": 1983812996}
    legacy_service = {"iss": "supabase-demo", "role": "service_role", "exp": 1983812996}
    rejected(hs256(legacy_anon), settings)
    rejected(hs256(legacy_service), settings)
    # Even with every other claim right, anon and service_role are not users.
    rejected(hs256(claims(role="anon")), settings, "role")
    rejected(hs256(claims(role="service_role")), settings, "role")


@pytest.mark.parametrize(
    "token",
    [
        PUBLISHABLE_KEY,
        SECRET_KEY,
        "sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgxAaH",
        "sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz",
        "sb_publishable_a.b.c",
    ],
)
def test_api_key_strings_are_not_tokens(settings: Settings, token: str) -> None:
    rejected(token, settings, "API key")


def test_the_projects_own_legacy_keys_are_rejected(tmp_path: Path) -> None:
    anon = hs256({"iss": "supabase-demo", "role": "anon", "exp": 1983812996})
    service = hs256({"iss": "supabase-demo", "role": "service_role", "exp": 1983812996})
    legacy = resolve_settings(
        {**BASE_ENV, "SUPABASE_PUBLISHABLE_KEY": anon, "SUPABASE_SECRET_KEY": service}, root=tmp_path
    )
    rejected(anon, legacy, "API key")
    rejected(service, legacy, "API key")


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda t: t + "=", id="padding"),
        pytest.param(lambda t: t.replace(".", "=.", 1), id="header-padding"),
        pytest.param(lambda t: " " + t, id="leading-space"),
        pytest.param(lambda t: t + "\n", id="trailing-newline"),
        pytest.param(lambda t: "Bearer " + t, id="bearer-prefix"),
        pytest.param(lambda t: t + ".", id="four-segments-empty"),
        pytest.param(lambda t: t + ".abc", id="four-segments"),
        pytest.param(lambda t: t.rsplit(".", 1)[0], id="two-segments"),
        pytest.param(lambda t: t.rsplit(".", 1)[0] + ".", id="empty-signature"),
        pytest.param(lambda t: "." + t.split(".", 1)[1], id="empty-header"),
        pytest.param(lambda t: t.replace("-", "+").replace("_", "/") + "+/", id="standard-alphabet"),
        pytest.param(lambda t: t.replace(".", ".!", 1), id="junk-in-payload"),
        pytest.param(lambda t: t[:10] + "\u00e9" + t[10:], id="non-ascii"),
        pytest.param(lambda t: t + "A", id="bad-length"),
    ],
)
def test_malformed_encodings_are_rejected(settings: Settings, mangle: Callable[[str], str]) -> None:
    rejected(mangle(hs256(claims())), settings)


def test_non_canonical_base64_is_rejected(settings: Settings) -> None:
    token = hs256(claims())
    header, payload, signature = token.split(".")
    # 32 signature bytes take 43 characters, the last with two unused low bits.
    # Setting one decodes to the same bytes under a lenient decoder (python-jose
    # would accept the signature); a strict one refuses it.
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
    assert len(signature) == 43
    bumped = signature[:-1] + alphabet[alphabet.index(signature[-1]) + 1]
    assert base64.urlsafe_b64decode(bumped + "=") == base64.urlsafe_b64decode(signature + "=")
    rejected(f"{header}.{payload}.{bumped}", settings, "canonical")


@pytest.mark.parametrize(
    "header",
    [
        b"[]",
        b'"HS256"',
        b"null",
        b"{",
        b'{"alg":"HS256","alg":"none"}',
        b'{"alg":"none","alg":"HS256"}',
        b'{"alg":"HS256","x":NaN}',
        b'{"alg":"HS256","x":1e400}',
        b"\xff\xfe{}",
        b'{"alg":"HS256"} trailing',
    ],
)
def test_header_must_be_a_strict_json_object(settings: Settings, header: bytes) -> None:
    _, payload, signature = hs256(claims()).split(".")
    rejected(f"{b64url(header)}.{payload}.{signature}", settings)


@pytest.mark.parametrize(
    "payload",
    [
        b"[]",
        b"null",
        b'"string"',
        b"not json",
        b'{"exp":1e400}',
        b'{"exp":Infinity}',
        b'{"exp":NaN}',
        b"[" * 3000 + b"]" * 3000,
        b'{"a":' * 1500 + b"1" + b"}" * 1500,
        b"\xc3\x28",
    ],
)
def test_payload_must_be_a_strict_json_object_even_when_signed(settings: Settings, payload: bytes) -> None:
    header = b64url_json({"alg": "HS256", "typ": "JWT"})
    signing_input = f"{header}.{b64url(payload)}"
    signature = hmac.new(JWT_SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    rejected(f"{signing_input}.{b64url(signature)}", settings)


def test_duplicate_claims_are_rejected_even_when_signed(settings: Settings) -> None:
    body = json.dumps(claims(role="anon"))[:-1] + ', "role": "authenticated"}'
    header = b64url_json({"alg": "HS256", "typ": "JWT"})
    signing_input = f"{header}.{b64url(body.encode())}"
    signature = hmac.new(JWT_SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    rejected(f"{signing_input}.{b64url(signature)}", settings, "strict JSON")


def test_at_hash_claim_is_rejected(settings: Settings) -> None:
    # python-jose validates at_hash when present; Supabase access tokens never carry one.
    rejected(hs256(claims(at_hash="abc")), settings)


def _fuzz_inputs() -> list[str]:
    rng = random.Random(20240611)
    alphabet = string.ascii_letters + string.digits + "-_.=+/ "
    unicode_pool = "é€ñ中文😀\u0000\u200b\ufeff\ud7ff\U0010ffff"
    inputs = ["", ".", "..", "...", "a.b.c", "a..c", ".b.", "e30.e30.e30", "e30.e30.", "null.null.null"]
    for _ in range(150):
        inputs.append("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 200))))
    for _ in range(60):
        inputs.append("".join(rng.choice(alphabet + unicode_pool) for _ in range(rng.randint(1, 80))))
    for _ in range(60):
        inputs.append(".".join(b64url(rng.randbytes(rng.randint(0, 64))) for _ in range(3)))
    for _ in range(40):
        inputs.append(bytes(rng.randrange(256) for _ in range(rng.randint(1, 60))).decode("latin-1"))
    for _ in range(40):
        header = rng.choice([{"alg": "HS256"}, {"alg": "ES256", "kid": "ec-1"}, {"alg": "RS256", "kid": "x"}])
        payload = {rng.choice(["exp", "iat", "sub", "aud", "iss", "role"]): rng.random() for _ in range(4)}
        inputs.append(craft(header, payload, rng.randbytes(rng.choice([0, 32, 64, 256]))))
    inputs.append("\udcff.\udcff.\udcff")
    inputs.append("a" * 9000)
    inputs.append(".".join(["A" * 3000] * 3))
    return inputs


def test_fuzz_garbage_only_ever_raises_invalid_token(inline_settings: Settings) -> None:
    for garbage in _fuzz_inputs():
        with pytest.raises(InvalidToken):
            verify_access_token(garbage, inline_settings, now=NOW)


@pytest.mark.parametrize("token", [None, b"a.b.c", 123, ["a", "b", "c"]])
def test_non_string_tokens_are_rejected(settings: Settings, token: Any) -> None:
    with pytest.raises(InvalidToken):
        verify_access_token(token, settings, now=NOW)


# --- JWKS: filtering -----------------------------------------------------------------


def test_unusable_jwks_entries_are_ignored(
    tmp_path: Path, ec_key: ec.EllipticCurvePrivateKey, es256: Callable[..., str]
) -> None:
    private = ec_key.private_numbers().private_value
    p384 = ec.generate_private_key(ec.SECP384R1())
    small_rsa = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    entries: list[Any] = [
        ec_jwk(ec_key, "private", d=int_b64url(private, 32)),
        ec_jwk(ec_key, "encryption", use="enc"),
        ec_jwk(ec_key, "wrong-alg", alg="ES384"),
        ec_jwk(ec_key, "no-verify-op", key_ops=["sign"]),
        ec_jwk(p384, "p384"),
        rsa_jwk(small_rsa, "rsa-1024"),
        {"kty": "oct", "k": b64url(JWT_SECRET.encode()), "kid": "oct", "alg": "HS256"},
        {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "okp"},
        {**ec_jwk(ec_key, "bad-point"), "x": int_b64url(1, 32)},
        {**ec_jwk(ec_key, "bad-base64"), "x": "!!!"},
        {**ec_jwk(ec_key, "bad-x-type"), "x": 5},
        {"kty": "EC", "crv": "P-256", "kid": "missing-coordinates"},
        {"kty": "RSA", "kid": "bad-n", "n": "A", "e": "AQAB"},
        ec_jwk(ec_key, ""),
        {key: value for key, value in ec_jwk(ec_key, "x").items() if key != "kid"},
        ec_jwk(ec_key, "good", key_ops=["verify"]),
        {key: value for key, value in ec_jwk(ec_key, "good-no-use").items() if key not in ("use", "alg")},
    ]
    settings = resolve_settings({**BASE_ENV, "SUPABASE_JWKS": json.dumps({"keys": entries})}, root=tmp_path)
    keys = KeySource(settings)
    for kid in ("good", "good-no-use"):
        assert keys.get(kid).algorithm == "ES256"
        assert verify_access_token(es256(claims(), kid=kid), settings, now=NOW, keys=keys).sub == USER_ID
    unusable = [entry["kid"] for entry in entries[:-2] if entry.get("kid")]
    assert len(unusable) == 13
    for unusable_kid in unusable:
        with pytest.raises(InvalidToken):
            keys.get(unusable_kid)
        rejected(es256(claims(), kid=unusable_kid), settings, keys=keys, reason="unknown kid")


def test_first_entry_wins_a_duplicated_kid(
    tmp_path: Path,
    ec_key: ec.EllipticCurvePrivateKey,
    ec_key_2: ec.EllipticCurvePrivateKey,
    es256: Callable[..., str],
) -> None:
    document = {"keys": [ec_jwk(ec_key, "same"), ec_jwk(ec_key_2, "same")]}
    settings = resolve_settings({**BASE_ENV, "SUPABASE_JWKS": json.dumps(document)}, root=tmp_path)
    assert verify_access_token(es256(claims(), kid="same"), settings, now=NOW)
    rejected(es256(claims(), kid="same", key=ec_key_2), settings)


# --- JWKS: fetching, caching, rotation, rate limit -----------------------------------


@pytest.fixture
def fetched(settings: Settings, ec_key: ec.EllipticCurvePrivateKey) -> tuple[KeySource, FakeFetch, FakeClock]:
    """A KeySource over a fake JWKS endpoint serving ec-1, with a fake clock."""
    fetch = FakeFetch({"keys": [ec_jwk(ec_key, "ec-1")]})
    clock = FakeClock()
    return KeySource(settings, fetch=fetch, clock=clock), fetch, clock


def test_keys_are_fetched_once_from_the_jwks_url(
    settings: Settings, fetched: tuple[KeySource, FakeFetch, FakeClock], es256: Callable[..., str]
) -> None:
    keys, fetch, _ = fetched
    assert fetch.count == 0  # lazily, on the first token with a kid
    for _ in range(5):
        assert verify_access_token(es256(claims()), settings, now=NOW, keys=keys).sub == USER_ID
    assert fetch.urls == [JWKS_URL]
    # HS256 tokens without a kid never touch the JWKS.
    verify_access_token(hs256(claims()), settings, now=NOW, keys=keys)
    assert fetch.count == 1


def test_rotation_new_kid_is_accepted_after_a_refresh(
    settings: Settings,
    fetched: tuple[KeySource, FakeFetch, FakeClock],
    es256: Callable[..., str],
    ec_key: ec.EllipticCurvePrivateKey,
    ec_key_2: ec.EllipticCurvePrivateKey,
) -> None:
    keys, fetch, clock = fetched
    verify_access_token(es256(claims()), settings, now=NOW, keys=keys)
    rotated = es256(claims(), kid="ec-2", key=ec_key_2)
    # Not published yet: a refresh happens (the interval has passed) but finds nothing.
    clock.now += 31
    rejected(rotated, settings, keys=keys)
    assert fetch.count == 2
    fetch.document = {"keys": [ec_jwk(ec_key, "ec-1"), ec_jwk(ec_key_2, "ec-2")]}
    clock.now += 31
    assert verify_access_token(rotated, settings, now=NOW, keys=keys).sub == USER_ID
    assert fetch.count == 3
    # The old key keeps working while it is published.
    assert verify_access_token(es256(claims()), settings, now=NOW, keys=keys)
    assert fetch.count == 3


def test_unknown_kid_refresh_is_rate_limited(
    settings: Settings, fetched: tuple[KeySource, FakeFetch, FakeClock], es256: Callable[..., str]
) -> None:
    keys, fetch, clock = fetched
    verify_access_token(es256(claims()), settings, now=NOW, keys=keys)
    assert fetch.count == 1
    rng = random.Random(7)
    clock.now += 100
    for _ in range(100):
        rejected(es256(claims(), kid=f"bogus-{rng.getrandbits(64):x}"), settings, keys=keys)
    assert fetch.count == 2
    clock.now += 29.9
    for _ in range(100):
        rejected(es256(claims(), kid=f"bogus-{rng.getrandbits(64):x}"), settings, keys=keys)
    assert fetch.count == 2
    clock.now += 0.1
    for _ in range(100):
        rejected(es256(claims(), kid=f"bogus-{rng.getrandbits(64):x}"), settings, keys=keys)
    assert fetch.count == 3
    # Known keys keep working throughout, without extra fetches.
    assert verify_access_token(es256(claims()), settings, now=NOW, keys=keys)
    assert fetch.count == 3


def test_unknown_kid_right_after_the_first_fetch_waits_for_the_interval(
    settings: Settings, fetched: tuple[KeySource, FakeFetch, FakeClock], es256: Callable[..., str]
) -> None:
    keys, fetch, _ = fetched
    rejected(es256(claims(), kid="bogus"), settings, keys=keys)
    assert fetch.count == 1
    rejected(es256(claims(), kid="bogus-2"), settings, keys=keys)
    assert fetch.count == 1
    assert verify_access_token(es256(claims()), settings, now=NOW, keys=keys)
    assert fetch.count == 1


def test_key_set_is_refetched_after_the_ttl(
    settings: Settings,
    fetched: tuple[KeySource, FakeFetch, FakeClock],
    es256: Callable[..., str],
    ec_key_2: ec.EllipticCurvePrivateKey,
) -> None:
    keys, fetch, clock = fetched
    verify_access_token(es256(claims()), settings, now=NOW, keys=keys)
    clock.now += 599
    verify_access_token(es256(claims()), settings, now=NOW, keys=keys)
    assert fetch.count == 1
    # ec-1 is withdrawn; the cached copy is used until the TTL runs out.
    fetch.document = {"keys": [ec_jwk(ec_key_2, "ec-2")]}
    clock.now += 1
    rejected(es256(claims()), settings, keys=keys)
    assert fetch.count == 2


def test_custom_ttl_and_interval(
    settings: Settings, ec_key: ec.EllipticCurvePrivateKey, es256: Callable[..., str]
) -> None:
    fetch = FakeFetch({"keys": [ec_jwk(ec_key, "ec-1")]})
    clock = FakeClock()
    keys = KeySource(settings, fetch=fetch, clock=clock, ttl=10, min_refresh_interval=2)
    verify_access_token(es256(claims()), settings, now=NOW, keys=keys)
    clock.now += 2
    rejected(es256(claims(), kid="bogus"), settings, keys=keys)
    assert fetch.count == 2
    clock.now += 10
    verify_access_token(es256(claims()), settings, now=NOW, keys=keys)
    assert fetch.count == 3


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(ConnectFailed("refused"), id="network-error"),
        pytest.param(ReadTimedOut("slow"), id="timeout"),
        pytest.param(ValueError("Expecting value"), id="non-json"),
        pytest.param(RuntimeError("anything"), id="any-exception"),
        pytest.param("<html>not json</html>", id="string"),
        pytest.param(None, id="null"),
        pytest.param([], id="list"),
        pytest.param({}, id="no-keys"),
        pytest.param({"keys": "ec-1"}, id="keys-not-a-list"),
        pytest.param({"keys": None}, id="keys-null"),
    ],
)
def test_failed_fetch_keeps_the_previous_keys(
    settings: Settings,
    fetched: tuple[KeySource, FakeFetch, FakeClock],
    es256: Callable[..., str],
    failure: object,
) -> None:
    keys, fetch, clock = fetched
    verify_access_token(es256(claims()), settings, now=NOW, keys=keys)
    fetch.document = failure
    clock.now += 700  # past the TTL: a refetch is attempted and fails
    assert verify_access_token(es256(claims()), settings, now=NOW, keys=keys).sub == USER_ID
    assert fetch.count == 2
    # The failed attempt counts against the interval.
    rejected(es256(claims(), kid="bogus"), settings, keys=keys)
    assert fetch.count == 2
    clock.now += 30
    rejected(es256(claims(), kid="bogus"), settings, keys=keys)
    assert fetch.count == 3
    assert verify_access_token(es256(claims()), settings, now=NOW, keys=keys)


def test_an_empty_key_set_is_a_successful_fetch(
    settings: Settings, fetched: tuple[KeySource, FakeFetch, FakeClock], es256: Callable[..., str]
) -> None:
    keys, fetch, clock = fetched
    verify_access_token(es256(claims()), settings, now=NOW, keys=keys)
    fetch.document = {"keys": []}
    clock.now += 700
    rejected(es256(claims()), settings, keys=keys)


def test_failing_first_fetch_recovers_after_the_interval(
    settings: Settings, ec_key: ec.EllipticCurvePrivateKey, es256: Callable[..., str]
) -> None:
    fetch = FakeFetch(ConnectFailed("refused"))
    clock = FakeClock()
    keys = KeySource(settings, fetch=fetch, clock=clock)
    rejected(es256(claims()), settings, keys=keys)
    rejected(es256(claims()), settings, keys=keys)
    assert fetch.count == 1
    fetch.document = {"keys": [ec_jwk(ec_key, "ec-1")]}
    clock.now += 30
    assert verify_access_token(es256(claims()), settings, now=NOW, keys=keys).sub == USER_ID
    assert fetch.count == 2


def test_inline_jwks_is_never_fetched(inline_settings: Settings, es256: Callable[..., str]) -> None:
    fetch = FakeFetch({"keys": []})
    clock = FakeClock()
    keys = KeySource(inline_settings, fetch=fetch, clock=clock)
    for step in range(3):
        clock.now += 1000 * step
        assert verify_access_token(es256(claims()), inline_settings, now=NOW, keys=keys)
        rejected(es256(claims(), kid="bogus"), inline_settings, keys=keys)
    assert fetch.count == 0


def test_concurrent_first_requests_share_one_fetch(
    settings: Settings, ec_key: ec.EllipticCurvePrivateKey, es256: Callable[..., str]
) -> None:
    inner = FakeFetch({"keys": [ec_jwk(ec_key, "ec-1")]})
    never_set = threading.Event()

    def slow_fetch(url: str) -> Any:
        # Holds the fetch open a moment so that, without the lock, the other threads
        # would start fetches of their own; the outcome does not depend on timing.
        never_set.wait(0.05)
        return inner(url)

    keys = KeySource(settings, fetch=slow_fetch, clock=FakeClock())
    token = es256(claims())
    barrier = threading.Barrier(8)
    results: list[object] = []

    def worker() -> None:
        barrier.wait()
        try:
            results.append(verify_access_token(token, settings, now=NOW, keys=keys).sub)
        except Exception as exc:
            results.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [USER_ID] * 8
    assert inner.count == 1


def test_default_fetch_uses_the_shared_pool_with_the_apikey(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    ec_key: ec.EllipticCurvePrivateKey,
    es256: Callable[..., str],
) -> None:
    from lib.supabase import clients

    requests: list[tuple[str, str, dict[str, str]]] = []
    status = {"code": 200}

    class RecordingPool:
        def request(
            self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None = None
        ) -> Response:
            requests.append((method, url, {name.lower(): value for name, value in headers.items()}))
            document = {"keys": [ec_jwk(ec_key, "ec-1")]} if status["code"] == 200 else "upstream trouble"
            return Response(status["code"], "", Message(), json.dumps(document).encode(), url)

    monkeypatch.setattr(clients, "upstream_pool", RecordingPool)
    clock = FakeClock()
    keys = KeySource(settings, clock=clock)
    assert verify_access_token(es256(claims()), settings, now=NOW, keys=keys).sub == USER_ID
    assert len(requests) == 1
    method, url, headers = requests[0]
    assert (method, url) == ("GET", JWKS_URL)
    assert headers["apikey"] == PUBLISHABLE_KEY
    assert "authorization" not in headers
    # A 5xx (or a redirect) is a failed fetch: the previous keys stay.
    for code in (503, 302, 404):
        status["code"] = code
        clock.now += 700
        assert verify_access_token(es256(claims()), settings, now=NOW, keys=keys).sub == USER_ID
    assert len(requests) == 4


def test_default_key_source_is_one_per_settings(settings: Settings, inline_settings: Settings) -> None:
    assert default_key_source(settings) is default_key_source(settings)
    # Settings with an inline JWKS are hashable too (the JWKS is held frozen): still cached.
    assert default_key_source(inline_settings) is default_key_source(inline_settings)
    assert default_key_source(settings) is not default_key_source(inline_settings)
    # Keyed on the settings' value: an equal Settings object shares the source.
    assert default_key_source(dataclasses.replace(inline_settings)) is default_key_source(inline_settings)


def test_key_source_get_reports_the_algorithm(inline_settings: Settings) -> None:
    keys = KeySource(inline_settings)
    assert keys.get("ec-1").algorithm == "ES256"
    assert keys.get("rsa-1").algorithm == "RS256"
    with pytest.raises(InvalidToken):
        keys.get("missing")


def test_messages_never_contain_the_token_or_secret(settings: Settings) -> None:
    token = hs256(claims(exp=NOW - 1))
    error = rejected(token, settings)
    assert str(error)
    assert JWT_SECRET not in str(error)


# --- tokens verified before ----------------------------------------------------------


def test_a_token_verified_once_is_not_decoded_again(settings: Settings, decode_calls: list[Any]) -> None:
    token = hs256(claims())
    first = verify_access_token(token, settings, now=NOW)
    assert verify_access_token(token, settings, now=NOW + 10) == first
    assert decode_calls == [["HS256"]]


def test_a_token_verified_before_still_expires(settings: Settings) -> None:
    token = hs256(claims(exp=NOW + 60))
    assert verify_access_token(token, settings, now=NOW).sub == USER_ID
    with pytest.raises(InvalidToken, match="expired"):
        verify_access_token(token, settings, now=NOW + 60)


def test_a_token_verified_under_other_settings_is_verified_again(settings: Settings, tmp_path: Path) -> None:
    token = hs256(claims())
    assert verify_access_token(token, settings, now=NOW).sub == USER_ID
    other_secret = resolve_settings(
        {**BASE_ENV, "SUPABASE_JWT_SECRET": "another-secret-that-is-at-least-32-characters"}, root=tmp_path
    )
    rejected(token, other_secret, "python-jose rejected")


def test_a_token_whose_jwks_key_was_rotated_away_is_verified_again(
    settings: Settings,
    ec_key: ec.EllipticCurvePrivateKey,
    ec_key_2: ec.EllipticCurvePrivateKey,
    es256: Callable[..., str],
) -> None:
    # The project replaced the key behind kid ec-1: a token it signed is not trusted from memory.
    fetch = FakeFetch({"keys": [ec_jwk(ec_key, "ec-1")]})
    clock = FakeClock()
    keys = KeySource(settings, fetch=fetch, clock=clock, ttl=60)
    token = es256(claims())
    assert verify_access_token(token, settings, now=NOW, keys=keys).sub == USER_ID
    fetch.document = {"keys": [ec_jwk(ec_key_2, "ec-1")]}
    clock.now += 61  # the cached set is stale: the next lookup fetches the new one
    rejected(token, settings, "python-jose rejected", keys=keys)
