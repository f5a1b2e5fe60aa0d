"""What hosted Supabase answers, as the clients see it: (error class name, code, HTTP status).

Taken from Supabase Auth's source (github.com/supabase/auth: internal/api, internal/tokens)
and PostgREST 12's error mapping, so that both client tests hold the local stack to the
same answers.
"""

from __future__ import annotations

from typing import NamedTuple


class AuthAnswer(NamedTuple):
    """An Auth error as supabase-js and supabase-py name it."""

    name: str
    code: str | None
    status: int


# signup of a confirmed address while sign-ups confirm at once (signup.go: UserExistsError).
USER_ALREADY_EXISTS = AuthAnswer("AuthApiError", "user_already_exists", 422)
# A password under [auth] minimum_password_length; the body carries weak_password.reasons.
WEAK_PASSWORD = AuthAnswer("AuthWeakPasswordError", "weak_password", 422)
WEAK_PASSWORD_REASONS = ["length"]
INVALID_CREDENTIALS = AuthAnswer("AuthApiError", "invalid_credentials", 400)
EMAIL_NOT_CONFIRMED = AuthAnswer("AuthApiError", "email_not_confirmed", 400)
# tokens/service.go: a revoked token past the reuse interval, or one that no longer exists
# (logout deletes the sessions and with them their refresh tokens).
REFRESH_TOKEN_ALREADY_USED = AuthAnswer("AuthApiError", "refresh_token_already_used", 400)
REFRESH_TOKEN_NOT_FOUND = AuthAnswer("AuthApiError", "refresh_token_not_found", 400)
# auth.go: an access token whose session_id names a session that is gone.
SESSION_NOT_FOUND = AuthAnswer("AuthApiError", "session_not_found", 403)
# auth.go parseJWTClaims: an access token that does not parse or verify.
BAD_JWT = AuthAnswer("AuthApiError", "bad_jwt", 403)
# verify.go: a token hash already used (or never issued).
OTP_EXPIRED = AuthAnswer("AuthApiError", "otp_expired", 403)
EMAIL_EXISTS = AuthAnswer("AuthApiError", "email_exists", 422)
USER_NOT_FOUND = AuthAnswer("AuthApiError", "user_not_found", 404)
# auth.go requireAdmin: the publishable key's anon role is no admin.
NOT_ADMIN = AuthAnswer("AuthApiError", "not_admin", 403)

# PostgREST: SQLSTATE 42501 is 401 for the anon role, 403 for a signed-in one.
ANON_DENIED = (401, "42501")
RLS_DENIED = (403, "42501")
