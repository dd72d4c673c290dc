"""The landing-zone sensor end to end: ``dagster dev`` (webserver and daemon) on the production
PostgreSQL instance picks up a new dub, re-runs only a replaced file's partition, and fails only
the run of an unreadable file, with a message naming it; after a threshold change and a reload of
the code location, ``dubsync backfill --stale`` submits a backfill that the daemon runs."""

import os
import shutil
import time

import pytest
from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    RunsFilter,
)
from dagster._core.execution.backfill import BulkActionStatus

from assets.media import SOURCE_VERSION
from orchestration.cli import main
from resources.media_store import LocalMediaStore
from tests.support.dagster_dev import running_dagster_dev
from tests.support.helpers import copy_landing_zone, replace_file

pytestmark = pytest.mark.slow  # a real dagster dev with its daemon (minutes): `pytest -m "not slow"` skips it

CHAIN = ("dub_signature", "frame_match_offsets", "title_verdicts")
WAIT_S = 300.0


def _count(instance, asset: str, partition: str) -> int:
    return len(
        instance.fetch_materializations(
            AssetRecordsFilter(asset_key=AssetKey(asset), asset_partitions=[partition]), limit=1000
        ).records
    )


def _wait(what: str, condition, server, instance):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(2)
    runs = [(r.job_name, r.tags.get("dagster/partition"), r.status.value) for r in instance.get_runs(limit=20)]
    raise AssertionError(f"timed out waiting for {what}; runs: {runs}\n{server.log_tail(80)}")


def _idle(instance) -> bool:
    busy = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]
    return not instance.get_runs(filters=RunsFilter(statuses=busy))



