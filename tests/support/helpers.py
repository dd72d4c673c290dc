"""Helpers the tests share (plain functions and constants; fixtures stay in ``tests/conftest.py``)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "DUB_CHAIN_NAMES",
    "SHORT_S",
    "TITLE_CHAIN_NAMES",
    "add_partitions",
    "copy_landing_zone",
    "replace_file",
    "title_chain",
]

TITLE_CHAIN_NAMES = ("reference_signature", "shot_boundaries", "face_tracks", "lip_sync_offsets")
"""A title's own assets: the verdicts of its dubs need all of them (the lip-sync offset too)."""
DUB_CHAIN_NAMES = ("dub_signature", "frame_match_offsets", "title_verdicts")
SHORT_S = 30.0
"""Duration of the generated titles the Dagster tests use (long enough for evidence, quick)."""


def title_chain():
    """The asset keys of :data:`TITLE_CHAIN_NAMES`."""
    from dagster import AssetKey

    return [AssetKey(name) for name in TITLE_CHAIN_NAMES]


def copy_landing_zone(source: Path, target: Path) -> Path:
    """A copy of a (session-wide) landing zone that a test may change."""
    shutil.copytree(source, target)
    return target


def add_partitions(instance, titles: Iterable[str], languages: Iterable[str]) -> None:
    """Register titles and their dubs in ``languages`` (every title delivered in each) as dynamic
    partitions of ``instance``."""
    from orchestration.partitions import dub_partition_key

    titles, languages = list(titles), list(languages)
    instance.add_dynamic_partitions("titles", titles)
    instance.add_dynamic_partitions("dubs", [dub_partition_key(t, lang) for t in titles for lang in languages])


def replace_file(path: Path, data: bytes | None = None) -> None:
    """Replace a landing-zone file as a re-delivery does: new content (by default the old one with a
    byte appended) and a modification time 5 s ahead, so a scan sees it changed and settled."""
    path.write_bytes(data if data is not None else path.read_bytes() + b"\0")
    later = time.time() + 5
    os.utime(path, (later, later))
