"""The local Auth parsed by supabase-py's own client and admin API."""

from __future__ import annotations

import uuid

import pytest
from supabase_auth import SyncGoTrueAdminAPI, SyncGoTrueClient
from supabase_auth.errors import AuthApiError, AuthWeakPasswordError

from tests.devstack.auth.harness import (
    PASSWORD,
    bearer,
    decode_claims,
    random_email,
    refresh_session,
    sign_up,
)


def test_supabase_client_sign_up_sign_in_refresh_and_sign_out(client: SyncGoTrueClient) -> None:
    email = random_email()
    signed_up = client.sign_up(
        {"email": email.upper(), "password": PASSWORD, "options": {"data": {"name": "Ada"}}}
    )
    assert signed_up.session is not None
    assert signed_up.user is not None
    user = signed_up.user
    assert user.email == email
    assert user.aud == "authenticated"
    assert user.role == "authenticated"
    assert user.user_metadata == {"name": "Ada"}
    assert user.app_metadata == {"provider": "email", "providers": ["email"]}
    assert user.email_confirmed_at is not None
    assert user.confirmed_at is not None
    assert user.last_sign_in_at is not None
    assert user.identities is not None
    assert [(identity.provider, identity.id) for identity in user.identities] == [("email", user.id)]
    assert user.is_anonymous is False
    assert signed_up.session.token_type == "bearer"
    assert signed_up.session.expires_in == 3600

    signed_in = client.sign_in_with_password({"email": email, "password": PASSWORD})
    assert signed_in.session is not None
    fetched = client.get_user(signed_in.session.access_token)
    assert fetched is not None
    assert fetched.user.id == user.id

    refreshed = client.refresh_session(signed_in.session.refresh_token)
    assert refreshed.session is not None
    assert refreshed.session.refresh_token != signed_in.session.refresh_token
    assert refreshed.user is not None
    assert refreshed.user.id == user.id
    # Presenting the rotated token again (its answer was lost) hands back the active one.
    again = client.refresh_session(signed_in.session.refresh_token)
    assert again.session is not None
    assert again.session.refresh_token == refreshed.session.refresh_token

    client.sign_out()  # global, with the refreshed session the client now holds
    with pytest.raises(AuthApiError) as after_logout:
        client.refresh_session(refreshed.session.refresh_token)
    # supabase_auth's ErrorCode Literal lacks this code, which GoTrue does send.
    logout_code: str | None = after_logout.value.code
    assert logout_code == "refresh_token_not_found"
    with pytest.raises(AuthApiError) as gone:
        client.get_user(refreshed.session.access_token)
    assert gone.value.status == 403
    assert gone.value.code == "session_not_found"


def test_supabase_admin_api_lists_and_updates_users(
    auth: str, client: SyncGoTrueClient, admin: SyncGoTrueAdminAPI
) -> None:
    first = sign_up(auth, data={"keep": 1, "drop": 2})
    second = sign_up(auth)
    listed = admin.list_users(page=1, per_page=1000)
    ids = [user.id for user in listed]
    # Newest first, as GoTrue sorts by created_at descending.
    assert ids.index(second["user"]["id"]) < ids.index(first["user"]["id"])

    user_id = first["user"]["id"]
    updated = admin.update_user_by_id(
        user_id, {"app_metadata": {"plan": "pro"}, "user_metadata": {"drop": None, "new": True}}
    )
    assert updated.user.app_metadata == {"provider": "email", "providers": ["email"], "plan": "pro"}
    assert updated.user.user_metadata == {"keep": 1, "new": True}
    assert admin.get_user_by_id(user_id).user.app_metadata["plan"] == "pro"
    # The next access token carries the new metadata.
    refreshed = refresh_session(auth, first["refresh_token"])
    assert refreshed.status_code == 200
    assert decode_claims(refreshed.json()["access_token"])["app_metadata"]["plan"] == "pro"

    with pytest.raises(AuthApiError) as missing:
        admin.update_user_by_id(str(uuid.uuid4()), {"user_metadata": {"x": 1}})
    assert missing.value.status == 404
    assert missing.value.code == "user_not_found"

    with (
        SyncGoTrueAdminAPI(url=auth, headers=bearer(first["access_token"])) as as_user,
        pytest.raises(AuthApiError) as not_admin,
    ):
        as_user.list_users()
    assert not_admin.value.status == 403
    assert not_admin.value.code == "not_admin"


def test_supabase_client_reports_weak_password_and_existing_user(client: SyncGoTrueClient) -> None:
    with pytest.raises(AuthWeakPasswordError) as weak:
        client.sign_up({"email": random_email(), "password": "12345"})
    assert weak.value.status == 422
    assert weak.value.reasons == ["length"]

    email = random_email()
    client.sign_up({"email": email, "password": PASSWORD})
    with pytest.raises(AuthApiError) as duplicate:
        client.sign_up({"email": email, "password": PASSWORD})
    assert duplicate.value.status == 422
    assert duplicate.value.code == "user_already_exists"

    with pytest.raises(AuthApiError) as wrong:
        client.sign_in_with_password({"email": email, "password": "wrong-password"})
    assert wrong.value.status == 400
    assert wrong.value.code == "invalid_credentials"
