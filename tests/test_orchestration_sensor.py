"""The landing-zone sensor: partitions added, one run per new or replaced file, idempotent ticks."""

import json
import os
import time

from dagster import (
    AddDynamicPartitionsRequest,
    SensorResult,
    build_sensor_context,
    instance_for_test,
    materialize,
)

from assets.audio_sync import FRAME_MATCH_OFFSETS, TITLE_VERDICTS
from orchestration.definitions import build_assets, build_resources
from orchestration.sensors import build_landing_zone_sensor
from orchestration.settings import Settings
from resources.media_store import LocalMediaStore
from tests.support.helpers import copy_landing_zone, replace_file, title_chain

landing_zone_sensor = build_landing_zone_sensor(settle_s=0)  # files taken at once; the settle time has its test


def test_sensor_interval_is_the_deployment_setting(tmp_path):
    from orchestration.definitions import build_definitions
    from orchestration.sensors import SENSOR_NAME

    defs = build_definitions(Settings(media_root=str(tmp_path), artifact_root=str(tmp_path / "a"), sensor_interval_s=7))
    assert defs.resolve_sensor_def(SENSOR_NAME).minimum_interval_seconds == 7
    assert Settings.from_env({"DUBSYNC_SENSOR_INTERVAL_S": "12"}).sensor_interval_s == 12


def test_partition_keys_read_back_as_title_and_language():
    from orchestration.partitions import dub_partition_key, title_and_language

    assert title_and_language(dub_partition_key("film_a", "pt-br")) == ("film_a", "pt-br")
    assert title_and_language("film_a") == ("film_a", None)


def _tick(instance, root, cursor, sensor=landing_zone_sensor):
    context = build_sensor_context(
        instance=instance, cursor=cursor, resources={"media_store": LocalMediaStore(root=str(root))}
    )
    result = sensor(context)
    assert isinstance(result, SensorResult)
    for request in result.dynamic_partitions_requests or []:
        assert isinstance(request, AddDynamicPartitionsRequest)
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result, result.cursor


def _materialize_reference(instance, root, artifacts, title):
    settings = Settings(media_root=str(root), artifact_root=str(artifacts))
    result = materialize(
        build_assets(settings),
        selection=title_chain(),  # the dubs' verdicts wait for the lip-sync offset too
        partition_key=title,
        instance=instance,
        resources=build_resources(settings),
    )
    assert result.success



def test_sensor_requests_one_run_per_new_or_replaced_file(landing_zone, tmp_path):
    root = copy_landing_zone(landing_zone[0], tmp_path / "lz")
    artifacts = tmp_path / "artifacts"
    with instance_for_test() as instance:
        # tick 1: a new title: partitions added, the original's run requested, dubs wait for it
        result, cursor = _tick(instance, root, None)
        added = {r.partitions_def_name: sorted(r.partition_keys) for r in result.dynamic_partitions_requests}
        assert added == {"titles": ["alpha"], "dubs": ["de|alpha", "fr|alpha"]}
        assert [(r.job_name, r.partition_key) for r in result.run_requests] == [("reference_job", "alpha")]
        assert len(result.asset_events) == 3  # content versions of the original and both dubs
        assert set(json.loads(cursor)["waiting"]) == {"alpha/dubs/fr", "alpha/dubs/de"}

        # tick 2: the reference is not there yet, nothing to do
        result, cursor = _tick(instance, root, cursor)
        assert not result.run_requests

        # tick 3: once the original's signature exists, one run per dub, of exactly its partition
        _materialize_reference(instance, root, artifacts, "alpha")
        result, cursor = _tick(instance, root, cursor)
        runs = sorted((r.job_name, r.partition_key, r.asset_selection) for r in result.run_requests)
        assert runs == [("dub_job", "de|alpha", None), ("dub_job", "fr|alpha", None)]
        assert len({r.run_key for r in result.run_requests}) == 2

        # tick 4: nothing new, no runs
        result, cursor = _tick(instance, root, cursor)
        assert not result.run_requests and not result.dynamic_partitions_requests

        # a replaced dub: one run of its partition only
        replace_file(root / "alpha/dubs/fr.flac")
        result, cursor = _tick(instance, root, cursor)
        assert [(r.job_name, r.partition_key) for r in result.run_requests] == [("dub_job", "fr|alpha")]
        result, cursor = _tick(instance, root, cursor)
        assert not result.run_requests

        # a replaced original: its run, then only matching and verdicts of each dub
        replace_file(root / "alpha/original.flac")
        result, cursor = _tick(instance, root, cursor)
        assert [(r.job_name, r.partition_key) for r in result.run_requests] == [("reference_job", "alpha")]
        _materialize_reference(instance, root, artifacts, "alpha")
        result, cursor = _tick(instance, root, cursor)
        runs = sorted((r.partition_key, tuple(r.asset_selection)) for r in result.run_requests)
        assert runs == [
            ("de|alpha", (FRAME_MATCH_OFFSETS, TITLE_VERDICTS)),
            ("fr|alpha", (FRAME_MATCH_OFFSETS, TITLE_VERDICTS)),
        ]
        result, cursor = _tick(instance, root, cursor)
        assert not result.run_requests


