"""A picture lip sync cannot read, said as the title's picture status: nothing is guessed from it.

:func:`ml.picture.faces.track_faces` records why a picture cannot be read (``FaceTracks.problem``:
black, a still image, no face, faces too small) and whether it was turned by its display matrix.
This module carries that into the title's :class:`ml.picture.title_sync.PictureSync`, whose reason
the dubs' verdicts quote when they are judged against the original audio instead of the picture:

- no face track (a black picture, no face, faces too small): ``no_faces``, the reason saying which;
- face tracks on a still image: ``no_speaker`` without running lip sync (lips that do not move carry
  no timing, and a reading of them would be a guess);
- a picture turned by its display matrix is read upright, and the reason says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ml.picture.faces import FaceTracks
from ml.picture.title_sync import PictureSync, picture_sync
from ml.policy import LipSyncParams

if TYPE_CHECKING:
    from ml.picture.lipsync import TrackSync

__all__ = ["lip_sync_blocked", "title_picture_sync", "with_picture_problem"]


def lip_sync_blocked(tracks: FaceTracks) -> str | None:
    """Why lip sync must not run on ``tracks``' picture even though it has face tracks (a still
    image), else ``None``."""
    if tracks.n_tracks and tracks.problem == "still":
        return tracks.problem_reason
    return None


def with_picture_problem(picture: PictureSync, tracks: FaceTracks) -> PictureSync:
    """``picture`` (from :func:`ml.picture.title_sync.picture_sync` on the estimates of ``tracks``)
    with what the face tracker saw of a bad picture.

    A title without face tracks keeps ``no_faces``, its reason naming the problem; one whose lip
    sync was not run (:func:`lip_sync_blocked`) is ``no_speaker`` with that reason; a turned picture
    says it was read turned. Statuses of readable pictures are unchanged.
    """
    if picture.status == "no_picture":
        return picture
    blocked = lip_sync_blocked(tracks)
    if blocked is not None:
        picture = dataclasses.replace(
            picture, status="no_speaker", offset_s=None, estimate_s=None,
            reason=f"no face track can show a speaker ({tracks.n_tracks} tracks): {blocked}",
        )  # fmt: skip
    elif picture.status == "no_faces" and tracks.problem_reason:
        picture = dataclasses.replace(picture, reason=f"{picture.reason}: {tracks.problem_reason}")
    if tracks.rotation:
        picture = dataclasses.replace(
            picture, reason=f"{picture.reason} (the picture is turned {tracks.rotation}° by its display matrix; read upright)"
        )
    return picture


def title_picture_sync(estimates: Sequence[TrackSync], tracks: FaceTracks, params: LipSyncParams, *, estimator: str) -> PictureSync:
    """The title's picture sync as the ``lip_sync_offsets`` asset reads it: the policy's consensus
    over the tracks' estimates (:func:`ml.picture.title_sync.picture_sync` with ``params``' confidence
    and agreement rules), then what the face tracker saw of a bad picture (:func:`with_picture_problem`).
    One function, so that a benchmark reads a title exactly as the asset does."""
    picture = picture_sync(
        list(estimates), min_confidence=params.min_confidence, estimator=estimator,
        has_picture=tracks.n_frames > 0, agreement_s=params.agreement_s,
        min_agreeing_tracks=params.min_agreeing_tracks, min_agreeing_share=params.min_agreeing_share,
        max_shift_frames=params.max_shift_frames,
    )  # fmt: skip
    return with_picture_problem(picture, tracks)
