"""The landing zone as observable source assets: a content version per original and per dub.

``original_media[title]`` and ``dub_media[dub]`` carry the content version of each
file as their data version, so replacing a file makes exactly its downstream stale. The
landing-zone sensor reports these versions as observations when it sees a new or replaced file;
observing the assets (UI or job) reports them for every file.
"""


from dagster import (
    AssetKey,
    AssetObservation,
    DataVersionsByPartition,
    observable_source_asset,
)

from orchestration.partitions import dub_partition_key, dubs_partitions, titles_partitions
from resources.media_store import MediaStore, TitleListing, Track

ORIGINAL_MEDIA = AssetKey("original_media")
DUB_MEDIA = AssetKey("dub_media")
DATA_VERSION_TAG = "dagster/data_version"
"""Tag carrying an event's data version (Dagster's own name; not exported by the package)."""
SOURCE_VERSION = "source_version"
"""Metadata key: content version of the landing-zone file an asset read (``dubsync backfill --stale``
compares it with the file there now; Dagster 1.13 leaves partitioned observations out of provenance)."""
GROUP = "landing_zone"


@observable_source_asset(
    key=ORIGINAL_MEDIA,
    partitions_def=titles_partitions,
    group_name=GROUP,
    description="Original-language track of each title in the landing zone (its content version).",
)
def original_media(context, media_store: MediaStore) -> DataVersionsByPartition:
    titles, _ = media_store.scan()
    known = set(context.instance.get_dynamic_partitions(titles_partitions.name))
    return DataVersionsByPartition(
        {
            title: listing.original.version if listing.original else "missing"
            for title, listing in titles.items()
            if title in known
        }
    )


@observable_source_asset(
    key=DUB_MEDIA,
    partitions_def=dubs_partitions,
    group_name=GROUP,
    description="Each dubbed track of each title in the landing zone (its content version).",
)
def dub_media(context, media_store: MediaStore) -> DataVersionsByPartition:
    titles, _ = media_store.scan()
    known = set(context.instance.get_dynamic_partitions(dubs_partitions.name))
    versions = {
        dub_partition_key(title, language): track.version
        for title, listing in titles.items()
        for language, track in listing.dubs.items()
    }
    return DataVersionsByPartition({partition: version for partition, version in versions.items() if partition in known})


def track_observation(track: Track, location: str) -> AssetObservation:
    """The observation of one file's content version (what the sensor reports)."""
    if track.language is None:
        key, partition = ORIGINAL_MEDIA, track.title
    else:
        key, partition = DUB_MEDIA, dub_partition_key(track.title, track.language)
    return AssetObservation(
        asset_key=key,
        partition=partition,
        tags={DATA_VERSION_TAG: track.version},
        metadata={"file": location, "version": track.version},
    )


def listing_observations(store: MediaStore, listing: TitleListing) -> list[AssetObservation]:
    """Observations of every file of a title."""
    tracks = ([listing.original] if listing.original else []) + list(listing.dubs.values())
    return [track_observation(t, store.describe(t)) for t in tracks]


__all__ = [
    "DATA_VERSION_TAG",
    "SOURCE_VERSION",
    "ORIGINAL_MEDIA",
    "DUB_MEDIA",
    "original_media",
    "dub_media",
    "track_observation",
    "listing_observations",
]
