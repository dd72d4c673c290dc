"""The landing-zone sensor: new or replaced files become partitions and runs.

Each tick scans the media store and compares every file's content version with the cursor:

- a new or replaced original: its title partition is added and one run of ``reference_job`` is
  requested for the title; the title's existing dubs are re-matched once the new reference
  signature exists;
- a new or replaced dub: its title and language partitions are added and one run of ``dub_job``
  is requested for exactly its title × language partition, as soon as the title's reference
  signature and lip-sync offset exist (the dub waits in the cursor until then, so a dub never
  matches against a missing or outdated reference);
- a title without an original still gets its reference run, which fails with the reason, so the
  operator sees it in the UI;
- while a title's latest reference run has failed, its dubs keep waiting and the sensor says so
  (once per failed run in its log, and in the skip reason of every tick that requests nothing): they run after the
  reference run is re-executed successfully or the original is replaced.

A new or replaced file of a folder is taken once it has gone ``Settings.settle_s`` seconds unchanged
(until then the tick's skip reason names it), so that a dub still being copied in is not checked
half-written; objects on object storage appear whole and are taken at once.

A landing zone that lists no title where files were seen before is taken for unavailable (an
unmounted share): the tick changes nothing. A waiting dub whose file disappears is forgotten, so
that it is taken as new if it comes back.

Run keys carry the file versions, so a tick is idempotent; the cursor is JSON. A sensor starting with
an empty cursor on an instance that already holds results (from ``dubsync check`` or an earlier
deployment) skips files whose current version was observed and processed.
"""

from __future__ import annotations

import json
import time

from dagster import (
    AssetRecordsFilter,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from assets.audio_sync import FRAME_MATCH_OFFSETS, REFERENCE_SIGNATURE, TITLE_VERDICTS
from assets.media import DATA_VERSION_TAG, DUB_MEDIA, ORIGINAL_MEDIA, track_observation
from assets.picture import LIP_SYNC_OFFSETS
from orchestration.jobs import dub_job, reference_job
from orchestration.partitions import (
    dub_partition_key,
    languages_partitions,
    titles_partitions,
)
from orchestration.settings import Settings
from resources.media_store import MediaStore

__all__ = ["build_landing_zone_sensor", "SENSOR_NAME"]

SENSOR_NAME = "landing_zone_sensor"
_MISSING = "missing"


def _already_done(context: SensorEvaluationContext, source, downstream, partition: str, version: str) -> bool:
    """Whether this file version was already observed and its downstream materialised after that
    (by an earlier deployment of the sensor, ``dubsync check`` or the UI): then a sensor starting
    with an empty cursor takes the instance over without redoing the work."""
    observed = context.instance.fetch_observations(
        AssetRecordsFilter(asset_key=source, asset_partitions=[partition]), limit=1
    ).records
    if not observed or observed[0].asset_observation.tags.get(DATA_VERSION_TAG) != version:
        return False
    made = context.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=downstream, asset_partitions=[partition]), limit=1
    ).records
    return bool(made) and made[0].storage_id > observed[0].storage_id


def _reference_time(context: SensorEvaluationContext, title: str) -> float | None:
    """When the title-level inputs of its dubs' verdicts were last all made: the older of the latest
    reference_signature and lip_sync_offsets materializations of ``title`` (None while one is
    missing)."""
    times = []
    for key in (REFERENCE_SIGNATURE, LIP_SYNC_OFFSETS):
        result = context.instance.fetch_materializations(AssetRecordsFilter(asset_key=key, asset_partitions=[title]), limit=1)
        if not result.records:
            return None
        times.append(result.records[0].timestamp)
    return min(times)


def _failed_reference_run(context: SensorEvaluationContext, title: str) -> str | None:
    """Id of the latest ``reference_job`` run of ``title`` when it failed (a run launched by the
    sensor, or its re-execution from the UI: both carry the ``dubsync/title`` tag), else None."""
    records = context.instance.get_run_records(
        RunsFilter(job_name=reference_job.name, tags={"dubsync/title": title}), limit=1
    )
    if records and records[0].dagster_run.status == DagsterRunStatus.FAILURE:
        return records[0].dagster_run.run_id
    return None


def build_landing_zone_sensor(interval_s: int = Settings.sensor_interval_s, settle_s: int = Settings.settle_s):
    """The landing-zone sensor, scanning at most every ``interval_s`` seconds and taking a new or
    replaced file of a folder once unchanged for ``settle_s`` seconds (the deployment's
    ``Settings``, given by :func:`orchestration.definitions.build_definitions`)."""

    @sensor(
        name=SENSOR_NAME,
        jobs=[reference_job, dub_job],
        minimum_interval_seconds=interval_s,
        default_status=DefaultSensorStatus.RUNNING,
        description="Adds partitions and requests runs for new or replaced files in the landing zone.",
    )
    def landing_zone_sensor(context: SensorEvaluationContext, media_store: MediaStore):
        return _tick(context, media_store, settle_s)

    return landing_zone_sensor


