"""The project's partitions, defined here and nowhere else.

Both are dynamic, and their keys are added by the landing-zone sensor (or ``dubsync check``) when a
file first appears:

- ``titles``: one key per title (its slugged id, ``"film_a"``), for the title-level assets;
- ``dubs``: one key per delivered dub, ``"<language>|<title>"`` (``"fr|film_a"``), for every
  dub-level asset. Only delivered dubs have a key: no cross product of titles and languages (issue 24).

The ``dubs`` key is the string the earlier ``titles × languages`` multi-partition gave the same dub
(Dagster sorts the dimensions by name and joins them with ``|``), so materialisations recorded under
that partitioning, run tags and artifact paths (``<language>/<title>.npz``) carry over unchanged.
This module is the only place that knows the format: :func:`dub_partition_key` and
:func:`title_and_language`.
"""

from collections.abc import Iterable

from dagster import AssetKey, AssetsDefinition, DynamicPartitionsDefinition, PartitionsDefinition, SourceAsset

__all__ = [
    "titles_partitions",
    "dubs_partitions",
    "dub_partition_key",
    "title_and_language",
    "is_dub_level",
    "dub_level_keys",
]

titles_partitions = DynamicPartitionsDefinition(name="titles")
dubs_partitions = DynamicPartitionsDefinition(name="dubs")

_SEPARATOR = "|"
"""Between the language and the title of a dub's key; slugged title ids and language codes hold none."""


def dub_partition_key(title: str, language: str) -> str:
    """The ``dubs`` partition key of a dub: ``"fr|film_a"`` for title ``film_a`` in French."""
    return f"{language}{_SEPARATOR}{title}"


def title_and_language(partition: str) -> tuple[str, str | None]:
    """The title and language of a partition key of either partitioning: ``("film_a", "fr")`` for
    the dub ``"fr|film_a"``, ``("film_a", None)`` for the title partition ``"film_a"``."""
    if _SEPARATOR not in partition:
        return partition, None
    language, title = partition.split(_SEPARATOR, 1)
    return title, language


def is_dub_level(partitions_def: PartitionsDefinition | None) -> bool:
    """Whether an asset with ``partitions_def`` is partitioned by dub (not by title, or not at all)."""
    return isinstance(partitions_def, DynamicPartitionsDefinition) and partitions_def.name == dubs_partitions.name


def dub_level_keys(assets: Iterable[AssetsDefinition | SourceAsset]) -> tuple[AssetKey, ...]:
    """The keys of the dub-level assets among ``assets`` (the definitions' list), sorted: derived
    from their partitioning, so a new dub-level asset needs no list of its own anywhere."""
    keys = set()
    for asset in assets:
        if is_dub_level(asset.partitions_def):
            keys.update([asset.key] if isinstance(asset, SourceAsset) else asset.keys)
    return tuple(sorted(keys))
