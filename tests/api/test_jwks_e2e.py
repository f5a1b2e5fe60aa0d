"""Signing keys end to end: HS256 with a kid on the main stack, ES256 from the JWKS on a second one.

The main test stack's Auth signs HS256 with the JWT secret and names the key by a
`kid`, as a hosted project's shared-secret signing key does (the JWKS does not list
it); the API and PostgREST must accept those tokens.


A dedicated stack whose Auth service signs with a freshly generated P-256 key
(`AUTH_SIGNING_JWK`) and publishes its public half at
`/auth/v1/.well-known/jwks.json` through the gateway. The API is configured as
usual (it also has the legacy `SUPABASE_JWT_SECRET`), and must pick the ES256 key
from the JWKS by the token's `kid`, never fall back to the secret. PostgREST gets
both keys as one JWKS, so the user's ES256 token works there too (RLS included)
while the API keys stay HS256.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwk, jwt

from devstack.auth import legacy_secret_kid
from devstack.postgrest import jwt_secret_setting
from devstack.stack import Stack, running_stack
from devstack.stack_settings import throwaway_settings
from tests.factories import create_user, mint_token, north_american_vin
from tests.support import ApiClient, assert_problem, random_ip

PASSWORD = "es256-password-123"


def private_jwk(kid: str) -> dict[str, Any]:
    """A new P-256 private key as a JWK with `kid`."""
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return {**jwk.construct(pem, "ES256").to_dict(), "kid": kid}


def b64json(segment: str) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return decoded


def header_of(token: str) -> dict[str, Any]:
    return b64json(token.split(".", maxsplit=1)[0])


def claims_of(token: str) -> dict[str, Any]:
    return b64json(token.split(".")[1])


@pytest.fixture(scope="module")
def signing_key() -> dict[str, Any]:
    return private_jwk(f"es256-test-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module")
def es_stack(signing_key: dict[str, Any]) -> Iterator[Stack]:
    """A second local stack (own ports, own database) whose Auth signs ES256."""
    settings = throwaway_settings("api-test-jwks-", auth_signing_jwk=json.dumps(signing_key))
    # Spelled out (it is also the default): the API's only source of asymmetric keys.
    jwks_url = f"http://127.0.0.1:{settings.api_port}/auth/v1/.well-known/jwks.json"
    settings = replace(settings, extra_api_env={"SUPABASE_JWKS_URL": jwks_url})
    with running_stack(settings) as running:
        yield running


@pytest.fixture(scope="module")
def es_api(es_stack: Stack) -> ApiClient:
    # Its own client IP: the auth routes are rate limited per IP.
    return ApiClient(es_stack.settings.api_url, {"X-Forwarded-For": random_ip()})


@pytest.fixture(scope="module")
def session(es_api: ApiClient) -> dict[str, Any]:
    """A new user's session from POST /api/auth/login."""
    email = f"es256-{uuid.uuid4().hex[:10]}@example.test"
    signed_up = es_api.post("auth/signup", json={"email": email, "password": PASSWORD})
    assert signed_up.status_code == 201, signed_up.text
    login = es_api.post("auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    body: dict[str, Any] = login.json()
    assert body["user"]["email"] == email
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def public_part(key: dict[str, Any]) -> dict[str, Any]:
    return {name: key[name] for name in ("kty", "crv", "x", "y", "kid")}


# --------------------------------------------------------------------------- the keys


def test_the_jwks_is_published_through_the_gateway(es_stack: Stack, signing_key: dict[str, Any]) -> None:
    response = requests.get(f"{es_stack.settings.supabase_url}/auth/v1/.well-known/jwks.json", timeout=10)
    assert response.status_code == 200, response.text
    keys = response.json()["keys"]
    assert len(keys) == 1
    (published,) = keys
    assert {name: published[name] for name in ("kty", "crv", "x", "y", "kid")} == public_part(signing_key)
    assert published["alg"] == "ES256"
    assert "d" not in published


def test_auth_issues_es256_tokens_with_the_kid(session: dict[str, Any], signing_key: dict[str, Any]) -> None:
    token = session["access_token"]
    assert header_of(token) == {"alg": "ES256", "kid": signing_key["kid"], "typ": "JWT"}
    # Really signed by that key, and verifiable with nothing but its public half.
    claims = jwt.decode(
        token,
        public_part(signing_key),
        algorithms=["ES256"],
        audience="authenticated",
        options={"verify_iss": False},
    )
    assert claims["sub"] == session["user"]["id"]
    assert claims["user_role"] == "member"


def test_postgrest_gets_the_public_key_and_the_secret_only(signing_key: dict[str, Any]) -> None:
    secret = "a-jwt-secret-with-at-least-32-characters"
    assert jwt_secret_setting(secret) == secret
    keys = json.loads(jwt_secret_setting(secret, signing_key))["keys"]
    assert keys[0] == {**public_part(signing_key), "alg": "ES256", "use": "sig"}  # no "d"
    assert keys[1]["kty"] == "oct"
    assert base64.urlsafe_b64decode(keys[1]["k"] + "=" * (-len(keys[1]["k"]) % 4)) == secret.encode()


# --------------------------------------------------------------------------- the API accepts them


def test_me_accepts_the_es256_token(es_api: ApiClient, session: dict[str, Any]) -> None:
    response = es_api.get("me", headers=bearer(session["access_token"]))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "id": session["user"]["id"],
        "email": session["user"]["email"],
        "role": "member",
        "permissions": [],
    }


