"""Bulk-load vehicles with COPY (never through the API), the way a data migration would.

Rows are generated in this process and streamed to `COPY public.vehicles FROM
STDIN`. The load runs with `session_replication_role = replica`, so the row
triggers (the version/timestamp trigger and the audit trigger) stay out of it
and each row keeps the created_at given here: one minute apart, oldest first.
For large loads the secondary indexes are dropped first and rebuilt from their
own definitions afterwards, which is how bulk loads are done; the primary key
and the unique VIN constraint stay in place throughout.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

COLUMNS = (
    "id",
    "vin",
    "make",
    "model",
    "model_year",
    "plate",
    "color",
    "odometer_km",
    "status",
    "owner_id",
    "version",
    "created_at",
    "updated_at",
)
MODELS = (
    ("Toyota", "Corolla"),
    ("Honda", "Civic"),
    ("Ford", "F-150"),
    ("Volkswagen", "Golf"),
    ("Tesla", "Model 3"),
    ("BMW", "3 Series"),
    ("Hyundai", "Elantra"),
    ("Kia", "Sportage"),
    ("Subaru", "Outback"),
    ("Mazda", "CX-5"),
    ("Nissan", "Leaf"),
    ("Volvo", "XC60"),
)
COLORS = ("silver", "black", "white", "blue", "red", "grey", "green")
VIN_ALPHABET = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"  # ISO 3779: no I, O or Q
# The first bulk row; one minute per row after it, so 1M rows end about two years later.
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
FLEET_SHARE = 40  # the fleet member owns every 40th row
BATCH_ROWS = 20_000


def bulk_vin(n: int) -> str:
    """A unique, well-formed VIN for row n ('ZZB' + the row number in base 33).

    The bench's API-created vehicles use a '1HG' prefix, so the two never collide.
    """
    digits = []
    for _ in range(14):
        n, r = divmod(n, len(VIN_ALPHABET))
        digits.append(VIN_ALPHABET[r])
    return "ZZB" + "".join(reversed(digits))


@dataclass(frozen=True)
class Owners:
    """Who owns the bulk rows: the fleet member every FLEET_SHARE-th row, the others in turn."""

    fleet: str
    others: tuple[str, ...]

    def owner(self, n: int) -> str:
        """The owner of row n."""
        if n % FLEET_SHARE == 0:
            return self.fleet
        return self.others[n % len(self.others)]


def _rows(start: int, stop: int, owners: Owners) -> str:
    lines = []
    for n in range(start, stop):
        make, model = MODELS[n % len(MODELS)]
        created = (EPOCH + timedelta(minutes=n, microseconds=n % 997)).isoformat()
        plate = "\\N" if n % 5 == 0 else f"BN {n % 10_000_000:07d}"
        lines.append(
            f"{uuid.uuid4()}\t{bulk_vin(n)}\t{make}\t{model}\t{1995 + n % 30}\t{plate}\t"
            f"{COLORS[n % len(COLORS)]}\t{(n * 7919) % 300_000}\t"
            f"{'retired' if n % 50 == 0 else 'active'}\t{owners.owner(n)}\t1\t{created}\t{created}\n"
        )
    return "".join(lines)


def _secondary_indexes(db: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    """(name, definition) of every index on public.vehicles that no constraint owns."""
    rows = db.execute(
        "select i.indexname, i.indexdef from pg_indexes i"
        " where i.schemaname = 'public' and i.tablename = 'vehicles'"
        " and not exists (select 1 from pg_constraint c where c.conname = i.indexname)"
        " order by i.indexname"
    ).fetchall()
    return [(str(name), str(definition)) for name, definition in rows]


def load(
    dsn: str,
    owners: Owners,
    start: int,
    stop: int,
    *,
    rebuild_indexes: bool = False,
    progress: Any = None,
) -> dict[str, Any]:
    """COPY rows [start, stop) into public.vehicles, then VACUUM ANALYZE. Returns timings."""
    timings: dict[str, Any] = {"rows": stop - start}
    with psycopg.connect(dsn, autocommit=True) as db:
        db.execute("set session_replication_role = replica")
        db.execute("set maintenance_work_mem = '512MB'")
        indexes: list[tuple[str, str]] = []
        if rebuild_indexes:
            indexes = _secondary_indexes(db)
            for name, _ in indexes:
                db.execute(f'drop index public."{name}"')
        began = time.perf_counter()
        step = 200_000 if stop - start <= 2_000_000 else 1_000_000
        with (
            db.cursor() as cursor,
            cursor.copy(f"copy public.vehicles ({', '.join(COLUMNS)}) from stdin") as copy,
        ):
            for batch in range(start, stop, BATCH_ROWS):
                copy.write(_rows(batch, min(stop, batch + BATCH_ROWS), owners))
                if progress is not None and (batch - start) % step == 0 and batch > start:
                    progress(f"  copied {batch - start:,} rows ({time.perf_counter() - began:.0f} s)")
        timings["copy_s"] = round(time.perf_counter() - began, 1)
        began = time.perf_counter()
        for name, definition in indexes:
            if progress is not None:
                progress(f"  rebuilding {name}")
            db.execute(definition)
        timings["index_rebuild_s"] = round(time.perf_counter() - began, 1)
        timings["indexes_rebuilt"] = len(indexes)
        began = time.perf_counter()
        db.execute("vacuum analyze public.vehicles")
        timings["vacuum_analyze_s"] = round(time.perf_counter() - began, 1)
        timings["table_rows"] = db.execute("select count(*) from public.vehicles").fetchone()[0]  # type: ignore[index]
        timings["settle_s"] = settle(db)
    return timings


def settle(db: psycopg.Connection[Any]) -> float:
    """Write out what the load left dirty (Postgres's buffers, then the OS's); returns the seconds it took.

    A load of millions of rows and its index builds leave gigabytes of dirty pages that the
    kernel writes back over the following minutes. Timed right after a 10M-row load, every
    list request was about 40% slower, page 1 as much as page 1000 and direct PostgREST as
    much as the API, and the same requests measured a few minutes later were back to the
    10k figures: the machine was still busy with the load, whatever the table's size.
    """
    began = time.perf_counter()
    db.execute("checkpoint")
    os.sync()
    return round(time.perf_counter() - began, 1)


def deep_position(dsn: str, *, owner: str | None, rows_before: int) -> tuple[str, str, str]:
    """(created_at as PostgREST prints it, id, next row's id) of the row ending `rows_before` rows.

    The cursor for page N of size L is the position of row (N-1)*L (1-based), newest
    first; the expected first row of the page is the one after it.
    """
    where = "where owner_id = %(owner)s" if owner else ""
    with psycopg.connect(dsn, autocommit=True) as db:
        db.execute("set timezone = 'UTC'")
        rows = db.execute(
            "select to_jsonb(created_at) #>> '{}', id::text from public.vehicles "
            f"{where} order by created_at desc, id desc offset %(offset)s limit 2",
            {"owner": owner, "offset": rows_before - 1},
        ).fetchall()
    if len(rows) < 2:
        raise RuntimeError(f"fewer than {rows_before + 1} visible rows")
    return str(rows[0][0]), str(rows[0][1]), str(rows[1][1])


# Room the table takes per row, measured, times this for the indexes' rebuild (sort space
# and the new index beside nothing: they were dropped) and the WAL, plus a fixed margin.
ROOM_FACTOR = 1.6
ROOM_MARGIN = 4 * 2**30
# Before any row is loaded: about 850 bytes per row were measured, 14 indexes included.
ROOM_GUESS_BYTES_PER_ROW = 1000


def room_needed(dsn: str, rows_to_add: int) -> dict[str, Any]:
    """Bytes the table and its indexes take per row now, and what adding `rows_to_add` needs."""
    with psycopg.connect(dsn, autocommit=True) as db:
        size, rows = db.execute(
            "select pg_total_relation_size('public.vehicles'), count(*) from public.vehicles"
        ).fetchone()  # type: ignore[misc]
    per_row = int(size) / max(int(rows), 1)
    return {
        "bytes_per_row": round(per_row),
        "needed_bytes": int(per_row * rows_to_add * ROOM_FACTOR + ROOM_MARGIN),
    }


def ensure_room(dsn: str, data_dir: Any, rows_to_add: int) -> dict[str, Any]:
    """Raise RuntimeError before a load that the disk holding `data_dir` has no room for."""
    import shutil

    room = room_needed(dsn, rows_to_add)
    room["free_bytes"] = shutil.disk_usage(data_dir).free
    if room["free_bytes"] < room["needed_bytes"]:
        raise RuntimeError(
            f"{rows_to_add:,} more rows need about {room['needed_bytes'] / 2**30:.1f} GiB "
            f"({room['bytes_per_row']} bytes per row now, indexes included); "
            f"{room['free_bytes'] / 2**30:.1f} GiB free under {data_dir}"
        )
    return room
