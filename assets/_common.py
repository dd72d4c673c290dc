"""What every asset module shares: turning dubsync errors into Dagster failures that name the file
and the reason, progress logging for long decodes and copies, the check that the policy in use is
the one the code versions were derived from, and the retry policy for transient I/O errors."""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from dagster import AssetExecutionContext, Backoff, Failure, Jitter, RetryPolicy

from ml.errors import DubsyncError, MediaError
from ml.policy import Policy
from orchestration.partitions import LANGUAGE_DIMENSION, TITLE_DIMENSION
from resources.policy import PolicyResource

__all__ = [
    "PROGRESS_STEP",
    "TRANSIENT_RETRY",
    "checked_policy",
    "dub_partition",
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
    keys = context.partition_key.keys_by_dimension
    return keys[TITLE_DIMENSION], keys[LANGUAGE_DIMENSION]
