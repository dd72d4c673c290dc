"""Picture-side assets: shot boundaries, face tracks and lip-sync offsets of each title's original.

Thin definitions: they read the title's original file through the media store, call ``ml`` and
return the value with the metadata a QC operator reads in the UI. A title whose original has no
video stream (an audio-only delivery) gets empty results that say so, so the audio path is never
blocked by a missing picture. All three run in the ``video`` concurrency pool (see ``deploy/dagster.yaml``),
which bounds how many decode heavy video at once.
"""



from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    Failure,
    MetadataValue,
    Output,
    asset,
)

from assets._common import (
    TRANSIENT_RETRY,
    checked_policy,
    failures,
    fetching,
    progress_logger,
)
from assets.media import ORIGINAL_MEDIA, SOURCE_VERSION
from ml.decoding.video import has_video, probe_video
from ml.picture.bad_input import lip_sync_blocked, title_picture_sync
from ml.picture.faces import FaceTracks, contact_sheet, faces_version, track_faces
from ml.picture.shots import Shots, shots_from_file, shots_version
from ml.picture.title_sync import PictureSync, picture_sync_version
from ml.policy import Policy
from ml.report import lip_sync_png, png_markdown
from orchestration.partitions import titles_partitions
from resources.lipsync_model import LipSyncModelResource
from resources.media_store import MediaStore
from resources.policy import PolicyResource

__all__ = ["SHOT_BOUNDARIES", "FACE_TRACKS", "LIP_SYNC_OFFSETS", "VIDEO_POOL", "build_picture_assets"]

SHOT_BOUNDARIES = AssetKey("shot_boundaries")
FACE_TRACKS = AssetKey("face_tracks")
LIP_SYNC_OFFSETS = AssetKey("lip_sync_offsets")
"""The title's original ↔ picture offset; the verdicts of its dubs read it."""
VIDEO_POOL = "video"
"""Concurrency pool of the assets that decode video (limit in ``deploy/dagster.yaml``)."""
GROUP = "picture"
_TABLE_ROWS = 40


def _markdown_table(rows: list[dict], limit: int = _TABLE_ROWS) -> str:
    if not rows:
        return "(none)"
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in rows[:limit]:
        lines.append("| " + " | ".join(f"{v:.2f}" if isinstance(v, float) else str(v) for v in row.values()) + " |")
    if len(rows) > limit:
        lines.append(f"\n… and {len(rows) - limit} more")
    return "\n".join(lines)


def _png(image) -> bytes:
    import cv2

    ok, data = cv2.imencode(".png", image[..., ::-1])
    return data.tobytes()


