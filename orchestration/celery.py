"""dubsync's jobs on Celery workers, past one machine.

The definitions of :mod:`orchestration.definitions` (same assets, resources, jobs and sensor) with
one difference: the default executor is ``dagster_celery``'s ``celery_executor``. The run worker
then walks the execution plan and sends each step to a Celery queue; ``dagster-celery`` workers,
on this machine or others, take the steps from the broker and execute them. The default
definitions keep the in-process executor (``make demo``, ``dubsync check``, the tests).

Every process of a deployment (webserver and daemon, run workers, Celery workers) needs:

- the same persistent Dagster instance, ``DAGSTER_HOME`` with a ``dagster.yaml`` on PostgreSQL: a
  worker writes its step's events into the run's event log (an ephemeral or per-machine SQLite
  instance does not work);
- the same ``DUBSYNC_MEDIA_ROOT``, ``DUBSYNC_ARTIFACT_ROOT`` and ``DUBSYNC_POLICY``: a step reads
  the artifacts an earlier step wrote, possibly on another machine, so the artifact root is shared
  storage or object storage (``s3://...``), and the policy versions every asset;
- the same broker: ``DUBSYNC_CELERY_BROKER`` (default ``redis://127.0.0.1:6379/0``; RabbitMQ is
  ``pyamqp://user:password@host:5672//``), ``DUBSYNC_CELERY_BACKEND`` for task results (default:
  the broker's URL when it is Redis, else ``rpc://``) and ``DUBSYNC_CELERY_QUEUE`` (default
  ``dubsync``), the queue steps are sent to and workers listen on.

A worker does not load these definitions when it starts: each task carries a pointer to the job
(``orchestration.celery``, attribute ``defs``, or :func:`celery_job`) and the worker imports it,
so the worker needs this package installed and the environment above.

Commands (``python -m orchestration.celery`` prints the worker's YAML for this environment)::

    python -m orchestration.celery > celery_worker.yaml
    dagster-celery worker start -A dagster_celery.app -y celery_worker.yaml -q dubsync
    dagster dev -m orchestration.celery          # or a workspace.yaml naming this module
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from dagster import Definitions, JobDefinition
from dagster_celery import celery_executor

from orchestration.definitions import build_definitions
from orchestration.settings import Settings

__all__ = ["CelerySettings", "celery_definitions", "celery_job", "defs"]

DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
DEFAULT_QUEUE = "dubsync"


@dataclass(frozen=True)
class CelerySettings:
    """Where steps go: the Celery broker, result backend and queue.

    Attributes
    ----------
    broker : str
        Broker URL. ``DUBSYNC_CELERY_BROKER``, default ``redis://127.0.0.1:6379/0``.
    backend : str
        Result backend URL. ``DUBSYNC_CELERY_BACKEND``, default the broker's URL for Redis,
        ``rpc://`` for RabbitMQ.
    queue : str
        Queue the steps are sent to; workers listen on it (``-q``). ``DUBSYNC_CELERY_QUEUE``,
        default ``dubsync``.
    """

    broker: str = DEFAULT_BROKER
    backend: str = DEFAULT_BROKER
    queue: str = DEFAULT_QUEUE

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> CelerySettings:
        broker = environ.get("DUBSYNC_CELERY_BROKER") or DEFAULT_BROKER
        default_backend = broker if broker.startswith(("redis://", "rediss://")) else "rpc://"
        return cls(
            broker=broker,
            backend=environ.get("DUBSYNC_CELERY_BACKEND") or default_backend,
            queue=environ.get("DUBSYNC_CELERY_QUEUE") or DEFAULT_QUEUE,
        )

    def executor_config(self) -> dict:
        """The ``celery_executor`` config; also the ``execution: config:`` block of a worker's YAML."""
        return {
            "broker": self.broker,
            "backend": self.backend,
            "config_source": {"task_default_queue": self.queue},
        }

    def worker_yaml(self) -> str:
        """The file ``dagster-celery worker start -y`` reads (broker and backend of the workers)."""
        import yaml

        return yaml.safe_dump({"execution": {"config": self.executor_config()}}, sort_keys=False)


def celery_definitions(settings: Settings, celery: CelerySettings | None = None) -> Definitions:
    """:func:`orchestration.definitions.build_definitions` with steps executed by Celery workers.

    Parameters
    ----------
    settings : Settings
        Landing zone, artifact root and policy; the workers must have the same.
    celery : CelerySettings, optional
        Broker, backend and queue; from the environment if omitted.
    """
    celery = celery or CelerySettings.from_env()
    executor = celery_executor.configured(celery.executor_config(), name="dubsync_celery")
    return Definitions.merge(build_definitions(settings), Definitions(executor=executor))


def celery_job(name: str) -> JobDefinition:
    """Job ``name`` (``reference_job``, ``dub_job``) on Celery, from this process's environment.

    A target for ``dagster.build_reconstructable_job("orchestration.celery", "celery_job",
    reconstructable_args=(name,))``: each worker calls it again and so builds the job from its
    own environment.
    """
    return celery_definitions(Settings.from_env()).resolve_job_def(name)


defs = celery_definitions(Settings.from_env())


if __name__ == "__main__":
    print(CelerySettings.from_env().worker_yaml(), end="")
