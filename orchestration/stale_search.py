"""The stale search of ``dubsync backfill --stale``, in queries per asset rather than per partition.

:func:`orchestration.backfill.find_stale` asks this module which materialised asset partitions are
stale. It visits only partitions that were materialised (delivered dubs and their titles; a dub
never delivered has no partition) and asks the instance a fixed number of questions per asset,
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

**From a checkpoint, what changed only.** Each search leaves a checkpoint in the instance's key-value
store (``kvs``, key :data:`CHECKPOINT_KEY`): the event log's largest storage id when it began (its
high-water mark), per asset and code version the partitions Dagster took for stale with the reason
(the last three code versions of each asset), and the landing zone's file versions with the
partitions whose file was replaced. The next search reads the materialisations recorded since the
mark (one query on the event log's primary key, reading again the last 200 events before it, in case
one committed late) and re-checks only the partitions materialised since, the partitions reading
one, and the partitions whose file version differs from the checkpoint's; the rest keep the
checkpoint's answer. An asset whose code version has no checkpoint entry (a new policy) is checked
whole, as is everything on an instance with no checkpoint or where an asset was wiped since. So
the search after one replaced file reads that file's partitions, not the catalogue; the listing of
the landing zone is still whole (a replaced file is seen only by its new version).

The result is what :class:`orchestration.backfill.StalePartition` holds; downstream partitions are
added by the caller's rule (every materialised partition downstream of a stale one).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import zlib
from collections.abc import Collection, Iterable

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterEventType,
    DagsterInstance,
    DataVersion,
)
from dagster._core.definitions.data_version import compute_logical_data_version
from dagster._core.storage.event_log.schema import SqlEventLogStorageTable
from dagster._core.storage.sqlalchemy_compat import db_select

from assets.media import SOURCE_VERSION
from orchestration.event_queries import latest_data_versions
from orchestration.migration import register_recorded_dubs
from orchestration.partitions import (
    dub_partition_key,
    dubs_partitions,
    is_dub_level,
    title_and_language,
    titles_partitions,
)
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
_ASK_CHUNK = 5_000
"""Partitions asked about per query when the search asks about some partitions only."""
_WHOLE_ASSET = 2_000
"""Past this many partitions of one asset to look up, its every partition is read at once instead."""
CHECKPOINT_KEY = "dubsync/stale_search/checkpoint"
"""Key of the search's checkpoint in the instance's key-value store (the ``kvs`` table)."""
_CHECKPOINT_FORMAT = 1
_CODES_KEPT = 3
"""Code versions of one asset whose search results the checkpoint keeps (a policy tried and reverted)."""
_EVENT_MARGIN = 200
"""Events before a checkpoint's high-water mark read again by the next search: an event whose storage
id was drawn before the mark but committed after it (a run writing while the search began) is not
missed."""


def _dub_level(node) -> bool:
    return is_dub_level(node.partitions_def)


def _hash(version: str) -> DataVersion:
    return DataVersion(hashlib.sha256(version.encode()).hexdigest())


class _Search:
    """State of one search: the data versions of the materialised partitions it looked at, asset by
    asset (every partition of an asset, or those it asked about)."""

    def __init__(self, instance: DagsterInstance, asset_graph, listings: dict[str, TitleListing] | None):
        self.instance = instance
        self.graph = asset_graph
        self.listings = listings
        self.titles = set(instance.get_dynamic_partitions(titles_partitions.name))
        self.dubs = set(instance.get_dynamic_partitions(dubs_partitions.name))
        self.dubs_of_title: dict[str, list[str]] | None = None
        self.versions: dict[AssetKey, dict[str, str]] = {}
        self.ids: dict[AssetKey, dict[str, int]] = {}
        self.by_title: dict[AssetKey, dict[str, list[str]]] = {}
        self.asked: dict[AssetKey, dict[str, tuple[int, str | None] | None]] = {}
        """Partitions asked about one by one (not every partition of the asset): latest (storage id,
        data version), ``None`` when not materialised."""

    def exists(self, partition: str) -> bool:
        title, language = title_and_language(partition)
        return title in self.titles and (language is None or partition in self.dubs)

    def delivered(self, title: str) -> list[str]:
        """The ``dubs`` keys of ``title`` (its delivered dubs)."""
        if self.dubs_of_title is None:
            self.dubs_of_title = {}
            for partition in sorted(self.dubs):
                self.dubs_of_title.setdefault(title_and_language(partition)[0], []).append(partition)
        return self.dubs_of_title.get(title, [])

    def data_versions(self, key: AssetKey) -> dict[str, str]:
        """Partition -> data version of the latest materialisation, for the partitions that exist."""
        if key not in self.versions:
            latest = latest_data_versions(self.instance, key, DagsterEventType.ASSET_MATERIALIZATION)
            versions, ids = {}, {}
            for partition, (storage_id, version) in latest.items():
                if self.exists(partition):
                    versions[partition], ids[partition] = version, storage_id
            self.versions[key], self.ids[key] = versions, ids
        return self.versions[key]

    def lookup(self, key: AssetKey, partitions: Collection[str]) -> dict[str, tuple[int, str | None]]:
        """Partition -> (storage id, data version) of the latest materialisation of the materialised
        ones of ``partitions``: a query per 5,000 partitions not asked about before, or every partition
        of the asset at once when there are many."""
        if key not in self.versions and len(partitions) > _WHOLE_ASSET:
            self.data_versions(key)
        if key in self.versions:
            versions, ids = self.versions[key], self.ids[key]
            return {p: (ids[p], versions[p]) for p in partitions if p in versions}
        asked = self.asked.setdefault(key, {})
        missing = sorted(p for p in set(partitions) if p not in asked)
        for start in range(0, len(missing), _ASK_CHUNK):
            chunk = missing[start : start + _ASK_CHUNK]
            latest = latest_data_versions(self.instance, key, DagsterEventType.ASSET_MATERIALIZATION, chunk)
            for partition in chunk:
                asked[partition] = latest.get(partition) if self.exists(partition) else None
        return {p: asked[p] for p in partitions if asked.get(p) is not None}

    def storage_id(self, key: AssetKey, partition: str) -> int:
        if key in self.ids:
            return self.ids[key][partition]
        return self.asked[key][partition][0]

    def partitions_of_title(self, key: AssetKey, title: str) -> list[str]:
        if key not in self.by_title:
            index: dict[str, list[str]] = {}
            for partition in self.data_versions(key):
                index.setdefault(title_and_language(partition)[0], []).append(partition)
            self.by_title[key] = index
        return self.by_title[key].get(title, [])

    def partitions_of_titles(self, key: AssetKey, titles: Collection[str]) -> list[str]:
        """The materialised dub-level partitions of ``key`` of ``titles``."""
        candidates = [p for title in sorted(titles) for p in self.delivered(title)]
        if key in self.versions or len(candidates) > _WHOLE_ASSET:
            return [p for title in sorted(titles) for p in self.partitions_of_title(key, title)]
        return sorted(self.lookup(key, candidates))

    def parent_partition(self, node, parent, partition: str) -> str:
        if _dub_level(node) and not _dub_level(parent):
            return title_and_language(partition)[0]
        return partition

    def children(self, key: AssetKey, partitions: Collection[str]) -> Iterable[tuple[AssetKey, str, str]]:
        """``(child asset, child partition, partition of key it reads)``: the materialised partitions of
        the assets that read ``key[partition]`` for each of ``partitions``."""
        node = self.graph.get(key)
        for child_key in sorted(node.child_keys):
            child = self.graph.get(child_key)
            if not child.is_materializable or not child.is_partitioned:
                continue
            if _dub_level(child) and not _dub_level(node):
                for partition in self.partitions_of_titles(child_key, partitions):
                    yield child_key, partition, title_and_language(partition)[0]
            else:
                made = self.lookup(child_key, partitions)
                yield from ((child_key, p, p) for p in sorted(made))

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

    def files_now(self, key: AssetKey) -> dict[str, str]:
        """Partition of ``key`` -> version of the landing-zone file it reads, for the files there now."""
        dub_level = _dub_level(self.graph.get(key))
        now = {}
        for title, listing in self.listings.items():
            if dub_level:
                for language, track in listing.dubs.items():
                    now[dub_partition_key(title, language)] = track.version
            elif listing.original is not None:
                now[title] = listing.original.version
        return now

    def replaced_among(self, key: AssetKey, partitions: Collection[str], now: dict[str, str]) -> set[str]:
        """Those of ``partitions`` whose latest materialisation recorded a ``source_version`` other
        than the file's version now."""
        made = self.lookup(key, [p for p in partitions if p in now])
        replaced = set()
        for partition, record in self.read(key, sorted(storage_id for storage_id, _ in made.values())).items():
            value = record.asset_materialization.metadata.get(SOURCE_VERSION) if record.asset_materialization else None
            if value is not None and str(value.value) != now[partition]:
                replaced.add(partition)
        return replaced

    def replaced_files(self, key: AssetKey, source: AssetKey) -> set[str]:
        """Partitions of ``key`` whose landing-zone file was replaced since they were materialised,
        with no checkpoint: every materialised partition whose file may have changed since it was
        observed."""
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
                candidates.append(partition)
        return self.replaced_among(key, candidates, now)

    def _file_version(self, partition: str) -> str | None:
        title, language = title_and_language(partition)
        listing = self.listings.get(title)
        if listing is None:
            return None
        track = listing.original if language is None else listing.dubs.get(language)
        return track.version if track else None

    def changed(self, key: AssetKey, only: Collection[str] | None = None) -> dict[str, str]:
        """Partitions of ``key`` that Dagster takes for stale (a new code version, or an input with a new
        data version), with the reason: among every materialised partition, or among ``only``."""
        node = self.graph.get(key)
        code = node.code_version
        parents = sorted(node.parent_keys, key=str)
        sources = [p for p in parents if self.graph.get(p).is_external]
        inputs_of_parents = [p for p in parents if not self.graph.get(p).is_external]
        source_values = [_OBSERVED_SOURCE, _UNOBSERVED_SOURCE] if sources else [None]
        if only is None:
            recorded_versions = self.data_versions(key)
            parent_versions = {parent: self.data_versions(parent) for parent in inputs_of_parents}
        else:
            recorded_versions = {p: version for p, (_, version) in self.lookup(key, only).items()}
            parent_versions = {}
            for parent in inputs_of_parents:
                wanted = {self.parent_partition(node, self.graph.get(parent), p) for p in recorded_versions}
                parent_versions[parent] = {q: version for q, (_, version) in self.lookup(parent, wanted).items()}
        known_codes: list[str] = []  # old code versions met in this search
        unexplained: dict[str, dict] = {}
        found: dict[str, str] = {}
        for partition, recorded in recorded_versions.items():
            inputs: dict[AssetKey, DataVersion] = {}
            for parent in inputs_of_parents:
                version = parent_versions[parent].get(self.parent_partition(node, self.graph.get(parent), partition))
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
        reasons = {}
        for partition, record in self.read(key, sorted(self.storage_id(key, p) for p in unexplained)).items():
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