def _tick(context: SensorEvaluationContext, media_store: MediaStore, settle_s: float = 0.0) -> SensorResult:
    """One evaluation of the sensor (see the module's description)."""
    cursor = json.loads(context.cursor) if context.cursor else {}
    versions: dict[str, str] = cursor.get("versions", {})
    originals_seen: dict[str, float] = cursor.get("originals_seen", {})
    waiting: dict[str, dict] = cursor.get("waiting", {})
    reported: set[str] = set(cursor.get("reported", []))

    titles, problems = media_store.scan()
    if not titles and versions:
        # a landing zone that held files and now lists none is more likely unmounted than emptied:
        # the cursor is kept as it is, so that nothing waiting is forgotten
        return SensorResult(
            skip_reason=SkipReason(
                f"the landing zone {media_store.describe_root()} lists no title, where {len(versions)} file(s) were "
                "seen before: unavailable? (nothing changed; files that come back unchanged are not re-run)"
            ),
            cursor=context.cursor,
        )
    known_titles = set(context.instance.get_dynamic_partitions(titles_partitions.name))
    known_languages = set(context.instance.get_dynamic_partitions(languages_partitions.name))
    new_titles: set[str] = set()
    new_languages: set[str] = set()
    run_requests: list[RunRequest] = []
    observations = []
    now = time.time()
    settling: list[str] = []  # new or replaced files written too recently: perhaps still being copied in

    def settled(track) -> bool:
        if settle_s <= 0 or track is None or track.modified_s is None or now - track.modified_s >= settle_s:
            return True
        settling.append(track.name)
        return False

    for problem in problems + [p for listing in titles.values() for p in listing.problems]:
        if problem not in reported:
            context.log.warning(f"landing zone: {problem}")
            reported.add(problem)

    for title, listing in sorted(titles.items()):
        if title not in known_titles:
            new_titles.add(title)
        key = f"{title}/original"
        version = listing.original.version if listing.original else _MISSING
        if key not in versions and _already_done(context, ORIGINAL_MEDIA, REFERENCE_SIGNATURE, title, version):
            versions[key] = version
            originals_seen[title] = 0.0
        if versions.get(key) != version and settled(listing.original):
            replaced = key in versions
            versions[key] = version
            originals_seen[title] = now
            run_requests.append(
                RunRequest(
                    job_name=reference_job.name,
                    partition_key=title,
                    run_key=f"{key}@{version}",
                    tags={"dubsync/title": title, "dubsync/trigger": "replaced" if replaced else "new"},
                )
            )
            if listing.original:
                observations.append(track_observation(listing.original, media_store.describe(listing.original)))
            if replaced:
                # every known dub of the title must be matched against the new original
                for language in listing.dubs:
                    dub_key = f"{title}/dubs/{language}"
                    if dub_key in versions and dub_key not in waiting:
                        waiting[dub_key] = {"version": versions[dub_key], "match_only": True}
        for language, track in sorted(listing.dubs.items()):
            if language not in known_languages:
                new_languages.add(language)
            dub_key = f"{title}/dubs/{language}"
            partition = str(dub_partition_key(title, language))
            if dub_key not in versions and _already_done(context, DUB_MEDIA, TITLE_VERDICTS, partition, track.version):
                versions[dub_key] = track.version
            if versions.get(dub_key) != track.version and settled(track):
                versions[dub_key] = track.version
                waiting[dub_key] = {"version": track.version, "match_only": False}
                observations.append(track_observation(track, media_store.describe(track)))

    failed_runs: dict[str, str | None] = {}  # title -> its failed reference run, asked once per tick
    for dub_key in sorted(waiting):
        title, _, language = dub_key.split("/", 2)
        entry = waiting[dub_key]
        listing = titles.get(title)
        if listing is None or language not in listing.dubs:
            # the file is gone: forgotten, so that it is taken as new if it comes back (its run was
            # never requested)
            del waiting[dub_key]
            versions.pop(dub_key, None)
            continue
        made = _reference_time(context, title)
        if made is None or made < originals_seen.get(title, 0.0):
            # the reference signature or lip-sync offset of the current original is not there yet
            if title not in failed_runs:
                failed_runs[title] = _failed_reference_run(context, title)
            failed = failed_runs[title]
            if failed:
                notice = f"reference run {failed} of {title} failed"
                if notice not in reported:
                    context.log.warning(
                        f"{notice}: its dubs wait until that run is re-executed successfully or the original is replaced"
                    )
                    reported.add(notice)
            continue
        selection = [FRAME_MATCH_OFFSETS, TITLE_VERDICTS] if entry["match_only"] else None
        run_requests.append(
            RunRequest(
                job_name=dub_job.name,
                partition_key=str(dub_partition_key(title, language)),
                run_key=f"{dub_key}@{entry['version']}@ref{versions.get(f'{title}/original')}",
                asset_selection=selection,
                tags={"dubsync/title": title, "dubsync/language": language},
            )
        )
        del waiting[dub_key]

    new_cursor = json.dumps(
        {
            "versions": versions,
            "originals_seen": originals_seen,
            "waiting": waiting,
            "reported": sorted(reported),
        },
        sort_keys=True,
    )
    partition_requests = []
    if new_titles:
        partition_requests.append(titles_partitions.build_add_request(sorted(new_titles)))
    if new_languages:
        partition_requests.append(languages_partitions.build_add_request(sorted(new_languages)))
    if not run_requests and not partition_requests and not observations:
        pending = f"; {len(waiting)} dub(s) wait for their title's reference signature and lip-sync offset" if waiting else ""
        blocked = sorted((title, run_id) for title, run_id in failed_runs.items() if run_id)
        if blocked:
            runs = ", ".join(f"{title} (run {run_id})" for title, run_id in blocked)
            pending += f"; the reference run failed for {runs}: re-execute it or replace the original"
        if settling:
            pending += (
                f"; {len(settling)} file(s) written less than {settle_s:g} s ago, taken once unchanged that long "
                f"(perhaps still being copied in): {', '.join(settling)}"
            )
        return SensorResult(skip_reason=SkipReason(f"no new or replaced files{pending}"), cursor=new_cursor)
    return SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=partition_requests,
        asset_events=observations,
        cursor=new_cursor,
    )
