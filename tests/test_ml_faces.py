from fractions import Fraction

import numpy as np
import pytest

from ml.errors import MediaError, ParameterError
from ml.picture.faces import faces_version, mouth_crops, track_faces, track_frames
from ml.picture.shots import shots_from_file
from ml.policy import FaceParams

GRID = ["bbaf2n.mpg", "lrwp9a.mpg", "swiz3n.mpg"]
RETALKING = ["face_1.mp4", "face_4.mp4"]


@pytest.fixture(scope="module")
def heads(real_media):
    return real_media / "talking_heads"


@pytest.mark.parametrize("clip", [f"grid/{c}" for c in GRID] + [f"retalking/{c}" for c in RETALKING])
def test_every_speaker_is_one_track_per_shot(heads, clip):
    path = heads / clip
    shots = shots_from_file(path)
    tracks = track_faces(path, shots)
    assert shots.n_shots == 1
    assert tracks.n_tracks == 1
    rows = tracks.rows(0)
    # the track spans the shot, frame by frame, with detections every k-th frame and the rest interpolated
    assert tracks.frame[rows[0]] <= 5 and tracks.frame[rows[-1]] >= shots.n_frames - 2
    assert np.array_equal(np.diff(tracks.frame[rows]), np.ones(len(rows) - 1))
    assert 0.15 < tracks.detected[rows].mean() <= 0.5
    assert tracks.face_on_screen_fraction > 0.9
    # mouth corners sit in the lower half of the box, eyes in the upper half
    box, pts = tracks.box[rows], tracks.landmarks[rows]
    centre_y = (box[:, 1] + box[:, 3]) / 2
    assert np.all(pts[:, 3:, 1] > centre_y[:, None]) and np.all(pts[:, :2, 1] < centre_y[:, None])


def test_tracks_are_split_at_shot_boundaries(heads, tmp_path):
    # two talking heads cut together: one track per shot, none across the cut
    from ml.testmedia.video import concatenate_clips

    joined = concatenate_clips([heads / "grid" / GRID[0], heads / "grid" / GRID[1]], tmp_path / "two.mp4")
    shots = shots_from_file(joined)
    tracks = track_faces(joined, shots)
    assert shots.n_shots == 2 and abs(int(shots.start_frame[1]) - 75) <= 1
    assert tracks.n_tracks == 2
    assert tracks.track_shot.tolist() == [0, 1]

    # each track's frames are decoded from its own time span, and are the frames of a full decode
    from ml.decoding.video import iter_frames

    full = {frame.index: frame for frame in iter_frames(joined)}
    for track in (0, 1):
        got = list(track_frames(joined, tracks, track))
        assert [row for row, _ in got] == tracks.rows(track).tolist()
        for row, frame in got:
            reference = full[int(tracks.frame[row])]
            assert frame.time_s == reference.time_s == tracks.time_s[row]
            assert np.array_equal(frame.image, reference.image)