class _Checkpoint:
    """What the last search found, kept in the instance's key-value store, so that the next search
    looks only at what changed since (see the module's description).

    ``hwm`` is the event log's largest storage id when that search began; ``codes[asset][code
    version]`` the partitions of the asset Dagster took for stale under that code version, with the
    reason and the ``hwm`` of the search that found them (the last few code versions of each asset);
    ``files[source][partition]`` the landing zone's file versions and ``replaced[asset]`` the
    partitions whose file was replaced, as of ``files_hwm``."""

    def __init__(self, data: dict | None = None):
        data = data or {}
        self.time: float = data.get("time", 0.0)
        self.codes: dict[str, dict[str, dict]] = data.get("codes", {})
        self.files_hwm: int | None = data.get("files_hwm")
        self.files: dict[str, dict[str, str]] = data.get("files", {})
        self.replaced: dict[str, list[str]] = data.get("replaced", {})

    @classmethod
    def load(cls, instance: DagsterInstance, asset_keys: Iterable[AssetKey]) -> _Checkpoint:
        """The stored checkpoint; an empty one when there is none, it is of another format, or an asset
        was wiped since it was made (one query for the value, one for the assets)."""
        stored = instance.run_storage.get_cursor_values({CHECKPOINT_KEY}).get(CHECKPOINT_KEY)
        if not stored:
            return cls()
        try:
            data = json.loads(zlib.decompress(base64.b64decode(stored)))
        except (ValueError, zlib.error):
            return cls()
        if data.get("format") != _CHECKPOINT_FORMAT:
            return cls()
        for record in instance.get_asset_records(list(asset_keys)):
            details = record.asset_entry.asset_details
            if details is not None and (details.last_wipe_timestamp or 0.0) >= data.get("time", 0.0):
                return cls()  # a wiped asset's partitions may have gone back to older materialisations
        return cls(data)

    def entry(self, key: AssetKey, code: str | None) -> dict | None:
        return self.codes.get(key.to_user_string(), {}).get(str(code))

    def earliest_hwm(self, keys: Iterable[AssetKey], codes: dict[AssetKey, str | None]) -> int | None:
        marks = [e["hwm"] for k in keys if (e := self.entry(k, codes[k])) is not None]
        if self.files_hwm is not None:
            marks.append(self.files_hwm)
        return min(marks) if marks else None

    def save(self, instance: DagsterInstance) -> None:
        data = {
            "format": _CHECKPOINT_FORMAT,
            "time": self.time,
            "codes": self.codes,
            "files_hwm": self.files_hwm,
            "files": self.files,
            "replaced": self.replaced,
        }
        packed = base64.b64encode(zlib.compress(json.dumps(data, sort_keys=True).encode(), 1)).decode()
        instance.run_storage.set_cursor_values({CHECKPOINT_KEY: packed})


