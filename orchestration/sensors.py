"""The landing-zone sensor: new or replaced files become partitions and runs.

Each tick scans the media store and compares every file's content version with the cursor:

- a new or replaced original: its title partition is added and one run of ``reference_job`` is
  requested for the title; the title's existing dubs are re-matched once the new reference
  signature exists;
- a new or replaced dub: its title and dub partitions are added and one run of ``dub_job``
  is requested for exactly its dub partition, as soon as the title's reference
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

What a tick costs grows with the work, not with the catalogue (issue 24). The version of every file
taken is kept per title in the instance's key-value store, not in the cursor: the cursor holds what
is in flight (the dubs waiting, the titles whose state the tick changed, written to the store by the
next tick, once this tick's runs are submitted, so a tick whose runs were never submitted loses
nothing) and a digest of the scan. A tick whose scan matches the digest, with nothing waiting, asks
the instance nothing; otherwise the sensor asks in batches: the stored state of the listed titles,
the known partitions, whether files never seen were already done, the reference times and failed
reference runs of the titles with waiting dubs (a few queries, one more per 5,000 titles asked
about). The state of a cursor is tied to it (a ``generation`` id): a reset cursor starts afresh.
A landing zone that cannot be listed (an error or a time-out of the share, or a listing longer than
:data:`SCAN_TIMEOUT_S`) skips the tick with the error and changes nothing. Titles the instance knows
whose folder is gone (renamed or removed) are reported, once while it lasts; their results and state
are kept, a renamed folder is a new title, and a run still queued for the old one fails naming the
missing folder. Problems still in the landing zone are named in every skip reason.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Sequence

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterEventType,
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
from assets.media import DUB_MEDIA, ORIGINAL_MEDIA, track_observation
from assets.picture import LIP_SYNC_OFFSETS
from orchestration.event_queries import latest_data_versions
from orchestration.jobs import dub_job, reference_job
from orchestration.migration import register_recorded_dubs
from orchestration.partitions import dub_level_keys, dub_partition_key, dubs_partitions, titles_partitions
from orchestration.settings import Settings
from resources.media_store import MediaStore

__all__ = ["build_landing_zone_sensor", "SENSOR_NAME"]

SENSOR_NAME = "landing_zone_sensor"
_MISSING = "missing"


_CHUNK = 5_000
"""Partitions per query when the sensor asks about many at once (the first tick over a zone)."""
SCAN_TIMEOUT_S = 45.0
"""A listing of the landing zone that takes longer is abandoned and the tick says so (under Dagster's
60-s limit on a sensor evaluation, which would fail the tick with no reason of ours)."""
_MISSING_SHOWN = 10
"""Titles gone from the landing zone named in one report; more are counted."""
_PROBLEMS_PER_FOLDER = 10
"""Problems of one title folder reported one by one; more are counted in one line."""
_PARTITIONING = "dubs"
"""Part of the scan digest: a cursor of the earlier partitioning (titles × languages) never matches,
so the first tick after the upgrade is a whole one and registers the dubs' keys."""
_STATE_PREFIX = f"dubsync/{SENSOR_NAME}/"
"""Key prefix of the sensor's per-title state in the instance's key-value store."""


def _chunks(items: list[str]) -> list[list[str]]:
    return [items[start : start + _CHUNK] for start in range(0, len(items), _CHUNK)]


def _already_done(context: SensorEvaluationContext, source, downstream, partitions: list[str]) -> dict[str, str]:
    """Which of ``partitions`` already have their file's current version observed and their
    ``downstream`` materialised after that (by an earlier deployment of the sensor, ``dubsync check``
    or the UI), as partition -> the observed version: a sensor starting with an empty cursor takes
    the instance over without redoing that work. Three queries per 5,000 partitions."""
    storage = context.instance.event_log_storage
    done: dict[str, str] = {}
    for chunk in _chunks(partitions):
        observed = latest_data_versions(context.instance, source, DagsterEventType.ASSET_OBSERVATION, chunk)
        made = storage.get_latest_storage_id_by_partition(
            downstream, DagsterEventType.ASSET_MATERIALIZATION, set(chunk)
        )
        for partition, (observation, version) in observed.items():
            if version is not None and made.get(partition, -1) > observation:
                done[partition] = version
    return done


