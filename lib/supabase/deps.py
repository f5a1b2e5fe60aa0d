"""What an operation reaches beyond its request: the upstream clients, the limiter, settings, the clock.

The pipeline hands one `Deps` to every handler, so a test can run a handler, or the
whole pipeline, with fakes and no stack. The defaults are the real implementations,
each imported on first call: building a `Deps` loads neither httpx nor the Supabase
libraries, which keeps a function's cold start to what its request needs. The PostgREST
clients never load them (lib.supabase.rest over lib.supabase.transport); only the Auth
client does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lib.config import Settings, get_settings

if TYPE_CHECKING:
    from supabase_auth import SyncGoTrueClient

    from lib.supabase.ratelimit import Limiter
    from lib.supabase.rest import RestClient


def _user_client(access_token: str) -> RestClient:
    from lib.supabase.clients import user_client

    return user_client(access_token)


def _anon_client() -> RestClient:
    from lib.supabase.clients import anon_client

    return anon_client()


def _admin_client() -> RestClient:
    from lib.supabase.clients import admin_client

    return admin_client()


def _auth_client(client_ip: str | None) -> SyncGoTrueClient:
    from lib.supabase.clients import auth_client

    return auth_client(client_ip)


def _shared_limiter() -> Limiter:
    from lib.supabase.ratelimit import shared_limiter

    return shared_limiter()


@dataclass(frozen=True)
class Deps:
    """The injected collaborators of the pipeline and of every handler."""

    user_client: Callable[[str], RestClient] = _user_client
    anon_client: Callable[[], RestClient] = _anon_client
    admin_client: Callable[[], RestClient] = _admin_client
    auth_client: Callable[[str | None], SyncGoTrueClient] = _auth_client
    settings: Callable[[], Settings] = get_settings
    clock: Callable[[], float] = time.time  # wall-clock seconds (token ages, recovery windows)
    limiter: Callable[[], Limiter] = field(default=_shared_limiter)  # the instance's shared limiter
