"""Catalogue scale (issue 24): what a sensor tick and the stale search ask the instance does not grow
with the catalogue. Synthetic catalogues from ``benchmarks/scale.py`` (files of a few bytes, every
asset partition recorded as materialised, as Dagster's runs record it) on PostgreSQL databases of
their own; queries counted as the SQL statements sent."""

import json

import pytest
from dagster import DagsterInstance

from benchmarks.scale import LANGUAGES, QueryCounter, build_landing_zone, postgres_home, record_catalogue, sensor_tick
from orchestration.backfill import find_stale
from orchestration.definitions import build_definitions
from orchestration.settings import Settings
from resources.media_store import LocalMediaStore


def _instance(env, monkeypatch) -> DagsterInstance:
    """The production instance (``deploy/dagster.yaml``) on the database of ``env``."""
    monkeypatch.setenv("DUBSYNC_POSTGRES_URL", env["DUBSYNC_POSTGRES_URL"])
    return DagsterInstance.from_config(env["DAGSTER_HOME"])


def _catalogue(tmp_path, n_titles: int):
    """Landing zone, delivered languages per title, definitions and store of ``n_titles`` titles."""
    root = tmp_path / f"landing_{n_titles}"
    delivered = build_landing_zone(root, n_titles)
    defs = build_definitions(Settings(media_root=str(root), artifact_root=str(tmp_path / f"artifacts_{n_titles}")))
    return root, delivered, defs, LocalMediaStore(root=str(root))


def _steady_queries(tmp_path, monkeypatch, n_titles: int, *, recorded: bool) -> tuple[int, dict]:
    """SQL statements of a tick after the first, over ``n_titles`` titles all checked (``recorded``)
    or none; and the ticks."""
    _, delivered, defs, store = _catalogue(tmp_path, n_titles)
    with postgres_home() as env:
        instance = _instance(env, monkeypatch)
        try:
            if recorded:
                record_catalogue(instance, defs, store)
            first = sensor_tick(instance, store, None)
            steady = sensor_tick(instance, store, first["cursor"])
            again = sensor_tick(instance, store, steady["cursor"])
        finally:
            instance.dispose()
    return steady["queries"], {"first": first, "steady": steady, "again": again, "dubs": sum(map(len, delivered.values()))}


@pytest.mark.slow
def test_steady_tick_query_count_does_not_grow_with_the_titles(tmp_path, monkeypatch):
    # a checked catalogue: the first tick takes the instance over, then nothing is new
    small, small_ticks = _steady_queries(tmp_path, monkeypatch, 20, recorded=True)
    large, large_ticks = _steady_queries(tmp_path, monkeypatch, 120, recorded=True)
    assert small_ticks["first"]["runs"] == large_ticks["first"]["runs"] == 0, "everything was already checked"
    assert small == large
    # once the state the first tick changed is stored, an unchanged scan asks the instance nothing
    assert small_ticks["again"]["queries"] == large_ticks["again"]["queries"] == 0
    # the cursor holds what is in flight, not every file (the first tick's held all 120 titles' state)
    assert large_ticks["first"]["cursor_kb"] > 5 * small_ticks["first"]["cursor_kb"] / 2
    assert large_ticks["steady"]["cursor_kb"] < 0.5 and small_ticks["steady"]["cursor_kb"] < 0.5


@pytest.mark.slow
def test_tick_with_every_dub_waiting_query_count_does_not_grow_with_the_titles(tmp_path, monkeypatch):
    # nothing checked yet: the first tick requests every reference run and every dub waits for its
    # title's reference; the next ticks ask about all of them
    small, small_ticks = _steady_queries(tmp_path, monkeypatch, 20, recorded=False)
    large, large_ticks = _steady_queries(tmp_path, monkeypatch, 120, recorded=False)
    assert small_ticks["first"]["runs"] == 20 and large_ticks["first"]["runs"] == 120  # reference runs
    assert small_ticks["steady"]["runs"] == large_ticks["steady"]["runs"] == 0
    waiting = json.loads(large_ticks["steady"]["cursor"])["waiting"]
    assert len(waiting) == large_ticks["dubs"]
    assert small == large


