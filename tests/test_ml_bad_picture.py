"""A picture lip sync cannot read gets its status and reason, and nothing is read from it: no face,
all black, a still image, faces too small; a picture turned by its display matrix is read upright.
Each case is a copy of a shared talking head with its own sound (ml.testmedia.bad_picture)."""

import numpy as np
import pytest

from ml.decoding.video import iter_frames
from ml.picture.bad_input import lip_sync_blocked, title_picture_sync
from ml.picture.faces import mouth_crops, track_faces
from ml.picture.shots import shots_from_file
from ml.policy import FaceParams, LipSyncParams
from ml.testmedia.bad_picture import bad_picture_copy

SPEAKER = "talking_heads/grid/lbax4n.mpg"


@pytest.fixture(scope="module")
def speaker(real_media):
    return real_media / SPEAKER


def _title(path, tracks, estimates=()):
    """The title's picture status as the lip_sync_offsets asset makes it."""
    return title_picture_sync(list(estimates), tracks, LipSyncParams(), estimator="test")


def _tracks(path, params=None):
    return track_faces(path, shots_from_file(path), params)


def test_a_picture_without_a_face_is_no_faces_and_says_so(speaker, tmp_path):
    path = bad_picture_copy(speaker, tmp_path / "faceless.mkv", "faceless")
    tracks = _tracks(path)
    assert tracks.n_tracks == 0 and tracks.problem == "no_face"
    assert tracks.picture_stats["faces_found"] == 0 and tracks.picture_stats["frames_searched"] >= 15
    picture = _title(path, tracks)
    assert picture.status == "no_faces" and picture.offset_s is None
    assert picture.reason.startswith("no face track in the picture: no face in the picture: none found on the")


def test_an_all_black_picture_is_no_faces_because_black(speaker, tmp_path):
    path = bad_picture_copy(speaker, tmp_path / "black.mkv", "black")
    tracks = _tracks(path)
    assert tracks.n_tracks == 0 and tracks.problem == "black"
    assert tracks.picture_stats["brightest"] <= FaceParams().black_level
    picture = _title(path, tracks)
    assert picture.status == "no_faces" and picture.offset_s is None and "the picture is black" in picture.reason


def test_a_still_image_has_a_face_but_no_speaker_and_is_not_read(speaker, tmp_path):
    path = bad_picture_copy(speaker, tmp_path / "still.mkv", "still")
    tracks = _tracks(path)
    assert tracks.n_tracks == 1 and tracks.problem == "still"  # the face is there; its lips never move
    assert tracks.picture_stats["largest_change"] < FaceParams().still_change
    assert "still image" in lip_sync_blocked(tracks)
    picture = _title(path, tracks)  # the asset does not estimate: no estimates
    assert picture.status == "no_speaker" and picture.offset_s is None and picture.estimate_s is None
    assert "the picture is a still image" in picture.reason
    # the same speaker moving is not blocked
    moving = _tracks(speaker)
    assert moving.problem == "" and lip_sync_blocked(moving) is None
    assert moving.picture_stats["largest_change"] >= FaceParams().still_change


def test_faces_narrower_than_the_minimum_are_not_tracked_and_said_too_small(speaker, tmp_path):
    path = bad_picture_copy(speaker, tmp_path / "tiny.mkv", "tiny", scale=0.2)  # the face ~25 px wide
    found = _tracks(path, FaceParams(min_face_px=0))
    assert found.n_tracks == 1
    width = float(np.median(found.box[:, 2] - found.box[:, 0]))
    tracks = _tracks(path, FaceParams(min_face_px=width + 5))
    assert tracks.n_tracks == 0 and tracks.problem == "small_faces"
    assert tracks.picture_stats["small_faces"] >= 10
    picture = _title(path, tracks)
    assert picture.status == "no_faces" and "faces too small to read" in picture.reason


def test_faces_found_only_at_full_size_are_said_too_small_to_find(real_media, tmp_path):
    # a 1024-line talking head shrunk to a fifth: at the detector's 288 lines the face is a few pixels
    path = bad_picture_copy(real_media / "talking_heads/retalking/face_2.mp4", tmp_path / "tiny.mkv", "tiny", scale=0.12)
    tracks = _tracks(path)
    assert tracks.n_tracks == 0 and tracks.problem == "small_faces", tracks.picture_stats
    assert tracks.picture_stats["full_size_faces"] >= 1
    assert "faces too small to find" in _title(path, tracks).reason


def test_a_picture_turned_by_its_display_matrix_is_read_upright(speaker, tmp_path):
    path = bad_picture_copy(speaker, tmp_path / "rotated.mkv", "rotated", degrees=90)
    first = next(iter_frames(path))
    upright = next(iter_frames(speaker))
    assert first.rotation == 90 and first.image.shape == upright.image.shape
    assert next(iter_frames(path, rotate=False)).image.shape == (360, 288, 3)  # as stored: on its side
    tracks, reference = _tracks(path), _tracks(speaker)
    assert tracks.n_tracks == reference.n_tracks == 1 and tracks.problem == ""
    assert (tracks.frame_width, tracks.frame_height, tracks.rotation) == (360, 288, 90)
    # the same face in the same place as in the upright source, within a few pixels
    assert np.abs(np.median(tracks.box, axis=0) - np.median(reference.box, axis=0)).max() < 6
    # the mouth crops lip sync reads are upright too: as the source's
    crop = next(mouth_crops(path, tracks, 0, size=48))[2].astype(np.float32)
    source = next(mouth_crops(speaker, reference, 0, size=48))[2].astype(np.float32)
    assert np.abs(crop - source).mean() < 20
    picture = _title(path, tracks)
    assert "turned 90° by its display matrix" in picture.reason


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_every_quarter_turn_of_the_display_matrix_is_undone(speaker, tmp_path, degrees):
    path = bad_picture_copy(speaker, tmp_path / f"rotated_{degrees}.mkv", "rotated", degrees=degrees)
    shown, upright = next(iter_frames(path)), next(iter_frames(speaker))
    assert shown.rotation == degrees and shown.image.shape == upright.image.shape
    assert np.abs(shown.image.astype(np.float32) - upright.image).mean() < 5  # coding noise only
