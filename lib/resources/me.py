"""The caller's own account: who they are now (GET /api/me), and their password (PUT /api/me/password)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lib.contract.outputs import Me
from lib.http.problems import ApiError, FieldError, Forbidden, Unauthorized, ValidationFailed
from lib.http.response import Response, empty_response, json_response
from lib.resources import representation
from lib.resources.auth_service import auth_errors, sign_out
from lib.supabase.caller import Call, Caller, verified_claims
from lib.supabase.upstream import expect_object, upstream_call

if TYPE_CHECKING:
    # annotations only, as in lib.resources.vehicles
    from lib.contract.inputs import PasswordChange


def me(call: Call[None, None]) -> Response:
    """GET /api/me: who the caller is now: the live session's current role, read from the database.

    Raises Unauthorized when the session has ended (logout, role change, deleted user).
    """
    caller = call.caller
    with upstream_call():
        result = call.deps.user_client(caller.access_token).rpc("me", {}).execute()
    row = expect_object(result.data)
    current = Caller(
        user_id=str(row.get("id") or caller.user_id),
        email=row.get("email") or caller.email,
        role=str(row.get("role") or "member"),
        access_token=caller.access_token,
    )
    shape = {
        "id": current.user_id,
        "email": current.email,
        "role": current.role,
        "permissions": list(current.permissions),
    }
    return json_response(representation.one(Me, shape))


RECOVERY_WINDOW = 600  # seconds after the verify during which no current password is asked
# The sign-in methods that proved control of the mailbox, as GoTrue records them in the token's
# `amr` (Session.IsRecovery: otp, magiclink, recovery). POST /verify records "otp" whatever the
# link's type; the redirect flow records the type. The entry's timestamp is when it happened,
# kept through refreshes, and Auth signed it: neither the caller nor a refresh can move it.
RECOVERY_METHODS = frozenset({"otp", "magiclink", "recovery"})
NO_RECOVERY_HINT = (
    "Send your current password as current_password (it may be left out only within 10 minutes"
    " of verifying a password-recovery link)"
)


def recovered_recently(claims: Mapping[str, Any], now: float) -> bool:
    """True when the token's session began with an email link (recovery) at most 10 minutes ago."""
    amr = claims.get("amr")
    if not isinstance(amr, list):
        return False
    for entry in amr:
        if not isinstance(entry, dict) or entry.get("method") not in RECOVERY_METHODS:
            continue
        stamp = entry.get("timestamp")
        if isinstance(stamp, int) and not isinstance(stamp, bool) and 0 <= now - stamp <= RECOVERY_WINDOW:
            return True
    return False


class _WrongPasswordProblem(Forbidden):
    """Auth refused the password grant that checks the current password."""

    def __init__(self) -> None:
        super().__init__("The current password is wrong", code="current_password_invalid")


def _check_current_password(call: Call[PasswordChange, None], email: str | None, password: str) -> None:
    """Auth's password grant for the caller's address; the session it opens is closed at once.

    Raises Forbidden(current_password_invalid) when Auth refuses the pair.
    """
    if not email:
        raise _WrongPasswordProblem()
    client_ip = call.request.client_ip
    with auth_errors(lambda error: _WrongPasswordProblem()):
        auth = call.deps.auth_client(client_ip)
        result = auth.sign_in_with_password({"email": email, "password": password})
    if result.session is None:
        raise _WrongPasswordProblem()
    sign_out(call.deps, client_ip, result.session.access_token, "local")


def _update_refused(error: Any) -> ApiError:
    if error.code == "same_password":
        return ValidationFailed(
            [FieldError("password", "same_password", "Choose a password other than the current one")]
        )
    if error.code in ("current_password_mismatch", "current_password_required"):
        return Forbidden("The current password is wrong", code="current_password_invalid")
    if error.code == "reauthentication_needed":
        return Forbidden("Sign in again, then change the password")
    if error.status in (401, 403, 404):
        return Unauthorized("The session has ended; sign in again")
    return ValidationFailed([FieldError("password", "rejected", "This password cannot be used")])


def change_password(call: Call[PasswordChange, None]) -> Response:
    """PUT /api/me/password: 204; the user's other sessions are revoked, the caller's stays.

    The current password is required unless the caller's session began with a recovery link at
    most 10 minutes ago (recovered_recently). Raises Forbidden(current_password_invalid) when it
    is wrong or missing, ValidationFailed for a password Auth refuses.
    """
    caller, body, deps = call.caller, call.body, call.deps
    if body.current_password is not None:
        _check_current_password(call, caller.email, body.current_password)
    elif not recovered_recently(verified_claims(caller.access_token, deps.settings()).raw, deps.clock()):
        raise Forbidden(NO_RECOVERY_HINT, code="current_password_invalid")
    attributes: dict[str, str] = {"password": body.password}
    if body.current_password is not None:
        # For a project with "require current password" on: Auth checks it again itself.
        attributes["current_password"] = body.current_password
    with auth_errors(_update_refused):
        # PUT /user as the caller: supabase-py's update_user wants a stored session, which a
        # stateless function does not keep; its request helper takes the token per call.
        deps.auth_client(call.request.client_ip)._request(
            "PUT", "user", body=attributes, jwt=caller.access_token
        )
    # Auth ends the other sessions itself on a password change (GoTrue's UpdatePassword); asked
    # once more so that the contract holds whatever the Auth version does.
    sign_out(deps, call.request.client_ip, caller.access_token, "others")
    return empty_response(204)
