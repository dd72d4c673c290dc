"""The stale search of ``dubsync backfill --stale``, in queries per asset rather than per partition.

:func:`orchestration.backfill.find_stale` asks this module which materialised asset partitions are
stale. It visits only partitions that were materialised (delivered dubs and their titles, never the
rest of the title × language product) and asks the instance a fixed number of questions per asset,
whatever the size of the catalogue:

- the storage id and data version of every materialised partition's latest materialisation (two
  queries per asset, :func:`orchestration.event_queries.latest_data_versions`);
- for assets that read a landing-zone file, the storage id and version of each file's latest
  observation (two more).

Dagster's own staleness, without asking per partition: an asset partition's data version is the hash
of its code version and its inputs' data versions (:func:`dagster.compute_logical_data_version`;
an input partition counts as the SHA-256 of its data version, an observed source as that of nothing,
a never observed one as ``INITIAL``). A partition whose recorded data version is that hash of the
asset's code version now and its inputs now is not stale; one whose version is not is stale, and why
(a new code version, or which input has a new data version) is read from its materialisation, once
per old code version: the next partitions materialised with that code version are recognised by the
hash. So a tolerance change reads one verdict, not every verdict.

Dubsync's own check, a replaced file: the ``source_version`` a partition recorded differs from the
file's version in the landing zone now. It is read only for partitions whose file may have changed
since: the version there now is not the version last observed, or the file was observed after the
partition was materialised (the sensor observes a new or replaced file before its run), or never.

The result is what :class:`orchestration.backfill.StalePartition` holds; downstream partitions are
added by the caller's rule (every materialised partition downstream of a stale one).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterEventType,
    DagsterInstance,
    DataVersion,
    MultiPartitionsDefinition,
)
from dagster._core.definitions.data_version import compute_logical_data_version

from assets.media import SOURCE_VERSION
from orchestration.event_queries import latest_data_versions
from orchestration.partitions import MULTI_SEPARATOR, languages_partitions, titles_partitions
from resources.media_store import TitleListing

__all__ = ["stale_partitions"]

_CODE_VERSION_TAG = "dagster/code_version"
_INPUT_VERSION_TAG = "dagster/input_data_version/"
_OBSERVED_SOURCE = DataVersion(hashlib.sha256(b"").hexdigest())
"""An observed source's data version as Dagster 1.13 records it for an input (it hashes the input
partition's materialisations, and a source has none)."""
_UNOBSERVED_SOURCE = DataVersion("INITIAL")
_READ_CHUNK = 500
"""Materialisation records read per query (the few whose reason must be read)."""


def _dub_level(node) -> bool:
    return isinstance(node.partitions_def, MultiPartitionsDefinition)


def _split(partition: str) -> tuple[str, str | None]:
    """(title, language) of a partition key; Dagster sorts dimensions by name: ``language|title``."""
    if MULTI_SEPARATOR not in partition:
        return partition, None
    language, title = partition.split(MULTI_SEPARATOR, 1)
    return title, language


def _hash(version: str) -> DataVersion:
    return DataVersion(hashlib.sha256(version.encode()).hexdigest())


