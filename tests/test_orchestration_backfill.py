"""The production instance (PostgreSQL) and ``dubsync backfill --stale``: after a policy change or a
replaced file, exactly the stale asset partitions are recomputed, counted in materialisations."""

import os
import time

from dagster import AssetKey, AssetRecordsFilter, DagsterInstance, build_sensor_context

from orchestration.backfill import StalePartition, find_stale, ordered_now, run_in_process
from orchestration.cli import main, run_check
from orchestration.definitions import build_definitions
from orchestration.sensors import build_landing_zone_sensor
from orchestration.settings import Settings
from resources.media_store import LocalMediaStore
from tests.support.helpers import copy_landing_zone

# files taken at once (tests/test_orchestration_sensor.py tests the settle time)
landing_zone_sensor = build_landing_zone_sensor(settle_s=0)

AUDIO_ASSETS = ("reference_signature", "dub_signature", "frame_match_offsets", "title_verdicts")


def _counts(instance) -> dict[str, int]:
    return {
        name: len(instance.fetch_materializations(AssetRecordsFilter(asset_key=AssetKey(name)), limit=10_000).records)
        for name in AUDIO_ASSETS
    }


def _delta(after: dict, before: dict) -> dict:
    return {name: after[name] - before[name] for name in after if after[name] != before[name]}


def _stale(root, artifacts, instance, policy=""):
    settings = Settings(media_root=str(root), artifact_root=str(artifacts), policy_path=str(policy))
    defs = build_definitions(settings)
    return defs, find_stale(defs, instance, defs.resources["media_store"])


def _checked(landing_zone, tmp_path, instance):
    root = copy_landing_zone(landing_zone[0], tmp_path / "lz")
    artifacts = tmp_path / "artifacts"
    rows = run_check(str(root), artifact_root=str(artifacts), instance=instance, emit=lambda _: None)
    assert [r["error"] for r in rows] == [None, None]
    return root, artifacts


def test_production_instance_is_postgres_with_queue_and_video_pool(postgres_instance):
    assert type(postgres_instance.run_storage).__name__ == "PostgresRunStorage"
    assert type(postgres_instance.event_log_storage).__name__ == "PostgresEventLogStorage"
    assert type(postgres_instance.run_coordinator).__name__ == "QueuedRunCoordinator"
    config = postgres_instance.get_concurrency_config()
    assert config.run_queue_config.max_concurrent_runs == 4
    assert config.pool_config.default_pool_limit == 1
    assert postgres_instance.run_retries_max_retries == 2


def test_theta_min_dist_change_recomputes_only_matching_and_verdicts(landing_zone, tmp_path, postgres_instance):
    instance = postgres_instance
    root, artifacts = _checked(landing_zone, tmp_path, instance)
    before = _counts(instance)
    assert before == {name: (1 if name == "reference_signature" else 2) for name in AUDIO_ASSETS}
    _, stale = _stale(root, artifacts, instance)
    assert stale == [], "a fresh check leaves nothing stale"

    policy = tmp_path / "policy.toml"
    policy.write_text("[match]\ntheta_min_dist = 7.0\n")
    defs, stale = _stale(root, artifacts, instance, policy)
    assert {(s.asset, s.partition) for s in stale} == {
        (asset, partition)
        for asset in ("frame_match_offsets", "title_verdicts")
        for partition in ("de|alpha", "fr|alpha")
    }
    assert all("code version" in s.reason or "downstream" in s.reason for s in stale)
    results = run_in_process(defs, instance, stale, emit=lambda _: None)
    assert all(ok for _, ok in results)
    assert _delta(_counts(instance), before) == {"frame_match_offsets": 2, "title_verdicts": 2}
    assert _stale(root, artifacts, instance, policy)[1] == [], "the backfill left nothing stale"


def test_tolerance_change_recomputes_only_verdicts_through_the_command(
    landing_zone, tmp_path, postgres_instance, postgres_home, monkeypatch, capsys
):
    instance = postgres_instance
    root, artifacts = _checked(landing_zone, tmp_path, instance)
    before = _counts(instance)
    policy = tmp_path / "policy.toml"
    policy.write_text("[verdict]\nacceptable_lag_s = 0.150\n")
    monkeypatch.setenv("DUBSYNC_MEDIA_ROOT", str(root))
    monkeypatch.setenv("DUBSYNC_ARTIFACT_ROOT", str(artifacts))

    assert main(["backfill", "--stale", "--dry-run", "--policy", str(policy)]) == 0
    listed = capsys.readouterr().out
    assert "2 stale asset partition(s): title_verdicts × 2" in listed
    assert _counts(instance) == before, "a dry run launches nothing"

    assert main(["backfill", "--stale", "--in-process", "--policy", str(policy)]) == 0
    printed = capsys.readouterr().out
    assert "2 of 2 run(s) succeeded" in printed
    # alpha's French dub leads by more than 0.7 s: its verdict is stored and its blocking check fails
    assert "done, out of tolerance" in printed and "FAILED" not in printed
    assert _delta(_counts(instance), before) == {"title_verdicts": 2}


