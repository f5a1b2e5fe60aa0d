"""GET /health, /settings and /.well-known/jwks.json."""

from __future__ import annotations

from devstack.auth.base import ServiceBase
from devstack.auth.protocol import Request, Response


class MetaRoutes(ServiceBase):
    """The service's health, its public settings and its published keys."""

    def health(self, request: Request) -> Response:
        """GET /health."""
        return Response(
            200, {"version": "devstack", "name": "GoTrue", "description": "local Auth-compatible service"}
        )

    def settings(self, request: Request) -> Response:
        """GET /settings."""
        return Response(
            200,
            {
                "external": {"email": True, "phone": False, "anonymous_users": False},
                "disable_signup": not self.config.enable_signup,
                "mailer_autoconfirm": self.config.mailer_autoconfirm,
                "phone_autoconfirm": False,
                "sms_provider": "",
                "saml_enabled": False,
            },
        )

    def jwks(self, request: Request) -> Response:
        """GET /.well-known/jwks.json."""
        return Response(200, {"keys": self.keys.public_jwks})
