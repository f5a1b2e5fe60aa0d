"""docs/api.md's blocks read from lib's constants: problem codes, rate limits, settings, roles, cookies.

devstack.api_reference fills devstack/api_reference_template.md with them; only stable interfaces
of lib are read (the problem catalog, the settings table, the role permissions, the cookie names).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from devstack.api_reference_tables import cell, code, operations, table


def problem_codes() -> str:
    """The catalog: every stable code, its status, type and title."""
    from lib.http.problems import CATALOG

    rows = [
        [f"`{status}`", code(name), code("/problems/" + name.replace("_", "-")), cell(title)]
        for name, (status, title) in sorted(CATALOG.items(), key=lambda item: (item[1][0], item[0]))
    ]
    return table(["status", "code", "type", "title"], rows)


_POLICY_KEYS = {
    "login": ("`POST /api/auth/login`", "client IP + email"),
    "login_ip": ("`POST /api/auth/login` (password spraying)", "client IP, any email"),
    "recover": ("`POST /api/auth/recover`", "email"),
    "auth": ("other `/api/auth/*`", "client IP"),
    "write": ("writes (`POST`, `PATCH`, `PUT`, `DELETE`)", "user"),
    "read": ("reads", "user, or client IP when anonymous"),
}


def _window(seconds: int) -> str:
    for size, unit in ((3600, "hour"), (60, "minute")):
        if seconds == size:
            return f"per {unit}"
        if seconds % size == 0:
            return f"per {seconds // size} {unit}s"
    return f"per {seconds} s"


def rate_limits(document: Mapping[str, Any]) -> str:
    """The policies: key, default limit, setting, and the routes each applies to."""
    from lib import settings_specs as config

    by_policy: dict[str, list[str]] = {}
    for method, path, operation in operations(document):
        policy = operation.get("x-rate-limit-policy")
        if policy is not None:
            by_policy.setdefault(policy, []).append(f"`{method.upper()} {cell(path)}`")
    rows = []
    for spec in config.SETTINGS:
        if not spec.field.startswith("rate_limit_") or not isinstance(spec.default, config.RateLimit):
            continue
        policy = spec.field.removeprefix("rate_limit_")
        what, key = _POLICY_KEYS.get(policy, (policy, ""))
        limit = f"{spec.default.limit} {_window(spec.default.window)}"
        applies = ", ".join(by_policy.get(policy, [])) or "with `login`"
        rows.append([code(policy), what, key, limit, f"`{spec.name}`", applies])
    text = table(["policy", "what", "key", "default", "setting", "routes"], rows)
    fail_open = next((s for s in config.SETTINGS if s.field == "rate_limit_fail_open"), None)
    if fail_open is not None and isinstance(fail_open.default, frozenset):
        policies = ", ".join(f"`{name}`" for name in sorted(fail_open.default)) or "none"
        text += (
            f"\n\nSettings take `<requests>/<seconds>`, e.g. `60/60`. When the limiter's database call fails,"
            f" the policies in `{fail_open.name}` admit the request (default: {policies}); the others"
            " answer `503`."
        )
    return text


def settings() -> str:
    """The settings table: canonical name, aliases, default, required in production/preview."""
    from lib import settings_specs as config

    rows = []
    for spec in (config.ENVIRONMENT_SPEC, *config.SETTINGS):
        default = spec.default
        if isinstance(default, config.RateLimit):
            shown = f"`{default.limit}/{default.window}`"
        elif isinstance(default, frozenset | tuple):
            shown = code(",".join(sorted(default))) if default else "(empty)"
        elif default is None:
            shown = (
                "derived"
                if spec.derive is not None
                else ("local stack's, in development" if spec.dev_default else "")
            )
        else:
            shown = code(str(default).lower() if isinstance(default, bool) else str(default))
        rows.append(
            [
                f"`{spec.name}`",
                ", ".join(f"`{alias}`" for alias in spec.aliases),
                shown,
                "yes" if spec.required else "",
                "yes" if spec.secret else "",
            ]
        )
    return table(["setting", "aliases", "default", "required", "secret"], rows)


def roles() -> str:
    """The permissions of each role, as /api/me reports them."""
    from lib.supabase.caller import PERMISSIONS, ROLE_PERMISSIONS

    rows = [
        [f"`{role}`", ", ".join(f"`{p}`" for p in PERMISSIONS if p in granted) or "none"]
        for role, granted in ROLE_PERMISSIONS.items()
    ]
    return table(["role", "permissions"], rows)


def cookies() -> str:
    """The three session cookies and their attributes."""
    from lib.http.cookies import ACCESS_COOKIE, CSRF_COOKIE, REFRESH_COOKIE, REFRESH_MAX_AGE

    days = REFRESH_MAX_AGE // 86400
    rows = [
        [f"`{ACCESS_COOKIE}`", "the access token", "yes", "`Lax`", "`/`", "the token's lifetime"],
        [
            f"`{REFRESH_COOKIE}`",
            "session id and refresh token",
            "yes",
            "`Strict`",
            "`/api/auth`",
            f"{days} days",
        ],
        [
            f"`{CSRF_COOKIE}`",
            "the session's CSRF token",
            "no (scripts read it)",
            "`Lax`",
            "`/`",
            f"{days} days",
        ],
    ]
    return table(["cookie", "holds", "HttpOnly", "SameSite", "Path", "Max-Age"], rows)
