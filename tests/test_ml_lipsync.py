"""The weight-free lip-sync estimator on the shared talking heads (real decoding, real clips).

Floors are what the estimator measured on these clips (benchmarks/lipsync.py has the full grid of
shifts); the clips' own audio is taken as in sync.
"""

import numpy as np
import pytest

from ml.errors import MediaError, ParameterError
from ml.picture.faces import FaceTracks
from ml.picture.lipsync import GAP_FRAMES, HOP_S, TrackSync, _peak, clip_offset, estimator_identity, speech_features, track_offsets
from ml.policy import FaceParams, LipSyncParams
from ml.testmedia.shift import shifted_copy

GRID = ["bbaf2n.mpg", "brbk7n.mpg", "id2_vcd_swwp2s.mpg", "lbax4n.mpg", "lbbc2a.mpg", "lrwp9a.mpg"]
RETALKING = ["face_1.mp4", "face_4.mp4"]
"""The first six GRID speakers (by name) and the variable-frame-rate and 30-fps news clips: half of
the 16 shared clips, to keep the file under a minute; all 16 are in benchmarks/lipsync.py."""
FRAME_S = 0.04  # GRID: 25 fps


@pytest.fixture(scope="module")
def heads(real_media):
    return real_media / "talking_heads"


def _frame_s(result: TrackSync) -> float:
    return 1.0 / result.frame_rate


@pytest.fixture(scope="module")
def unshifted(heads):
    return {name: clip_offset(heads / sub / name) for sub, names in (("grid", GRID), ("retalking", RETALKING)) for name in names}


def test_unshifted_clips_floor(unshifted):
    errors = {name: r.offset_s for name, r in unshifted.items()}
    within = [name for name, r in unshifted.items() if abs(r.offset_s) <= _frame_s(r) + 1e-9]
    itu = [name for name, off in errors.items() if -0.125 <= off <= 0.045]
    # measured (lipsync-avcorr/2): 7 of 8 within ±1 frame (face_1 -105 ms = -3.2 frames; lbax4n
    # +38 ms = 0.95 frame is on the edge, hence 6), 8 of 8 in the ITU band; avcorr/3 reads the
    # benchmark's unshifted copies within 0.3 frame of avcorr/2 (face_1 -2.9 frames)
    assert len(within) >= 6, errors
    assert len(itu) >= 8, errors
    # bbaf2n opens the mouth half a second before speaking: squared correlations alone put its sound
    # 165 ms late (avcorr/1); the signed darkness ~ loudness score holds it to the lip release
    assert "bbaf2n.mpg" in within, errors


def test_result_shape(unshifted):
    r = unshifted["lrwp9a.mpg"]
    params = LipSyncParams()
    assert r.track == 0 and r.n_frames == 75 and r.frame_rate == pytest.approx(25.0)
    assert r.start_s == pytest.approx(0.0) and r.end_s == pytest.approx(74 * FRAME_S)
    assert r.shifts_s.shape == r.scores.shape
    # the curve covers ±max_shift_frames (and a little more, so the limit can be a peak)
    assert r.shifts_s[0] <= -params.max_shift_frames * FRAME_S and r.shifts_s[-1] >= params.max_shift_frames * FRAME_S
    assert r.shifts_s[int(np.argmax(r.scores))] == pytest.approx(r.offset_s, abs=params.lag_step_s)
    assert r.reliable(params) == (r.confidence >= params.min_confidence)
    assert set(r.as_dict()) >= {"track", "offset_s", "confidence", "start_s", "end_s", "n_frames", "prominence", "agreement", "at_edge"}
    # the search reaches search_margin_frames beyond the reported window
    reach = (params.max_shift_frames + params.search_margin_frames) * FRAME_S
    assert r.shifts_s[0] == pytest.approx(-reach, abs=params.lag_step_s) and r.shifts_s[-1] == pytest.approx(reach, abs=params.lag_step_s)
    assert not r.at_edge and 0 <= r.agreement <= 1
    assert r.confidence == pytest.approx(max(r.prominence, 0.0) * r.agreement)


