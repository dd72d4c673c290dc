"""Taking over an instance whose dub-level assets were partitioned by ``titles × languages``.

The dub chain of ``alpha``'s French dub is materialised under the earlier partitioning (defined here:
the two dynamic partitionings, their product, the title-level inputs mapped with
``MultiToSingleDimensionPartitionMapping``, the same asset keys, code versions, IO manager and
``ml`` calls as the assets had), on a real instance; then the definitions of today are loaded on
that instance, whose French dub has since left the landing zone. Its recorded partition becomes a
``dubs`` key, shows as materialised as the UI reads it, its metadata and artifact read back, the
stale search finds nothing stale (the data versions carried over), and the verdict recomputed by
today's asset from the carried-over matches has the data version recorded before.
"""

from __future__ import annotations

from dagster import (
    AssetIn,
    AssetKey,
    AssetRecordsFilter,
    DataVersionsByPartition,
    DynamicPartitionsDefinition,
    MaterializeResult,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    MultiToSingleDimensionPartitionMapping,
    asset,
    instance_for_test,
    materialize,
    observable_source_asset,
)

from assets.audio_sync import DUB_SIGNATURE, FRAME_MATCH_OFFSETS, REFERENCE_SIGNATURE, TITLE_VERDICTS
from assets.conform import CONFORMED_DUBS
from assets.media import DUB_MEDIA, SOURCE_VERSION, track_observation
from assets.picture import LIP_SYNC_OFFSETS
from assets.report import CATALOGUE_REPORT
from ml.audio_sync.matching import match_with_speed_search
from ml.audio_sync.signatures import signature_from_file
from ml.picture.title_sync import decide_against_picture
from ml.policy import load_policy
from orchestration.backfill import find_stale
from orchestration.definitions import build_assets, build_definitions, build_resources
from orchestration.partitions import dubs_partitions
from orchestration.settings import Settings
from resources.media_store import LocalMediaStore
from tests.support.helpers import copy_landing_zone, title_chain

OLD_TITLES = DynamicPartitionsDefinition(name="titles")
OLD_LANGUAGES = DynamicPartitionsDefinition(name="languages")
OLD_PRODUCT = MultiPartitionsDefinition({"title": OLD_TITLES, "language": OLD_LANGUAGES})


TODAY_DUB_LEVEL = {DUB_MEDIA, DUB_SIGNATURE, FRAME_MATCH_OFFSETS, TITLE_VERDICTS, CONFORMED_DUBS, CATALOGUE_REPORT}
"""Today's assets the earlier definitions are built without (the dub-level ones and what reads them)."""


def _by_title():
    return MultiToSingleDimensionPartitionMapping(partition_dimension_name="title")