@pytest.mark.slow
def test_stale_search_visits_no_undelivered_partition(tmp_path, monkeypatch):
    from orchestration import stale_search

    root, delivered, defs, store = _catalogue(tmp_path, 12)
    visits = [0]
    hash_of = stale_search.compute_logical_data_version

    def counting(*args, **kwargs):
        visits[0] += 1
        return hash_of(*args, **kwargs)

    # the whole catalogue is fewer events than the margin the search reads again before its checkpoint
    monkeypatch.setattr(stale_search, "_EVENT_MARGIN", 0)
    with postgres_home() as env:
        instance = _instance(env, monkeypatch)
        try:
            record_catalogue(instance, defs, store)
            assert find_stale(defs, instance, store) == [], "nothing changed, nothing stale"
            # a search without the checkpoint of the one before (every materialised partition read)
            # and one from it; a partition visited is a partition whose data version is checked
            monkeypatch.setattr(stale_search, "compute_logical_data_version", counting)
            with QueryCounter() as queries:
                assert _full_search(defs, instance, store) == []
            full_visits, visits[0] = visits[0], 0
            assert full_visits >= len(delivered) + sum(map(len, delivered.values())), "every title and dub checked"
            with QueryCounter() as from_checkpoint:
                assert find_stale(defs, instance, store) == []
            assert visits[0] == 0, "from the checkpoint, with nothing changed, no partition is visited"
            # 3,000 more titles, none delivered: what was 90,000 more partitions of the title × language
            # product is no dub partition at all (dub-level assets are partitioned by delivered dub), and
            # the search visits none of the titles either
            instance.add_dynamic_partitions("titles", [f"undelivered_{i:04d}" for i in range(3000)])
            assert len(instance.get_dynamic_partitions("dubs")) == sum(map(len, delivered.values()))
            with QueryCounter() as more:
                assert _full_search(defs, instance, store) == []
            assert more.count == queries.count and visits[0] == full_visits
            visits[0] = 0
            with QueryCounter() as more_from_checkpoint:
                assert find_stale(defs, instance, store) == []
            assert more_from_checkpoint.count == from_checkpoint.count and visits[0] == 0
            monkeypatch.setattr(stale_search, "compute_logical_data_version", hash_of)

            # and what changed is still found: one replaced dub, its four dub-level partitions
            title = sorted(delivered)[0]
            language = delivered[title][0]
            path = root / title / "dubs" / f"{language}.flac"
            path.write_bytes(path.read_bytes() + b" replaced")
            stale = find_stale(defs, instance, store)
            assert [(s.asset, s.partition) for s in stale] == [
                (asset, f"{language}|{title}")
                for asset in ("dub_signature", "frame_match_offsets", "title_verdicts", "conformed_dubs")
            ]
            assert stale[0].reason == "file replaced"
        finally:
            instance.dispose()


def test_a_title_folder_of_thousands_of_stray_files_is_reported_in_a_few_lines(tmp_path):
    from dagster import instance_for_test

    root, delivered, _, store = _catalogue(tmp_path, 3)
    stray = root / "title_00001" / "dubs"
    for index in range(3000):
        (stray / f"junk_{index:04d}.flac").write_bytes(b"?")
    with instance_for_test() as instance:
        tick = sensor_tick(instance, store, None)
        reported = json.loads(tick["cursor"])["reported"]
        assert len(reported) == 10 and reported[-1].startswith("title_00001: 2991 more problem(s)")
        assert tick["runs"] == 3, "every title's reference run is requested all the same"
        waiting = json.loads(tick["cursor"])["waiting"]
        assert {k for k in waiting if k.startswith("title_00001/")} == {
            f"title_00001/dubs/{language}" for language in delivered["title_00001"]
        }
        # the strays cleared: nothing left to report, the cursor forgets them
        for path in stray.glob("junk_*"):
            path.unlink()
        assert json.loads(sensor_tick(instance, store, tick["cursor"])["cursor"])["reported"] == []


def test_a_landing_zone_that_cannot_be_listed_changes_nothing(tmp_path):
    from dagster import build_sensor_context, instance_for_test

    from orchestration.sensors import build_landing_zone_sensor

    root, delivered, _, store = _catalogue(tmp_path, 3)
    with instance_for_test() as instance:
        first = sensor_tick(instance, store, None)
        assert first["runs"] == 3
        # a file the share cannot stat (a link to nothing, as a share that went away mid-listing)
        language = next(lang for lang in LANGUAGES if lang not in delivered["title_00002"])
        broken = root / "title_00002" / "dubs" / f"{language}.flac"
        broken.symlink_to(tmp_path / "gone.flac")
        context = build_sensor_context(instance=instance, cursor=first["cursor"], resources={"media_store": store})
        result = build_landing_zone_sensor(settle_s=0)(context)
        assert not result.run_requests and not result.asset_events
        assert "could not be listed (FileNotFoundError" in result.skip_reason.skip_message
        assert result.cursor == first["cursor"], "nothing recorded is lost: every waiting dub still waits"
        broken.unlink()
        again = sensor_tick(instance, store, first["cursor"])
        assert len(json.loads(again["cursor"])["waiting"]) == sum(map(len, delivered.values()))


