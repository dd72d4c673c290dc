"""Catalogue scale: what the sensor, the stale search and the UI cost as the catalogue grows.

Run with ``make bench-scale`` (or ``python -m benchmarks.scale [--titles 1000 5000] [--quick]``
from the repository's root). Needs the PostgreSQL server of the tests
(``$DUBSYNC_TEST_POSTGRES``, default ``postgresql://postgres@127.0.0.1:5432/postgres``); each size
gets a database of its own, dropped afterwards.

For each number of titles N, a synthetic catalogue:

- a landing zone on disk: N title folders, each with an original and 1-5 dubs (3 on average) out of
  30 languages, the common languages more often (so about 3 N delivered dubs); the files hold a few
  bytes, since nothing is decoded;
- a production instance (``deploy/dagster.yaml``, PostgreSQL) where every title and dub is already
  checked: the observations of every file and the materialisations of every asset partition,
  recorded in batches as Dagster would record them (code versions, data versions and input data
  versions, ``source_version``), without running anything.

Measured on it:

- partitions per dub-level asset (the ``dubs`` partitioning: one per delivered dub) against the
  title × language product it replaced (``product`` in the results, not a partitioning any more);
- the UI's partition page of ``title_verdicts``: the partition-status query the UI makes (first
  call, uncached), and whether it lists only delivered dubs;
- sensor ticks of ``landing_zone_sensor``: the first tick over the whole zone with an empty cursor,
  the second (nothing new), a steady tick (the third, nothing new), a tick that finds 100 new dubs
  and the one after it; each with its SQL query count
  (every statement sent to the database) and the size of its cursor (and of the state kept in the
  instance's key-value store, where the sensor keeps one);
- ``dubsync backfill --stale --dry-run`` (:func:`orchestration.backfill.find_stale`), each in a
  process of its own for its peak memory: the first search (nothing changed, no checkpoint), after a
  tolerance change (every verdict and conform stale), after one replaced dub file (its four
  dub-level partitions) from the checkpoint the searches before left, and the same without it;
- the daemon's run queue, at the first size: 1,000 queued ``dub_job`` runs dequeued by the queue
  daemon's iterations under ``deploy/dagster.yaml``'s limits, with a stand-in launcher
  (:func:`queue_throughput`).

Results: printed as a table, and ``benchmarks/results/scale.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from unittest import mock

import numpy as np

from benchmarks._common import RESULTS, ROOT

DEPLOY_CONFIG = ROOT / "deploy" / "dagster.yaml"
POSTGRES_ADMIN_URL = os.environ.get("DUBSYNC_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
LANGUAGES = (
    "es",
    "fr",
    "de",
    "it",
    "pt",
    "ja",
    "ko",
    "zh",
    "ru",
    "pl",
    "nl",
    "sv",
    "tr",
    "ar",
    "hi",
    "da",
    "fi",
    "no",
    "cs",
    "hu",
    "ro",
    "el",
    "he",
    "th",
    "vi",
    "id",
    "ms",
    "uk",
    "bg",
    "hr",
)
"""30 dub languages, the most often delivered first."""
SIZES = (1_000, 5_000, 20_000)
QUICK_SIZE = 60
NEW_DUBS = 100
QUEUE_RUNS = 1_000
"""Runs queued for the run-queue measurement."""
QUICK_QUEUE_RUNS = 20
BATCH = 2_000
"""Events stored per batch when recording the catalogue."""


# -- the synthetic catalogue ------------------------------------------------------------------


def build_landing_zone(root: Path, n_titles: int, *, seed: int = 24) -> dict[str, list[str]]:
    """Writes ``n_titles`` title folders under ``root``; the delivered languages of each title.

    Parameters
    ----------
    root : Path
        Folder of the landing zone (created).
    n_titles : int
        Number of titles.
    seed : int
        Seed of the draw of the languages each title is dubbed in.

    Returns
    -------
    dict[str, list[str]]
        Title id -> its dubs' languages (1-5 of :data:`LANGUAGES`, 3 on average, weighted towards
        the common ones).
    """
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, len(LANGUAGES) + 1) ** 0.8
    weights /= weights.sum()
    delivered = {}
    for index in range(n_titles):
        title = f"title_{index:05d}"
        count = 1 + int(rng.binomial(4, 0.5))
        languages = sorted(rng.choice(LANGUAGES, size=count, replace=False, p=weights).tolist())
        dubs = root / title / "dubs"
        dubs.mkdir(parents=True)
        (root / title / "original.flac").write_bytes(b"original " + title.encode())
        for language in languages:
            (dubs / f"{language}.flac").write_bytes(f"dub {title} {language}".encode())
        delivered[title] = languages
    return delivered


def _event(kind: str, event):
    """A run-less event log entry, as ``DagsterInstance.report_runless_asset_event`` makes it."""
    from dagster._core.events import (
        AssetObservationData,
        DagsterEvent,
        DagsterEventType,
        StepMaterializationData,
    )
    from dagster._core.events.log import EventLogEntry
    from dagster._core.instance.utils import RUNLESS_JOB_NAME, RUNLESS_RUN_ID

    if kind == "materialization":
        event_type, data = DagsterEventType.ASSET_MATERIALIZATION, StepMaterializationData(event)
    else:
        event_type, data = DagsterEventType.ASSET_OBSERVATION, AssetObservationData(event)
    return EventLogEntry(
        user_message="",
        level=logging.INFO,
        job_name=RUNLESS_JOB_NAME,
        run_id=RUNLESS_RUN_ID,
        error_info=None,
        timestamp=time.time(),
        step_key=None,
        dagster_event=DagsterEvent(
            event_type_value=event_type.value, event_specific_data=data, job_name=RUNLESS_JOB_NAME
        ),
    )


def _store(instance, entries: list) -> None:
    for start in range(0, len(entries), BATCH):
        instance.event_log_storage.store_event_batch(entries[start : start + BATCH])


def _dub_level(node) -> bool:
    from orchestration.partitions import is_dub_level

    return is_dub_level(node.partitions_def)


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def record_catalogue(instance, defs, store) -> int:
    """Records, on ``instance``, every file of ``store`` as observed and every asset partition of
    ``defs`` as materialised from it, with the tags Dagster's own runs write (code version, data
    version, input data versions) and the ``source_version`` metadata; the number of events.

    A partitioned input's data version is the SHA-256 of its partition's data version, an observed
    source's that of nothing (Dagster 1.13 hashes materialisations only), and an asset's data version
    :func:`dagster.compute_logical_data_version` of its code version and inputs; a dub-level asset's
    title-level inputs (read by title, :func:`assets._common.dub_lineage`) count as inputs of the
    title's partition, as the assets record them.
    """
    from dagster import AssetMaterialization, DataVersion
    from dagster._core.definitions.data_version import compute_logical_data_version

    from assets.media import DATA_VERSION_TAG, SOURCE_VERSION, track_observation
    from orchestration.partitions import dub_partition_key

    titles, _ = store.scan()
    instance.add_dynamic_partitions("titles", sorted(titles))
    instance.add_dynamic_partitions(
        "dubs", sorted(dub_partition_key(t, lang) for t, listing in titles.items() for lang in listing.dubs)
    )
    observed = _hash("")
    tracks = [t for listing in titles.values() for t in [listing.original, *listing.dubs.values()] if t]
    count = 0
    for kind in ("original", "dub"):
        batch = [_event("observation", track_observation(t, store.describe(t))) for t in tracks if t.kind == kind]
        _store(instance, batch)
        count += len(batch)

    graph = defs.resolve_asset_graph()
    order = [key for level in graph.toposorted_asset_keys_by_level for key in sorted(level)]
    data_versions: dict = {}
    for key in order:
        node = graph.get(key)
        if not node.is_materializable or not node.is_partitioned:
            continue  # the unpartitioned catalogue report reads everything; the search adds it when it was made
        dub_level = _dub_level(node)
        partitions = (
            [
                (dub_partition_key(t, lang), t, track)
                for t, listing in titles.items()
                for lang, track in listing.dubs.items()
            ]
            if dub_level
            else [(t, t, listing.original) for t, listing in titles.items()]
        )
        batch = []
        pointer = str(instance.event_log_storage.get_maximum_record_id())  # every input is recorded by now
        for partition, title, track in partitions:
            inputs, tags = {}, {"dagster/code_version": node.code_version}
            for parent in sorted(node.parent_keys):
                if graph.get(parent).is_external:
                    version = observed
                else:
                    version = _hash(data_versions[parent][partition if _dub_level(graph.get(parent)) else title])
                inputs[parent] = DataVersion(version)
                tags[f"dagster/input_data_version/{parent.to_user_string()}"] = version
                tags[f"dagster/input_event_pointer/{parent.to_user_string()}"] = pointer
            version = compute_logical_data_version(node.code_version, inputs).value
            tags[DATA_VERSION_TAG] = version
            data_versions.setdefault(key, {})[partition] = version
            reads_file = any(graph.get(parent).is_external for parent in node.parent_keys)
            metadata = {SOURCE_VERSION: track.version} if reads_file else {}
            batch.append(
                _event("materialization", AssetMaterialization(key, partition=partition, tags=tags, metadata=metadata))
            )
        _store(instance, batch)
        count += len(batch)
    return count


# -- measuring --------------------------------------------------------------------------------


class QueryCounter:
    """Counts the SQL statements every SQLAlchemy engine of this process sends while it is open."""

    def __init__(self):
        self.count = 0

    def _hear(self, *_args, **_kwargs):
        self.count += 1

    def __enter__(self) -> QueryCounter:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        event.listen(Engine, "before_cursor_execute", self._hear)
        return self

    def __exit__(self, *exc) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        event.remove(Engine, "before_cursor_execute", self._hear)


def sensor_tick(instance, store, cursor: str | None, *, apply: bool = True) -> dict:
    """One evaluation of the landing-zone sensor (settle time 0): its time, SQL statements, cursor
    and requests; with ``apply``, what the daemon does with the result afterwards (partitions
    added, observations stored; runs are not launched), untimed."""
    from dagster import build_sensor_context

    from orchestration.sensors import build_landing_zone_sensor

    sensor = build_landing_zone_sensor(settle_s=0)
    context = build_sensor_context(instance=instance, cursor=cursor, resources={"media_store": store})
    with QueryCounter() as queries:
        start = time.perf_counter()
        result = sensor(context)
        seconds = time.perf_counter() - start
    if apply:
        for request in result.dynamic_partitions_requests or []:
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        for event in result.asset_events or []:
            instance.report_runless_asset_event(event)
    return {
        "s": seconds,
        "queries": queries.count,
        "cursor_kb": len(result.cursor or "") / 1024,
        "runs": len(result.run_requests or []),
        "cursor": result.cursor,
    }


def _kv_state_kb(instance, cursor: str | None, titles: list[str]) -> float:
    """Size of the landing-zone sensor's state in the instance's key-value store (0 when it keeps
    none there, as before issue 24)."""
    try:
        from orchestration.sensors import state_size
    except ImportError:
        return 0.0
    return state_size(instance, cursor, titles) / 1024


def partition_page(instance, defs) -> dict:
    """The UI's partition page of ``title_verdicts``: its partition count and the partition-status
    query the UI makes for it (uncached)."""
    from dagster import AssetKey
    from dagster._core.definitions.partitions.context import partition_loading_context
    from dagster._core.storage.partition_status_cache import (
        get_and_update_asset_status_cache_value,
    )

    key = AssetKey("title_verdicts")
    partitions_def = defs.resolve_asset_graph().get(key).partitions_def
    start = time.perf_counter()
    with QueryCounter() as queries:
        with partition_loading_context(dynamic_partitions_store=instance):
            cache = get_and_update_asset_status_cache_value(instance, key, partitions_def)
            materialised = list(cache.deserialize_materialized_partition_subsets(partitions_def).get_partition_keys())
            cache.deserialize_failed_partition_subsets(partitions_def)
            cache.deserialize_in_progress_partition_subsets(partitions_def)
            count = partitions_def.get_num_partitions()
    return {
        "s": time.perf_counter() - start,
        "queries": queries.count,
        "partitions": count,
        "materialised": len(materialised),
        "delivered_only": count == len(materialised),
    }


class _InstantLauncher:
    """A stand-in run launcher: a launched run starts and succeeds at once (its start and success
    events written, nothing executed), so the queue's own cost is what is timed."""

    def __init__(self, instance):
        self.instance = instance
        self.launched = 0

    def launch_run(self, context) -> None:
        from dagster._core.events import DagsterEvent, DagsterEventType

        run = context.dagster_run
        for kind in (DagsterEventType.RUN_START, DagsterEventType.RUN_SUCCESS):
            self.instance.report_dagster_event(
                DagsterEvent(event_type_value=kind.value, job_name=run.job_name), run_id=run.run_id
            )
        self.launched += 1

    def dispose(self) -> None:
        pass