def _reference_times(context: SensorEvaluationContext, titles: set[str]) -> dict[str, float]:
    """When the title-level inputs of each title's dubs' verdicts were last all made: the older of the
    latest reference_signature and lip_sync_offsets materializations (titles missing one are left
    out). Two queries per asset and 5,000 titles."""
    storage = context.instance.event_log_storage
    times: dict[str, list[float]] = {}
    for key in (REFERENCE_SIGNATURE, LIP_SYNC_OFFSETS):
        for chunk in _chunks(sorted(titles)):
            ids = storage.get_latest_storage_id_by_partition(key, DagsterEventType.ASSET_MATERIALIZATION, set(chunk))
            if not ids:
                continue
            records = context.instance.fetch_materializations(
                AssetRecordsFilter(asset_key=key, storage_ids=list(ids.values())), limit=len(ids)
            ).records
            for record in records:
                times.setdefault(record.partition_key, []).append(record.timestamp)
    return {title: min(made) for title, made in times.items() if len(made) == 2}


def _failed_reference_runs(context: SensorEvaluationContext, titles: set[str]) -> dict[str, str]:
    """Id of the latest ``reference_job`` run of each of ``titles`` whose latest run failed (a run
    launched by the sensor, or its re-execution from the UI: both carry the ``dubsync/title`` tag);
    one query per 5,000 titles."""
    failed: dict[str, str] = {}
    for chunk in _chunks(sorted(titles)):
        seen: set[str] = set()
        records = context.instance.get_run_records(
            RunsFilter(job_name=reference_job.name, tags={"dubsync/title": chunk})
        )
        for record in records:  # newest first
            title = record.dagster_run.tags.get("dubsync/title")
            if title in seen:
                continue
            seen.add(title)
            if record.dagster_run.status == DagsterRunStatus.FAILURE:
                failed[title] = record.dagster_run.run_id
    return failed


def _folder_problems(listing) -> list[str]:
    """The problems of a title folder to report: the first few, and how many more (a folder of
    thousands of stray files is reported in a few lines, and the cursor keeps a few)."""
    if len(listing.problems) <= _PROBLEMS_PER_FOLDER:
        return listing.problems
    shown = listing.problems[: _PROBLEMS_PER_FOLDER - 1]
    return shown + [f"{listing.folder}: {len(listing.problems) - len(shown)} more problem(s) like these"]


def _unresolved(reported: set[str]) -> str:
    """The part of a skip reason that says what is still wrong in the landing zone (logged once when
    first seen)."""
    if not reported:
        return ""
    first = sorted(reported)[0]
    return f"; {len(reported)} problem(s) still in the landing zone (logged when first seen), e.g. {first}"


def _state_key(generation: str, title: str) -> str:
    return f"{_STATE_PREFIX}{generation}/{title}"


def state_size(instance, cursor: str | None, titles: list[str]) -> int:
    """Characters of the per-title state the sensor with ``cursor`` keeps for ``titles`` in the
    instance's key-value store (for the scale benchmark)."""
    generation = json.loads(cursor).get("generation") if cursor else None
    if not generation:
        return 0
    values = instance.run_storage.get_cursor_values({_state_key(generation, t) for t in titles})
    return sum(len(k) + len(v) for k, v in values.items())


def _scan_digest(titles: dict, problems: list[str]) -> str:
    """A digest of everything a scan found (every file's name and version, every problem)."""
    digest = hashlib.sha256(_PARTITIONING.encode())
    for title, listing in sorted(titles.items()):
        tracks = ([listing.original] if listing.original else []) + [listing.dubs[k] for k in sorted(listing.dubs)]
        digest.update(title.encode())
        for track in tracks:
            digest.update(f"\0{track.name}\0{track.version}".encode())
        for problem in listing.problems:
            digest.update(f"\1{problem}".encode())
    for problem in problems:
        digest.update(f"\2{problem}".encode())
    return digest.hexdigest()


