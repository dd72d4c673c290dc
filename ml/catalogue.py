"""The catalogue QC report: one row per delivered dub, as tables for people and files for tools.

Plain data in, text and bytes out (no Dagster): :mod:`assets.report` collects the rows from the
instance, ``dubsync report`` prints them. Rows are ordered with the dubs that need action first
(out of sync, then undetermined, then in sync), then by title and language.
"""

from __future__ import annotations

import collections
import csv
import io
import json
from dataclasses import dataclass, field

__all__ = ["COLUMNS", "Catalogue", "sort_rows", "to_csv", "to_json", "to_markdown", "to_parquet", "counts"]

COLUMNS = (
    "title",
    "language",
    "kind",
    "in_sync",
    "offset_ms",
    "offset_end_ms",
    "band",
    "correction",
    "conformed",
    "residual_start_ms",
    "residual_end_ms",
    "conform_reason",
    "reference",
    "reason",
    "run_id",
    "time",
)
"""Columns of the report, in order. ``conformed`` is ``yes``, ``no`` or ``failed``; ``time`` is the
verdict's materialisation time (ISO 8601, UTC) and ``run_id`` its run."""
_ORDER = {"constant": 0, "drift": 0, "intermittent": 0, "undetermined": 1, "in_sync": 2}


@dataclass(frozen=True)
class Catalogue:
    """The report's rows (dicts with :data:`COLUMNS`), sorted by :func:`sort_rows`."""

    rows: list = field(default_factory=list)


def sort_rows(rows: list[dict]) -> list[dict]:
    """Out-of-sync dubs first, then undetermined, then in sync; by title and language within."""
    return sorted(rows, key=lambda r: (_ORDER.get(r["kind"], 1), r["title"], r["language"]))


def counts(rows: list[dict], column: str) -> dict[str, int]:
    """Rows per value of ``column`` (kind or language), in first-seen order of the sorted rows."""
    return dict(collections.Counter(str(r[column]) for r in rows))


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:+.1f}"
    return str(value)


def to_markdown(rows: list[dict], *, columns: tuple[str, ...] | None = None) -> str:
    """A markdown table of ``rows`` (out-of-sync first) under the counts per kind and per language."""
    columns = columns or ("title", "language", "kind", "offset_ms", "band", "correction", "conformed",
                          "residual_end_ms", "time")  # fmt: skip
    rows = sort_rows(rows)
    out = [
        f"**{len(rows)} dubs.** Per kind: "
        + ", ".join(f"{k} {n}" for k, n in sorted(counts(rows, "kind").items(), key=lambda kv: _ORDER.get(kv[0], 1)))
        + ". Per language: "
        + ", ".join(f"{k} {n}" for k, n in sorted(counts(rows, "language").items()))
        + ".",
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
    ]
    for row in rows:
        out.append("| " + " | ".join(_cell(row.get(c)).replace("|", "/") for c in columns) + " |")
    return "\n".join(out) + "\n"


def to_csv(rows: list[dict]) -> str:
    """CSV with :data:`COLUMNS` (empty cells for missing values)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in sort_rows(rows):
        writer.writerow({c: ("" if row.get(c) is None else row.get(c)) for c in COLUMNS})
    return buffer.getvalue()


def to_json(rows: list[dict]) -> str:
    """A JSON list of objects with :data:`COLUMNS`."""
    return json.dumps([{c: row.get(c) for c in COLUMNS} for row in sort_rows(rows)], indent=2) + "\n"


def to_parquet(rows: list[dict]) -> bytes:
    """Parquet bytes with :data:`COLUMNS` (pyarrow)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    ordered = sort_rows(rows)
    types = {
        "in_sync": pa.bool_(),
        "offset_ms": pa.float64(),
        "offset_end_ms": pa.float64(),
        "residual_start_ms": pa.float64(),
        "residual_end_ms": pa.float64(),
    }
    table = pa.table(
        {c: pa.array([row.get(c) for row in ordered], type=types.get(c, pa.string())) for c in COLUMNS}
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()
