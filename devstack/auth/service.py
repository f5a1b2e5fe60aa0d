"""The service: every endpoint group behind one router that shapes failures the way GoTrue does."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

import psycopg

from devstack.auth.config import AuthConfig
from devstack.auth.errors import API_VERSION_HEADER, ApiError, api_version, unexpected
from devstack.auth.protocol import Request, Response
from devstack.auth.routes.admin import AdminRoutes
from devstack.auth.routes.links import LinkRoutes
from devstack.auth.routes.meta import MetaRoutes
from devstack.auth.routes.signup import SignupRoutes
from devstack.auth.routes.token import TokenRoutes
from devstack.auth.routes.user import UserRoutes
from devstack.auth.routes.verify import VerifyRoutes

_log = logging.getLogger("devstack.auth")

_ADMIN_USER_PATH = re.compile(r"^/admin/users/(?P<user_id>[^/]+)$")


class AuthService(MetaRoutes, SignupRoutes, TokenRoutes, UserRoutes, LinkRoutes, VerifyRoutes, AdminRoutes):
    """Every endpoint group, routed by path and method (the rate-limited ones counted first)."""

    def __init__(self, config: AuthConfig) -> None:
        super().__init__(config)
        self._routes: dict[str, dict[str, Callable[[Request], Response]]] = {
            "/health": {"GET": self.health},
            "/settings": {"GET": self.settings},
            "/.well-known/jwks.json": {"GET": self.jwks},
            "/signup": {"POST": self.signup},
            "/token": {"POST": self.token},
            "/logout": {"POST": self.logout},
            "/user": {"GET": self.get_user, "PUT": self.update_user},
            "/recover": {"POST": self.recover},
            "/otp": {"POST": self.otp},
            "/magiclink": {"POST": self.magiclink},
            "/resend": {"POST": self.resend},
            "/verify": {"GET": self.verify, "POST": self.verify},
            "/invite": {"POST": self.invite},
            "/admin/users": {"GET": self.admin_list_users, "POST": self.admin_create_user},
        }
        self._user_routes: dict[str, Callable[[Request, str], Response]] = {
            "GET": self.admin_get_user,
            "PUT": self.admin_update_user,
            "DELETE": self.admin_delete_user,
        }

    # -- dispatch ------------------------------------------------------------

    def dispatch(self, request: Request) -> Response:
        """Route a request and turn every failure into a GoTrue-shaped error response."""
        try:
            return self._route(request)
        except ApiError as error:
            return self.render_error(error, request)
        except psycopg.Error as error:
            if request.conn is not None and (request.conn.broken or request.conn.closed):
                self.release_thread_connection()
            # message_primary never carries bound parameters (passwords, tokens).
            _log.error("database error: %s: %s", type(error).__name__, error.diag.message_primary or "-")
            return self.render_error(unexpected(), request)
        except Exception:
            _log.exception("unhandled error in %s %s", request.method, request.path)
            return self.render_error(unexpected(), request)

    def _route(self, request: Request) -> Response:
        methods = self._routes.get(request.path)
        if methods is not None:
            handler = methods.get(request.method)
            if handler is None:
                raise self._method_not_allowed(methods)
            limiter = self._limiters.get((request.path, request.method))
            if limiter is not None:
                self._rate_limit(request, limiter)
            return handler(request)
        match = _ADMIN_USER_PATH.match(request.path)
        if match is not None:
            user_handler = self._user_routes.get(request.method)
            if user_handler is None:
                raise self._method_not_allowed(self._user_routes)
            return user_handler(request, match["user_id"])
        raise ApiError(404, "not_found", "Not Found")

    @staticmethod
    def _method_not_allowed(methods: Mapping[str, object]) -> ApiError:
        allow = ", ".join(sorted(methods))
        return ApiError(405, "method_not_allowed", "Method Not Allowed", headers=[("Allow", allow)])

    @staticmethod
    def render_error(error: ApiError, request: Request | None) -> Response:
        """GoTrue's HandleResponseError: the 2024-01-01 shape when the client asks for it."""
        version = api_version(request.header(API_VERSION_HEADER) if request else None)
        headers = [*error.headers, *([(API_VERSION_HEADER, version)] if version else [])]
        if error.body is not None:
            return Response(error.status, error.body, headers)
        if version:
            body: dict[str, Any] = {"code": error.error_code, "message": error.msg}
        else:
            body = {"code": error.status, "error_code": error.error_code, "msg": error.msg}
        body.update(error.extra)
        return Response(error.status, body, headers)
