"""What every asset module shares: turning dubsync errors into Dagster failures that name the file
and the reason, progress logging for long decodes and copies, the check that the policy in use is
the one the code versions were derived from, and the retry policy for transient I/O errors."""

import hashlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from dagster import (
    AssetDep,
    AssetExecutionContext,
    AssetKey,
    AssetRecordsFilter,
    Backoff,
    DataVersion,
    Failure,
    Jitter,
    MetadataValue,
    RetryPolicy,
    SpecificPartitionsPartitionMapping,
)
from dagster._core.definitions.data_version import compute_logical_data_version

from ml.errors import DubsyncError, MediaError
from ml.policy import Policy
from orchestration.partitions import title_and_language
from resources.artifacts import ArtifactIOManager
from resources.policy import PolicyResource

__all__ = [
    "PROGRESS_STEP",
    "TRANSIENT_RETRY",
    "TitleInput",
    "checked_policy",
    "dub_lineage",
    "dub_partition",
    "title_dep",
    "title_inputs",
    "failures",
    "fetching",
    "progress_logger",
]

TRANSIENT_RETRY = RetryPolicy(max_retries=3, delay=1.0, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS)
"""Every asset's retry policy: a transient I/O error (network share, object store, a worker lost
mid-write) is retried after about 1, 2 and 4 s. Errors that a retry cannot fix (a corrupt or silent
file, a missing original, a policy mismatch) are raised as ``Failure(allow_retries=False)``."""
PROGRESS_STEP = 0.1
"""Progress is logged every tenth of the work."""


@contextmanager
def failures(context: AssetExecutionContext) -> Iterator[None]:
    """Turn a dubsync error into a Dagster failure that names the file and the reason."""
    try:
        yield
    except MediaError as exc:
        context.log.error(str(exc))
        raise Failure(
            description=str(exc),
            metadata={"file": exc.path, "reason": exc.reason},
            allow_retries=False,
        ) from None
    except DubsyncError as exc:
        context.log.error(str(exc))
        raise Failure(description=str(exc), allow_retries=False) from None


def progress_logger(context: AssetExecutionContext, what: str, unit: str = "s") -> Callable[[float, float | None], None]:
    """A ``progress(done, total)`` that logs every tenth of the total; ``unit`` "s" (seconds of
    media) or "MB" (bytes, shown in MB)."""
    state = {"next": PROGRESS_STEP, "t0": time.monotonic()}
    scale = 1e-6 if unit == "MB" else 1.0

    def report(done: float, total: float | None) -> None:
        if total and total > 0:
            share = min(1.0, done / total)
            if share >= state["next"] or share >= 1.0:
                context.log.info(
                    f"{what}: {share:.0%} ({done * scale:.0f} of {total * scale:.0f} {unit}) after "
                    f"{time.monotonic() - state['t0']:.1f} s"
                )
                state["next"] = share + PROGRESS_STEP
        else:
            context.log.info(f"{what}: {done * scale:.0f} {unit} {'decoded' if unit == 's' else 'done'}")

    return report


def fetching(context: AssetExecutionContext, location: str) -> Callable[[float, float | None], None]:
    """Progress of copying a track off object storage before it is decoded."""
    return progress_logger(context, f"fetching {location}", unit="MB")


def checked_policy(policy_resource: PolicyResource, baked: Policy) -> Policy:
    policy = policy_resource.load()
    if policy != baked:
        raise Failure(
            description=(
                "the policy file changed since the code location loaded "
                f"({policy_resource.path or 'defaults'}): reload the code location so that "
                "code versions and staleness match the policy in use"
            ),
            allow_retries=False,
        )
    return policy


def dub_partition(context: AssetExecutionContext) -> tuple[str, str]:
    """The (title, language) of a dub-level asset's partition."""
    title, language = title_and_language(context.partition_key)
    if language is None:
        raise Failure(description=f"{context.partition_key!r} is not a dub's partition key", allow_retries=False)
    return title, language


# A dub-level asset reads its title's assets (the reference signature, the lip-sync offset) by title,
# through the artifact IO manager, not as Dagster inputs: Dagster 1.13 has no partition mapping from a
# ``dubs`` key to its title, and custom mappings are unsupported. The edge stays in the asset graph as a
# dep that maps to no upstream partition (``title_dep``), and the per-partition lineage travels with the
# dub's materialisation: the input's partition and data version in its metadata and in Dagster's own
# input tags, and a data version that hashes them as Dagster hashes an input's, so it is the one the
# earlier title × language partitioning recorded (``dubsync backfill --stale`` compares it).