def _old_dub_assets(code_versions: dict[AssetKey, str], store: LocalMediaStore) -> list:
    """The dub chain as it was partitioned until issue 24: title × language, the title's assets as
    inputs through the title dimension (values computed with the same ``ml`` calls)."""
    policy = load_policy(None)

    def dub_of(context):
        keys = context.partition_key.keys_by_dimension
        return store.dub(keys["title"], keys["language"])

    @observable_source_asset(key=DUB_MEDIA, partitions_def=OLD_PRODUCT)
    def dub_media():
        return DataVersionsByPartition({})

    @asset(key=DUB_SIGNATURE, partitions_def=OLD_PRODUCT, deps=[DUB_MEDIA], code_version=code_versions[DUB_SIGNATURE])
    def dub_signature(context):
        track = dub_of(context)
        with store.local_path(track) as path:
            signature = signature_from_file(path, policy.signature, role="dub", allow_silent=True)
        return MaterializeResult(value=signature, metadata={SOURCE_VERSION: track.version})

    @asset(
        key=FRAME_MATCH_OFFSETS,
        partitions_def=OLD_PRODUCT,
        ins={
            "dub_signature": AssetIn(DUB_SIGNATURE),
            "reference_signature": AssetIn(REFERENCE_SIGNATURE, partition_mapping=_by_title()),
        },
        code_version=code_versions[FRAME_MATCH_OFFSETS],
    )
    def frame_match_offsets(context, dub_signature, reference_signature):
        def resignature(speed: float):
            with store.local_path(dub_of(context)) as path:
                return signature_from_file(path, policy.signature, speed=speed)

        matches = match_with_speed_search(
            dub_signature,
            reference_signature,
            policy.match,
            resignature=resignature,
            min_matched_frames=policy.verdict.min_matched_frames,
        )
        return MaterializeResult(value=matches, metadata={"matched_frames": matches.n_matched})

    @asset(
        key=TITLE_VERDICTS,
        partitions_def=OLD_PRODUCT,
        ins={
            "frame_match_offsets": AssetIn(FRAME_MATCH_OFFSETS),
            "lip_sync_offsets": AssetIn(LIP_SYNC_OFFSETS, partition_mapping=_by_title()),
        },
        code_version=code_versions[TITLE_VERDICTS],
    )
    def title_verdicts(context, frame_match_offsets, lip_sync_offsets):
        verdict = decide_against_picture(frame_match_offsets, lip_sync_offsets, match=policy.match, params=policy.verdict)
        return MaterializeResult(value=verdict, metadata={"kind": verdict.kind, "offset_ms": verdict.offset_ms})

    return [dub_media, dub_signature, frame_match_offsets, title_verdicts]


def _latest(instance, key: AssetKey, partition: str):
    records = instance.fetch_materializations(AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1)
    return records.records[0]


def test_an_instance_partitioned_by_titles_x_languages_is_taken_over(landing_zone, tmp_path):
    from dagster._core.definitions.partitions.context import partition_loading_context
    from dagster._core.storage.partition_status_cache import get_and_update_asset_status_cache_value

    root = copy_landing_zone(landing_zone[0], tmp_path / "lz")
    settings = Settings(media_root=str(root), artifact_root=str(tmp_path / "artifacts"))
    defs = build_definitions(settings)
    graph = defs.resolve_asset_graph()
    store = LocalMediaStore(root=str(root))
    resources = build_resources(settings)
    dub = "fr|alpha"
    with instance_for_test() as instance:
        # before: the title's assets (their partitioning is unchanged) and the French dub's chain under
        # the title × language product
        instance.add_dynamic_partitions("titles", ["alpha"])
        instance.add_dynamic_partitions("languages", ["fr"])
        for track in (store.original("alpha"), store.dub("alpha", "fr")):
            instance.report_runless_asset_event(track_observation(track, store.describe(track)))
        assert materialize(build_assets(settings), selection=title_chain(), partition_key="alpha",
                           instance=instance, resources=resources).success  # fmt: skip
        old = _old_dub_assets({k: graph.get(k).code_version for k in (DUB_SIGNATURE, FRAME_MATCH_OFFSETS, TITLE_VERDICTS)}, store)
        title_assets = [a for a in build_assets(settings) if not TODAY_DUB_LEVEL & set(getattr(a, "keys", [a.key]))]
        key = MultiPartitionKey({"title": "alpha", "language": "fr"})
        assert str(key) == dub
        result = materialize([*old, *title_assets], selection=[a.key for a in old[1:]], partition_key=key,
                             instance=instance, resources=resources)  # fmt: skip
        assert result.success
        before = {k: _latest(instance, k, dub) for k in (DUB_SIGNATURE, FRAME_MATCH_OFFSETS, TITLE_VERDICTS)}
        old_verdict = before[TITLE_VERDICTS].asset_materialization.metadata["kind"].value
        old_artifact = tmp_path / "artifacts" / "title_verdicts" / "fr" / "alpha.npz"
        assert old_artifact.exists()

        # the French dub leaves the landing zone; today's definitions take the instance over
        (root / "alpha" / "dubs" / "fr.flac").unlink(missing_ok=True)
        assert instance.get_dynamic_partitions(dubs_partitions.name) == []
        assert find_stale(defs, instance, store) == [], "nothing changed: the data versions carried over"
        assert instance.get_dynamic_partitions(dubs_partitions.name) == [dub], "its recorded key is a dubs key"

        # materialised, as the UI's partition page reads it, with its metadata and artifact
        partitions_def = graph.get(TITLE_VERDICTS).partitions_def
        assert partitions_def == dubs_partitions
        with partition_loading_context(dynamic_partitions_store=instance):
            cache = get_and_update_asset_status_cache_value(instance, TITLE_VERDICTS, partitions_def)
            shown = set(cache.deserialize_materialized_partition_subsets(partitions_def).get_partition_keys())
        assert shown == {dub}
        record = _latest(instance, TITLE_VERDICTS, dub)
        assert record.storage_id == before[TITLE_VERDICTS].storage_id
        assert record.asset_materialization.metadata["kind"].value == old_verdict
        io_manager = resources["io_manager"].create_io_manager(None)
        assert str(io_manager.partition_path(TITLE_VERDICTS, dub)) == str(old_artifact)
        assert io_manager.load_partition(TITLE_VERDICTS, dub).kind == old_verdict

        # today's verdict asset recomputes from the carried-over matches: the same verdict, the same
        # data version (so nothing downstream goes stale), and the title's lineage in its metadata
        again = materialize(build_assets(settings), selection=[TITLE_VERDICTS], partition_key=dub,
                            instance=instance, resources=resources)  # fmt: skip
        assert again.success
        record = _latest(instance, TITLE_VERDICTS, dub)
        tags = record.asset_materialization.tags
        assert tags["dagster/data_version"] == before[TITLE_VERDICTS].asset_materialization.tags["dagster/data_version"]
        metadata = record.asset_materialization.metadata
        assert metadata["kind"].value == old_verdict
        assert metadata["lip_sync_offsets"].value == LIP_SYNC_OFFSETS
        assert metadata["lip_sync_offsets_partition"].value == "alpha"
        lip = _latest(instance, LIP_SYNC_OFFSETS, "alpha").asset_materialization.tags["dagster/data_version"]
        assert metadata["lip_sync_offsets_data_version"].value == lip
        assert find_stale(defs, instance, store) == []