def build_picture_assets(policy: Policy, lip_sync_model: str) -> list:
    """The picture assets, versioned by the parameters of ``policy`` each one uses; the lip-sync
    offsets also by ``lip_sync_model`` (see :func:`resources.lipsync_model.lip_sync_identity`)."""

    @asset(
        key=SHOT_BOUNDARIES,
        partitions_def=titles_partitions,
        deps=[ORIGINAL_MEDIA],
        code_version=shots_version(policy.shots),
        group_name=GROUP,
        retry_policy=TRANSIENT_RETRY,
        pool=VIDEO_POOL,
        kinds={"python", "numpy"},
        description=(
            "Shots of the title's picture: hard cuts (colour histograms and luma inside letterbox and pillarbox bars), "
            "dissolves and fades through black."
        ),
    )
    def shot_boundaries(
        context: AssetExecutionContext, media_store: MediaStore, policy_resource: PolicyResource
    ) -> Output[Shots]:
        checked = checked_policy(policy_resource, policy)
        with failures(context):
            track = media_store.original(context.partition_key)
        location = media_store.describe(track)
        with failures(context), media_store.local_path(track, fetching(context, location)) as path:
            if not has_video(path):
                context.log.info(f"{location} has no video stream: no shots")
                return Output(
                    Shots.no_picture(checked.shots),
                    metadata={"file": location, SOURCE_VERSION: track.version, "picture": "none (audio only)", "shots": 0},
                )
            shots = shots_from_file(path, checked.shots, progress=progress_logger(context, f"shots of {location}"))
            scan = probe_video(path).scan
        rows = shots.table()
        return Output(
            shots,
            metadata={
                "file": location,
                SOURCE_VERSION: track.version,
                "picture": "yes",
                "frames": shots.n_frames,
                "shots": shots.n_shots,
                "hard_cuts": int(shots.boundaries("cut").size),
                "fades": int(shots.boundaries("fade").size),
                "dissolves": int(shots.boundaries("dissolve").size),
                "wipes": int(shots.boundaries("wipe").size),
                "frame_rate": str(shots.frame_rate),
                "scan": scan,
                "shot_table": MetadataValue.md(_markdown_table(rows)),
            },
        )

    @asset(
        key=FACE_TRACKS,
        partitions_def=titles_partitions,
        ins={"shots": AssetIn(SHOT_BOUNDARIES)},
        code_version=faces_version(policy.faces),
        group_name=GROUP,
        retry_policy=TRANSIENT_RETRY,
        pool=VIDEO_POOL,
        kinds={"python", "numpy"},
        description=(
            "Face tracks (RetinaFace, linked by IoU and identity within shots) of the title's picture, turned upright by its "
            "display matrix; a picture lip sync cannot read (black, still, no face, faces too small) says so."
        ),
    )
    def face_tracks(
        context: AssetExecutionContext, shots: Shots, media_store: MediaStore, policy_resource: PolicyResource
    ) -> Output[FaceTracks]:
        checked = checked_policy(policy_resource, policy)
        with failures(context):
            track = media_store.original(context.partition_key)
        location = media_store.describe(track)
        if shots.n_frames == 0:
            return Output(
                FaceTracks.no_picture(checked.faces),
                metadata={"file": location, SOURCE_VERSION: track.version, "picture": "none (audio only)", "tracks": 0},
            )
        with failures(context), media_store.local_path(track, fetching(context, location)) as path:
            tracks = track_faces(path, shots, checked.faces, progress=progress_logger(context, f"face tracks of {location}"))
            sheet = contact_sheet(path, tracks) if tracks.n_tracks else None
        metadata = {
            "file": location,
            SOURCE_VERSION: track.version,
            "picture": "yes",
            "tracks": tracks.n_tracks,
            "face_on_screen_share": round(tracks.face_on_screen_fraction, 4),
            "shots_with_faces": int(len(set(tracks.track_shot.tolist()))),
            "picture_problem": tracks.problem or "none",
            "picture_reason": tracks.problem_reason,
            "rotation": tracks.rotation,
            "faces_found": int(tracks.picture_stats.get("faces_found", 0)),
            "track_table": MetadataValue.md(_markdown_table(tracks.table())),
        }
        if sheet is not None:
            metadata["contact_sheet"] = MetadataValue.md(png_markdown(_png(sheet), f"faces of {context.partition_key}"))
        return Output(tracks, metadata=metadata)

    @asset(
        key=LIP_SYNC_OFFSETS,
        partitions_def=titles_partitions,
        ins={"tracks": AssetIn(FACE_TRACKS)},
        code_version=f"{lip_sync_model}|{picture_sync_version(policy.lipsync)}",
        group_name=GROUP,
        retry_policy=TRANSIENT_RETRY,
        pool=VIDEO_POOL,
        kinds={"python", "pytorch"},
        description="The original audio ↔ picture offset: lip sync of each face track, speaking tracks combined.",
    )
    def lip_sync_offsets(
        context: AssetExecutionContext,
        tracks: FaceTracks,
        media_store: MediaStore,
        policy_resource: PolicyResource,
        lip_sync: LipSyncModelResource,
    ) -> Output[PictureSync]:
        checked = checked_policy(policy_resource, policy)
        identity = lip_sync.identity(checked.lipsync)
        if identity != lip_sync_model:
            raise Failure(
                description=(
                    f"the lip-sync model changed since the code location was loaded ({lip_sync_model} → "
                    f"{identity}): reload the code location so that the offsets it made are marked stale"
                )
            )
        with failures(context):
            track = media_store.original(context.partition_key)
        location = media_store.describe(track)
        estimates = []
        if tracks.n_frames and lip_sync_blocked(tracks) is None:
            with failures(context), media_store.local_path(track, fetching(context, location)) as path:
                estimates = lip_sync.track_offsets(
                    path, tracks, checked.lipsync,
                    progress=lambda done, total: context.log.info(f"lip sync: {done} of {total} face tracks"),
                )
        picture = title_picture_sync(estimates, tracks, checked.lipsync, estimator=identity)
        context.log.info(f"{context.partition_key}: {picture.reason}")
        metadata = {
            "file": location,
            SOURCE_VERSION: track.version,
            "status": picture.status,
            "offset_ms": picture.offset_ms,
            "estimate_ms": None if picture.estimate_s is None else round(picture.estimate_s * 1000.0, 1),
            "reason": picture.reason,
            "speaking_tracks": picture.n_used,
            "tracks": len(picture.tracks),
            "model": identity,
            "track_table": MetadataValue.md(_markdown_table(picture.tracks)),
        }
        if picture.tracks:
            plot = lip_sync_png(picture, title=f"{context.partition_key}: lip sync per face track")
            metadata["lip_sync_curves"] = MetadataValue.md(png_markdown(plot, "lip-sync offset per track over time, and score per shift"))
        return Output(picture, metadata=metadata)

    return [shot_boundaries, face_tracks, lip_sync_offsets]