@pytest.mark.parametrize("order", ["tff", "bff"])
def test_an_interlaced_frame_gives_a_crop_per_field_in_the_order_shown(heads, tmp_path, order):
    # a GRID clip stored as interlaced frames (H.264 coding fields, top or bottom field first) whose
    # bottom field is darkened to 40 %: read field by field, each frame gives two crops, the field
    # shown first at the frame's time and the other 20 ms later, each of that field's lines only
    import cv2

    from ml.decoding.video import iter_frames, probe_video
    from ml.testmedia.bad_picture import write_with_sound

    src = heads / "grid" / GRID[1]
    originals = [frame.image for frame in iter_frames(src)]
    images = [image.copy() for image in originals]
    for image in images:
        image[1::2] = (image[1::2] * 0.4).astype(np.uint8)
    h, w = images[0].shape[:2]
    path = write_with_sound(
        tmp_path / f"{order}.mkv", src, images, range(len(images)), Fraction(1, 25), next(iter(iter_frames(src))).time_s, (w, h),
        rate=Fraction(25), options={"preset": "ultrafast", "crf": "18", "x264-params": f"interlaced=1:{order}=1"},
    )  # fmt: skip
    info = probe_video(path)
    assert info.field_order == order and next(iter_frames(path)).interlaced
    assert info.scan == f"interlaced, {'top' if order == 'tff' else 'bottom'} field first" and probe_video(src).scan == "progressive"
    tracks = track_faces(path, shots_from_file(path))
    assert tracks.n_tracks == 1
    rows = tracks.rows(0)
    woven = list(mouth_crops(path, tracks, 0, size=96))
    crops = list(mouth_crops(path, tracks, 0, size=96, fields=True))
    assert len(woven) == len(rows) and len(crops) == 2 * len(rows)
    assert [c[0] for c in crops[::2]] == [c[0] for c in crops[1::2]] == [c[0] for c in woven]
    assert np.allclose([c[1] for c in crops[::2]], [c[1] for c in woven])
    assert np.allclose([b[1] - a[1] for a, b in zip(crops[::2], crops[1::2])], 0.02)
    bright, dark = (crops[::2], crops[1::2]) if order == "tff" else (crops[1::2], crops[::2])
    assert np.mean([c[2].mean() for c in dark]) < 0.5 * np.mean([c[2].mean() for c in bright])
    # the top field's crop is the picture's crop, placed as the frame's lines are (grey levels, as
    # the lip-sync features read it: 1.5-1.7 off, the chroma the two fields share aside; woven, 42)
    for (index, _, crop), r in list(zip(bright, rows))[::15]:
        x0, x1 = tracks.box[r, 0], tracks.box[r, 2]
        mouth = tracks.landmarks[r, 3:].mean(axis=0)
        side = float(x1 - x0)
        m = np.array([[96 / side, 0, -(mouth[0] - side / 2) * 96 / side], [0, 96 / side, -(mouth[1] - side / 2) * 96 / side]], np.float32)
        expected = cv2.warpAffine(originals[index], m, (96, 96), flags=cv2.INTER_AREA)
        grey = [cv2.cvtColor(c, cv2.COLOR_RGB2GRAY).astype(float) for c in (crop, expected, woven[index][2])]
        assert np.abs(grey[0] - grey[1]).mean() < 4 < 20 < np.abs(grey[2] - grey[1]).mean(), index
    # a progressive picture gives one crop per frame, fields or not
    plain = shots_from_file(src)
    src_tracks = track_faces(src, plain)
    progressive = list(mouth_crops(src, src_tracks, 0, size=96, fields=True))
    assert len(progressive) == len(src_tracks.rows(0))
    assert all(np.array_equal(a[2], b[2]) and a[:2] == b[:2] for a, b in zip(progressive, mouth_crops(src, src_tracks, 0, size=96)))


def test_short_tracks_are_dropped(heads):
    path = heads / "grid" / GRID[0]
    shots = shots_from_file(path)
    assert track_faces(path, shots, FaceParams(min_track_s=10.0)).n_tracks == 0


def test_mouth_crops_are_centred_on_the_mouth(heads):
    path = heads / "retalking" / RETALKING[0]
    shots = shots_from_file(path)
    tracks = track_faces(path, shots)
    crops = list(mouth_crops(path, tracks, 0, size=96))
    assert len(crops) == len(tracks.rows(0))
    index, time_s, crop = crops[10]
    assert crop.shape == (96, 96, 3) and crop.dtype == np.uint8
    assert index == tracks.frame[tracks.rows(0)[10]] and time_s == pytest.approx(tracks.time_s[tracks.rows(0)[10]])
    assert crop.std() > 10  # a face, not a black border
    with pytest.raises(ParameterError, match="track=5"):
        next(mouth_crops(path, tracks, 5))


def test_errors_and_versions(real_media):
    shots = shots_from_file(real_media / "shots" / "fades.mp4")
    with pytest.raises(MediaError, match="en.wav: has no video stream"):
        track_faces(real_media / "speech" / "en.wav", shots)
    assert track_faces(real_media / "shots" / "fades.mp4", shots).n_tracks == 0
    assert faces_version(FaceParams()) != faces_version(FaceParams(detect_every=3))
    with pytest.raises(ParameterError, match="link_iou"):
        FaceParams(link_iou=1.5)


