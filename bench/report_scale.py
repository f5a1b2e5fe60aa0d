"""The Scale section of docs/performance.md: the list at each table size, and its query plans."""

from __future__ import annotations

from typing import Any

from bench.report_format import fmt_ms, fmt_size, fmt_x
from bench.report_targets import Targets
from bench.runs import SCALE_TARGETS
from bench.scenarios import TARGET_LABELS

DASH = "\u2013"
NOT_MEASURED = "not measured in this run."


class ScaleReport(Targets):
    """The list at 10k, 1M and (opted in) 10M rows: timings, ratios and plans."""

    def scale_section(self) -> list[str]:
        """Every size's pages, the ratios to the small size, and the plans."""
        sizes = self.sizes()
        small_deep = self.deepest("small")
        labels = [self.size_label(size) for size in sizes]
        lines = [
            f"## Scale: the list at {_and(labels)} vehicles",
            "",
            "As the admin (every row visible): "
            + _and([f"{self.scale[size]['table_rows']:,}" for size in sizes])
            + " rows in the table. p50 in ms at one client, median of "
            f"{self.crud['rounds']} rounds; page N starts after row (N\u22121)\u00d720, newest first. "
            f"At {labels[0]} the deepest full page is {small_deep}. The API and the keyset RPC address "
            "the page with a cursor (the API's is built for the row before the page, signed with "
            "`lib.supabase.cursor` exactly as `lib/resources/vehicles.py` signs it); the OFFSET rows are "
            "the naive peer's query (`order=created_at.desc,id.desc&offset=…&limit=20`) sent straight to "
            'PostgREST, without and with `Prefer: count=exact` (a "page N of M" UI). Every target returned '
            "the same first row for each page before it was timed."
            + (
                ""
                if "xlarge" in sizes
                else f" The {fmt_size(10_000_000)} step is opt-in (`make bench-10m`): {NOT_MEASURED}"
            ),
            "",
            "| rows | page | " + " | ".join(TARGET_LABELS[t] for t in SCALE_TARGETS) + " |",
            "|---|---|" + "---|" * len(SCALE_TARGETS),
        ]
        for size in sizes:
            for page in sorted(int(p) for p in self.scale[size]["pages"]):
                cells = " | ".join(self._scale_cell(size, page, t) for t in SCALE_TARGETS)
                lines.append(f"| {self.scale[size]['table_rows']:,} | {page} | {cells} |")
        for size in sizes[1:]:
            lines += ["", *self._ratios(size)]
        lines += [
            "",
            "Keyset pages cost the same at any size and any depth: the RPC seeks the `(created_at, id)` "
            "index to the cursor and reads 21 rows. OFFSET reads and discards every row before the page, "
            "so its cost grows with depth, and `count=exact` counts every visible row, so its cost grows "
            "with the table.",
            "",
            *self.plans_section(),
        ]
        return lines

    def _scale_cell(self, size: str, page: int, target: str) -> str:
        skipped = self.scale[size].get("skipped", {}).get(str(page), {})
        if target in skipped:
            return "failed (see `skipped` in scale.json)"
        return fmt_ms(self.scale_p50(size, page, target))

    def _ratios(self, size: str) -> list[str]:
        small, big = self.size_label("small"), self.size_label(size)
        small_deep, deep = self.deepest("small"), self.deepest(size)
        lines = [
            f"| {big} \u00f7 {small} | " + " | ".join(TARGET_LABELS[t] for t in SCALE_TARGETS) + " |",
            "|---|" + "---|" * len(SCALE_TARGETS),
        ]
        comparisons = [("page 1", 1, 1), (f"page {small_deep} (same depth)", small_deep, small_deep)]
        if deep != small_deep:
            comparisons.append((f"page {deep} vs page {small_deep}", deep, small_deep))
        for label, page, small_page in comparisons:
            cells = " | ".join(
                fmt_x(self.scale_p50(size, page, t) / self.scale_p50("small", small_page, t))
                for t in SCALE_TARGETS
            )
            lines.append(f"| {label} | {cells} |")
        return lines

    def plans_section(self) -> list[str]:
        """The plan of the statement list_vehicles runs, page 1 and the deepest page, at each size."""
        lines = ["### Query plans of the list", ""]
        measured = [size for size in self.sizes() if self.scale[size].get("plans")]
        if not measured:
            return [*lines, f"Plans: {NOT_MEASURED[:-1]} (results from before plans were recorded).", ""]
        lines += [
            "`EXPLAIN (ANALYZE, BUFFERS)` of the statement `public.list_vehicles` executes (its dynamic "
            "SQL, logged by auto_explain, `bench/plans.py`), as the admin, warm (the second of two calls), "
            "newest first, 21 rows:",
            "",
            "| rows | page | scans | execution (ms) | buffers | index seek |",
            "|---|---|---|---|---|---|",
        ]
        for size in measured:
            for page, each in sorted(self.scale[size]["plans"].items(), key=lambda item: int(item[0])):
                lines.append(
                    f"| {self.scale[size]['table_rows']:,} | {page} | {', '.join(each['scans']) or DASH} "
                    f"| {fmt_ms(each['execution_ms'])} | {each['buffers'] or DASH} "
                    f"| {'yes' if each['index_seek'] else '**no**'} |"
                )
        largest = measured[-1]
        deep = str(self.deepest(largest))
        plan: dict[str, Any] = self.scale[largest]["plans"].get(deep) or {}
        if plan:
            lines += [
                "",
                f"The plan of page {deep} at {self.scale[largest]['table_rows']:,} rows:",
                "",
                "```",
                plan["plan"],
                "```",
            ]
        return [*lines, ""]


def _and(items: list[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"