def _full_search(defs, instance, store):
    """``find_stale`` as on an instance without the search's checkpoint (the checkpoint is put back)."""
    from orchestration.stale_search import CHECKPOINT_KEY

    saved = instance.run_storage.get_cursor_values({CHECKPOINT_KEY}).get(CHECKPOINT_KEY, "")
    instance.run_storage.set_cursor_values({CHECKPOINT_KEY: ""})
    try:
        return find_stale(defs, instance, store)
    finally:
        instance.run_storage.set_cursor_values({CHECKPOINT_KEY: saved})


def _rerecord(instance, key, partition, **changes):
    """Records ``key[partition]`` again as a run would: its latest materialisation's tags and
    metadata, with ``changes`` (``source_version``, ``data_version``) applied."""
    from dagster import AssetKey, AssetMaterialization, AssetRecordsFilter

    from assets.media import DATA_VERSION_TAG, SOURCE_VERSION
    from benchmarks.scale import _event, _store

    [record] = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey(key), asset_partitions=[partition]), limit=1
    ).records
    old = record.asset_materialization
    tags = dict(old.tags or {})
    metadata = {k: v.value for k, v in old.metadata.items()}
    if "source_version" in changes:
        metadata[SOURCE_VERSION] = changes["source_version"]
    if "data_version" in changes:
        tags[DATA_VERSION_TAG] = changes["data_version"]
    _store(instance, [_event("materialization", AssetMaterialization(AssetKey(key), partition=partition, tags=tags, metadata=metadata))])


def _pairs(stale):
    return [(s.asset, s.partition, s.reason) for s in stale]


@pytest.mark.slow
def test_stale_search_from_its_checkpoint_finds_exactly_what_a_full_search_finds(tmp_path, monkeypatch):
    from orchestration import stale_search
    from orchestration.partitions import dub_partition_key

    root, delivered, defs, store = _catalogue(tmp_path, 30)
    asked = []
    latest = stale_search.latest_data_versions

    def spy(instance, key, event_type, partitions=None):
        asked.append((key.to_user_string(), None if partitions is None else len(partitions)))
        return latest(instance, key, event_type, partitions)

    # the whole catalogue is fewer events than the margin the search reads again before its checkpoint
    monkeypatch.setattr(stale_search, "_EVENT_MARGIN", 0)
    with postgres_home() as env:
        instance = _instance(env, monkeypatch)
        try:
            record_catalogue(instance, defs, store)
            assert find_stale(defs, instance, store) == []  # no checkpoint yet: every partition read

            # one replaced dub: its partitions and their downstream, nothing else, reading only those
            title = sorted(delivered)[3]
            language = delivered[title][0]
            dub = dub_partition_key(title, language)
            path = root / title / "dubs" / f"{language}.flac"
            path.write_bytes(path.read_bytes() + b" replaced")
            monkeypatch.setattr(stale_search, "latest_data_versions", spy)
            stale = find_stale(defs, instance, store)
            monkeypatch.setattr(stale_search, "latest_data_versions", latest)
            assert [(s.asset, s.partition) for s in stale] == [
                (asset, dub) for asset in ("dub_signature", "frame_match_offsets", "title_verdicts", "conformed_dubs")
            ]
            assert stale[0].reason == "file replaced"
            assert all(n is not None and n <= 1 for _, n in asked), f"only the dub's partitions are read: {asked}"
            assert _pairs(stale) == _pairs(_full_search(defs, instance, store))
            assert _pairs(find_stale(defs, instance, store)) == _pairs(stale), "still stale until re-run"

            # the dub re-run (same data versions, the new file): nothing stale again
            for asset in ("dub_signature", "frame_match_offsets", "title_verdicts", "conformed_dubs"):
                changes = {"source_version": store.dub(title, language).version} if asset == "dub_signature" else {}
                _rerecord(instance, asset, dub, **changes)
            assert find_stale(defs, instance, store) == [] == _full_search(defs, instance, store)

            # a title's reference signature with a new data version: the title's dubs downstream of it
            other = sorted(delivered)[7]
            _rerecord(instance, "reference_signature", other, data_version="0" * 64)
            stale = find_stale(defs, instance, store)
            assert {s.partition for s in stale if s.asset == "frame_match_offsets"} == {
                dub_partition_key(other, lang) for lang in delivered[other]
            }
            assert _pairs(stale) == _pairs(_full_search(defs, instance, store))

            # a tolerance change, and back: the checkpoint keeps each code version's result
            policy = tmp_path / "tolerance.toml"
            policy.write_text("[verdict]\nout_of_sync_s = 0.25\n")
            tolerant = build_definitions(
                Settings(media_root=str(root), artifact_root=str(tmp_path / "artifacts"), policy_path=str(policy))
            )
            changed = find_stale(tolerant, instance, store)
            assert len(changed) > len(stale)
            assert _pairs(changed) == _pairs(_full_search(tolerant, instance, store))
            assert _pairs(find_stale(defs, instance, store)) == _pairs(stale)
        finally:
            instance.dispose()


