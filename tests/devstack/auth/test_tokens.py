"""ES256 signing with a JWK, published through the JWKS."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwt
from jose.exceptions import JWTError
from supabase_auth import SyncGoTrueClient

from devstack.auth import (
    make_server,
)
from devstack.postgres import PostgresServer
from tests.devstack.auth.harness import (
    ISSUER,
    JWT_SECRET,
    KID,
    TIMEOUT,
    auth_config,
    bearer,
    service_jwt,
    sign_up,
)

# --------------------------------------------------------------------------- ES256


def test_es256_tokens_are_verifiable_through_the_published_jwks(es256: tuple[str, dict[str, Any]]) -> None:
    url, key = es256
    jwks = requests.get(f"{url}/.well-known/jwks.json", timeout=TIMEOUT).json()
    assert jwks == {
        "keys": [
            {
                "alg": "ES256",
                "crv": "P-256",
                "ext": True,
                "key_ops": ["verify"],
                "kid": KID,
                "kty": "EC",
                "use": "sig",
                "x": key["x"],
                "y": key["y"],
            }
        ]
    }
    session = sign_up(url)
    token = session["access_token"]
    assert jwt.get_unverified_header(token) == {"alg": "ES256", "kid": KID, "typ": "JWT"}
    claims = jwt.decode(token, jwks["keys"][0], algorithms=["ES256"], audience="authenticated", issuer=ISSUER)
    assert claims["sub"] == session["user"]["id"]
    with pytest.raises(JWTError):
        jwt.decode(token, JWT_SECRET, algorithms=["HS256"])

    gotrue = SyncGoTrueClient(url=url, headers={}, auto_refresh_token=False, persist_session=False)
    try:
        verified = gotrue.get_claims(token)  # fetches the JWKS and checks the signature itself
        assert verified is not None
        assert verified["claims"]["sub"] == session["user"]["id"]
        fetched = gotrue.get_user(token)
        assert fetched is not None
        assert fetched.user.id == session["user"]["id"]
    finally:
        gotrue.close()

    # The legacy HS256 service_role key keeps working next to the asymmetric key.
    admin = requests.get(f"{url}/admin/users", headers=bearer(service_jwt()), timeout=TIMEOUT)
    assert admin.status_code == 200
    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    impostor = str(jwt.encode(claims, other, algorithm="ES256", headers={"kid": KID}))
    rejected = requests.get(f"{url}/user", headers=bearer(impostor), timeout=TIMEOUT)
    assert rejected.status_code == 403
    assert rejected.json()["error_code"] == "bad_jwt"


def test_signing_key_must_be_a_private_p256_jwk(
    postgres: PostgresServer, es256: tuple[str, dict[str, Any]]
) -> None:
    _, key = es256
    public_only = {name: value for name, value in key.items() if name != "d"}
    off_curve = {**key, "x": key["y"]}
    for bad in (public_only, {**key, "kid": ""}, {**key, "crv": "P-384"}, off_curve):
        with pytest.raises(ValueError, match="signing_jwk"):
            make_server("127.0.0.1", 0, auth_config(postgres, signing_jwk=bad))
