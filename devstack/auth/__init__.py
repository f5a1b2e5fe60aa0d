"""A local, Auth-compatible (GoTrue) HTTP service for development and tests; it never ships.

It implements the Supabase Auth API that supabase-js and supabase-py call for
password accounts (sign-up with or without email confirmation, password and
refresh-token grants, logout scopes, GET/PUT /user, recovery, magic links,
verify links and codes, resend, invites, the admin user endpoints, JWKS and the
custom access token hook) against the real `auth` schema, connecting as
`supabase_auth_admin` exactly like GoTrue does. Mail goes to the local inbox
(devstack/inbox.py) through its Mailpit-style send API; the per-IP rate limits
of [auth.rate_limit] are enforced the way GoTrue does.
Paths are relative to the service root; the gateway maps /auth/v1/* here and
checks API keys.

`python -m devstack.auth --host H --port P` reads its configuration from
AUTH_DB_DSN, SUPABASE_JWT_SECRET, AUTH_ISSUER and optionally AUTH_HOOK (or
AUTH_CONFIG_TOML, a supabase/config.toml to read the hook and the refresh-token
reuse interval from), AUTH_SIGNING_JWK, AUTH_ACCESS_TOKEN_TTL,
AUTH_PASSWORD_MIN_LENGTH, AUTH_BCRYPT_ROUNDS, AUTH_REFRESH_TOKEN_REUSE_INTERVAL,
AUTH_EMAIL_CONFIRMATIONS (true/false, overrides [auth.email] enable_confirmations),
AUTH_SITE_URL and AUTH_INBOX_URL (the local inbox; without it mail is only logged).

The package, one module per concept: config (settings), errors and protocol (GoTrue's error
answers, requests and responses), users and store (user rules and SQL on the auth schema),
tokens, sessions and hook (signing, refresh tokens, the access token hook), mail, ratelimits,
redirects, base (what every endpoint shares), routes/* (one module per endpoint group),
service (the router) and server (HTTP and `main`).
"""

from devstack.auth.config import (
    AuthConfig,
    RateLimits,
    config_from_env,
    load_email_settings_from_config,
    load_hook_from_config,
    load_reuse_interval_from_config,
)
from devstack.auth.server import main, make_server
from devstack.auth.tokens import legacy_secret_kid

__all__ = [
    "AuthConfig",
    "RateLimits",
    "config_from_env",
    "legacy_secret_kid",
    "load_email_settings_from_config",
    "load_hook_from_config",
    "load_reuse_interval_from_config",
    "main",
    "make_server",
]