def _tick_result(instance, store, cursor):
    """One sensor evaluation's SensorResult (settle time 0)."""
    from dagster import build_sensor_context

    from orchestration.sensors import build_landing_zone_sensor

    context = build_sensor_context(instance=instance, cursor=cursor, resources={"media_store": store})
    return build_landing_zone_sensor(settle_s=0)(context)


def test_a_dubs_folder_of_thousands_of_non_media_files_is_one_problem_line(tmp_path):
    from dagster import instance_for_test

    root, delivered, _, store = _catalogue(tmp_path, 3)
    dubs = root / "title_00001" / "dubs"
    for index in range(3000):
        (dubs / f"notes_{index:04d}.txt").write_bytes(b"?")
    with instance_for_test() as instance:
        tick = sensor_tick(instance, store, None)
        reported = json.loads(tick["cursor"])["reported"]
        assert reported == [
            "title_00001/dubs: 3000 entries that are not media files ignored (notes_0000.txt, notes_0001.txt, "
            "notes_0002.txt, ...): dubs/ holds <language>.<ext> files only"
        ]
        waiting = json.loads(tick["cursor"])["waiting"]
        assert {k for k in waiting if k.startswith("title_00001/")} == {
            f"title_00001/dubs/{language}" for language in delivered["title_00001"]
        }, "the title's dubs are taken all the same"
        # the next ticks request nothing new, and say what is still wrong
        result = _tick_result(instance, store, tick["cursor"])
        assert "1 problem(s) still in the landing zone" in result.skip_reason.skip_message
        assert "3000 entries that are not media files" in result.skip_reason.skip_message


def test_a_landing_zone_that_lists_too_slowly_is_reported_and_the_next_tick_recovers(tmp_path, monkeypatch):
    from dagster import instance_for_test

    from orchestration import sensors

    class SlowStore(LocalMediaStore):
        """A share whose every listing takes ``delay_s``."""

        delay_s: float = 0.0

        def _list(self, relpath):
            import time

            time.sleep(self.delay_s)
            return super()._list(relpath)

    root, delivered, _, _ = _catalogue(tmp_path, 6)
    store = SlowStore(root=str(root))
    with instance_for_test() as instance:
        first = sensor_tick(instance, store, None)
        assert first["runs"] == 6
        language = next(lang for lang in LANGUAGES if lang not in delivered["title_00002"])
        (root / "title_00002" / "dubs" / f"{language}.flac").write_bytes(b"new dub")
        monkeypatch.setattr(sensors, "SCAN_TIMEOUT_S", 0.05)
        slow = SlowStore(root=str(root), delay_s=0.02)
        result = _tick_result(instance, slow, first["cursor"])
        assert not result.run_requests and not result.asset_events
        message = result.skip_reason.skip_message
        assert "could not be listed (TimeoutError: listing took longer than 0.05 s" in message
        assert "nothing changed; the next tick tries again" in message
        assert result.cursor == first["cursor"], "the cursor is kept: nothing waiting is forgotten"
        monkeypatch.setattr(sensors, "SCAN_TIMEOUT_S", 45.0)
        again = sensor_tick(instance, store, result.cursor)
        waiting = json.loads(again["cursor"])["waiting"]
        assert f"title_00002/dubs/{language}" in waiting, "the new dub is found once the listing is back"
        assert len(waiting) == sum(map(len, delivered.values())) + 1


