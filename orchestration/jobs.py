"""Jobs the sensor and the command line launch: one per partitioning (inferred from the assets)."""

from dagster import AssetSelection, define_asset_job

from assets.audio_sync import (
    DUB_SIGNATURE,
    FRAME_MATCH_OFFSETS,
    REFERENCE_SIGNATURE,
    TITLE_VERDICTS,
)
from assets.picture import FACE_TRACKS, LIP_SYNC_OFFSETS, SHOT_BOUNDARIES

reference_job = define_asset_job(
    "reference_job",
    selection=AssetSelection.assets(REFERENCE_SIGNATURE, SHOT_BOUNDARIES, FACE_TRACKS, LIP_SYNC_OFFSETS),
    description="Title-level work on the original: its audio signature, shots, face tracks and lip-sync offset.",
)

dub_job = define_asset_job(
    "dub_job",
    selection=AssetSelection.assets(DUB_SIGNATURE, FRAME_MATCH_OFFSETS, TITLE_VERDICTS),
    description="Signature, frame matches and verdict of one dub (title × language).",
)
