"""The stack and peers a benchmark runs against: targets, round-trip counters, processes to time."""

from __future__ import annotations

from dataclasses import dataclass, field

import psutil
import requests

from bench import load
from bench.environment import Actors, Peer
from devstack.stack import Stack
from tests.factories import User


@dataclass
class World:
    """Everything a scenario needs: the stack, who acts, and where each target listens."""

    stack: Stack
    actors: Actors
    peer: Peer
    floor: Peer | None = None  # the floor function's dev server (GET one vehicle only)
    targets: dict[str, load.Target] = field(init=False)

    def __post_init__(self) -> None:
        s = self.stack.settings
        self.targets = {
            "api": load.Target(s.api_url.removesuffix("/api")),
            "postgrest": load.Target(s.supabase_url),
            "naive": load.Target(self.peer.url),
        }
        if self.floor is not None:
            self.targets["floor"] = load.Target(self.floor.url)

    def target(self, name: str) -> load.Target:
        """Where a target listens (the offset baselines are PostgREST queries)."""
        return self.targets["postgrest" if name.startswith("offset") else name]

    @property
    def dsn(self) -> str:
        """Superuser DSN."""
        return self.stack.postgres.dsn()

    def rest_headers(self, user: User) -> dict[str, str]:
        """What a Supabase client sends PostgREST for a signed-in user."""
        return {"apikey": self.stack.settings.publishable_key, "Authorization": f"Bearer {user.token}"}

    # -- the gateway's request counters -----------------------------------

    def reset_counts(self) -> None:
        """Zero the gateway's counters."""
        requests.delete(f"{self.stack.settings.supabase_url}/__devstack/stats", timeout=5).raise_for_status()

    def counts(self) -> dict[str, int]:
        """Requests the gateway forwarded per upstream since the last reset."""
        response = requests.get(f"{self.stack.settings.supabase_url}/__devstack/stats", timeout=5)
        response.raise_for_status()
        return dict(response.json())

    # -- CPU per process ---------------------------------------------------

    def processes(self) -> dict[str, psutil.Process]:
        """The processes whose CPU time a run accounts for."""
        stack = self.stack
        pids = {
            "api": stack.children["api"].pid,
            "gateway": stack.children["gateway"].pid,
            "postgres": stack.postgres.process.pid if stack.postgres.process else None,
            "postgrest": stack.postgrest.process.pid if stack.postgrest and stack.postgrest.process else None,
        }
        pids["naive"] = self.peer.pid
        if self.floor is not None:
            pids["floor"] = self.floor.pid
        found = {name: psutil.Process(pid) for name, pid in pids.items() if pid is not None}
        found["client"] = psutil.Process()
        return found


def cpu_seconds(processes: dict[str, psutil.Process]) -> dict[str, float]:
    """User+system CPU seconds of each process and its children (Postgres backends, the peer)."""
    totals: dict[str, float] = {}
    for name, process in processes.items():
        total = 0.0
        family = [process] if name == "client" else [process, *process.children(recursive=True)]
        for member in family:
            try:
                times = member.cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system
        totals[name] = total
    return totals
