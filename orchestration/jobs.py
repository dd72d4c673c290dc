"""Jobs the sensor and the command line launch: one per partitioning (inferred from the assets)."""

from dagster import AssetSelection, define_asset_job

from assets.audio_sync import DUB_SIGNATURE, FRAME_MATCH_OFFSETS, REFERENCE_SIGNATURE, TITLE_VERDICTS
from assets.conform import CONFORMED_DUBS
from assets.picture import FACE_TRACKS, LIP_SYNC_OFFSETS, SHOT_BOUNDARIES
from assets.report import CATALOGUE_REPORT

reference_job = define_asset_job(
    "reference_job",
    selection=AssetSelection.assets(REFERENCE_SIGNATURE, SHOT_BOUNDARIES, FACE_TRACKS, LIP_SYNC_OFFSETS),
    description="Title-level work on the original: its audio signature, shots, face tracks and lip-sync offset.",
)

dub_job = define_asset_job(
    "dub_job",
    selection=AssetSelection.assets(DUB_SIGNATURE, FRAME_MATCH_OFFSETS, TITLE_VERDICTS),
    description="Signature, frame matches and verdict of one dub (its ``dubs`` partition).",
)

conform_job = define_asset_job(
    "conform_job",
    selection=AssetSelection.assets(CONFORMED_DUBS),
    description="The conformed dub of one dub, from its verdict (re-checked).",
)

report_job = define_asset_job(
    "report_job",
    selection=AssetSelection.assets(CATALOGUE_REPORT),
    description="The catalogue QC report: one row per delivered dub.",
)
