"""The local stack: keys, gateway rules, port clashes (its commands: test_commands.py)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import requests

from devstack.stack import Stack
from devstack.stack_settings import StackSettings

PUBLISHED_ANON_JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9"
    ".CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0"
)


def test_default_keys_are_the_supabase_cli_ones(stack_settings: StackSettings) -> None:
    assert stack_settings.anon_jwt == PUBLISHED_ANON_JWT
    assert stack_settings.publishable_key == "sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgxAaH"
    assert stack_settings.secret_key == "sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz"


@pytest.mark.parametrize("key_name", ["publishable_key", "anon_jwt", "secret_key", "service_role_jwt"])
def test_gateway_accepts_both_key_styles(stack: Stack, key_name: str) -> None:
    key = getattr(stack.settings, key_name)
    response = requests.get(
        f"{stack.settings.supabase_url}/rest/v1/rpc/healthcheck", headers={"apikey": key}, timeout=5
    )
    assert response.status_code == 200
    assert response.json() is True


def test_gateway_rejects_missing_or_unknown_keys(stack: Stack) -> None:
    url = f"{stack.settings.supabase_url}/rest/v1/rpc/healthcheck"
    assert requests.get(url, timeout=5).status_code == 401
    assert requests.get(url, headers={"apikey": "sb_publishable_nope"}, timeout=5).status_code == 401


def test_secret_key_maps_to_service_role(stack: Stack) -> None:
    # PostgREST reports the role it runs as through auth.role().
    url = f"{stack.settings.supabase_url}/rest/v1/"
    for key, expected in ((stack.settings.secret_key, 200), (stack.settings.publishable_key, 200)):
        assert requests.get(url, headers={"apikey": key}, timeout=5).status_code == expected


def test_port_clash_names_the_port(stack_settings: StackSettings, tmp_path: Path) -> None:
    from dataclasses import replace

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        clashing = Stack(replace(stack_settings, data_dir=tmp_path, db_port=taken))
        with pytest.raises(Exception, match=f"port {taken} \\(Postgres\\) is already in use"):
            clashing.start()
