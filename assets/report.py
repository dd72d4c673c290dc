"""The catalogue QC report (``catalogue_report``): which dubs of the catalogue are out of sync now.

One row per delivered dub (the landing zone's listing), from the latest ``title_verdicts`` and
``conformed_dubs`` materialisation of its partition on the instance; ``dubsync report`` prints the
same rows (:func:`catalogue_rows`). Refreshed by an automation condition whenever a verdict or a
conform is materialised.
"""

from datetime import UTC, datetime

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetRecordsFilter,
    AssetsDefinition,
    AutomationCondition,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    MaterializeResult,
    MetadataValue,
    RunsFilter,
    asset,
)

from assets.audio_sync import TITLE_VERDICTS
from assets.conform import CONFORMED_DUBS
from ml.catalogue import Catalogue, counts, sort_rows, to_csv, to_markdown, to_parquet
from orchestration.partitions import dub_partition_key
from resources.deliverables import DeliverablesStore
from resources.media_store import MediaStore

__all__ = ["CATALOGUE_REPORT", "REPORT_FOLDER", "build_report_assets", "catalogue_rows"]

CATALOGUE_REPORT = AssetKey("catalogue_report")
REPORT_FOLDER = "report"
"""The report's Parquet and CSV files, in the deliverables (``report/catalogue_report.*``)."""
REPORT_VERSION = "catalogue-report/1"


def _latest(instance: DagsterInstance, key: AssetKey, partition: str):
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
    ).records
    return records[0] if records else None


def _conform_failure(instance: DagsterInstance, partition: str, since: float) -> str | None:
    """Why the latest run that selected ``conformed_dubs`` for ``partition`` failed after ``since``,
    or None."""
    failed = instance.get_run_records(
        filters=RunsFilter(statuses=[DagsterRunStatus.FAILURE], tags={"dagster/partition": partition}), limit=20
    )
    for record in failed:  # newest first
        selection = record.dagster_run.asset_selection
        if selection is None or CONFORMED_DUBS not in selection:
            continue
        if (record.end_time or record.create_timestamp.timestamp()) <= since:
            return None
        for event in instance.all_logs(record.dagster_run.run_id, of_type=DagsterEventType.STEP_FAILURE):
            error = event.dagster_event.step_failure_data.error
            if error is not None:
                return error.message.strip().removeprefix("dagster._core.definitions.events.Failure: ")
        return f"run {record.dagster_run.run_id} failed"
    return None


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).isoformat(timespec="seconds")


def catalogue_rows(instance: DagsterInstance, store: MediaStore) -> list[dict]:
    """One row per delivered dub of ``store``'s landing zone (see :data:`ml.catalogue.COLUMNS`)."""
    listings, _ = store.scan()
    rows = []
    for title, listing in sorted(listings.items()):
        for language in sorted(listing.dubs):
            partition = dub_partition_key(title, language)
            row = {"title": title, "language": language, "kind": "undetermined", "in_sync": False, "band": "unknown",
                   "conformed": "no", "reason": "no verdict yet"}  # fmt: skip
            verdict_record = _latest(instance, TITLE_VERDICTS, partition)
            if verdict_record is not None:
                verdict = dict(verdict_record.asset_materialization.metadata["verdict"].value)
                row.update(
                    kind=verdict["kind"],
                    in_sync=verdict["in_sync"],
                    offset_ms=verdict.get("offset_ms"),
                    offset_end_ms=_ms(verdict.get("offset_end_s")),
                    band=verdict["band"],
                    correction=verdict["correction"],
                    reference=verdict["reference"],
                    reason=verdict["reason"],
                    run_id=verdict_record.run_id,
                    time=_iso(verdict_record.timestamp),
                )
            conform_record = _latest(instance, CONFORMED_DUBS, partition)
            since = verdict_record.timestamp if verdict_record is not None else 0.0
            if conform_record is not None and conform_record.timestamp >= since:
                meta = conform_record.asset_materialization.metadata
                row["conformed"] = "yes" if meta["status"].value == "conformed" else "no"
                row["conform_reason"] = meta["reason"].value
                row["residual_start_ms"] = meta["residual_start_ms"].value
                row["residual_end_ms"] = meta["residual_end_ms"].value
                since = conform_record.timestamp
            if failure := _conform_failure(instance, partition, since):
                row["conformed"] = "failed"
                row["conform_reason"] = failure
            rows.append(row)
    return sort_rows(rows)


def build_report_assets() -> list[AssetsDefinition]:
    """``catalogue_report``."""

    @asset(
        key=CATALOGUE_REPORT,
        deps=[TITLE_VERDICTS, CONFORMED_DUBS],
        code_version=REPORT_VERSION,
        group_name="report",
        kinds={"python", "parquet", "csv"},
        # refreshed after verdicts or conforms change, once nothing it reads is running
        automation_condition=(
            AutomationCondition.any_deps_updated().since(AutomationCondition.newly_requested())
            & ~AutomationCondition.any_deps_in_progress()
            & ~AutomationCondition.in_progress()
        ),
        description=(
            "One row per delivered dub of the catalogue: kind, offset, ITU band, correction, whether it "
            "was conformed, the verdict's run and time; Parquet and CSV beside the artifacts."
        ),
    )
    def catalogue_report(
        context: AssetExecutionContext, media_store: MediaStore, deliverables: DeliverablesStore
    ) -> MaterializeResult:
        rows = catalogue_rows(context.instance, media_store)
        parquet = deliverables.write_bytes(f"{REPORT_FOLDER}/catalogue_report.parquet", to_parquet(rows))
        table = deliverables.write_bytes(f"{REPORT_FOLDER}/catalogue_report.csv", to_csv(rows).encode())
        out_of_sync = [r for r in rows if r["kind"] in ("constant", "drift", "intermittent")]
        context.log.info(f"catalogue report: {len(rows)} dubs, {len(out_of_sync)} out of sync; {table}")
        return MaterializeResult(
            value=Catalogue(rows=rows),
            metadata={
                "dubs": len(rows),
                "out_of_sync": len(out_of_sync),
                "per_kind": MetadataValue.json(counts(rows, "kind")),
                "per_language": MetadataValue.json(counts(rows, "language")),
                "parquet": MetadataValue.path(parquet),
                "csv": MetadataValue.path(table),
                "report": MetadataValue.md(to_markdown(rows)),
            },
        )

    return [catalogue_report]