@pytest.mark.parametrize(
    "clip, frames, method",
    [
        ("grid/lwbsza.mpg", 8, "samples"),  # audio moved earlier: it leads, the offset is positive
        ("grid/lwbsza.mpg", -5, "samples"),
        ("grid/sbia1a.mpg", 15, "start"),  # a container start offset: the samples are untouched
        ("grid/sbia1a.mpg", -3, "start"),
        ("retalking/face_5.mp4", -8, "start"),
    ],
)
def test_shifted_clips_are_recovered_with_the_sign(heads, tmp_path, clip, frames, method):
    copy = shifted_copy(heads / clip, tmp_path / "shifted.mkv", frames * 0.04, method=method)
    r = clip_offset(copy)
    assert np.sign(r.offset_s) == np.sign(frames)
    assert abs(r.offset_s - frames * 0.04) <= _frame_s(r), r.offset_s


def test_the_search_reaches_as_far_at_59_94_fps(heads, tmp_path):
    # a GRID clip shown at 59.94 fps (each frame repeated as a player would), its sound 360 ms early:
    # ±15 frames of 59.94 fps reach ±250 ms, so the offset lay beyond the window and every track of
    # a 59.94-fps edit so shifted read as no speaker; a frame counts as at 25 fps (±600 ms), and so do
    # the tolerances (one frame of agreement was 17 ms: the 360-ms offset read right had no confidence)
    from fractions import Fraction

    from ml.decoding.video import iter_frames
    from ml.testmedia.bad_picture import write_with_sound
    from ml.testmedia.video import EditSegment, _resampled

    src = heads / "grid" / "lbbc2a.mpg"  # at 25 fps, moved 360 ms either way: read within 10 ms, confidence 2.8-2.9
    rate = Fraction(60000, 1001)
    images = _resampled(EditSegment(src), rate)  # the frame shown at each instant, as the edits are made
    first_s = next(iter(iter_frames(src))).time_s
    h, w = images[0].shape[:2]
    copy = write_with_sound(
        tmp_path / "ntsc.mkv", src, images, range(len(images)), 1 / rate, first_s, (w, h),
        rate=rate, options={"preset": "ultrafast", "crf": "18"},
    )
    r = clip_offset(shifted_copy(copy, tmp_path / "lead.mkv", 0.36))
    assert r.frame_rate == pytest.approx(59.94, rel=0.03)  # Matroska keeps milliseconds: 16 or 17 ms a frame
    assert r.shifts_s[-1] >= LipSyncParams().max_shift_frames * FRAME_S
    assert r.offset_s == pytest.approx(0.36, abs=0.04) and r.reliable(LipSyncParams()), (r.offset_s, r.confidence)


def test_container_start_offset_moves_only_timestamps(heads, tmp_path):
    from ml.decoding.audio import load_audio
    from ml.decoding.video import iter_frames

    src = heads / "grid" / "pwij3p.mpg"
    lag = shifted_copy(src, tmp_path / "lag.mkv", -0.2, method="start")
    y_src, _ = load_audio(src, sample_rate=16000)
    y_lag, start = load_audio(lag, sample_rate=16000)
    # same samples, the audio stream starts 0.2 s after the picture
    assert start - next(iter_frames(lag)).time_s == pytest.approx(0.2, abs=0.002)
    assert np.corrcoef(y_src[:40000], y_lag[:40000])[0, 1] > 0.99
    assert clip_offset(lag).offset_s == pytest.approx(-0.2, abs=0.04)