def _load_state(context: SensorEvaluationContext, cursor: dict, titles) -> tuple[str, dict[str, dict]]:
    """The cursor's state generation and the per-title state (``{"original", "seen", "dubs"}``) of
    ``titles``: the instance's key-value store overlaid with the cursor's ``pending`` (the state the
    last committed tick changed, written to the store now that its runs are submitted). A cursor of
    the earlier form (every version in the cursor) is converted."""
    generation = cursor.get("generation") or uuid.uuid4().hex[:12]
    pending: dict[str, dict] = dict(cursor.get("pending", {}))
    for key, version in cursor.get("versions", {}).items():  # the earlier cursor form
        title, _, rest = key.partition("/")
        state = pending.setdefault(title, {"original": None, "seen": 0.0, "dubs": {}})
        if rest == "original":
            state["original"] = version
            state["seen"] = cursor.get("originals_seen", {}).get(title, 0.0)
        else:
            state["dubs"][rest.split("/", 1)[1]] = version
    if pending:
        context.instance.run_storage.set_cursor_values(
            {_state_key(generation, title): json.dumps(state, sort_keys=True) for title, state in pending.items()}
        )
    states: dict[str, dict] = {}
    if cursor.get("generation") and titles:
        stored = context.instance.run_storage.get_cursor_values({_state_key(generation, t) for t in titles})
        prefix = len(_state_key(generation, ""))
        states = {key[prefix:]: json.loads(value) for key, value in stored.items()}
    states.update(pending)
    return generation, states


def build_landing_zone_sensor(
    interval_s: int = Settings.sensor_interval_s,
    settle_s: int = Settings.settle_s,
    dub_level_assets: Sequence[AssetKey] | None = None,
):
    """The landing-zone sensor, scanning at most every ``interval_s`` seconds and taking a new or
    replaced file of a folder once unchanged for ``settle_s`` seconds (the deployment's
    ``Settings``, given by :func:`orchestration.definitions.build_definitions`).

    ``dub_level_assets`` are the assets partitioned by ``dubs``, whose recorded partitions the first
    tick on an instance of the earlier partitioning registers: ``build_definitions`` derives them
    from its assets; by default, from the assets of the environment's settings."""
    if dub_level_assets is None:
        from orchestration.definitions import build_assets  # here: the definitions import this module

        dub_level_assets = dub_level_keys(build_assets(Settings.from_env()))

    @sensor(
        name=SENSOR_NAME,
        jobs=[reference_job, dub_job],
        minimum_interval_seconds=interval_s,
        default_status=DefaultSensorStatus.RUNNING,
        description="Adds partitions and requests runs for new or replaced files in the landing zone.",
    )
    def landing_zone_sensor(context: SensorEvaluationContext, media_store: MediaStore):
        return _tick(context, media_store, settle_s, dub_level_assets)

    return landing_zone_sensor


