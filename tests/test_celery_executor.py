"""A partition's assets run on a real ``dagster-celery`` worker process, on a PostgreSQL instance.

The test process launches the runs (it is the run worker: it walks the plan and sends each step to
the broker); a Celery worker started here, in its own process group, executes the steps. Both share
a Dagster instance on a database created for the test, the landing zone and the artifact root, as
machines of a deployment would. The worker listens on a queue of its own, so it cannot take other
tasks and nothing else takes its.

Needs Redis (``DUBSYNC_CELERY_BROKER``, default ``redis://127.0.0.1:6379/0``) and PostgreSQL
(``DUBSYNC_TEST_POSTGRES``, default ``postgres@127.0.0.1:5432`` with trust authentication; the
``postgres_instance`` fixture of conftest.py).
"""

import os
import re
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dagster import (
    AssetRecordsFilter,
    DagsterEventType,
    build_reconstructable_job,
    execute_job,
)

from assets.audio_sync import (
    DUB_SIGNATURE,
    FRAME_MATCH_OFFSETS,
    TITLE_VERDICTS,
)
from orchestration.partitions import dub_partition_key, dubs_partitions, titles_partitions
from resources.artifacts import decode_artifact
from tests.support.dagster_dev import stop_process_group
from tests.support.helpers import TITLE_CHAIN_NAMES, title_chain

REPO = Path(__file__).resolve().parents[1]
BROKER = os.environ.get("DUBSYNC_CELERY_BROKER") or "redis://127.0.0.1:6379/0"
WORKER_READY_S = 120.0
WORKER_STOP_S = 30.0

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(400),
    # dagster-celery registers its task on the launcher's app once per step submitted
    pytest.mark.filterwarnings("ignore::celery.exceptions.DuplicateTaskNameWarning"),
]


@pytest.fixture
def broker_queue():
    """A queue name nobody else uses. Yields (queue, the Redis client of the broker or None)."""
    queue = f"dubsync_test_{secrets.token_hex(4)}"
    if not BROKER.startswith(("redis://", "rediss://")):
        yield queue, None
        return
    import redis

    client = redis.Redis.from_url(BROKER)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(
            f"Redis broker not reachable at {BROKER}: {exc}. Start it with "
            "`redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no`"
        )
    try:
        yield queue, client
    finally:
        for key in client.scan_iter(match=f"*{queue}*"):
            client.delete(key)
        client.close()


