"""AuthConfig from the environment and supabase/config.toml."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devstack.auth import (
    config_from_env,
    load_hook_from_config,
)
from tests.devstack.auth.harness import (
    ISSUER,
    JWT_SECRET,
)

# --------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        (
            '[auth.hook.custom_access_token]\nenabled = true\nuri = "pg-functions://postgres/public/custom_access_token_hook"\n',
            "public.custom_access_token_hook",
        ),
        (
            '[auth.hook.custom_access_token]\nenabled = false\nuri = "pg-functions://postgres/public/custom_access_token_hook"\n',
            None,
        ),
        ("[auth]\nenabled = true\n", None),
        ("", None),
    ],
)
def test_load_hook_from_config(tmp_path: Path, toml: str, expected: str | None) -> None:
    path = tmp_path / "config.toml"
    path.write_text(toml)
    assert load_hook_from_config(path) == expected


def test_load_hook_from_config_rejects_http_hooks_and_tolerates_no_file(tmp_path: Path) -> None:
    assert load_hook_from_config(tmp_path / "missing.toml") is None
    path = tmp_path / "config.toml"
    path.write_text('[auth.hook.custom_access_token]\nenabled = true\nuri = "https://example.com/hook"\n')
    with pytest.raises(ValueError, match="pg-functions"):
        load_hook_from_config(path)


def test_config_from_env(tmp_path: Path, es256: tuple[str, dict[str, Any]]) -> None:
    _, key = es256
    base = {"AUTH_DB_DSN": "host=127.0.0.1 dbname=postgres", "SUPABASE_JWT_SECRET": JWT_SECRET}
    toml = tmp_path / "config.toml"
    toml.write_text(
        '[auth.hook.custom_access_token]\nenabled = true\nuri = "pg-functions://postgres/app/hook"\n'
    )
    assert config_from_env({**base, "AUTH_CONFIG_TOML": str(toml)}).hook == "app.hook"
    assert config_from_env({**base, "AUTH_CONFIG_TOML": str(toml), "AUTH_HOOK": ""}).hook is None
    config = config_from_env(
        {**base, "AUTH_ISSUER": ISSUER, "AUTH_SIGNING_JWK": json.dumps([key]), "AUTH_BCRYPT_ROUNDS": "4"}
    )
    assert config.signing_jwk == key
    assert config.issuer == ISSUER
    assert config.bcrypt_rounds == 4
    assert JWT_SECRET not in repr(config)
    with pytest.raises(ValueError, match="AUTH_DB_DSN"):
        config_from_env({"SUPABASE_JWT_SECRET": JWT_SECRET})
    with pytest.raises(ValueError, match="AUTH_ACCESS_TOKEN_TTL"):
        config_from_env({**base, "AUTH_ACCESS_TOKEN_TTL": "soon"})