def _materialised_since(instance: DagsterInstance, after: int) -> dict[AssetKey, dict[str, int]]:
    """Asset -> partition -> storage id of its latest materialisation with a storage id above
    ``after``: what was recorded since a checkpoint, in one query (by the event log's primary key)."""
    table = SqlEventLogStorageTable
    query = db_select([table.c.id, table.c.asset_key, table.c.partition]).where(
        (table.c.id > after)
        & (table.c.dagster_event_type == DagsterEventType.ASSET_MATERIALIZATION.value)
        & (table.c.partition.isnot(None))
    )
    with instance.event_log_storage.index_connection() as connection:
        rows = connection.execute(query).fetchall()
    since: dict[AssetKey, dict[str, int]] = {}
    for storage_id, asset_key, partition in rows:
        by_partition = since.setdefault(AssetKey.from_db_string(asset_key), {})
        by_partition[partition] = max(storage_id, by_partition.get(partition, 0))
    return since


def _recheck(search: _Search, key: AssetKey, since: dict[AssetKey, dict[str, int]], mark: int) -> set[str]:
    """The materialised partitions of ``key`` whose staleness may have changed since ``mark``: those
    materialised since, and those reading a partition materialised since."""
    node = search.graph.get(key)
    cut = mark - _EVENT_MARGIN
    partitions = {p for p, storage_id in since.get(key, {}).items() if storage_id > cut}
    titles = set()
    for parent in node.parent_keys:
        if search.graph.get(parent).is_external:
            continue
        for p, storage_id in since.get(parent, {}).items():
            if storage_id <= cut:
                continue
            if _dub_level(node) and not _dub_level(search.graph.get(parent)):
                titles.add(p)
            else:
                partitions.add(p)
    if titles:
        partitions.update(search.partitions_of_titles(key, titles))
    return partitions