class _Workspace:
    """What the queue daemon's iteration asks of its workspace: the instance (runs hold no code
    location, and the stand-in launcher needs none)."""

    def __init__(self, instance):
        self.instance = instance

    def create_request_context(self):
        return None


def queue_throughput(instance, defs, delivered: dict[str, list[str]], n_runs: int) -> dict:
    """The daemon's run queue (``QueuedRunCoordinator`` under ``deploy/dagster.yaml``'s limits:
    4 runs at once, one per partition) with ``n_runs`` queued ``dub_job`` runs of distinct dubs, as a
    backfill or the sensor queues them: the time to submit them, and the daemon's dequeue iterations
    run back to back until the queue is empty, with a stand-in launcher whose runs succeed the moment
    they are launched (:class:`_InstantLauncher`; nothing is executed, so what is timed is the queue,
    not the work). Also the launch rate the daemon's wait between iterations allows
    (``dequeue_interval_seconds``)."""
    from dagster import DagsterRunStatus, RunsFilter
    from dagster._core.remote_origin import RegisteredCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
    from dagster._core.run_coordinator import QueuedRunCoordinator, SubmitRunContext
    from dagster._core.storage.tags import PARTITION_NAME_TAG
    from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

    from orchestration.partitions import dub_partition_key

    coordinator = instance.run_coordinator
    assert isinstance(coordinator, QueuedRunCoordinator), "the production instance queues its runs"
    job = defs.resolve_job_def("dub_job")
    origin = RemoteJobOrigin(
        repository_origin=RemoteRepositoryOrigin(
            code_location_origin=RegisteredCodeLocationOrigin(location_name="orchestration.definitions"),
            repository_name="__repository__",
        ),
        job_name=job.name,
    )
    dubs = [dub_partition_key(t, lang) for t, langs in sorted(delivered.items()) for lang in langs][:n_runs]
    start = time.perf_counter()
    for partition in dubs:
        run = instance.create_run_for_job(
            job, tags={PARTITION_NAME_TAG: partition, "dubsync/trigger": "bench"}, remote_job_origin=origin
        )
        # what instance.submit_run hands the coordinator (it needs a loaded code location)
        coordinator.submit_run(SubmitRunContext(run, workspace=None))
    submit_s = time.perf_counter() - start
    queued = instance.get_runs_count(RunsFilter(statuses=[DagsterRunStatus.QUEUED]))
    launcher = _InstantLauncher(instance)
    instance._run_launcher = launcher  # this process's instance only, disposed afterwards
    daemon = QueuedRunCoordinatorDaemon(interval_seconds=coordinator.dequeue_interval_seconds)
    workspace = _Workspace(instance)
    iterations, busy = 0, []
    with QueryCounter() as queries:
        start = time.perf_counter()
        while launcher.launched < len(dubs) and iterations < 10 * len(dubs):
            began = time.perf_counter()
            for _ in daemon.run_iteration(workspace):
                pass
            busy.append(time.perf_counter() - began)
            iterations += 1
        dequeue_s = time.perf_counter() - start
    daemon.__exit__(None, None, None)
    per_iteration = launcher.launched / max(iterations, 1)
    interval = coordinator.dequeue_interval_seconds
    return {
        "runs": len(dubs),
        "queued": queued,
        "launched": launcher.launched,
        "submit_s": submit_s,
        "dequeue_s": dequeue_s,
        "iterations": iterations,
        "iteration_s": float(np.median(busy)) if busy else None,
        "queries": queries.count,
        "runs_per_min": 60 * launcher.launched / dequeue_s if dequeue_s else None,
        "interval_s": interval,
        "runs_per_min_at_interval": 60 * per_iteration / (interval + float(np.median(busy))) if busy else None,
    }


