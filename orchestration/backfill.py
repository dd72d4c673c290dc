"""Backfills after a change: exactly the asset partitions that a policy, model or file change made stale.

An asset partition is stale when

- its code version changed since it was materialised (a policy parameter it uses, or the model
  identity, is part of every asset's ``code_version``), or an upstream partition it read was
  re-materialised with a new data version (Dagster's own staleness, as the UI shows it); or
- the landing-zone file it read was replaced: its ``source_version`` metadata differs from the file's
  content version now (Dagster 1.13 leaves partitioned source observations out of provenance, so
  this one is dubsync's own check).

The backfill holds the stale partitions and every materialised partition downstream of them (those
go stale as soon as their inputs are recomputed), nothing else. It is submitted to the instance
like a backfill launched from the UI (the daemon runs it; Overview → Backfills shows it) or, with
``in_process``, run at once in this process, one run per partition in dependency order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from dagster import AssetCheckSeverity, AssetKey, DagsterInstance, Definitions
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
from dagster._core.definitions.events import AssetKeyPartitionKey
from dagster._core.definitions.partitions.context import partition_loading_context
from dagster._core.execution.backfill import PartitionBackfill
from dagster._core.utils import make_new_backfill_id
from dagster._time import get_current_timestamp

from assets.audio_sync import CHECK_WITHIN_TOLERANCE
from orchestration.partitions import title_and_language
from orchestration.stale_search import stale_partitions
from resources.media_store import MediaStore

__all__ = [
    "StalePartition", "find_stale", "submit_backfill", "run_in_process", "run_outcome", "out_of_tolerance",
    "only_checks_failed", "BACKFILL_TAG",
]

BACKFILL_TAG = "dubsync/trigger"
"""Tag on backfills and runs this module launches (value ``stale``)."""


@dataclass(frozen=True)
class StalePartition:
    """One asset partition to recompute and why.

    Attributes
    ----------
    asset : str
        Asset key as a string (``frame_match_offsets``).
    partition : str or None
        Partition key (``alpha`` or ``fr|alpha``); None for an unpartitioned asset (the catalogue
        report).
    reason : str
        What made it stale, in words (``has a new code version``, ``file replaced``, ``downstream of
        reference_signature[alpha]``).
    """

    asset: str
    partition: str | None
    reason: str

    @property
    def key(self) -> AssetKeyPartitionKey:
        return AssetKeyPartitionKey(AssetKey(self.asset), self.partition)


def find_stale(defs: Definitions, instance: DagsterInstance, store: MediaStore | None = None) -> list[StalePartition]:
    """Every stale asset partition of ``defs`` on ``instance``, with what it depends on downstream.

    ``store`` is the landing zone, for the replaced-file check (skipped when ``None``). Partitions
    never materialised are not stale (the sensor or ``dubsync check`` makes them) and are never
    visited: the search asks a few queries per asset, whatever the catalogue's size
    (:mod:`orchestration.stale_search`); the result is in dependency order.
    """
    listings = store.scan()[0] if store is not None else None
    return [
        StalePartition(key.to_user_string(), partition, reason)
        for key, partition, reason in stale_partitions(instance, defs.resolve_asset_graph(), listings)
    ]


def _subset(defs: Definitions, stale: Iterable[StalePartition]) -> AssetGraphSubset:
    return AssetGraphSubset.from_asset_partition_set({s.key for s in stale}, defs.resolve_asset_graph())


def ordered_now(stale: list[StalePartition]) -> tuple[list[StalePartition], list[StalePartition]]:
    """``stale`` split into what one daemon backfill can run in the right order, and what must wait for
    it: the partitions of the dubs whose title has stale partitions too (and the catalogue report,
    when anything waits).

    A dub-level asset reads its title's assets by title, not through a partition mapping (Dagster
    1.13 has none from a ``dubs`` key to its title), so an asset backfill would not hold a dub back
    until its title's partitions are done. What waits stays stale (the title-level data version it
    recorded is not the new one) and the next ``dubsync backfill --stale`` finds it; ``--in-process``
    runs titles first and needs no split."""
    split = [(s, *title_and_language(s.partition)) for s in stale if s.partition is not None]
    titles = {title for _, title, language in split if language is None}
    later = [s for s, title, language in split if language is not None and title in titles]
    if later:
        later += [s for s in stale if s.partition is None]
    waiting = {s.key for s in later}
    return [s for s in stale if s.key not in waiting], later


def submit_backfill(defs: Definitions, instance: DagsterInstance, stale: list[StalePartition], *, title: str) -> str:
    """Adds an asset backfill of exactly ``stale`` to ``instance`` (the daemon runs it); its id.
    ``stale`` must not hold a dub with its title (:func:`ordered_now`)."""
    backfill_id = make_new_backfill_id()
    with partition_loading_context(dynamic_partitions_store=instance):
        backfill = PartitionBackfill.from_asset_graph_subset(
            backfill_id=backfill_id,
            backfill_timestamp=get_current_timestamp(),
            tags={BACKFILL_TAG: "stale"},
            dynamic_partitions_store=instance,
            asset_graph_subset=_subset(defs, stale),
            title=title,
            description=f"{len(stale)} stale asset partition(s), found by dubsync backfill --stale",
            run_config=None,
        )
    instance.add_backfill(backfill)
    return backfill_id


def run_outcome(result) -> tuple[bool, str]:
    """Whether an in-process run did its work, and the word for it: "done", "done, out of
    tolerance" (a verdict out of tolerance fails its ``within_tolerance`` check with severity ERROR;
    the check does not block, so the run succeeds) or "FAILED"."""
    if result.success:
        return True, "done, out of tolerance" if out_of_tolerance(result) else "done"
    if only_checks_failed(result):
        return True, "done, out of tolerance"
    return False, "FAILED"


def out_of_tolerance(result) -> bool:
    """Whether a run stored a verdict whose ``within_tolerance`` check failed with severity ERROR."""
    return any(
        e.check_name == CHECK_WITHIN_TOLERANCE and not e.passed and e.severity == AssetCheckSeverity.ERROR
        for e in result.get_asset_check_evaluations()
    )


def only_checks_failed(result) -> bool:
    """Whether a run failed only because blocking asset checks failed (an out-of-tolerance verdict
    fails its run after the verdict is stored): every value was computed, nothing is broken."""
    failures = [e for e in result.all_events if e.is_step_failure]
    return bool(failures) and all(
        e.step_failure_data.error is not None and e.step_failure_data.error.cls_name == "DagsterAssetCheckFailedError"
        for e in failures
    )


def run_in_process(
    defs: Definitions,
    instance: DagsterInstance,
    stale: list[StalePartition],
    *,
    emit: Callable[[str], None] = print,
    run_config: dict | None = None,
) -> list[tuple[str, bool]]:
    """Runs ``stale`` now: one run per partition (titles first, then title × language), each run
    materialising just that partition's stale assets. Returns ``(partition, ok)`` per run: ok when
    every asset was materialised (a verdict out of tolerance is stored and fails its check, not
    its run)."""
    by_run: dict[tuple[str, str | None], list[AssetKey]] = {}
    for item in stale:
        by_run.setdefault((_job_name(item), item.partition), []).append(AssetKey(item.asset))
    results = []
    # titles first, then dubs, their conforms, the report (sorted is stable): a dub's matches need its
    # title's reference signature, a conform its verdict, the report everything
    for index, (name, partition) in enumerate(sorted(by_run, key=lambda run: _JOB_ORDER.index(run[0])), start=1):
        job = defs.resolve_job_def(name)
        assets = by_run[(name, partition)]
        names = ", ".join(k.to_user_string() for k in assets)
        emit(f"[{index}/{len(by_run)}] {partition or 'catalogue'}: {names}")
        result = job.execute_in_process(
            partition_key=partition,
            instance=instance,
            asset_selection=assets,
            raise_on_error=False,
            tags={BACKFILL_TAG: "stale"},
            run_config=run_config,
        )
        ok, status = run_outcome(result)
        emit(f"    {status}" if ok else f"    {status} (see the run in the UI)")
        results.append((partition or "catalogue", ok))
    return results


_JOB_ORDER = ("reference_job", "dub_job", "conform_job", "report_job")
_OWN_JOBS = {"conformed_dubs": "conform_job", "catalogue_report": "report_job"}


def _job_name(item: StalePartition) -> str:
    """The job that materialises a stale partition: the conform and the report have their own; the
    others are the title's or the dub's."""
    if item.asset in _OWN_JOBS:
        return _OWN_JOBS[item.asset]
    return "reference_job" if title_and_language(item.partition)[1] is None else "dub_job"