def stale_partitions(
    instance: DagsterInstance, asset_graph, listings: dict[str, TitleListing] | None
) -> list[tuple[AssetKey, str | None, str]]:
    """Every stale materialised asset partition and why, in dependency order, with every materialised
    partition downstream of one (see the module's description).

    Parameters
    ----------
    instance : DagsterInstance
        The instance holding the materialisations (and the search's checkpoint, updated).
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
    hwm = instance.event_log_storage.get_maximum_record_id() or 0  # before anything is read
    started = time.time()
    # an instance partitioned by titles × languages before: its recorded dubs become dubs keys (once)
    dub_level = [k for k in sorted(asset_graph.get_all_asset_keys()) if _dub_level(asset_graph.get(k))]
    register_recorded_dubs(instance, dub_level)
    search = _Search(instance, asset_graph, listings)
    order = [key for level in asset_graph.toposorted_asset_keys_by_level for key in sorted(level)]
    partitioned = [k for k in order if asset_graph.get(k).is_materializable and asset_graph.get(k).is_partitioned]
    codes = {key: asset_graph.get(key).code_version for key in partitioned}
    checkpoint = _Checkpoint.load(instance, partitioned)
    earliest = checkpoint.earliest_hwm(partitioned, codes)
    since = _materialised_since(instance, earliest - _EVENT_MARGIN) if earliest is not None else {}

    found: dict[tuple[AssetKey, str], str] = {}
    for key in partitioned:
        node = asset_graph.get(key)
        name = key.to_user_string()
        entry = checkpoint.entry(key, codes[key])
        if entry is None:
            changed = search.changed(key)
        else:
            recheck = _recheck(search, key, since, entry["hwm"])
            changed = {p: r for p, r in entry["stale"].items() if p not in recheck and search.exists(p)}
            changed.update(search.changed(key, only=recheck))
        kept = checkpoint.codes.setdefault(name, {})
        kept.pop(str(codes[key]), None)
        kept[str(codes[key])] = {"hwm": hwm, "stale": changed}
        for old in list(kept)[:-_CODES_KEPT]:
            del kept[old]
        for partition, reason in sorted(changed.items()):
            found.setdefault((key, partition), reason)
        sources = [p for p in sorted(node.parent_keys, key=str) if asset_graph.get(p).is_external]
        for source in sources if listings is not None else ():
            now = search.files_now(key)
            then = checkpoint.files.get(source.to_user_string())
            if then is None or checkpoint.files_hwm is None:
                replaced = search.replaced_files(key, source)
            else:
                cut = checkpoint.files_hwm - _EVENT_MARGIN
                candidates = {p for p, version in now.items() if then.get(p) != version}
                candidates |= {p for p, storage_id in since.get(key, {}).items() if storage_id > cut}
                replaced = {p for p in checkpoint.replaced.get(name, []) if p in now and p not in candidates}
                replaced |= search.replaced_among(key, candidates, now)
            replaced = {p for p in replaced if search.exists(p)}
            checkpoint.files[source.to_user_string()] = now
            checkpoint.replaced[name] = sorted(replaced)
            for partition in sorted(replaced):
                found.setdefault((key, partition), "file replaced")
        stale_here = sorted(p for k, p in found if k == key)
        for child_key, child_partition, partition in search.children(key, stale_here):
            found.setdefault((child_key, child_partition), f"downstream of {name}[{partition}]")
    checkpoint.time = started
    if listings is not None:
        checkpoint.files_hwm = hwm
    checkpoint.save(instance)

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