class _Search:
    """State of one search: the data versions of every materialised partition, asset by asset."""

    def __init__(self, instance: DagsterInstance, asset_graph, listings: dict[str, TitleListing] | None):
        self.instance = instance
        self.graph = asset_graph
        self.listings = listings
        self.titles = set(instance.get_dynamic_partitions(titles_partitions.name))
        self.languages = set(instance.get_dynamic_partitions(languages_partitions.name))
        self.versions: dict[AssetKey, dict[str, str]] = {}
        self.ids: dict[AssetKey, dict[str, int]] = {}
        self.by_title: dict[AssetKey, dict[str, list[str]]] = {}

    def data_versions(self, key: AssetKey) -> dict[str, str]:
        """Partition -> data version of the latest materialisation, for the partitions that exist."""
        if key not in self.versions:
            latest = latest_data_versions(self.instance, key, DagsterEventType.ASSET_MATERIALIZATION)
            versions, ids = {}, {}
            for partition, (storage_id, version) in latest.items():
                title, language = _split(partition)
                if title in self.titles and (language is None or language in self.languages):
                    versions[partition], ids[partition] = version, storage_id
            self.versions[key], self.ids[key] = versions, ids
        return self.versions[key]

    def partitions_of_title(self, key: AssetKey, title: str) -> list[str]:
        if key not in self.by_title:
            index: dict[str, list[str]] = {}
            for partition in self.data_versions(key):
                index.setdefault(_split(partition)[0], []).append(partition)
            self.by_title[key] = index
        return self.by_title[key].get(title, [])

    def parent_partition(self, node, parent, partition: str) -> str:
        if _dub_level(node) and not _dub_level(parent):
            return _split(partition)[0]
        return partition

    def children(self, key: AssetKey, partition: str) -> Iterable[tuple[AssetKey, str]]:
        """Materialised partitions of the assets that read ``key[partition]``."""
        node = self.graph.get(key)
        for child_key in sorted(node.child_keys):
            child = self.graph.get(child_key)
            if not child.is_materializable or not child.is_partitioned:
                continue
            if _dub_level(child) and not _dub_level(node):
                yield from ((child_key, p) for p in self.partitions_of_title(child_key, partition))
            elif partition in self.data_versions(child_key):
                yield child_key, partition

    def read(self, key: AssetKey, storage_ids: list[int]) -> dict[str, object]:
        """Partition -> latest materialisation record, for the records of ``storage_ids``."""
        records = {}
        for start in range(0, len(storage_ids), _READ_CHUNK):
            chunk = storage_ids[start : start + _READ_CHUNK]
            for record in self.instance.fetch_materializations(
                AssetRecordsFilter(asset_key=key, storage_ids=chunk), limit=len(chunk)
            ).records:
                records[record.partition_key] = record
        return records

    def replaced_files(self, key: AssetKey, source: AssetKey) -> set[str]:
        """Partitions of ``key`` whose landing-zone file was replaced since they were materialised."""
        versions = self.data_versions(key)
        materialised = self.ids[key]
        observed = latest_data_versions(self.instance, source, DagsterEventType.ASSET_OBSERVATION)
        candidates = []
        now: dict[str, str] = {}
        for partition in versions:
            current = self._file_version(partition)
            if current is None:
                continue
            now[partition] = current
            observation, seen = observed.get(partition, (None, None))
            if observation is None or current != seen or observation > materialised[partition]:
                candidates.append(materialised[partition])
        replaced = set()
        for partition, record in self.read(key, sorted(candidates)).items():
            value = record.asset_materialization.metadata.get(SOURCE_VERSION) if record.asset_materialization else None
            if value is not None and str(value.value) != now[partition]:
                replaced.add(partition)
        return replaced

    def _file_version(self, partition: str) -> str | None:
        title, language = _split(partition)
        listing = self.listings.get(title)
        if listing is None:
            return None
        track = listing.original if language is None else listing.dubs.get(language)
        return track.version if track else None

    def changed(self, key: AssetKey) -> dict[str, str]:
        """Partitions of ``key`` that Dagster takes for stale (a new code version, or an input with a new
        data version), with the reason."""
        node = self.graph.get(key)
        code = node.code_version
        parents = sorted(node.parent_keys, key=str)
        sources = [p for p in parents if self.graph.get(p).is_external]
        inputs_of_parents = [p for p in parents if not self.graph.get(p).is_external]
        source_values = [_OBSERVED_SOURCE, _UNOBSERVED_SOURCE] if sources else [None]
        known_codes: list[str] = []  # old code versions met in this search
        unexplained: dict[str, dict] = {}
        found: dict[str, str] = {}
        for partition, recorded in self.data_versions(key).items():
            inputs: dict[AssetKey, DataVersion] = {}
            for parent in inputs_of_parents:
                version = self.data_versions(parent).get(self.parent_partition(node, self.graph.get(parent), partition))
                if version is None:
                    break
                inputs[parent] = _hash(version)
            else:

                def matches(code_version: str, inputs=inputs, recorded=recorded) -> bool:
                    for value in source_values:
                        full = {**inputs, **{s: value for s in sources}} if value is not None else inputs
                        if compute_logical_data_version(code_version, full).value == recorded:
                            return True
                    return False

                if code is None or recorded is None or matches(code):
                    continue
                if any(matches(old) for old in known_codes):
                    found[partition] = f"{key.to_user_string()}[{partition}] has a new code version"
                    continue
                unexplained[partition] = inputs
                if len(unexplained) >= _READ_CHUNK:
                    found.update(self._explain(key, unexplained, known_codes))
                    unexplained = {}
        found.update(self._explain(key, unexplained, known_codes))
        return found

    def _explain(self, key: AssetKey, unexplained: dict[str, dict], known_codes: list[str]) -> dict[str, str]:
        """Why each partition of ``unexplained`` (partition -> its inputs' data versions now) is stale,
        read from its latest materialisation; learns the old code versions met."""
        if not unexplained:
            return {}
        node = self.graph.get(key)
        ids = self.ids[key]
        reasons = {}
        for partition, record in self.read(key, sorted(ids[p] for p in unexplained)).items():
            tags = record.asset_materialization.tags or {}
            causes = []
            recorded_code = tags.get(_CODE_VERSION_TAG)
            if recorded_code != node.code_version:
                causes.append(f"{key.to_user_string()}[{partition}] has a new code version")
                if recorded_code is not None and recorded_code not in known_codes:
                    known_codes.append(recorded_code)
            for parent, version in unexplained.get(partition, {}).items():
                if tags.get(_INPUT_VERSION_TAG + parent.to_user_string()) != version.value:
                    where = self.parent_partition(node, self.graph.get(parent), partition)
                    causes.append(f"{parent.to_user_string()}[{where}] has a new data version")
            reasons[partition] = "; ".join(sorted(causes)) or "stale"
        return reasons