_INPUT_VERSION_TAG = "dagster/input_data_version/"
_INPUT_POINTER_TAG = "dagster/input_event_pointer/"
_DATA_VERSION_TAG = "dagster/data_version"


def title_dep(key: AssetKey) -> AssetDep:
    """The graph edge from a title-level asset to a dub-level one; it claims no upstream partition
    (which would be wrong for every dub but the title's own), so Dagster never calls a dub's
    partition "upstream missing"."""
    return AssetDep(key, partition_mapping=SpecificPartitionsPartitionMapping([]))


@dataclass(frozen=True)
class TitleInput:
    """One title-level asset as a dub-level asset read it: the value, and the materialisation it came
    from (partition, storage id, data version)."""

    key: AssetKey
    partition: str
    storage_id: int
    data_version: str
    value: Any


def _latest(context: AssetExecutionContext, key: AssetKey, partition: str):
    records = context.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
    ).records
    return records[0] if records else None


def title_inputs(
    context: AssetExecutionContext, io_manager: ArtifactIOManager, keys: Mapping[str, AssetKey]
) -> dict[str, TitleInput]:
    """The dub's title's assets, by name (``{"reference_signature": REFERENCE_SIGNATURE}``): their
    latest materialisation of the title's partition, read through the artifact IO manager (the
    ``io_manager`` resource). One never materialised fails the step with what to do."""
    title, _ = dub_partition(context)
    loaded = {}
    for name, key in keys.items():
        record = _latest(context, key, title)
        if record is None:
            raise Failure(
                description=f"{key.to_user_string()}[{title}] was never materialised: run reference_job for {title} first",
                allow_retries=False,
            )
        version = (record.asset_materialization.tags or {}).get(_DATA_VERSION_TAG, "")
        value = io_manager.load_partition(key, title)
        loaded[name] = TitleInput(key, title, record.storage_id, version, value)
    return loaded


@dataclass(frozen=True)
class DubLineage:
    """What a dub-level materialisation carries of its title-level inputs: ``data_version`` and
    ``tags`` for Dagster, ``metadata`` for a person (an asset link, the partition, the data version)."""

    data_version: DataVersion
    tags: dict[str, str]
    metadata: dict[str, Any]


def _input_version(version: str) -> DataVersion:
    """An input partition's data version as Dagster counts it in a logical data version."""
    return DataVersion(hashlib.sha256(version.encode()).hexdigest())


def dub_lineage(
    context: AssetExecutionContext, titles: Mapping[str, TitleInput], inputs: Sequence[AssetKey]
) -> DubLineage:
    """The lineage of a dub-level materialisation reading ``titles`` and the dub-level ``inputs``
    (Dagster inputs of the same partition): a data version hashing the code version and every
    input's version as Dagster hashes them, Dagster's input tags for the title-level ones, metadata."""
    versions: dict[AssetKey, DataVersion] = {}
    for key in inputs:
        record = _latest(context, key, context.partition_key)
        recorded = (record.asset_materialization.tags or {}).get(_DATA_VERSION_TAG) if record else None
        if recorded is None:
            raise Failure(
                description=f"{key.to_user_string()}[{context.partition_key}] has no recorded data version",
                allow_retries=False,
            )
        versions[key] = _input_version(recorded)
    tags: dict[str, str] = {}
    metadata: dict[str, Any] = {}
    for name, loaded in titles.items():
        versions[loaded.key] = _input_version(loaded.data_version)
        tags[_INPUT_VERSION_TAG + loaded.key.to_user_string()] = versions[loaded.key].value
        tags[_INPUT_POINTER_TAG + loaded.key.to_user_string()] = str(loaded.storage_id)
        metadata[name] = MetadataValue.asset(loaded.key)
        metadata[f"{name}_partition"] = loaded.partition
        metadata[f"{name}_data_version"] = loaded.data_version
    code_version = context.assets_def.code_versions_by_key[context.asset_key]
    return DubLineage(compute_logical_data_version(code_version, versions), tags, metadata)
