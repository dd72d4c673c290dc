"""Face-crop copies (ml.testmedia.face_crop): the lip-reading corpora's pictures made from a shared
talking head, as in sync as their source (every frame at its own time, the sound where it was)."""

import numpy as np
import pytest

from ml.decoding.audio import load_audio
from ml.decoding.video import iter_frames, probe_video
from ml.errors import ParameterError
from ml.picture.faces import track_faces
from ml.picture.shots import shots_from_file
from ml.testmedia.face_crop import face_crop_copy


def _face_box(path):
    tracks = track_faces(path, shots_from_file(path))
    return np.median(tracks.box[tracks.rows(tracks.longest())], axis=0)


def test_a_face_crop_keeps_every_frame_time_and_the_sound(real_media, tmp_path):
    # face_1 has a variable frame rate (a frame in four missing on a 30-fps clock)
    src = real_media / "talking_heads/retalking/face_1.mp4"
    box = _face_box(src)
    out = face_crop_copy(src, tmp_path / "crop.mkv", box, side=160, crf=30)
    info = probe_video(out)
    assert (info.codec, info.width, info.height) == ("h264", 160, 160)
    before, after = [f.time_s for f in iter_frames(src)], [f.time_s for f in iter_frames(out)]
    assert len(after) == len(before)
    intervals = np.diff(before)
    assert intervals.max() > 1.5 * intervals.min()  # the source's rate does vary ...
    assert np.abs((np.array(after) - after[0]) - (np.array(before) - before[0])).max() < 0.001  # ... and the copy keeps it
    rate = 16000
    sound, start = load_audio(src, sample_rate=rate)
    copied, copied_start = load_audio(out, sample_rate=rate)
    # the sound keeps its time relative to the first frame (what comes before the first frame, here
    # face_1's first 33 ms, is dropped, as the copy starts with the picture), and is the same sound
    lead = before[0] - start
    assert lead > 0.03
    assert abs((copied_start - after[0]) - max(0.0, -lead)) < 1.0 / rate + 1e-6
    sound = sound[int(round(max(0.0, lead) * rate)) :]
    n = min(sound.size, copied.size)
    assert abs(sound.size - copied.size) <= rate // 100
    assert np.corrcoef(sound[:n], copied[:n])[0, 1] > 0.99


def test_the_face_fills_about_half_the_crop(real_media, tmp_path):
    src = real_media / "talking_heads/grid/lbax4n.mpg"
    box = _face_box(src)
    out = face_crop_copy(src, tmp_path / "crop.mkv", box, side=160, crf=18, zoom=2.0)
    x0, y0, x1, y1 = _face_box(out)
    assert 0.35 * 160 < max(x1 - x0, y1 - y0) < 0.65 * 160
    assert abs((x0 + x1) / 2 - 80) < 16 and abs((y0 + y1) / 2 - 80) < 16


@pytest.mark.parametrize(
    "kwargs", [{"box": (10, 10, 10, 40)}, {"side": 15}, {"side": 161}, {"crf": 52}, {"zoom": 0.0}]
)
def test_face_crop_parameters_are_checked(real_media, tmp_path, kwargs):
    args = {"box": (100, 50, 200, 170), **kwargs}
    with pytest.raises(ParameterError):
        face_crop_copy(real_media / "talking_heads/grid/lbax4n.mpg", tmp_path / "crop.mkv", **args)