def _tick(
    context: SensorEvaluationContext, media_store: MediaStore, settle_s: float, dub_level_assets: Sequence[AssetKey]
) -> SensorResult:
    """One evaluation of the sensor (see the module's description)."""
    cursor = json.loads(context.cursor) if context.cursor else {}
    waiting: dict[str, dict] = cursor.get("waiting", {})
    reported: set[str] = set(cursor.get("reported", []))
    files_seen = cursor.get("files", len(cursor.get("versions", {})))

    try:
        titles, problems = media_store.scan(timeout_s=SCAN_TIMEOUT_S)
    except (OSError, TimeoutError) as exc:
        # a landing zone that cannot be listed (a share that times out): nothing changes, and the
        # tick says why
        return SensorResult(
            skip_reason=SkipReason(
                f"the landing zone {media_store.describe_root()} could not be listed ({type(exc).__name__}: {exc}): "
                "nothing changed; the next tick tries again"
            ),
            cursor=context.cursor,
        )
    if not titles and files_seen:
        # a landing zone that held files and now lists none is more likely unmounted than emptied:
        # the cursor is kept as it is, so that nothing waiting is forgotten
        return SensorResult(
            skip_reason=SkipReason(
                f"the landing zone {media_store.describe_root()} lists no title, where {files_seen} file(s) were "
                "seen before: unavailable? (nothing changed; files that come back unchanged are not re-run)"
            ),
            cursor=context.cursor,
        )
    digest = _scan_digest(titles, problems)
    if digest == cursor.get("digest") and not waiting and not cursor.get("pending"):
        # nothing in the landing zone changed since a tick that took every file: no query at all
        return SensorResult(
            skip_reason=SkipReason(f"no new or replaced files{_unresolved(reported)}"), cursor=context.cursor
        )

    generation, states = _load_state(context, cursor, titles)
    versions: dict[str, str] = {}
    originals_seen: dict[str, float] = {}
    for title, state in states.items():
        if state.get("original") is not None:
            versions[f"{title}/original"] = state["original"]
            originals_seen[title] = state.get("seen", 0.0)
        for language, version in state.get("dubs", {}).items():
            versions[f"{title}/dubs/{language}"] = version
    changed: set[str] = set()  # titles whose state this tick changes
    known_titles = set(context.instance.get_dynamic_partitions(titles_partitions.name))
    # an instance partitioned by titles × languages before: its recorded dubs become dubs keys (once)
    register_recorded_dubs(context.instance, dub_level_assets)
    known_dubs = set(context.instance.get_dynamic_partitions(dubs_partitions.name))
    new_titles: set[str] = set()
    new_dubs: set[str] = set()
    run_requests: list[RunRequest] = []
    observations = []
    now = time.time()
    settling: list[str] = []  # new or replaced files written too recently: perhaps still being copied in

    def settled(track) -> bool:
        if settle_s <= 0 or track is None or track.modified_s is None or now - track.modified_s >= settle_s:
            return True
        settling.append(track.name)
        return False

    reported_now: set[str] = set()  # what is still the case: logged once while it lasts, kept in the cursor
    for problem in problems + [p for listing in titles.values() for p in _folder_problems(listing)]:
        if problem not in reported:
            context.log.warning(f"landing zone: {problem}")
        reported_now.add(problem)

    # titles the instance knows whose folder is gone (renamed or removed): reported, nothing forgotten
    gone = sorted(known_titles - set(titles))
    if gone:
        names = ", ".join(gone[:_MISSING_SHOWN]) + (f" and {len(gone) - _MISSING_SHOWN} more" if len(gone) > _MISSING_SHOWN else "")
        notice = (
            f"{len(gone)} title(s) checked before have no folder in the landing zone now (renamed or removed?): {names}; "
            "their results are kept, runs still queued for them fail with the folder missing, and a renamed "
            "folder is a new title"
        )
        if notice not in reported:
            context.log.warning(notice)
        reported_now.add(notice)

    # files never seen under this cursor: already done by an earlier deployment? (asked in batches)
    unseen_originals = [t for t in titles if f"{t}/original" not in versions]
    unseen_dubs = [
        dub_partition_key(t, language)
        for t, listing in titles.items()
        for language in listing.dubs
        if f"{t}/dubs/{language}" not in versions
    ]
    done_originals = _already_done(context, ORIGINAL_MEDIA, REFERENCE_SIGNATURE, unseen_originals)
    done_dubs = _already_done(context, DUB_MEDIA, TITLE_VERDICTS, unseen_dubs)

    for title, listing in sorted(titles.items()):
        if title not in known_titles:
            new_titles.add(title)
        key = f"{title}/original"
        version = listing.original.version if listing.original else _MISSING
        if key not in versions and done_originals.get(title) == version:
            versions[key] = version
            originals_seen[title] = 0.0
            changed.add(title)
        if versions.get(key) != version and settled(listing.original):
            replaced = key in versions
            versions[key] = version
            originals_seen[title] = now
            changed.add(title)
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
            dub_key = f"{title}/dubs/{language}"
            partition = dub_partition_key(title, language)
            if partition not in known_dubs:
                new_dubs.add(partition)
            if dub_key not in versions and done_dubs.get(partition) == track.version:
                versions[dub_key] = track.version
                changed.add(title)
            if versions.get(dub_key) != track.version and settled(track):
                versions[dub_key] = track.version
                changed.add(title)
                waiting[dub_key] = {"version": track.version, "match_only": False}
                observations.append(track_observation(track, media_store.describe(track)))

    for dub_key in sorted(waiting):
        title, _, language = dub_key.split("/", 2)
        if title in titles and language in titles[title].dubs:
            continue
        # the file is gone: forgotten, so that it is taken as new if it comes back (its run was
        # never requested)
        del waiting[dub_key]
        if versions.pop(dub_key, None) is not None:
            changed.add(title)
    waiting_titles = {dub_key.split("/", 1)[0] for dub_key in waiting}
    made = _reference_times(context, waiting_titles) if waiting_titles else {}
    blocked_titles = {t for t in waiting_titles if made.get(t) is None or made[t] < originals_seen.get(t, 0.0)}
    failed_runs = _failed_reference_runs(context, blocked_titles) if blocked_titles else {}
    for title, failed in sorted(failed_runs.items()):
        notice = f"reference run {failed} of {title} failed"
        if notice not in reported:
            context.log.warning(
                f"{notice}: its dubs wait until that run is re-executed successfully or the original is replaced"
            )
        reported_now.add(notice)
    for dub_key in sorted(waiting):
        title, _, language = dub_key.split("/", 2)
        if title in blocked_titles:
            # the reference signature or lip-sync offset of the current original is not there yet
            continue
        entry = waiting[dub_key]
        selection = [FRAME_MATCH_OFFSETS, TITLE_VERDICTS] if entry["match_only"] else None
        run_requests.append(
            RunRequest(
                job_name=dub_job.name,
                partition_key=dub_partition_key(title, language),
                run_key=f"{dub_key}@{entry['version']}@ref{versions.get(f'{title}/original')}",
                asset_selection=selection,
                tags={"dubsync/title": title, "dubsync/language": language},
            )
        )
        del waiting[dub_key]

    changed_states = {
        title: {"original": versions.get(f"{title}/original"), "seen": originals_seen.get(title, 0.0), "dubs": {}}
        for title in changed
    }
    for key, version in versions.items():
        title, _, rest = key.partition("/")
        if title in changed_states and rest.startswith("dubs/"):
            changed_states[title]["dubs"][rest[len("dubs/") :]] = version
    new_cursor = json.dumps(
        {
            "generation": generation,
            "pending": changed_states,
            "waiting": waiting,
            "reported": sorted(reported_now),
            "files": sum((1 if listing.original else 0) + len(listing.dubs) for listing in titles.values()),
            # a tick that left nothing settling, waiting or pending lets the next one skip an unchanged scan
            "digest": None if settling else digest,
        },
        sort_keys=True,
    )
    partition_requests = []
    if new_titles:
        partition_requests.append(titles_partitions.build_add_request(sorted(new_titles)))
    if new_dubs:
        partition_requests.append(dubs_partitions.build_add_request(sorted(new_dubs)))
    if not run_requests and not partition_requests and not observations:
        pending = f"; {len(waiting)} dub(s) wait for their title's reference signature and lip-sync offset" if waiting else ""
        blocked = sorted(failed_runs.items())
        if blocked:
            runs = ", ".join(f"{title} (run {run_id})" for title, run_id in blocked)
            pending += f"; the reference run failed for {runs}: re-execute it or replace the original"
        if settling:
            pending += (
                f"; {len(settling)} file(s) written less than {settle_s:g} s ago, taken once unchanged that long "
                f"(perhaps still being copied in): {', '.join(settling)}"
            )
        return SensorResult(
            skip_reason=SkipReason(f"no new or replaced files{pending}{_unresolved(reported_now)}"), cursor=new_cursor
        )
    return SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=partition_requests,
        asset_events=observations,
        cursor=new_cursor,
    )