def test_vehicles_work_through_postgrest_with_the_es256_token(
    es_api: ApiClient, session: dict[str, Any]
) -> None:
    headers = bearer(session["access_token"])
    created = es_api.post(
        "vehicles",
        json={"vin": north_american_vin(), "make": "Kia", "model": "Ceed", "model_year": 2022},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["owner_id"] == session["user"]["id"]  # auth.uid() from the ES256 token
    listed = es_api.get("vehicles", headers=headers)
    assert listed.status_code == 200, listed.text
    assert created.json()["id"] in [vehicle["id"] for vehicle in listed.json()["data"]]


def test_postgrest_itself_accepts_es256_and_the_hs256_api_keys(
    es_stack: Stack, session: dict[str, Any]
) -> None:
    s = es_stack.settings
    url = f"{s.supabase_url}/rest/v1/vehicles?select=id,owner_id"
    as_user = requests.get(
        url, headers={"apikey": s.publishable_key, **bearer(session["access_token"])}, timeout=10
    )
    assert as_user.status_code == 200, as_user.text
    assert {row["owner_id"] for row in as_user.json()} <= {session["user"]["id"]}  # RLS saw the user
    # The secret key becomes the HS256 service_role JWT at the gateway; PostgREST still takes it.
    as_service = requests.get(url, headers={"apikey": s.secret_key}, timeout=10)
    assert as_service.status_code == 200, as_service.text
    assert len(as_service.json()) > len(as_user.json())  # the seed's vehicles too


def test_refresh_and_logout_with_es256_sessions(es_api: ApiClient, signing_key: dict[str, Any]) -> None:
    email = f"es256-{uuid.uuid4().hex[:10]}@example.test"
    assert es_api.post("auth/signup", json={"email": email, "password": PASSWORD}).status_code == 201
    first = es_api.post("auth/login", json={"email": email, "password": PASSWORD}).json()
    refreshed = es_api.post("auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    token = refreshed.json()["access_token"]
    assert header_of(token)["kid"] == signing_key["kid"]
    assert es_api.post("auth/logout", headers=bearer(token)).status_code == 204
    assert_problem(
        es_api.post("auth/refresh", json={"refresh_token": refreshed.json()["refresh_token"]}),
        401,
        "unauthorized",
    )


def test_legacy_hs256_tokens_without_kid_still_work(
    es_api: ApiClient, es_stack: Stack, session: dict[str, Any]
) -> None:
    # SUPABASE_JWT_SECRET is set, so a legacy token (no kid) is verified with it.
    session_id = claims_of(session["access_token"])["session_id"]  # a live session, as Auth would sign
    token = mint_token(
        es_stack.settings,
        session["user"]["id"],
        email=session["user"]["email"],
        session_id=session_id,
        with_kid=False,
    )
    assert "kid" not in header_of(token)
    assert es_api.get("me", headers=bearer(token)).status_code == 200
    assert es_api.get("vehicles", headers=bearer(token)).status_code == 200


# --------------------------------------------------------------------------- and refuse forgeries


def forged(claims: dict[str, Any], key: Any, algorithm: str, kid: str | None) -> str:
    headers = {"kid": kid} if kid is not None else None
    return str(jwt.encode(claims, key, algorithm=algorithm, headers=headers))


@pytest.fixture
def fresh_claims(session: dict[str, Any]) -> dict[str, Any]:
    """The real token's claims, still valid, ready to be signed by someone else."""
    claims = claims_of(session["access_token"])
    now = int(time.time())
    return {**claims, "iat": now, "exp": now + 600, "user_role": "admin"}


def assert_refused_everywhere(es_api: ApiClient, es_stack: Stack, token: str) -> None:
    assert_problem(es_api.get("me", headers=bearer(token)), 401, "unauthorized")
    assert_problem(es_api.get("vehicles", headers=bearer(token)), 401, "unauthorized")
    s = es_stack.settings
    direct = requests.get(
        f"{s.supabase_url}/rest/v1/vehicles",
        headers={"apikey": s.publishable_key, **bearer(token)},
        timeout=10,
    )
    assert direct.status_code == 401, direct.text


def test_another_ec_key_with_the_same_kid_is_refused(
    es_api: ApiClient, es_stack: Stack, signing_key: dict[str, Any], fresh_claims: dict[str, Any]
) -> None:
    impostor = private_jwk(signing_key["kid"])
    token = forged(fresh_claims, impostor, "ES256", signing_key["kid"])
    assert header_of(token)["kid"] == signing_key["kid"]
    assert_refused_everywhere(es_api, es_stack, token)


def test_the_jwt_secret_signs_hs256_whatever_the_kid_names(
    es_api: ApiClient, es_stack: Stack, signing_key: dict[str, Any], fresh_claims: dict[str, Any]
) -> None:
    # HS256 always means the legacy secret (docs/api.md §2.2): a hosted project's
    # shared-secret key names its own kid, which no JWKS lists. Whoever holds the secret
    # can mint a kid-less token with the same claims anyway, so the kid grants nothing.
    for kid in (signing_key["kid"], f"unknown-{uuid.uuid4().hex[:8]}"):
        token = forged(fresh_claims, es_stack.settings.jwt_secret, "HS256", kid)
        assert es_api.get("me", headers=bearer(token)).status_code == 200
    # Not the public key, nor anything but the secret, as the HMAC key.
    for secret in (json.dumps(public_part(signing_key)), "another-secret-with-at-least-32-characters"):
        token = forged(fresh_claims, secret, "HS256", signing_key["kid"])
        assert_problem(es_api.get("me", headers=bearer(token)), 401, "unauthorized")


def test_an_unknown_kid_is_refused_for_asymmetric_tokens(
    es_api: ApiClient, es_stack: Stack, fresh_claims: dict[str, Any]
) -> None:
    unknown = f"unknown-{uuid.uuid4().hex[:8]}"
    token = forged(fresh_claims, private_jwk(unknown), "ES256", unknown)
    assert_refused_everywhere(es_api, es_stack, token)


def test_the_real_token_with_a_tampered_payload_is_refused(
    es_api: ApiClient, session: dict[str, Any]
) -> None:
    head, _, signature = session["access_token"].split(".")
    claims = {**claims_of(session["access_token"]), "user_role": "admin"}
    tampered_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    token = f"{head}.{tampered_payload}.{signature}"
    assert_problem(es_api.get("me", headers=bearer(token)), 401, "unauthorized")


# --------------------------------------------------------------------------- HS256 with a kid (main stack)


@pytest.fixture
def hs_session(stack: Stack, db: Any) -> dict[str, Any]:
    """A session from POST /api/auth/login on the main stack, whose Auth signs HS256."""
    user = create_user(db, stack.settings, password=PASSWORD)
    api = ApiClient(stack.settings.api_url, {"X-Forwarded-For": random_ip()})
    login = api.post("auth/login", json={"email": user.email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    body: dict[str, Any] = login.json()
    return body


def test_login_through_the_local_auth_yields_hs256_with_a_kid(
    stack: Stack, hs_session: dict[str, Any]
) -> None:
    header = header_of(hs_session["access_token"])
    assert header["alg"] == "HS256"
    assert header["kid"] == legacy_secret_kid(stack.settings.jwt_secret)
    uuid.UUID(header["kid"])  # a UUID, like a hosted project's key ids
    # Like GoTrue: the HMAC key is never published in the JWKS.
    response = requests.get(f"{stack.settings.supabase_url}/auth/v1/.well-known/jwks.json", timeout=10)
    assert response.status_code == 200, response.text
    assert header["kid"] not in [key.get("kid") for key in response.json()["keys"]]
    assert all(key.get("kty") != "oct" for key in response.json()["keys"])


def test_the_api_and_postgrest_accept_the_hs256_token_with_its_kid(
    stack: Stack, hs_session: dict[str, Any]
) -> None:
    api = ApiClient(stack.settings.api_url)
    headers = bearer(hs_session["access_token"])
    me = api.get("me", headers=headers)
    assert me.status_code == 200, me.text
    assert me.json()["id"] == hs_session["user"]["id"]
    created = api.post(
        "vehicles",
        json={"vin": north_american_vin(), "make": "Kia", "model": "Rio", "model_year": 2021},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["owner_id"] == hs_session["user"]["id"]
    s = stack.settings
    direct = requests.get(
        f"{s.supabase_url}/rest/v1/vehicles?select=id,owner_id",
        headers={"apikey": s.publishable_key, **headers},
        timeout=10,
    )
    assert direct.status_code == 200, direct.text
    assert {row["owner_id"] for row in direct.json()} == {hs_session["user"]["id"]}
