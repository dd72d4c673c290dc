"""Decoding a time range: one seek to the key frame before it, the same frames as a full decode;
decoding without the in-loop deblocking filter."""

import hashlib

import numpy as np
import pytest

from ml.decoding.video import SeekError, decoded_frames, frames_between
from ml.errors import ParameterError


def _remuxed(source, path):
    import av

    with av.open(str(source)) as src, av.open(str(path), "w") as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(video=0):
            if packet.dts is not None:
                packet.stream = stream
                dst.mux(packet)
    return path


def _frames(items):
    """Time, timestamp and a digest of the luma plane of each frame."""
    return [(time_s, frame.pts, hashlib.sha1(bytes(frame.planes[0])).hexdigest()) for _, time_s, frame in items]


@pytest.mark.parametrize("name", ["testvideo.mp4", "goldeneye-vfr-drop3.mp4"])
def test_a_time_range_holds_the_frames_of_a_full_decode(real_media, name):
    path = real_media / "shots" / name
    full = _frames(decoded_frames(path))
    for first, last in [(0, 10), (45, 50), (len(full) - 20, len(full) - 1), (123, 123)]:
        start_s, end_s = full[first][0], full[last][0]
        # seeked (no fallback: the seek itself lands at or before the range)
        assert _frames(decoded_frames(path, between=(start_s, end_s))) == full[first : last + 1]
        got = list(frames_between(path, start_s, end_s))
        assert [index for index, _, _ in got] == list(range(last - first + 1))
        assert _frames(got) == full[first : last + 1]


@pytest.mark.parametrize("container", ["ts", "h264"])
def test_a_file_that_cannot_be_seeked_is_decoded_from_its_start(real_media, tmp_path, container):
    # MPEG-TS has no index (the seek lands seconds late); a raw H.264 stream cannot seek at all
    path = _remuxed(real_media / "shots" / "testvideo.mp4", tmp_path / f"testvideo.{container}")
    full = _frames(decoded_frames(path))
    start_s, end_s = full[300][0], full[320][0]
    with pytest.raises(SeekError):
        list(decoded_frames(path, between=(start_s, end_s)))
    assert _frames(frames_between(path, start_s, end_s)) == full[300:321]


def test_a_range_must_not_end_before_it_starts_and_may_hold_no_frame(real_media):
    path = real_media / "shots" / "testvideo.mp4"
    with pytest.raises(ParameterError, match="end_s=1.0 must be >= start_s=2.0"):
        next(frames_between(path, 2.0, 1.0))
    times = [time_s for _, time_s, _ in frames_between(path, 0.0, 1.0)]
    assert len(times) > 20 and times[0] == 0.0
    assert list(frames_between(path, times[10] + 0.005, times[11] - 0.005)) == []  # between two frames


def test_decoding_without_deblocking_changes_pixels_a_little_and_frames_not_at_all(real_media):
    # H.264 has an in-loop deblocking filter: skipping it changes the pixels, by little
    path = real_media / "shots" / "testvideo.mp4"
    lumas = {
        deblock: [(time_s, frame.pts, frame.to_ndarray(format="gray").astype(np.int16))
                  for _, time_s, frame in decoded_frames(path, deblock=deblock)]
        for deblock in (True, False)
    }  # fmt: skip
    assert [t for t, _, _ in lumas[False]] == [t for t, _, _ in lumas[True]]
    assert [pts for _, pts, _ in lumas[False]] == [pts for _, pts, _ in lumas[True]]
    error = np.array([np.abs(a - b).mean() for (_, _, a), (_, _, b) in zip(lumas[True], lumas[False])])
    assert (error > 0).mean() > 0.9  # the option took effect
    assert error.max() < 2.0, error.max()  # grey levels, mean over a frame
    # MPEG-4 part 2 has no in-loop filter: the same pixels
    fades = real_media / "shots" / "fades.mp4"
    assert _frames(decoded_frames(fades, deblock=False)) == _frames(decoded_frames(fades))


@pytest.mark.parametrize(
    "pixel_format", ["yuv420p", "yuvj420p", "yuv422p", "yuv444p", "yuv420p10le", "yuv422p10le", "yuv444p12le", "yuva420p", "yuva444p12le"]
)
@pytest.mark.parametrize(("width", "height", "max_height"), [(333, 250, 48), (854, 480, 48), (64, 37, 16), (1280, 720, 36)])
def test_sampled_planes_are_every_s_th_pixel_of_each_plane(pixel_format, width, height, max_height):
    """The positions worked out once per layout (_sample_layout) are a[: h : s, : w : s] of the luma
    plane and the same pixels' chroma, cropped to the rows and columns all three have; 10- and 12-bit
    samples rounded to 8 bits; an alpha plane left out."""
    import av

    from ml.decoding.video import _sample_step, _sampled_planes

    rng = np.random.default_rng(width * height)
    frame = av.VideoFrame.from_ndarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), format="rgb24")
    frame = frame.reformat(format=pixel_format)
    step = _sample_step(height, max_height)
    base, _, bits = pixel_format.partition("p")
    chroma_rows, chroma_cols = {"420": (2, 2), "422": (1, 2), "444": (1, 1)}[base[-3:]]
    if bits:  # "10le", "12le": little-endian 16-bit words, rounded to 8 bits by hand
        shift = int(bits[:-2]) - 8
        y, u, v = (
            np.minimum((np.frombuffer(plane, "<u2").reshape(-1, plane.line_size // 2).astype(np.int64) + 2 ** (shift - 1)) >> shift, 255)
            for plane in frame.planes[:3]
        )
        luma8 = frame.reformat(format="yuv420p").planes[0]
        luma8 = np.frombuffer(luma8, np.uint8).reshape(-1, luma8.line_size)[:height, :width]
        assert np.abs(y[:height, :width] - luma8).max() <= 1  # as FFmpeg rounds to 8 bits
    else:
        y, u, v = (np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size) for plane in frame.planes[:3])
    expected = [y[:height:step, :width:step]] + [
        c[: height // chroma_rows : step // chroma_rows, : width // chroma_cols : step // chroma_cols] for c in (u, v)
    ]
    rows, cols = min(len(e) for e in expected), min(e.shape[1] for e in expected)
    for _ in range(2):  # the second time from the cached layout
        sampled = _sampled_planes(frame, max_height)
        assert [s.shape for s in sampled] == [(rows, cols)] * 3
        assert all(np.array_equal(s, e[:rows, :cols]) for s, e in zip(sampled, expected))
    assert _sampled_planes(frame.reformat(format="rgb24"), max_height) is None