def test_track_offsets_on_a_title_with_two_speakers(heads, tmp_path):
    # two talking heads cut together (their audio joined in sync): one offset per track, each near 0
    import av

    from ml.picture.faces import track_faces
    from ml.picture.shots import shots_from_file

    a, b = heads / "grid" / "lrwp9a.mpg", heads / "grid" / "lwbsza.mpg"
    joined = tmp_path / "joined.mkv"
    _concatenate_with_audio([a, b], joined)
    with av.open(str(joined)) as c:
        assert c.streams.audio and c.streams.video
    tracks = track_faces(joined, shots_from_file(joined))
    assert tracks.n_tracks == 2
    calls = []
    results = track_offsets(joined, tracks, progress=lambda done, total: calls.append((done, total)))
    assert [r.track for r in results] == [0, 1] and calls == [(1, 2), (2, 2)]
    assert results[1].start_s == pytest.approx(3.0, abs=0.05)
    for r in results:
        assert abs(r.offset_s) <= 0.045, r


def _concatenate_with_audio(clips, out):
    """Clips of one size and rate one after another, picture and audio (H.264 + PCM, Matroska)."""
    from fractions import Fraction

    import av

    from ml.decoding.audio import load_audio

    with av.open(str(out), "w", format="matroska") as dst:
        video = dst.add_stream("libx264", rate=25, options={"crf": "20", "preset": "ultrafast"})
        video.width, video.height, video.pix_fmt = 360, 288, "yuv420p"
        audio = dst.add_stream("pcm_s16le", rate=16000, layout="mono")
        audio.time_base = Fraction(1, 16000)
        n_frames = 0
        for clip in clips:
            with av.open(str(clip)) as src:
                frames = [f.to_ndarray(format="rgb24") for f in src.decode(video=0)]
            y, _ = load_audio(clip, sample_rate=16000)
            y = np.pad(y, (0, max(0, len(frames) * 640 - y.size)))[: len(frames) * 640]
            pcm = np.clip(np.round(y * 32767), -32768, 32767).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(pcm[None, :], format="s16", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = 16000, n_frames * 640, Fraction(1, 16000)
            for packet in audio.encode(frame):
                dst.mux(packet)
            for image in frames:
                vf = av.VideoFrame.from_ndarray(image, format="rgb24")
                vf.pts = n_frames
                vf.time_base = Fraction(1, 25)
                n_frames += 1
                for packet in video.encode(vf):
                    dst.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode(None):
                dst.mux(packet)


def test_errors(real_media, heads, tmp_path):
    # no audio stream: named, before any picture work
    with pytest.raises(MediaError, match="fades.mp4: has no audio stream"):
        clip_offset(real_media / "shots" / "fades.mp4")
    # no video stream
    with pytest.raises(MediaError, match="has no video stream"):
        clip_offset(real_media / "speech" / "en.wav")
    # a picture without a face
    with pytest.raises(MediaError, match="no face track"):
        clip_offset(heads / "grid" / "lwbsza.mpg", face_params=FaceParams(min_track_s=10.0))
    # no tracks: no offsets
    assert track_offsets(heads / "grid" / "lwbsza.mpg", FaceTracks.no_picture(FaceParams())) == []


_SHIFTS = np.round(np.arange(-0.92, 0.92 + 1e-9, 0.01), 4)  # ±(15 + 8) frames at 25 fps


def _bump(at_s: float, height: float = 1.0, width_s: float = 0.03) -> np.ndarray:
    return height * np.exp(-0.5 * ((_SHIFTS - at_s) / width_s) ** 2)


def _confidence(curves: dict[str, np.ndarray]):
    scores = np.mean(list(curves.values()), axis=0)
    return _peak(_SHIFTS, scores, curves, FRAME_S, 15 * FRAME_S)


def test_confidence_is_prominence_times_agreement():
    # a clean peak that every family shares: confident
    offset, confidence, prominence, agreement, at_edge = _confidence({k: _bump(0.12) for k in ("dark", "dark_sign", "pca")})
    assert offset == pytest.approx(0.12, abs=0.005) and agreement == 1.0 and not at_edge
    assert confidence == pytest.approx(prominence) and confidence >= LipSyncParams().min_confidence
    # a side peak as high as the main one GAP_FRAMES or more away: no prominence, whatever the families say
    twin = _bump(0.12) + _bump(0.12 + (GAP_FRAMES + 1) * FRAME_S)
    assert _confidence({k: twin for k in ("dark", "dark_sign", "pca")})[1] == pytest.approx(0.0, abs=0.02)
    # families that peak elsewhere lower it: one of three agrees
    split = {"dark": _bump(0.12, 3.0), "dark_sign": _bump(-0.3), "pca": _bump(0.4)}
    result = _confidence(split)
    assert result[3] == pytest.approx(1 / 3) and result[1] == pytest.approx(max(result[2], 0) * result[3])


@pytest.mark.parametrize("peak_s", [0.64, -0.72, 0.92, -0.92])
def test_a_peak_at_or_beyond_the_window_edge_is_never_confident(peak_s):
    """±15 frames are reported; the curve reaches 8 frames further, so a maximum at 16-23 frames is
    recognised as beyond the window: the best offset inside it sits at the limit with the curve still
    rising, an edge and not a peak, with confidence 0 however clean the peak beyond."""
    offset, confidence, _, _, at_edge = _confidence({k: _bump(peak_s) for k in ("dark", "dark_sign", "pca")})
    assert at_edge and confidence == 0.0
    assert 14.5 * FRAME_S <= abs(offset) <= 15.5 * FRAME_S + 0.005  # at the limit (half a frame), never beyond
    # a monotonic curve: the limit again
    assert _confidence({"dark": _SHIFTS.copy()})[4]
    # at the window's limit (15 frames) a peak with neighbours on both sides is still a peak
    assert not _confidence({k: _bump(0.6) for k in ("dark", "pca")})[4]


def test_a_higher_peak_beyond_the_window_takes_the_confidence():
    # the truth inside the window, a higher side peak 20 frames away beyond it: reported, not confident
    curve = _bump(0.0) + _bump(-0.8, 1.2)
    offset, confidence, prominence, _, at_edge = _confidence({k: curve for k in ("dark", "dark_sign", "pca")})
    assert offset == pytest.approx(0.0, abs=0.005) and not at_edge
    assert prominence < 0 and confidence == 0.0


def test_params_and_identity():
    from resources.lipsync_model import lip_sync_identity

    assert LipSyncParams().max_shift_frames == 15
    assert estimator_identity(LipSyncParams()) == estimator_identity(LipSyncParams())
    assert estimator_identity(LipSyncParams()) != estimator_identity(LipSyncParams(highpass_s=(0.5,)))
    # the estimate changes with the search margin (and changed with the confidence rule, avcorr/3):
    # stored offsets made otherwise go stale
    assert estimator_identity(LipSyncParams()) != estimator_identity(LipSyncParams(search_margin_frames=2))
    assert estimator_identity(LipSyncParams()).startswith("lipsync-avcorr/6:")
    assert lip_sync_identity("", LipSyncParams()) == estimator_identity(LipSyncParams())
    assert LipSyncParams(n_mfcc=[13]).n_mfcc == (13,)
    for bad in (
        {"max_shift_frames": 0},
        {"search_margin_frames": 0},
        {"lag_step_s": 0.0},
        {"n_mfcc": ()},
        {"mouth_region": 2.0},
        {"highpass_s": (0.01,)},
    ):
        with pytest.raises(ParameterError, match=next(iter(bad))):
            LipSyncParams(**bad)


@pytest.mark.parametrize("window", [0.04, 0.045, 0.08])
def test_speech_features_are_centred_on_their_instant(window):
    # a click on the 5-ms grid: every window's loudness is symmetric about it. An even number of hops
    # (0.04 s = 8) was averaged half a hop late before lipsync-avcorr/4: 2.5 ms of lag on every clip
    rate = 16000
    y = np.zeros(rate, np.float32)
    click = 100
    y[click * int(HOP_S * rate)] = 1.0
    loudness = speech_features(y, rate, LipSyncParams(windows_s=(window,), n_mfcc=(13,)))[(13, window)][:, 0]
    weights = np.clip(loudness - np.median(loudness), 0, None)
    rows = np.arange(len(loudness))
    assert float((rows * weights).sum() / weights.sum()) == pytest.approx(click, abs=0.05)
