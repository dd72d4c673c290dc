"""Questions about many asset partitions at once, asked of the Dagster instance in a few queries.

Dagster 1.13's own ``get_latest_tags_by_partition`` joins the latest event of each partition to the
tag table in a way PostgreSQL plans badly: measured on a catalogue of 5,000 titles, 11 s for the
data versions of 1,000 partitions, 57 s for 5,000, 189 s for the 15,000 dubs' observations
(``benchmarks/scale.py``'s database). :func:`latest_data_versions` asks the same in two queries
that use indexes: the latest event id of each partition (Dagster's own query), then the data-version
tags of the asset's events from the earliest of those ids on (of those events only, when they are
few).
"""

from __future__ import annotations

from collections.abc import Collection

from dagster import AssetKey, DagsterEventType, DagsterInstance
from dagster._core.storage.event_log.schema import AssetEventTagsTable
from dagster._core.storage.sqlalchemy_compat import db_select

from assets.media import DATA_VERSION_TAG

__all__ = ["latest_data_versions"]

_BY_ID = 1_000
"""Up to this many events, their tags are asked for by event id."""


def latest_data_versions(
    instance: DagsterInstance,
    key: AssetKey,
    event_type: DagsterEventType,
    partitions: Collection[str] | None = None,
) -> dict[str, tuple[int, str | None]]:
    """The latest event of ``event_type`` of each partition of ``key``: its storage id and data version.

    Parameters
    ----------
    instance : DagsterInstance
        The instance to ask.
    key : AssetKey
        The asset.
    event_type : DagsterEventType
        ``ASSET_MATERIALIZATION`` or ``ASSET_OBSERVATION``.
    partitions : collection of str, optional
        Only these partitions (an empty collection asks nothing); every partition when ``None``.

    Returns
    -------
    dict[str, tuple[int, str or None]]
        Partition -> (storage id, data version; ``None`` when the event carries none), for the
        partitions that have such an event.
    """
    if partitions is not None and not partitions:
        return {}
    storage = instance.event_log_storage
    ids = storage.get_latest_storage_id_by_partition(key, event_type, set(partitions) if partitions else None)
    if not ids:
        return {}
    table = AssetEventTagsTable
    if len(ids) <= _BY_ID:
        # a few partitions (what changed since the stale search's checkpoint): their events' tags only,
        # not every tag since the oldest of them
        events = table.c.event_id.in_(sorted(ids.values()))
    else:
        events = table.c.event_id >= min(ids.values())
    query = db_select([table.c.event_id, table.c.value]).where(
        (table.c.asset_key == key.to_string()) & (table.c.key == DATA_VERSION_TAG) & events
    )
    with storage.index_connection() as connection:
        versions = dict(connection.execute(query).fetchall())
    return {partition: (event_id, versions.get(event_id)) for partition, event_id in ids.items()}
