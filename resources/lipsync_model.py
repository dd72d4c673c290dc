"""The lip-sync model as a Dagster resource: a SyncNet v2 checkpoint when one is configured, else
the weight-free estimator of ``ml.picture.lipsync`` (nothing here downloads weights)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dagster import ConfigurableResource

from ml.picture.faces import FaceTracks
from ml.policy import LipSyncParams

__all__ = ["LipSyncModelResource", "lip_sync_identity"]


def lip_sync_identity(checkpoint: str, params: LipSyncParams) -> str:
    """What the lip-sync offsets depend on besides their inputs: the checkpoint's SHA-256 (with the
    search parameters), or the weight-free estimator and its parameters. Part of the
    ``lip_sync_offsets`` code_version, so a new model makes the offsets and the verdicts stale."""
    from ml.picture.lipsync import estimator_identity

    if checkpoint:
        from ml.picture.syncnet import READING, checkpoint_identity

        return f"syncnet-v2:{checkpoint_identity(checkpoint)[:16]}:shift{params.max_shift_frames}:{READING}"
    return estimator_identity(params)


class LipSyncModelResource(ConfigurableResource):
    """The model that estimates each face track's original audio ↔ picture offset.

    Attributes
    ----------
    checkpoint : str
        Path of a SyncNet v2 state dict (``syncnet_v2.model`` or one written by ``dubsync
        train-lipsync``); empty for the weight-free estimator. ``DUBSYNC_LIPSYNC_CHECKPOINT``.
    """

    checkpoint: str = ""

    def identity(self, params: LipSyncParams) -> str:
        """See :func:`lip_sync_identity`."""
        return lip_sync_identity(self.checkpoint, params)

    def track_offsets(
        self,
        path: str | Path,
        tracks: FaceTracks,
        params: LipSyncParams,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> list:
        """One ``ml.picture.lipsync.TrackSync`` per face track of the title file at ``path``; ``progress``
        is called with (tracks done, tracks)."""
        if self.checkpoint:
            from ml.picture.syncnet import load_syncnet, syncnet_track_offsets

            model = load_syncnet(self.checkpoint)
            return syncnet_track_offsets(model, path, tracks, params, progress=progress)
        from ml.picture.lipsync import track_offsets

        return track_offsets(path, tracks, params, progress=progress)