def stale_probe(root: Path, artifacts: Path, policy: Path | None, *, forget_checkpoint: bool = False) -> dict:
    """``dubsync backfill --stale --dry-run`` in this process: time, result size, peak memory; with
    ``forget_checkpoint``, as on an instance where no search ran before (the checkpoint of the last
    one is dropped first, untimed)."""
    from dagster import DagsterInstance

    from orchestration.backfill import find_stale
    from orchestration.definitions import build_definitions
    from orchestration.settings import Settings
    from orchestration.stale_search import CHECKPOINT_KEY

    settings = Settings(media_root=str(root), artifact_root=str(artifacts), policy_path=str(policy or ""))
    instance = DagsterInstance.get()
    try:
        if forget_checkpoint:
            instance.run_storage.set_cursor_values({CHECKPOINT_KEY: ""})
        start = time.perf_counter()
        defs = build_definitions(settings)
        stale = find_stale(defs, instance, defs.resources["media_store"])
        seconds = time.perf_counter() - start
    finally:
        instance.dispose()
    peak_mb = _peak_rss_mb()
    assets = sorted({s.asset for s in stale})
    return {"s": seconds, "peak_mb": peak_mb, "stale": len(stale), "assets": assets}


def _peak_rss_mb() -> float:
    """This process's peak resident memory (MB): ``VmHWM``, which starts afresh at ``exec`` (the
    ``ru_maxrss`` of a process started by ``subprocess`` keeps the peak of the process that forked
    it: the benchmark's own, hundreds of MB at 20,000 titles)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _probe_in_subprocess(
    root: Path, artifacts: Path, policy: Path | None, env: dict, timeout_s: float, *, forget_checkpoint: bool = False
) -> dict:
    command = [sys.executable, "-m", "benchmarks.scale", "--probe-stale", str(root), str(artifacts)]
    if policy:
        command += ["--policy", str(policy)]
    if forget_checkpoint:
        command += ["--forget-checkpoint"]
    try:
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"s": None, "timeout_s": timeout_s}
    if done.returncode:
        raise RuntimeError(f"stale probe failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def postgres_home():
    """A ``DAGSTER_HOME`` with ``deploy/dagster.yaml`` on a fresh PostgreSQL database; its
    environment (``DAGSTER_HOME``, ``DUBSYNC_POSTGRES_URL``), also set in this process while the
    context lasts. The database is dropped afterwards."""
    import sqlalchemy as sa

    name = f"dubsync_scale_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    home = Path(tempfile.mkdtemp(prefix="dubsync_scale_home_"))
    shutil.copy(DEPLOY_CONFIG, home / "dagster.yaml")
    env = dict(
        os.environ,
        DAGSTER_HOME=str(home),
        DUBSYNC_POSTGRES_URL=str(sa.engine.make_url(POSTGRES_ADMIN_URL).set(database=name)),
    )
    try:
        # this process's instance and settings read them too, until the home is gone
        with mock.patch.dict(os.environ, {k: env[k] for k in ("DAGSTER_HOME", "DUBSYNC_POSTGRES_URL")}):
            yield env
    finally:
        with admin.connect() as connection:
            connection.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n AND pid <> pg_backend_pid()"
                ),
                {"n": name},
            )
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()
        shutil.rmtree(home, ignore_errors=True)


def measure(n_titles: int, *, stale_timeout_s: float = 600.0, queue_runs: int = QUEUE_RUNS, emit=print) -> dict:
    """Every measurement for a catalogue of ``n_titles`` titles (see the module's description)."""
    from dagster import DagsterInstance

    from orchestration.definitions import build_definitions
    from orchestration.settings import Settings
    from resources.media_store import LocalMediaStore

    row: dict = {"titles": n_titles}
    work = Path(tempfile.mkdtemp(prefix="dubsync_scale_"))
    try:
        with postgres_home() as env:
            root, artifacts = work / "landing", work / "artifacts"
            start = time.perf_counter()
            delivered = build_landing_zone(root, n_titles)
            row["dubs"] = sum(len(v) for v in delivered.values())
            row["languages"] = sorted({lang for langs in delivered.values() for lang in langs})
            row["product"] = n_titles * len(LANGUAGES)  # the title × language partitions it replaced
            settings = Settings(media_root=str(root), artifact_root=str(artifacts))
            defs = build_definitions(settings)
            store = LocalMediaStore(root=str(root))
            instance = DagsterInstance.get()
            row["events"] = record_catalogue(instance, defs, store)
            emit(
                f"  {n_titles} titles: {row['dubs']} dubs, {row['events']} events recorded in "
                f"{time.perf_counter() - start:.0f} s"
            )
            row["ui"] = {k: v for k, v in partition_page(instance, defs).items()}
            emit(f"  partition page: {row['ui']}")

            first = sensor_tick(instance, store, None)
            second = sensor_tick(instance, store, first["cursor"])  # nothing new (stores the first's state)
            steady = sensor_tick(instance, store, second["cursor"])  # nothing new, state settled
            for index, title in enumerate(sorted(delivered)[:NEW_DUBS]):
                missing = next(lang for lang in LANGUAGES if lang not in delivered[title])
                (root / title / "dubs" / f"{missing}.flac").write_bytes(f"new dub {index}".encode())
            new = sensor_tick(instance, store, steady["cursor"])
            after_new = sensor_tick(instance, store, new["cursor"])
            row["sensor"] = {
                name: {k: v for k, v in tick.items() if k != "cursor"}
                for name, tick in (
                    ("first", first),
                    ("second", second),
                    ("steady", steady),
                    ("new_100", new),
                    ("after_new", after_new),
                )
            }
            row["sensor_state_kb"] = _kv_state_kb(instance, after_new["cursor"], sorted(delivered))
            emit(f"  sensor: {row['sensor']} (state kept in the instance: {row['sensor_state_kb']:.0f} KB)")
            if queue_runs:
                row["queue"] = queue_throughput(instance, defs, delivered, queue_runs)
                emit(f"  run queue: {row['queue']}")
            instance.dispose()

            # the first search on the instance (nothing changed since it was recorded): every
            # materialised partition read; it leaves the checkpoint the later searches start from
            row["stale_first"] = _probe_in_subprocess(root, artifacts, None, env, stale_timeout_s)
            emit(f"  stale, first search (nothing changed, no checkpoint): {row['stale_first']}")
            policy = work / "tolerance.toml"
            policy.write_text("[verdict]\nout_of_sync_s = 0.25\n")
            row["stale_tolerance"] = _probe_in_subprocess(root, artifacts, policy, env, stale_timeout_s)
            emit(f"  stale after a tolerance change: {row['stale_tolerance']}")
            title = sorted(delivered)[-1]
            replaced = root / title / "dubs" / f"{delivered[title][0]}.flac"
            replaced.write_bytes(replaced.read_bytes() + b" replaced")
            later = time.time() + 5
            os.utime(replaced, (later, later))
            row["stale_replaced"] = _probe_in_subprocess(root, artifacts, None, env, stale_timeout_s)
            emit(f"  stale after one replaced file: {row['stale_replaced']}")
            # the same search without a checkpoint (as before the checkpoint existed), for the ratio
            row["stale_replaced_full"] = _probe_in_subprocess(
                root, artifacts, None, env, stale_timeout_s, forget_checkpoint=True
            )
            emit(f"  stale after one replaced file, no checkpoint: {row['stale_replaced_full']}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return row


def _fmt(value, unit: str = "s") -> str:
    if value is None:
        return "—"
    return f"{value:.1f} {unit}" if unit else f"{value}"


def table(rows: list[dict]) -> str:
    """The results as a Markdown table, one row per size."""
    lines = [
        "| titles | dubs | partitions per dub-level asset (product) | UI partition page | first tick | steady tick "
        "| tick with 100 new dubs | cursor (+ state in the instance) | stale: first search | stale: tolerance change "
        "| stale: one replaced file | same, no checkpoint | run queue |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        s = row["sensor"]

        def tick(name, s=s):
            return f"{s[name]['s']:.1f} s, {s[name]['queries']} queries"

        def queue(q):
            if not q:
                return "—"
            return (
                f"{q['runs']:,} runs: {q['runs_per_min']:,.0f}/min back to back, "
                f"{q['runs_per_min_at_interval']:.0f}/min at the {q['interval_s']} s interval"
            )

        def stale(probe):
            if probe.get("s") is None:
                return f"not done in {probe['timeout_s']:.0f} s"
            return f"{probe['s']:.1f} s, {probe['peak_mb']:.0f} MB, {probe['stale']} stale"

        lines.append(
            f"| {row['titles']:,} | {row['dubs']:,} | {row['ui']['partitions']:,} ({row['product']:,}) "
            f"| {row['ui']['s']:.1f} s{'' if row['ui']['delivered_only'] else ', not only delivered'} "
            f"| {tick('first')} | {tick('steady')} | {tick('new_100')} "
            f"| {s['steady']['cursor_kb']:.0f} KB (+ {row['sensor_state_kb']:.0f} KB) "
            f"| {stale(row['stale_first'])} | {stale(row['stale_tolerance'])} | {stale(row['stale_replaced'])} "
            f"| {stale(row['stale_replaced_full'])} | {queue(row.get('queue'))} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--titles", type=int, nargs="+", default=list(SIZES), help="catalogue sizes (titles)")
    parser.add_argument("--quick", action="store_true", help=f"one small catalogue ({QUICK_SIZE} titles), for tests")
    parser.add_argument("--stale-timeout", type=float, default=600.0, help="give up a stale search after this long (s)")
    parser.add_argument("--out", type=Path, default=RESULTS / "scale.json", help="where to write the results (JSON)")
    parser.add_argument("--probe-stale", nargs=2, metavar=("ROOT", "ARTIFACTS"), help=argparse.SUPPRESS)
    parser.add_argument("--policy", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--forget-checkpoint", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--queue-runs",
        type=int,
        default=None,
        help=f"runs queued for the run-queue measurement, at the first size ({QUEUE_RUNS}; 0: skip it)",
    )
    args = parser.parse_args(argv)
    if args.probe_stale:
        probe = stale_probe(
            Path(args.probe_stale[0]), Path(args.probe_stale[1]), args.policy, forget_checkpoint=args.forget_checkpoint
        )
        print(json.dumps(probe))
        return 0
    sizes = [QUICK_SIZE] if args.quick else args.titles
    if any(n < NEW_DUBS for n in sizes) and not args.quick:
        parser.error(f"--titles: at least {NEW_DUBS} (the tick with new dubs adds one to {NEW_DUBS} titles)")
    rows = []
    queue_runs = args.queue_runs if args.queue_runs is not None else (QUICK_QUEUE_RUNS if args.quick else QUEUE_RUNS)
    for index, n in enumerate(sizes):
        start = time.perf_counter()
        # the run queue once, at the first size: the runs table holds only its own runs
        rows.append(measure(n, stale_timeout_s=args.stale_timeout, queue_runs=queue_runs if index == 0 else 0))
        rows[-1]["bench_s"] = time.perf_counter() - start
        print(f"  ({n} titles measured in {rows[-1]['bench_s']:.0f} s)")
    print(table(rows))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": platform.node(), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