def test_a_title_renamed_while_its_run_is_queued(tmp_path):
    from dagster import AssetKey, DagsterEventType, instance_for_test

    from orchestration.partitions import dub_partition_key
    from orchestration.sensors import _state_key

    root, delivered, defs, store = _catalogue(tmp_path, 3)
    old, new = "title_00001", "title_renamed"
    language = delivered[old][0]
    with instance_for_test() as instance:
        record_catalogue(instance, defs, store)  # every title checked
        first = sensor_tick(instance, store, None)
        steady = sensor_tick(instance, store, first["cursor"])
        assert first["runs"] == steady["runs"] == 0
        # a dub of the title re-delivered: its run is requested (and waits in the queue) ...
        path = root / old / "dubs" / f"{language}.flac"
        path.write_bytes(path.read_bytes() + b" redelivered")
        queued = _tick_result(instance, store, steady["cursor"])
        for event in queued.asset_events:
            instance.report_runless_asset_event(event)
        [request] = queued.run_requests
        assert request.partition_key == dub_partition_key(old, language)
        # ... when the title's folder is renamed
        (root / old).rename(root / new)
        renamed = _tick_result(instance, store, queued.cursor)
        for add in renamed.dynamic_partitions_requests:
            instance.add_dynamic_partitions(add.partitions_def_name, list(add.partition_keys))
        cursor = json.loads(renamed.cursor)
        [gone] = [p for p in cursor["reported"] if "no folder in the landing zone" in p]
        assert gone.startswith(f"1 title(s) checked before have no folder in the landing zone now (renamed or removed?): {old};")
        assert [(r.job_name, r.partition_key) for r in renamed.run_requests] == [("reference_job", new)], (
            "the renamed folder is a new title"
        )
        assert set(cursor["waiting"]) == {f"{new}/dubs/{lang}" for lang in delivered[old]}

        # the queued run, dequeued now, fails saying the folder is gone
        result = defs.resolve_job_def("dub_job").execute_in_process(
            partition_key=request.partition_key, instance=instance, raise_on_error=False
        )
        assert not result.success
        [failure] = [e for e in result.all_events if e.is_step_failure]
        assert "no such title folder (renamed or removed from the landing zone" in str(failure.step_failure_data.error)

        # nothing recorded is lost: the old title's results and the sensor's state of it stay
        verdict = instance.get_latest_materialization_event(AssetKey("title_verdicts"))
        assert verdict is not None
        done = instance.fetch_materializations(AssetKey("title_verdicts"), limit=1000).records
        assert dub_partition_key(old, language) in {r.partition_key for r in done}
        generation = cursor["generation"]
        assert instance.run_storage.get_cursor_values({_state_key(generation, old)}), "the old title's state is kept"
        failed = [e for e in instance.get_records_for_run(result.run_id, of_type=DagsterEventType.RUN_FAILURE).records]
        assert failed


def test_an_existing_instance_with_the_earlier_cursor_form_is_taken_over_without_reruns(tmp_path):
    """Migration: a sensor cursor of the form before issue 24 (every file's version in the cursor)
    on an instance whose titles are all checked: the new code converts it, requests nothing, and keeps
    every title's state in the key-value store from the next tick on."""
    from dagster import instance_for_test

    from orchestration.partitions import dub_partition_key
    from orchestration.sensors import state_size

    root, delivered, defs, store = _catalogue(tmp_path, 5)
    titles, _ = store.scan()
    versions = {f"{t}/original": listing.original.version for t, listing in titles.items()}
    versions.update(
        {f"{t}/dubs/{language}": track.version for t, listing in titles.items() for language, track in listing.dubs.items()}
    )
    earlier = json.dumps({"versions": versions, "originals_seen": dict.fromkeys(titles, 0.0), "waiting": {}, "reported": []})
    with instance_for_test() as instance:
        record_catalogue(instance, defs, store)  # what the earlier sensor's runs recorded
        first = sensor_tick(instance, store, earlier)
        assert first["runs"] == 0, "nothing is re-run"
        second = sensor_tick(instance, store, first["cursor"])
        assert second["runs"] == 0 and "versions" not in json.loads(second["cursor"])
        assert state_size(instance, second["cursor"], sorted(delivered)) > 0, "every title's state is in the instance"
        assert sensor_tick(instance, store, second["cursor"])["queries"] == 0, "and a steady tick asks nothing"
        # a file replaced after the migration is found as before
        title = sorted(delivered)[2]
        path = root / title / "dubs" / f"{delivered[title][0]}.flac"
        path.write_bytes(path.read_bytes() + b" replaced")
        result = _tick_result(instance, store, second["cursor"])
        assert [r.partition_key for r in result.run_requests] == [dub_partition_key(title, delivered[title][0])]
