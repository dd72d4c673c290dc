"""The project's partitions, defined here and nowhere else.

``titles`` and ``languages`` are dynamic: the landing-zone sensor (or ``dubsync check``) adds a key
when a title or a dubbed language first appears. Dub-level assets use their product; its keys sort
the dimensions by name, so the key of title ``film_a`` in French is ``"fr|film_a"``.
"""

from dagster import (
    DynamicPartitionsDefinition,
    MultiPartitionKey,
    MultiPartitionsDefinition,
)

titles_partitions = DynamicPartitionsDefinition(name="titles")
languages_partitions = DynamicPartitionsDefinition(name="languages")
title_language_partitions = MultiPartitionsDefinition(
    {"title": titles_partitions, "language": languages_partitions}
)

TITLE_DIMENSION = "title"
LANGUAGE_DIMENSION = "language"
MULTI_SEPARATOR = "|"
"""Dagster's separator of the dimensions in a multi-partition key (``"fr|film_a"``)."""


def dub_partition_key(title: str, language: str) -> MultiPartitionKey:
    """The title × language partition key of a dub (``"fr|film_a"``)."""
    return MultiPartitionKey({TITLE_DIMENSION: title, LANGUAGE_DIMENSION: language})


def title_and_language(partition: str) -> tuple[str, str | None]:
    """The title and language of a partition key of either partitioning: ``("film_a", "fr")`` for
    ``"fr|film_a"``, ``("film_a", None)`` for the title partition ``"film_a"`` (slugged title ids
    hold no ``|``)."""
    if MULTI_SEPARATOR not in partition:
        return partition, None
    keys = title_language_partitions.get_partition_key_from_str(partition).keys_by_dimension
    return keys[TITLE_DIMENSION], keys[LANGUAGE_DIMENSION]
