import numpy as np
import pytest

from ml.audio_sync.signatures import (
    SignatureBuilder,
    pack_codes,
    sensing_matrix,
    signature_from_audio,
    signature_from_file,
    signature_version,
    unpack_codes,
)
from ml.decoding.audio import load_audio
from ml.errors import MediaError, ParameterError, SilentMediaError
from ml.policy import SignatureParams

SR = 44100


def _noise_music(rng, seconds=20.0):
    """Band-limited tones and noise bursts: not silent, not white."""
    t = np.arange(int(seconds * SR)) / SR
    y = np.zeros_like(t)
    for f in rng.uniform(100, 4000, size=12):
        y += rng.uniform(0.01, 0.1) * np.sin(2 * np.pi * f * t) * (np.sin(2 * np.pi * rng.uniform(0.1, 2) * t) > 0)
    return y.astype(np.float32)


def test_signature_is_deterministic_for_a_seed(rng):
    y = _noise_music(rng)
    a = signature_from_audio(y, sample_rate=SR)
    b = signature_from_audio(y.copy(), sample_rate=SR)
    assert np.array_equal(a.frames, b.frames)
    assert np.array_equal(a.vectors, b.vectors)
    assert a.version == b.version == signature_version(SignatureParams())
    other = signature_from_audio(y, sample_rate=SR, params=SignatureParams(seed=1))
    assert other.version != a.version
    assert not np.allclose(other.vectors, a.vectors)


@pytest.mark.parametrize(
    ("level_reference", "max_frequency_hz"), [("frame_peak", 22050.0), ("full_scale", 22050.0), ("frame_peak", 5000.0)]
)
def test_measurements_are_the_method_written_out_in_float64(real_media, level_reference, max_frequency_hz):
    # the definition, step by step (power in dB re a full-scale sine, sparsified, filtered,
    # projected), against the streaming float32 builder on real speech, both roles; with every bin
    # and with fewer (max_frequency_hz below Nyquist: the levels and the frame's peak over those only)
    params = SignatureParams(level_reference=level_reference, max_frequency_hz=max_frequency_hz)
    y = load_audio(real_media / "speech" / "en.wav", sample_rate=SR)[0][: 6 * SR]
    window = np.hanning(params.n_fft + 1)[:-1]
    phi = sensing_matrix(params).astype(np.float64)
    for role in ("dub", "reference"):
        hop = params.hop_for(role)
        frames = np.lib.stride_tricks.sliding_window_view(y.astype(np.float64), params.n_fft)[::hop]
        power = np.abs(np.fft.rfft(frames * window, axis=1)[:, : params.n_bins]) ** 2
        db = 10 * np.log10(np.maximum(power, 1e-20) / (window.sum() / 2) ** 2)
        peak = db.max(axis=1, keepdims=True)
        sparse = np.maximum(0.0, db - (params.theta_db + (peak if level_reference == "frame_peak" else 0.0)))
        active = (sparse > 0).mean(axis=1)
        keep = (active >= params.min_active_fraction) & (active <= params.max_active_fraction) & (peak[:, 0] >= params.silence_db)
        expected = sparse[keep] @ phi.T
        signature = signature_from_audio(y, sample_rate=SR, params=params, role=role)
        assert signature.frames.tolist() == np.flatnonzero(keep).tolist()
        assert 0.5 * len(frames) < len(signature.frames) < len(frames)  # speech: pauses dropped, most kept
        # within the 7-bit quantisation step (half a step) and float32 rounding
        assert np.abs(signature.vectors - expected).max() <= 0.5 * signature.scale + 1e-3 * np.abs(expected).max()


def test_sensing_matrix_shape_and_values():
    params = SignatureParams(compression_ratio=32)
    phi = sensing_matrix(params)
    assert phi.shape == (64, 2049) == (params.n_measurements, params.n_bins)
    assert set(np.unique(phi * np.sqrt(64)).round(6)) == {-1.0, 1.0}
    assert sensing_matrix(SignatureParams()).shape == (32, 2049)
    assert np.array_equal(phi, sensing_matrix(SignatureParams(compression_ratio=32)))


@pytest.mark.parametrize("cuts", ["fixed", "random"])
@pytest.mark.parametrize("role", ["dub", "reference"])
def test_streaming_in_blocks_equals_whole_signal(rng, role, cuts):
    # blocks shorter than a hop, than a frame, and long ones: frames start in the carried samples,
    # across the joint, and in the block itself; random cuts over 40 s cross several steps of frames
    # (computed together, whose products BLAS rounds by a row's place in them)
    y = _noise_music(rng, seconds=12.0 if cuts == "fixed" else 40.0)
    whole = signature_from_audio(y, sample_rate=SR, role=role)
    builder = SignatureBuilder(SignatureParams(), role=role)
    if cuts == "fixed":
        at = [1000, 1001, 1300, 4000, 9000, 70000, 300000, 300001]
    else:
        at = np.cumsum(rng.integers(1, 400_000, size=40))
        at = at[at < len(y)]
    for block in np.array_split(y, at):
        builder.push(block)
    streamed = builder.finish()
    # the same samples through the same operations: equal bit for bit (a frame read one sample off
    # changes about one code in 10,000, which a tolerance of one step would let through)
    assert np.array_equal(whole.frames, streamed.frames)
    assert np.array_equal(whole.codes, streamed.codes)
    assert whole.n_frames == streamed.n_frames == 1 + (len(y) - 4096) // builder.hop
    assert whole.n_samples == streamed.n_samples == len(y)