def test_the_dub_level_assets_are_derived_from_their_partitioning():
    from orchestration.partitions import dub_level_keys

    keys = dub_level_keys(build_assets(Settings()))
    assert set(keys) == {DUB_MEDIA, DUB_SIGNATURE, FRAME_MATCH_OFFSETS, TITLE_VERDICTS, CONFORMED_DUBS}


def test_the_sensors_first_tick_registers_recorded_dubs_gone_from_the_landing_zone(landing_zone, tmp_path):
    from dagster import AssetMaterialization, build_sensor_context

    from orchestration.migration import register_recorded_dubs
    from orchestration.partitions import dub_level_keys
    from orchestration.sensors import build_landing_zone_sensor

    root = copy_landing_zone(landing_zone[0], tmp_path / "lz")
    sensor = build_landing_zone_sensor(settle_s=0)
    with instance_for_test() as instance:
        # recorded under the earlier partitioning: the verdict of a dub no longer delivered
        instance.report_runless_asset_event(AssetMaterialization(TITLE_VERDICTS, partition="fr|gone"))
        result = sensor(build_sensor_context(instance=instance, resources={"media_store": LocalMediaStore(root=str(root))}))
        assert instance.get_dynamic_partitions(dubs_partitions.name) == ["fr|gone"], "registered by the first tick"
        added = {r.partitions_def_name: sorted(r.partition_keys) for r in result.dynamic_partitions_requests}
        assert added["dubs"] == ["de|alpha", "fr|alpha"], "the listed dubs, as on any instance"
        assert register_recorded_dubs(instance, dub_level_keys(build_assets(Settings()))) == 0, "once per instance"
