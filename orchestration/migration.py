"""Taking over an instance whose dub-level assets were partitioned by ``titles × languages``.

Until issue 24 the dub-level assets were partitioned by the product of the ``titles`` and
``languages`` dynamic partitions; now by ``dubs``, whose key for a dub is the string the product
gave it (``"fr|film_a"``, :mod:`orchestration.partitions`). So nothing recorded needs re-keying:
materialisations, observations, run tags and artifact paths carry over; a recorded partition shows
in the UI and counts for ``dubsync backfill --stale`` as soon as its key is a ``dubs`` key.

:func:`register_recorded_dubs` adds those keys once per instance: every partition that a dub-level
asset recorded (materialised or observed), whether or not its file is still in the landing zone
(the sensor adds the ones it lists anyway). The landing-zone sensor and the stale search call it;
once done, it costs one key-value query (key :data:`REGISTERED_KEY`).
"""

from __future__ import annotations

from collections.abc import Iterable

from dagster import AssetKey, DagsterEventType, DagsterInstance

from orchestration.partitions import dubs_partitions, title_and_language

__all__ = ["REGISTERED_KEY", "register_recorded_dubs"]

REGISTERED_KEY = "dubsync/partitions/dubs_registered"
"""Key in the instance's key-value store set once the recorded dub partitions are ``dubs`` keys."""


def register_recorded_dubs(instance: DagsterInstance, asset_keys: Iterable[AssetKey]) -> int:
    """Adds a ``dubs`` key for every dub partition that one of ``asset_keys`` (the dub-level assets)
    recorded, once per instance; the number of keys added (0 when already done)."""
    storage = instance.run_storage
    if storage.get_cursor_values({REGISTERED_KEY}).get(REGISTERED_KEY):
        return 0
    recorded: set[str] = set()
    events = instance.event_log_storage
    for key in asset_keys:
        for event_type in (DagsterEventType.ASSET_MATERIALIZATION, DagsterEventType.ASSET_OBSERVATION):
            recorded.update(events.get_latest_storage_id_by_partition(key, event_type))
    dubs = {p for p in recorded if title_and_language(p)[1] is not None}
    new = sorted(dubs - set(instance.get_dynamic_partitions(dubs_partitions.name)))
    if new:
        instance.add_dynamic_partitions(dubs_partitions.name, new)
    storage.set_cursor_values({REGISTERED_KEY: "1"})
    return len(new)