def test_sensor_takes_a_file_once_it_has_gone_unchanged_for_the_settle_time(landing_zone, tmp_path):
    # a dub copied into the folder is visible while it is written: it is taken once unchanged for
    # settle_s, so a half-copied file is never checked
    root = copy_landing_zone(landing_zone[0], tmp_path / "lz")
    sensor = build_landing_zone_sensor(settle_s=30)
    long_ago = time.time() - 3600
    for path in root.rglob("*.*"):
        os.utime(path, (long_ago, long_ago))
    held = (root / "alpha/dubs/fr.flac").read_bytes()
    (root / "alpha/dubs/fr.flac").unlink()

    with instance_for_test() as instance:
        result, cursor = _tick(instance, root, None, sensor)  # files written an hour ago: taken at once
        assert [(r.job_name, r.partition_key) for r in result.run_requests] == [("reference_job", "alpha")]
        _materialize_reference(instance, root, tmp_path / "artifacts", "alpha")
        result, cursor = _tick(instance, root, cursor, sensor)
        assert [r.partition_key for r in result.run_requests] == ["de|alpha"]

        # the French dub arrives: half of it, then the rest; neither is taken while it is fresh
        (root / "alpha/dubs/fr.flac").write_bytes(held[: len(held) // 2])
        result, cursor = _tick(instance, root, cursor, sensor)  # (its language partition is added)
        assert not result.run_requests and not result.asset_events
        (root / "alpha/dubs/fr.flac").write_bytes(held)
        result, cursor = _tick(instance, root, cursor, sensor)
        assert not result.run_requests and not result.asset_events
        assert "1 file(s) written less than 30 s ago" in result.skip_reason.skip_message
        assert "alpha/dubs/fr.flac" in result.skip_reason.skip_message
        # unchanged for the settle time: one run, of the whole file's version
        written = time.time() - 31
        os.utime(root / "alpha/dubs/fr.flac", (written, written))
        result, cursor = _tick(instance, root, cursor, sensor)
        assert [(r.job_name, r.partition_key) for r in result.run_requests] == [("dub_job", "fr|alpha")]
        version = LocalMediaStore(root=str(root)).dub("alpha", "fr").version
        assert result.run_requests[0].run_key.startswith(f"alpha/dubs/fr@{version}@")
        result, cursor = _tick(instance, root, cursor, sensor)
        assert not result.run_requests

    assert Settings().settle_s == 30 and Settings.from_env({"DUBSYNC_SETTLE_S": "0"}).settle_s == 0


def test_sensor_forgets_no_waiting_dub_while_files_are_away(landing_zone, tmp_path):
    # a share unmounted for a while (its mount point an empty folder), or a folder moved away and
    # back: the dubs that waited for their reference still run once it exists
    root = copy_landing_zone(landing_zone[0], tmp_path / "lz")
    with instance_for_test() as instance:
        result, cursor = _tick(instance, root, None)
        assert [r.job_name for r in result.run_requests] == ["reference_job"]
        assert set(json.loads(cursor)["waiting"]) == {"alpha/dubs/fr", "alpha/dubs/de"}

        root.rename(tmp_path / "unmounted")
        root.mkdir()
        result, after = _tick(instance, root, cursor)
        assert not result.run_requests and after == cursor
        assert f"the landing zone {root} lists no title, where 3 file(s) were seen before" in result.skip_reason.skip_message
        root.rmdir()
        (tmp_path / "unmounted").rename(root)

        (root / "alpha" / "dubs").rename(tmp_path / "dubs_away")  # the dubs alone, for one tick
        result, cursor = _tick(instance, root, cursor)
        assert json.loads(cursor)["waiting"] == {}
        (tmp_path / "dubs_away").rename(root / "alpha" / "dubs")
        result, cursor = _tick(instance, root, cursor)
        assert set(json.loads(cursor)["waiting"]) == {"alpha/dubs/fr", "alpha/dubs/de"}

        _materialize_reference(instance, root, tmp_path / "artifacts", "alpha")
        result, cursor = _tick(instance, root, cursor)
        assert sorted(r.partition_key for r in result.run_requests) == ["de|alpha", "fr|alpha"]


def test_sensor_reports_bad_names_and_requests_a_run_for_a_title_without_original(landing_zone, tmp_path):
    root = copy_landing_zone(landing_zone[0], tmp_path / "lz")
    (root / "alpha/dubs/klingon.flac").write_bytes(b"x")
    (root / "orphan/dubs").mkdir(parents=True)
    (root / "orphan/dubs/es.flac").write_bytes((root / "alpha/dubs/fr.flac").read_bytes())
    with instance_for_test() as instance:
        result, cursor = _tick(instance, root, None)
        added = {r.partitions_def_name: sorted(r.partition_keys) for r in result.dynamic_partitions_requests}
        assert added == {"titles": ["alpha", "orphan"], "dubs": ["de|alpha", "es|orphan", "fr|alpha"]}
        runs = sorted((r.job_name, r.partition_key) for r in result.run_requests)
        assert runs == [("reference_job", "alpha"), ("reference_job", "orphan")]
        assert "orphan/original@missing" in {r.run_key for r in result.run_requests}
        assert any("klingon" in p for p in json.loads(cursor)["reported"])


def test_sensor_takes_over_an_instance_with_results_without_redoing_them(landing_zone, tmp_path):
    """After `dubsync check` filled the instance, a sensor with an empty cursor requests nothing;
    a file replaced afterwards is still picked up."""
    from orchestration.cli import run_check

    root = copy_landing_zone(landing_zone[0], tmp_path / "lz")
    with instance_for_test() as instance:
        rows = run_check(str(root), artifact_root=str(tmp_path / "artifacts"), instance=instance, emit=lambda _: None)
        assert len(rows) == 2 and all(r["error"] is None for r in rows)
        result, cursor = _tick(instance, root, None)
        assert not result.run_requests
        replace_file(root / "alpha/dubs/de.m4a")
        result, cursor = _tick(instance, root, cursor)
        assert [(r.job_name, r.partition_key) for r in result.run_requests] == [("dub_job", "de|alpha")]


def test_sensor_says_when_dubs_wait_for_a_failed_reference_run(landing_zone, tmp_path):
    """A reference run that fails leaves the title's dubs waiting, and the sensor says which run to
    re-execute; a good original replacing the bad one releases them."""
    from orchestration.definitions import build_definitions

    root = copy_landing_zone(landing_zone[0], tmp_path / "lz")
    original = root / "alpha/original.flac"
    good = original.read_bytes()
    original.write_bytes(b"not a media file " * 4096)
    settings = Settings(media_root=str(root), artifact_root=str(tmp_path / "artifacts"))
    reference_job = build_definitions(settings).resolve_job_def("reference_job")
    with instance_for_test() as instance:
        result, cursor = _tick(instance, root, None)
        [request] = result.run_requests
        run = reference_job.execute_in_process(
            partition_key=request.partition_key, tags=request.tags, instance=instance, raise_on_error=False
        )
        assert not run.success

        result, cursor = _tick(instance, root, cursor)
        assert not result.run_requests
        message = result.skip_reason.skip_message
        assert "2 dub(s) wait" in message and f"the reference run failed for alpha (run {run.run_id})" in message
        assert f"reference run {run.run_id} of alpha failed" in json.loads(cursor)["reported"]

        replace_file(original, good)
        result, cursor = _tick(instance, root, cursor)
        assert [(r.job_name, r.partition_key) for r in result.run_requests] == [("reference_job", "alpha")]
        _materialize_reference(instance, root, tmp_path / "artifacts", "alpha")
        result, cursor = _tick(instance, root, cursor)
        assert sorted(r.partition_key for r in result.run_requests) == ["de|alpha", "fr|alpha"]