def test_submitted_backfill_holds_exactly_the_stale_partitions(
    landing_zone, tmp_path, postgres_instance, postgres_home, monkeypatch, capsys
):
    instance = postgres_instance
    root, artifacts = _checked(landing_zone, tmp_path, instance)
    policy = tmp_path / "policy.toml"
    policy.write_text("[match]\ntheta_min_dist = 7.0\n")
    monkeypatch.setenv("DUBSYNC_MEDIA_ROOT", str(root))
    monkeypatch.setenv("DUBSYNC_ARTIFACT_ROOT", str(artifacts))
    assert main(["backfill", "--stale", "--policy", str(policy)]) == 0
    assert "submitted backfill" in capsys.readouterr().out
    # a new instance object: what the daemon reads from PostgreSQL
    reader = DagsterInstance.from_config(str(postgres_home))
    try:
        (backfill,) = reader.get_backfills()
        subset = backfill.asset_backfill_data.target_subset
        targeted = {
            (key.to_user_string(), str(partition))
            for key in subset.asset_keys
            for partition in subset.get_partitions_subset(key).get_partition_keys()
        }
        assert targeted == {
            (asset, partition)
            for asset in ("frame_match_offsets", "title_verdicts")
            for partition in ("de|alpha", "fr|alpha")
        }
        assert backfill.tags.get("dubsync/trigger") == "stale"
    finally:
        reader.dispose()


def test_replaced_dub_recomputes_only_its_partitions_chain(landing_zone, tmp_path, postgres_instance):
    instance = postgres_instance
    root, artifacts = _checked(landing_zone, tmp_path, instance)
    before = _counts(instance)

    # the sensor, ticking on the PostgreSQL instance, takes over the checked results: nothing to do
    store = LocalMediaStore(root=str(root))
    first = landing_zone_sensor(build_sensor_context(instance=instance, resources={"media_store": store}))
    assert not first.run_requests

    # a re-delivered French dub (same audio, new file): only fr|alpha goes stale
    dub = next((root / "alpha" / "dubs").glob("fr.*"))
    dub.write_bytes(dub.read_bytes())
    later = time.time() + 5
    os.utime(dub, (later, later))
    second = landing_zone_sensor(
        build_sensor_context(instance=instance, cursor=first.cursor, resources={"media_store": store})
    )
    assert [(r.job_name, r.partition_key) for r in second.run_requests] == [("dub_job", "fr|alpha")]

    defs, stale = _stale(root, artifacts, instance)
    assert [(s.asset, s.partition) for s in stale] == [
        ("dub_signature", "fr|alpha"),
        ("frame_match_offsets", "fr|alpha"),
        ("title_verdicts", "fr|alpha"),
    ]
    assert stale[0].reason == "file replaced"
    assert all(ok for _, ok in run_in_process(defs, instance, stale, emit=lambda _: None))
    assert _delta(_counts(instance), before) == {"dub_signature": 1, "frame_match_offsets": 1, "title_verdicts": 1}
    assert _stale(root, artifacts, instance)[1] == []


def test_a_daemon_backfill_holds_no_dub_with_its_title():
    # a dub reads its title's assets by title (no partition mapping), so Dagster's backfill would not
    # order them: the dubs of a title in the backfill wait for the next `backfill --stale`
    stale = [
        StalePartition("reference_signature", "alpha", "file replaced"),
        StalePartition("frame_match_offsets", "fr|alpha", "downstream of reference_signature[alpha]"),
        StalePartition("title_verdicts", "fr|beta", "has a new code version"),
        StalePartition("catalogue_report", None, "downstream of title_verdicts"),
    ]
    now, later = ordered_now(stale)
    assert [(s.asset, s.partition) for s in now] == [("reference_signature", "alpha"), ("title_verdicts", "fr|beta")]
    assert [(s.asset, s.partition) for s in later] == [("frame_match_offsets", "fr|alpha"), ("catalogue_report", None)]
    assert ordered_now(stale[2:]) == (stale[2:], [])
