"""Access tokens: the signing keys (HS256 secret or ES256 JWK), their kids, and verification."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Mapping
from typing import Any

from jose import jwk, jwt
from jose.exceptions import ExpiredSignatureError, JOSEError, JWTClaimsError, JWTError

from devstack.auth.config import AuthConfig
from devstack.auth.errors import bad_jwt


def legacy_secret_kid(secret: str) -> str:
    """The kid of the local Auth's HS256 (JWT secret) signing key: a stable UUID, one-way from the secret."""
    # A hosted project lists the legacy secret among its JWT signing keys as an `oct`
    # key with a UUID kid (GoTrue's JWT_KEYS / JWT_KEY_ID), and SignJWT puts that kid
    # in every header. Derived with an HMAC so the kid reveals nothing of the secret.
    digest = hmac.new(secret.encode(), b"devstack: kid of the legacy JWT secret", hashlib.sha256).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


class Keys:
    """Signs access tokens (HS256, or ES256 with the signing JWK) and verifies presented ones."""

    def __init__(self, config: AuthConfig) -> None:
        self._secret = config.jwt_secret
        # Like GoTrue's oct JWK for the secret: named in headers, never in the JWKS.
        self.secret_kid = legacy_secret_kid(config.jwt_secret)
        self.kid: str | None = None
        self._private: Any = None
        self._public: Any = None
        self.public_jwks: list[dict[str, Any]] = []
        if config.signing_jwk is None:
            return
        key = config.signing_jwk
        if key.get("kty") != "EC" or key.get("crv") != "P-256":
            raise ValueError("signing_jwk must be an EC P-256 key (kty EC, crv P-256)")
        kid = key.get("kid")
        if not isinstance(kid, str) or not kid:
            raise ValueError("signing_jwk needs a non-empty 'kid'")
        if "d" not in key:
            raise ValueError("signing_jwk must be a private key (it has no 'd')")
        try:
            private = jwk.construct({**key, "alg": "ES256"}, "ES256")
        except (JOSEError, ValueError, TypeError) as error:
            raise ValueError(f"signing_jwk is not a usable ES256 key: {error}") from None
        public = private.public_key()
        public_fields = public.to_dict()
        self.kid = kid
        self._private = private
        self._public = public
        # The shape GoTrue publishes for an asymmetric signing key.
        self.public_jwks = [
            {
                "alg": "ES256",
                "crv": "P-256",
                "ext": True,
                "key_ops": ["verify"],
                "kid": kid,
                "kty": "EC",
                "use": "sig",
                "x": public_fields["x"],
                "y": public_fields["y"],
            }
        ]

    def sign(self, claims: Mapping[str, Any]) -> str:
        """Sign claims as an access token."""
        if self._private is not None:
            token = jwt.encode(dict(claims), self._private, algorithm="ES256", headers={"kid": self.kid})
        else:
            token = jwt.encode(
                dict(claims), self._secret, algorithm="HS256", headers={"kid": self.secret_kid}
            )
        return str(token)

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a token signed by our key or the JWT secret. Raises ApiError (bad_jwt)."""
        if token.count(".") != 2:
            # golang-jwt v5 checks the segment count before decoding anything.
            raise bad_jwt("token is malformed: token contains an invalid number of segments")
        try:
            header = jwt.get_unverified_header(token)
        except JWTError:
            raise bad_jwt("token is malformed: could not base64 decode header") from None
        alg = header.get("alg")
        kid = header.get("kid")
        key: Any
        if kid is not None and kid == self.kid and alg == "ES256":
            key = self._public
        elif alg == "HS256":
            # Like GoTrue: HS256 tokens without a known kid fall back to the legacy secret.
            key = self._secret
        else:
            raise bad_jwt(f"unrecognized JWT kid {kid} for algorithm {alg}")
        try:
            claims = jwt.decode(token, key, algorithms=[alg], options={"verify_aud": False})
        except ExpiredSignatureError:
            raise bad_jwt("token has invalid claims: token is expired") from None
        except JWTClaimsError as error:
            raise bad_jwt(f"token has invalid claims: {error}") from None
        except JWTError as error:
            if "Signature verification failed" in str(error):
                raise bad_jwt("token signature is invalid: signature is invalid") from None
            raise bad_jwt(f"token is malformed: {error}") from None
        if not isinstance(claims, dict):
            raise bad_jwt("token is malformed: claims are not an object")
        return claims