def test_generated_title_cuts_fades_and_tracks(heads, tmp_path):
    from ml.testmedia.video import synthetic_title_video

    path = tmp_path / "title.mp4"
    truth = synthetic_title_video(
        path, duration_s=40.0, talking_heads=[heads / "retalking" / "face_2.mp4", heads / "grid" / GRID[1]],
        width=480, height=272, fade_every=3, seed=7,
    )  # fmt: skip
    shots = shots_from_file(path)
    cuts = shots.boundaries("cut").tolist()
    fades = shots.boundaries("fade").tolist()
    assert len(cuts) == len(truth.cuts) and all(abs(a - b) <= 1 for a, b in zip(cuts, truth.cuts)), (cuts, truth.cuts)
    assert len(fades) == len(truth.fades) >= 1 and all(abs(a - b) <= 3 for a, b in zip(fades, truth.fades)), (fades, truth.fades)
    tracks = track_faces(path, shots)
    assert sorted(tracks.track_shot.tolist()) == truth.face_shots


def test_face_tracking_reports_progress(heads):
    path = heads / "retalking" / "face_4.mp4"
    shots = shots_from_file(path)
    heard = []
    track_faces(path, shots, FaceParams(batch_size=4), progress=lambda done, total: heard.append((done, total)))
    done = [d for d, _ in heard]
    assert len(heard) >= 3 and done == sorted(done)
    assert all(total == shots.frame_times_s[-1] for _, total in heard)
    assert done[-1] >= shots.frame_times_s[-1] - FaceParams().detect_every * 0.05


def test_a_track_is_split_at_a_missed_cut(heads, tmp_path):
    # two GRID speakers, one framing, one set, pillarboxed: with the cut rules switched off (the
    # histogram's, the similar-shot and, since hsv-luma-shots/18, the structure rule) the shot
    # detector misses the cut, and the face in the same place must still not become one track
    from ml.policy import ShotParams
    from ml.testmedia.video import EditSegment, edit_video

    path = tmp_path / "missed.mp4"
    segments = [EditSegment(heads / "grid" / "bbaf2n.mpg", duration_s=2.4), EditSegment(heads / "grid" / "lbax4n.mpg", duration_s=2.4)]
    truth = edit_video(segments, path, width=640, height=360)
    (cut,) = truth.cuts
    shots = shots_from_file(path, ShotParams(cut_threshold=1.0, similar_min_luma=1.0, structure_min=1e9))
    assert shots.n_shots == 1  # the cut is missed
    tracks = track_faces(path, shots)
    spans = [(int(tracks.frame[tracks.rows(t)[0]]), int(tracks.frame[tracks.rows(t)[-1]])) for t in range(tracks.n_tracks)]
    assert not any(first < cut <= last for first, last in spans), spans
    assert tracks.n_tracks == 2, spans
    # each speaker's track ends or begins within a detector step of the cut
    step = FaceParams().detect_every
    assert cut - step <= spans[0][1] < cut <= spans[1][0] <= cut + step


def test_a_face_that_jumps_or_changes_is_not_continued():
    from ml.picture.faces import _Look, _same_face, _Track

    look = _Look(np.full(128, 1 / 128, np.float32), np.full(1024, 1 / 32, np.float32))
    track = _Track(0, [0], [np.array([100, 100, 200, 200], np.float32)], [None], [0.99], [look])
    params = FaceParams()
    assert _same_face(track, np.array([110, 105, 212, 207], np.float32), look, params)
    assert not _same_face(track, np.array([170, 100, 270, 200], np.float32), look, params)  # moved 0.7 of its width
    assert not _same_face(track, np.array([80, 80, 240, 240], np.float32), look, params)  # 1.6 × wider
    other_colours = np.zeros(128, np.float32)
    other_colours[0] = 1
    assert not _same_face(track, np.array([100, 100, 200, 200], np.float32), _Look(other_colours, look.face), params)
    assert not _same_face(track, np.array([100, 100, 200, 200], np.float32), _Look(look.colours, -look.face), params)


def test_the_longest_track_is_the_one_with_most_frames():
    from ml.picture.faces import FaceTracks

    tracks = FaceTracks.no_picture(FaceParams())
    with pytest.raises(ParameterError):
        tracks.longest()
    ids = np.array([0, 0, 1, 1, 1, 2, 2, 2])  # tracks 1 and 2 equally long: the first of them
    n = len(ids)
    tracks = FaceTracks(ids, np.arange(n), np.arange(n) * 0.04, np.zeros((n, 4), np.float32), np.zeros((n, 5, 2), np.float32),
                        np.ones(n, np.float32), np.ones(n, bool), np.zeros(3, np.int64), 64, 64, n, "test")  # fmt: skip
    assert tracks.longest() == 1