@pytest.fixture
def deployment(tmp_path, monkeypatch, landing_zone, postgres_instance, broker_queue):
    """The shared environment of every process: the production ``DAGSTER_HOME`` (``deploy/dagster.yaml``
    on a PostgreSQL database of the test's own), landing zone, artifact root, broker and queue.
    Yields the instance (its schema created before any worker)."""
    root, truth = landing_zone
    env = {
        "DUBSYNC_MEDIA_ROOT": str(root),
        "DUBSYNC_ARTIFACT_ROOT": str(tmp_path / "artifacts"),
        "DUBSYNC_CELERY_BROKER": BROKER,
        "DUBSYNC_CELERY_QUEUE": broker_queue[0],
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DUBSYNC_POLICY", raising=False)
    monkeypatch.delenv("DUBSYNC_CELERY_BACKEND", raising=False)
    yield postgres_instance, tmp_path, truth


@pytest.fixture
def celery_worker(deployment, tmp_path, broker_queue):
    """``dagster-celery worker start`` in its own process group, listening on the test's queue.

    Yields (process, node name, log path) once the worker says it is ready.
    """
    bin_dir = Path(sys.executable).parent
    worker_yaml = tmp_path / "celery_worker.yaml"
    worker_yaml.write_text(
        subprocess.run(
            [sys.executable, "-m", "orchestration.celery"], cwd=REPO, check=True, capture_output=True, text=True
        ).stdout
    )
    name = f"dubsync-test-{secrets.token_hex(3)}"
    node = f"{name}@{socket.gethostname()}"
    log_path = tmp_path / "celery_worker.log"
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    command = [
        str(bin_dir / "dagster-celery"), "worker", "start",
        "-A", "dagster_celery.app",
        "-y", str(worker_yaml),
        "-q", broker_queue[0],
        "-n", name,
        "--",
        "--concurrency=1", "--without-gossip", "--without-mingle",
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + WORKER_READY_S
        while f"{node} ready.".encode() not in log_path.read_bytes():
            if process.poll() is not None:
                pytest.fail(f"celery worker exited with {process.returncode}:\n{log_path.read_text()[-4000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"celery worker not ready after {WORKER_READY_S:.0f} s:\n{log_path.read_text()[-4000:]}")
            time.sleep(0.25)
        yield process, node, log_path
    finally:
        stop_process_group(process, timeout_s=WORKER_STOP_S)
        client = broker_queue[1]
        if client is not None:  # results of this worker's tasks (Celery keeps them a day)
            for task_id in re.findall(r"Task execute_plan\[([0-9a-f-]+)\]", log_path.read_text()):
                client.delete(f"celery-task-meta-{task_id}")


def test_celery_definitions_load_and_leave_the_default_executor(landing_zone, tmp_path):
    from dagster import Definitions

    from orchestration.celery import CelerySettings, celery_definitions
    from orchestration.definitions import build_definitions
    from orchestration.settings import Settings

    settings = Settings(media_root=str(landing_zone[0]), artifact_root=str(tmp_path / "artifacts"))
    celery = CelerySettings.from_env({"DUBSYNC_CELERY_BROKER": "pyamqp://guest:guest@127.0.0.1:5672//"})
    assert celery.backend == "rpc://" and celery.queue == "dubsync"
    on_celery, default = celery_definitions(settings, celery), build_definitions(settings)
    Definitions.validate_loadable(on_celery)
    for job in ("reference_job", "dub_job"):
        assert on_celery.resolve_job_def(job).executor_def.name == "dubsync_celery"
        assert default.resolve_job_def(job).executor_def.name == "multi_or_in_process_executor"
    assert [s.name for s in on_celery.sensors] == [s.name for s in default.sensors]


def _celery_job(name: str):
    return build_reconstructable_job("orchestration.celery", "celery_job", reconstructable_args=(name,))


def _steps_on_worker(result, worker: subprocess.Popen, node: str) -> set[str]:
    """Step keys that started in a process of the worker's group and that the worker reported."""
    starts = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_START]
    assert starts, "no step started"
    for event in starts:
        assert event.pid != os.getpid(), f"{event.step_key} ran in the test process"
        assert os.getpgid(event.pid) == worker.pid, f"{event.step_key} ran in pid {event.pid}, not in the worker"
    reported = {
        event.step_key
        for event in result.all_events
        if event.event_type == DagsterEventType.ENGINE_EVENT
        and event.engine_event_data is not None
        and "Celery worker" in event.engine_event_data.metadata
        and event.engine_event_data.metadata["Celery worker"].value == node
    }
    assert reported == {e.step_key for e in starts}
    return reported


def test_partition_assets_run_on_a_celery_worker(deployment, celery_worker):
    instance, tmp_path, truth = deployment
    worker, node, log_path = celery_worker
    instance.add_dynamic_partitions(titles_partitions.name, ["alpha"])
    instance.add_dynamic_partitions(dubs_partitions.name, [dub_partition_key("alpha", "de")])

    reference = execute_job(
        _celery_job("reference_job"),
        instance=instance,
        tags=titles_partitions.get_tags_for_partition_key("alpha"),
        asset_selection=title_chain(),
    )
    assert reference.success, log_path.read_text()[-4000:]
    assert _steps_on_worker(reference, worker, node) == set(TITLE_CHAIN_NAMES)

    # de is in sync (fr, 800 ms ahead, would fail its within_tolerance check)
    key = dub_partition_key("alpha", "de")
    dub = execute_job(
        _celery_job("dub_job"), instance=instance, tags=dubs_partitions.get_tags_for_partition_key(key)
    )
    assert dub.success, log_path.read_text()[-4000:]
    assert _steps_on_worker(dub, worker, node) == {
        k.to_user_string() for k in (DUB_SIGNATURE, FRAME_MATCH_OFFSETS, TITLE_VERDICTS)
    }
    worker_log = log_path.read_text()
    assert worker_log.count("Task execute_plan[") >= 4 and worker_log.count("succeeded in") >= 4, worker_log[-4000:]

    # the worker's materialisation is on the shared PostgreSQL instance, with the expected verdict
    assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=TITLE_VERDICTS, asset_partitions=[str(key)]), limit=1
    ).records
    assert records and records[0].run_id == dub.run_id
    metadata = records[0].asset_materialization.metadata
    expected_ms = truth["titles"]["alpha"]["dubs"]["de"]["offset_s"] * 1000
    assert abs(metadata["offset_ms"].value - expected_ms) <= 5
    assert metadata["kind"].value == "in_sync"

    # and its artifact where the artifact root says
    verdict = decode_artifact((tmp_path / "artifacts/title_verdicts/de/alpha.npz").read_bytes())
    assert verdict.kind == "in_sync" and abs(verdict.offset_s) <= 0.005
