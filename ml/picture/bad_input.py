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

from ml.picture.faces import FaceTracks
from ml.picture.title_sync import PictureSync

__all__ = ["lip_sync_blocked", "with_picture_problem"]


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