def stale_partitions(
    instance: DagsterInstance, asset_graph, listings: dict[str, TitleListing] | None
) -> list[tuple[AssetKey, str | None, str]]:
    """Every stale materialised asset partition and why, in dependency order, with every materialised
    partition downstream of one (see the module's description).

    Parameters
    ----------
    instance : DagsterInstance
        The instance holding the materialisations.
    asset_graph
        The asset graph of the definitions (``Definitions.resolve_asset_graph()``): code versions and
        dependencies now.
    listings : dict[str, TitleListing] or None
        The landing zone now (``MediaStore.scan()[0]``), for the replaced-file check; ``None`` skips
        that check.

    Returns
    -------
    list[tuple[AssetKey, str | None, str]]
        ``(asset, partition, reason)``, assets in dependency order, partitions sorted; the partition of
        an unpartitioned asset (the catalogue report, recomputed after what it reads) is ``None``.
    """
    search = _Search(instance, asset_graph, listings)
    order = [key for level in asset_graph.toposorted_asset_keys_by_level for key in sorted(level)]
    found: dict[tuple[AssetKey, str], str] = {}
    for key in order:
        node = asset_graph.get(key)
        if not node.is_materializable or not node.is_partitioned:
            continue
        for partition, reason in sorted(search.changed(key).items()):
            found.setdefault((key, partition), reason)
        sources = [p for p in sorted(node.parent_keys, key=str) if asset_graph.get(p).is_external]
        for source in sources if listings is not None else ():
            for partition in sorted(search.replaced_files(key, source)):
                found.setdefault((key, partition), "file replaced")
        for _, partition in [k for k in found if k[0] == key]:
            for child in search.children(key, partition):
                found.setdefault(child, f"downstream of {key.to_user_string()}[{partition}]")
    # an unpartitioned asset (the catalogue report) that was materialised and reads a stale partition
    # is recomputed after it, once: one query per such asset
    stale_assets = {k for k, _ in found}
    for key in order:
        node = asset_graph.get(key)
        if not node.is_materializable or node.is_partitioned:
            continue
        upstream = sorted(str(parent.to_user_string()) for parent in node.parent_keys if parent in stale_assets)
        if upstream and instance.get_latest_materialization_event(key) is not None:
            found[(key, None)] = f"downstream of {', '.join(upstream)}"
            stale_assets.add(key)
    rank = {key: i for i, key in enumerate(order)}
    return [
        (k, p, reason)
        for (k, p), reason in sorted(found.items(), key=lambda item: (rank[item[0][0]], item[0][1] or ""))
    ]