def test_sensor_with_the_daemon_new_replaced_and_unreadable_dubs(landing_zone, tmp_path, postgres_home, monkeypatch):
    root = copy_landing_zone(landing_zone[0], tmp_path / "lz")
    held = tmp_path / "held"
    held.mkdir()
    shutil.move(root / "alpha" / "dubs" / "fr.flac", held / "fr.flac")  # delivered later
    (tmp_path / "policy.toml").write_text("# the defaults\n")
    env = {
        "DUBSYNC_MEDIA_ROOT": str(root),
        "DUBSYNC_ARTIFACT_ROOT": str(tmp_path / "artifacts"),
        "DUBSYNC_SENSOR_INTERVAL_S": "3",
        "DUBSYNC_SETTLE_S": "2",  # each new or replaced file waits 2 s unchanged before its run
        "DUBSYNC_POLICY": str(tmp_path / "policy.toml"),
        "DUBSYNC_POSTGRES_URL": os.environ["DUBSYNC_POSTGRES_URL"],
    }
    instance = DagsterInstance.from_config(str(postgres_home))
    try:
        with running_dagster_dev(postgres_home, env) as server:
            # the original and the German dub: partitions added, reference then dub chain run
            _wait("de|alpha's verdict", lambda: _count(instance, "title_verdicts", "de|alpha") == 1, server, instance)
            assert set(instance.get_dynamic_partitions("titles")) == {"alpha"}
            assert set(instance.get_dynamic_partitions("dubs")) == {"de|alpha"}

            # a new French dub is dropped in: its dub partition appears and its verdict follows
            shutil.copy(held / "fr.flac", root / "alpha" / "dubs" / "fr.flac")
            _wait("fr|alpha's verdict", lambda: _count(instance, "title_verdicts", "fr|alpha") == 1, server, instance)
            assert set(instance.get_dynamic_partitions("dubs")) == {"de|alpha", "fr|alpha"}
            record = instance.fetch_materializations(
                AssetRecordsFilter(asset_key=AssetKey("title_verdicts"), asset_partitions=["fr|alpha"]), limit=1
            ).records[0]
            verdict = record.asset_materialization.metadata
            assert abs(verdict["offset_ms"].value - 800) <= 5 and verdict["kind"].value == "constant"
            _wait("the queue to empty", lambda: _idle(instance), server, instance)

            # the German dub is re-delivered, and again while that run is under way: only de|alpha's
            # chain runs again, once per delivery, one run at a time, so the last delivery's verdict
            # is the last one made
            before = {(a, p): _count(instance, a, p) for a in CHAIN for p in ("de|alpha", "fr|alpha")}
            references = _count(instance, "reference_signature", "alpha")
            dub = root / "alpha" / "dubs" / "de.m4a"
            replace_file(dub, dub.read_bytes())
            german = RunsFilter(job_name="dub_job", tags={"dagster/partition": "de|alpha"})
            _wait("de|alpha's re-run to be requested", lambda: len(instance.get_runs(filters=german)) == 2, server, instance)
            dub.write_bytes(dub.read_bytes())
            settled = time.time() - 10  # written "10 s ago": the sensor takes it at its next scan
            os.utime(dub, (settled, settled))
            _wait("de|alpha's third verdict", lambda: _count(instance, "title_verdicts", "de|alpha") == 3, server, instance)
            _wait("the queue to empty", lambda: _idle(instance), server, instance)
            after = {(a, p): _count(instance, a, p) for a in CHAIN for p in ("de|alpha", "fr|alpha")}
            assert {k: after[k] - before[k] for k in after if after[k] != before[k]} == {
                (a, "de|alpha"): 2 for a in CHAIN
            }
            assert _count(instance, "reference_signature", "alpha") == references
            runs = sorted(instance.get_run_records(filters=german), key=lambda r: r.start_time)
            assert len(runs) == 3 and all(r.dagster_run.status == DagsterRunStatus.SUCCESS for r in runs)
            assert all(a.end_time <= b.start_time for a, b in zip(runs, runs[1:])), [(r.start_time, r.end_time) for r in runs]
            latest = instance.fetch_materializations(
                AssetRecordsFilter(asset_key=AssetKey("dub_signature"), asset_partitions=["de|alpha"]), limit=1
            ).records[0]
            current = LocalMediaStore(root=str(root)).dub("alpha", "de").version
            assert latest.asset_materialization.metadata[SOURCE_VERSION].value == current

            # an unreadable Italian dub: its run fails and names the file; nothing else runs
            (root / "alpha" / "dubs" / "it.flac").write_bytes(b"not audio at all " * 4096)
            it_failed = RunsFilter(statuses=[DagsterRunStatus.FAILURE], tags={"dagster/partition": "it|alpha"})
            _wait("it|alpha's run to fail", lambda: instance.get_runs(filters=it_failed), server, instance)
            (failed,) = instance.get_runs(filters=it_failed)
            failures = [
                e.dagster_event.step_failure_data.error.message
                for e in instance.all_logs(failed.run_id, of_type=DagsterEventType.STEP_FAILURE)
            ]
            assert failures and "it.flac" in failures[0], failures
            assert "dub_signature" in [
                e.step_key for e in instance.all_logs(failed.run_id, of_type=DagsterEventType.STEP_FAILURE)
            ]
            _wait("the queue to empty", lambda: _idle(instance), server, instance)
            assert {(a, p): _count(instance, a, p) for a in CHAIN for p in ("de|alpha", "fr|alpha")} == after
            assert not any((tmp_path / "artifacts").rglob("it/*"))

            # a threshold change: reload the code location, backfill what went stale, the daemon runs it
            (tmp_path / "policy.toml").write_text("[match]\ntheta_min_dist = 7.0\n")
            reloaded = server.graphql("mutation { reloadWorkspace { __typename } }")
            assert reloaded["reloadWorkspace"]["__typename"] == "Workspace"
            for name, value in env.items():
                monkeypatch.setenv(name, value)
            before = {(a, p): _count(instance, a, p) for a in ("reference_signature", *CHAIN)
                      for p in (["alpha"] if a == "reference_signature" else ["de|alpha", "fr|alpha"])}  # fmt: skip
            assert main(["backfill", "--stale"]) == 0
            (backfill,) = instance.get_backfills()
            done = {BulkActionStatus.COMPLETED_SUCCESS, BulkActionStatus.COMPLETED_FAILED, BulkActionStatus.FAILED}
            _wait(
                "the backfill to complete",
                lambda: instance.get_backfill(backfill.backfill_id).status in done,
                server, instance,
            )  # fmt: skip
            assert instance.get_backfill(backfill.backfill_id).status == BulkActionStatus.COMPLETED_SUCCESS
            after = {key: _count(instance, *key) for key in before}
            assert {k: after[k] - before[k] for k in after if after[k] != before[k]} == {
                (a, p): 1 for a in ("frame_match_offsets", "title_verdicts") for p in ("de|alpha", "fr|alpha")
            }
    finally:
        instance.dispose()