def test_sparsity_filter_drops_silence_and_white_noise(rng):
    quiet = np.zeros(SR * 4, dtype=np.float32)
    loud = _noise_music(rng, seconds=4.0)
    white = rng.normal(0, 0.5, SR * 4).astype(np.float32)
    sig = signature_from_audio(np.concatenate([quiet, loud, white]), sample_rate=SR)
    times = sig.times
    # nearly every frame of the 4 s of music is kept (85 of its 86 here)
    assert len(times) >= 0.9 * 4.0 / sig.frame_seconds
    # every kept frame lies in the music part (4 s .. 8 s, give or take one frame)
    assert times.min() >= 4.0 - 0.1 and times.max() <= 8.0 + 0.1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_fft": 1000}, "n_fft=1000"),
        ({"hop_length": 0}, "hop_length=0"),
        ({"hop_length": 8192}, "hop_length=8192"),
        ({"compression_ratio": 0}, "compression_ratio=0"),
        ({"min_active_fraction": 0.9, "max_active_fraction": 0.5}, "min_active_fraction=0.9"),
        ({"theta_db": float("nan")}, "theta_db=nan"),
        ({"sample_rate": 100}, "sample_rate=100"),
    ],
)
def test_parameter_errors_name_the_value(kwargs, message):
    with pytest.raises(ParameterError, match=message.replace("(", r"\(")):
        SignatureParams(**kwargs)


def test_audio_errors_are_clear(rng):
    with pytest.raises(ParameterError, match="mono"):
        signature_from_audio(np.zeros((2, SR), np.float32), sample_rate=SR)
    with pytest.raises(ParameterError, match="NaN"):
        signature_from_audio(np.full(SR, np.nan, np.float32), sample_rate=SR)
    with pytest.raises(ParameterError, match="resample"):
        signature_from_audio(np.zeros(SR, np.float32), sample_rate=48000)


def test_signature_of_a_real_file_has_times_on_the_stream_timeline(real_media):
    path = real_media / "music" / "hungarian_dance_5.hq.ogg"
    sig = signature_from_file(path)
    y, start = load_audio(path, sample_rate=SR)
    assert sig.n_samples == len(y)
    assert sig.start_time_s == start
    assert abs(sig.duration_s - 46.0) < 1.5
    assert sig.kept_fraction > 0.5
    step = np.diff(sig.times)
    np.testing.assert_allclose(step[sig.frames[1:] - sig.frames[:-1] == 1], 2048 / SR)


def test_silent_file_is_an_error_naming_it(tmp_path):
    import soundfile as sf

    path = tmp_path / "silent.wav"
    sf.write(path, np.zeros(SR * 5, np.float32), SR)
    with pytest.raises(SilentMediaError, match="silent.wav: silent"):
        signature_from_file(path)


def test_corrupt_and_truncated_files_are_errors_naming_them(tmp_path, real_media):
    garbage = tmp_path / "garbage.flac"
    garbage.write_bytes(np.random.default_rng(0).bytes(50000))
    with pytest.raises(MediaError, match="garbage.flac"):
        signature_from_file(garbage)
    source = (real_media / "speech" / "en.wav").read_bytes()
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(source[: len(source) // 3])
    with pytest.raises(MediaError, match="truncated.wav: truncated: decoded 20.0 s of the 60.0 s"):
        signature_from_file(truncated)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(MediaError, match="empty"):
        signature_from_file(empty)


def test_signature_is_compact_and_quantisation_is_fine(rng):
    y = _noise_music(rng, seconds=30.0)
    sig = signature_from_audio(y, sample_rate=SR)
    n = len(sig.frames)
    m, bits = sig.codes.shape[1], SignatureParams().code_bits
    assert (m, bits) == (32, 7)
    assert sig.codes_nbytes <= -(-n * m * bits // 8) + sig.n_frames // 8 + 1  # 28 bytes a kept frame
    # the envelope matcher's band envelopes count in the signature's size: one byte a band and frame
    assert sig.envelope_nbytes == sig.n_frames * SignatureParams().envelope_bands
    assert sig.nbytes == sig.codes_nbytes + sig.envelope_nbytes
    builder = SignatureBuilder(SignatureParams())
    builder.push(y)
    builder.finish()  # computes the last, shorter step
    exact = np.concatenate(builder._vectors)
    error = np.abs(sig.vectors - exact).max() / np.abs(exact).max()
    assert error <= 0.5 / 63 + 1e-6


@pytest.mark.parametrize("bits", [2, 5, 7, 8])
@pytest.mark.parametrize("n", [0, 1, 3, 70_001])
def test_codes_pack_and_unpack_exactly(rng, bits, n):
    top = (1 << (bits - 1)) - 1
    codes = rng.integers(-top, top + 1, size=(n, 3)).astype(np.int8)
    packed = pack_codes(codes, bits)
    assert packed.dtype == np.uint8 and packed.size == -(-n * 3 * bits // 8)
    assert np.array_equal(unpack_codes(packed, n, 3, bits), codes)
    with pytest.raises(ParameterError, match="do not hold"):
        unpack_codes(packed[:-1] if packed.size else np.zeros(1, np.uint8), n, 3, bits)
    if n:
        with pytest.raises(ParameterError, match=f"exceed the {bits}-bit range"):
            pack_codes(np.full((1, 3), top + 1, dtype=np.int16).astype(np.int8) if bits < 8 else np.full((1, 3), -128, np.int8), bits)
