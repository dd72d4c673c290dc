"""Tests of the generated test media (ml/testmedia.py): real files, decoded with PyAV."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soxr
from scipy import signal

from ml import testmedia as tm

SR = 44100


# --------------------------------------------------------------------------- helpers


def _me_gaps(truth: dict, *, lo: float = 0.0, hi: float | None = None, min_len: float = 1.0) -> list[tuple[float, float]]:
    """M&E-only reference intervals (between dialogue lines, 0.1 s away from them)."""
    hi = truth["duration_s"] if hi is None else hi
    gaps, prev = [], -math.inf
    for a, b in truth["dialogue_lines"] + [[math.inf, math.inf]]:
        g0, g1 = max(prev + 0.1, lo), min(a - 0.1, hi)
        if g1 - g0 >= min_len:
            gaps.append((g0, g1))
        prev = max(prev, b)
    return gaps


def _local_offset(orig: np.ndarray, dub: np.ndarray, sr: int, g0: float, g1: float, guess: float, search: float) -> float:
    """Offset (s, positive = dub leads) that best aligns orig[g0:g1] with the dub.

    ``dub`` must already be on the original's clock (same rate, drift undone), so that
    ``dub[k] = orig(k / sr + offset)``.
    """
    ref = orig[round(g0 * sr) : round(g1 * sr)]
    pad = round(search * sr)
    start = round((g0 - guess) * sr) - pad
    seg = dub[start : start + ref.size + 2 * pad]
    cc = signal.correlate(seg, ref, mode="valid", method="fft")
    k = int(np.argmax(cc))
    frac = 0.0
    if 0 < k < cc.size - 1:
        den = cc[k - 1] - 2 * cc[k] + cc[k + 1]
        frac = 0.5 * (cc[k - 1] - cc[k + 1]) / den if den else 0.0
    return g0 - (start + k + frac) / sr


@pytest.fixture(scope="module")
def zone(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, list[tm.TitleSpec]]:
    """A small landing zone with offsets, a fractional offset with a jump, drift and an opening."""
    root = tmp_path_factory.mktemp("zone")
    specs = [
        tm.TitleSpec(
            "sync",
            duration_s=40.0,
            seed=7,
            dubs=(
                tm.DubSpec("de", offset_s=1.0, codec="pcm_s16le"),
                tm.DubSpec("es", offset_s=0.0123, jumps=((20.0, -0.35),), channels=1),
                tm.DubSpec("fr", offset_s=0.2517, speed_ratio=1.001, sample_rate=48000, localized_opening_s=5.0),
            ),
        ),
        tm.TitleSpec(
            "other",
            duration_s=6.0,
            original_language="de",
            original_codec="pcm_s16le",
            original_channels=1,
            seed=8,
            dubs=(tm.DubSpec("en", offset_s=-0.5, codec="mp3", bitrate=128000, gain_db=-3.0),),
        ),
    ]
    messages: list[str] = []
    truth = tm.build_landing_zone(root, specs, progress=messages.append)
    assert len(messages) == 2
    return root, truth, specs


# --------------------------------------------------------------------------- codecs


CODEC_CASES = [
    ("pcm_s16le", ".wav", 44100, 1, None),
    ("flac", ".flac", 48000, 2, None),
    ("flac", ".flac", 44100, 6, None),
    ("aac", ".m4a", 48000, 6, 256000),
    ("aac", ".m4a", 44100, 2, 128000),
    ("ac3", ".ac3", 48000, 2, 128000),
    ("ac3", ".ac3", 44100, 6, 384000),
    ("mp3", ".mp3", 44100, 2, 128000),
    ("libmp3lame", ".mp3", 48000, 1, 96000),
]


@pytest.mark.parametrize(("codec", "ext", "sr", "channels", "bitrate"), CODEC_CASES)
def test_write_audio_every_codec_decodes_aligned(tmp_path: Path, codec, ext, sr, channels, bitrate) -> None:
    rng = np.random.default_rng(3)
    n = int(1.5 * sr)
    sos = signal.butter(4, 4000, fs=sr, output="sos")
    y = (0.2 * signal.sosfilt(sos, rng.standard_normal((channels, n)), axis=1)).astype(np.float32)
    path = tm.write_audio(tmp_path / f"x{ext}", y, sr, codec=codec, bitrate=bitrate)
    decoded, rate = tm.read_audio(path)
    assert rate == sr
    assert decoded.shape[0] == channels
    assert decoded.shape[1] >= n - 1
    # aligned: codec priming is compensated (container edit list, LAME header, or dropped for AC-3)
    a, b = decoded.mean(axis=0)[:n], y.mean(axis=0)
    cc = signal.correlate(a, b[: a.size], mode="full", method="fft")
    assert int(np.argmax(cc)) - (a.size - 1) == 0
    assert cc.max() / np.sqrt(np.sum(a * a) * np.sum(b * b)) > 0.9


def test_write_audio_infers_codec_and_validates(tmp_path: Path) -> None:
    y = np.zeros(4410, dtype=np.float32)
    tm.write_audio(tmp_path / "a.flac", y, 44100, channels=2)
    decoded, rate = tm.read_audio(tmp_path / "a.flac")
    assert (decoded.shape[0], rate) == (2, 44100)
    with pytest.raises(ValueError, match="extension"):
        tm.write_audio(tmp_path / "a.ogg", y, 44100)
    with pytest.raises(ValueError, match="cannot be written"):
        tm.write_audio(tmp_path / "a.wav", y, 44100, codec="flac")
    with pytest.raises(ValueError, match="22050"):
        tm.write_audio(tmp_path / "a.ac3", y, 22050)
    with pytest.raises(ValueError, match="channels"):
        tm.write_audio(tmp_path / "a.mp3", np.zeros((6, 100), np.float32), 44100)
    with pytest.raises(ValueError, match="bitrate"):
        tm.write_audio(tmp_path / "a.m4a", y, 44100, bitrate=-1)


# --------------------------------------------------------------------------- ground truth and layout


def test_landing_zone_layout_and_ground_truth_match_specs(zone) -> None:
    root, truth, specs = zone
    on_disk = json.loads((root / "ground_truth.json").read_text())
    assert on_disk == truth
    assert set(truth["titles"]) == {s.title_id for s in specs}
    for spec in specs:
        folder = root / spec.title_id
        title = truth["titles"][spec.title_id]
        assert json.loads((folder / "title.json").read_text()) == {"original_language": spec.original_language}
        assert title["original_language"] == spec.original_language
        assert title["duration_s"] == spec.duration_s
        original = folder / f"original{spec.original_extension}"
        assert original.is_file() and title["original_file"] == original.name
        y, rate = tm.read_audio(original)
        assert (y.shape[0], rate) == (spec.original_channels, spec.sample_rate)
        assert abs(y.shape[1] / rate - spec.duration_s) < 0.001
        assert set(title["dubs"]) == {d.language for d in spec.dubs}
        assert sorted(p.name for p in (folder / "dubs").iterdir()) == sorted(f"{d.language}{d.extension}" for d in spec.dubs)
        for dub in spec.dubs:
            record = title["dubs"][dub.language]
            expected = {
                "offset_s": dub.offset_s,
                "speed_ratio": dub.speed_ratio,
                "jumps": [list(j) for j in dub.jumps],
                "gain_db": dub.gain_db,
                "sample_rate": dub.sample_rate,
                "channels": dub.channels,
                "codec": dub.codec,
                "bitrate": dub.bitrate,
                "localized_opening_s": dub.localized_opening_s,
                "appended_credits_s": dub.appended_credits_s,
                "pitch_kept": dub.pitch_kept,
                "me_remix": list(dub.me_remix),
                "me_gain_db": dub.me_gain_db,
            }
            assert {k: record[k] for k in expected} == expected
            y, rate = tm.read_audio(folder / record["file"])
            assert (y.shape[0], rate) == (dub.channels, dub.sample_rate)
            assert abs(y.shape[1] / rate - spec.duration_s / dub.speed_ratio) < 0.06  # lossy codecs pad the tail
            assert np.sqrt(np.mean(y**2)) > 10 ** (-40 / 20)
    assert truth["titles"]["sync"]["dialogue_lines"] == [
        [round(a, 6), round(b, 6)] for a, b in tm.dialogue_intervals(7, 0.0, 40.0)
    ]


def test_dub_with_positive_offset_leads_by_one_second(zone) -> None:
    root, truth, _ = zone
    title = truth["titles"]["sync"]
    orig, sr = tm.read_audio(root / "sync" / title["original_file"], mono=True)
    dub, sr_dub = tm.read_audio(root / "sync" / title["dubs"]["de"]["file"], mono=True)
    assert sr == sr_dub == SR
    gaps = _me_gaps(title, lo=2.5, hi=title["duration_s"] - 2.5)
    assert len(gaps) >= 4
    lags = np.arange(-2 * sr, 2 * sr + 1)  # candidate offsets in samples
    score = np.zeros(lags.size)
    for g0, g1 in gaps:
        ref = orig[round(g0 * sr) : round(g1 * sr)]
        seg = dub[round(g0 * sr) - 2 * sr : round(g1 * sr) + 2 * sr]
        cc = signal.correlate(seg, ref, mode="valid", method="fft")  # cc[k]: dub index = orig index - 2 s + k
        score += cc[::-1] / np.sqrt(np.sum(ref * ref) * np.sum(seg * seg))
    best = lags[int(np.argmax(score))] / sr
    assert abs(best - 1.0) <= 0.001  # positive: dub(t) = orig(t + 1.0)
    # sample-exact on M&E-only material: same bed, same 16-bit quantisation
    g0, g1 = gaps[0]
    a, b = round(g0 * sr), round(g1 * sr)
    np.testing.assert_allclose(dub[a - sr : b - sr], orig[a:b], atol=1e-4)


def test_fractional_offset_jump_and_drift_match_offset_at(zone) -> None:
    root, truth, _ = zone
    title = truth["titles"]["sync"]
    orig, sr = tm.read_audio(root / "sync" / title["original_file"], mono=True)
    for lang in ("es", "fr"):
        record = title["dubs"][lang]
        dub, sr_dub = tm.read_audio(root / "sync" / record["file"], mono=True)
        ratio = record["speed_ratio"]
        if sr_dub != sr or ratio != 1.0:
            dub = soxr.resample(dub, sr_dub, sr * ratio, quality="HQ")  # back on the reference clock
        errors = []
        for g0, g1 in _me_gaps(title, lo=max(1.5, record["localized_opening_s"] + 2.0), hi=title["duration_s"] - 1.5):
            if any(g0 - 1.0 < at < g1 + 1.0 for at, _ in record["jumps"]):
                continue
            t_mid = 0.5 * (g0 + g1)
            # on the undone clock dub[k] = mix(k / sr + o(T)): a constant offset per segment
            constant = tm.offset_at({**record, "speed_ratio": 1.0}, t_mid)
            measured = _local_offset(orig, dub, sr, g0, g1, constant, 0.02)
            errors.append(measured - constant)
            # offset_at on the dub's own clock: the material of t_mid is heard at (t_mid - o) / r
            assert tm.offset_at(record, t_mid) == pytest.approx(t_mid - (t_mid - constant) / ratio)
        errors = np.abs(errors)
        assert errors.size >= 3
        assert np.median(errors) < 1e-4, (lang, errors)
        assert np.mean(errors < 5e-4) >= 0.75, (lang, errors)


def test_localized_opening_replaces_the_bed(zone) -> None:
    root, truth, _ = zone
    title = truth["titles"]["sync"]
    orig, sr = tm.read_audio(root / "sync" / title["original_file"], mono=True)
    record = title["dubs"]["fr"]
    dub, sr_dub = tm.read_audio(root / "sync" / record["file"], mono=True)
    dub = soxr.resample(dub, sr_dub, sr * record["speed_ratio"], quality="HQ")

    def similarity(g0: float, g1: float) -> float:
        ref = orig[round(g0 * sr) : round(g1 * sr)]
        start = round((g0 - record["offset_s"]) * sr)
        other = dub[start : start + ref.size]
        return float(np.dot(ref, other) / np.sqrt(np.dot(ref, ref) * np.dot(other, other)))

    early = [similarity(g0, g1) for g0, g1 in _me_gaps(title, lo=0.5, hi=4.5, min_len=0.5)]
    late = [similarity(g0, g1) for g0, g1 in _me_gaps(title, lo=8.0, hi=38.0)]
    assert early and late
    assert max(early) < 0.5
    assert min(late) > 0.99


def test_appended_credits_lengthen_the_dub_and_leave_the_programme_as_it_was(tmp_path: Path) -> None:
    spec = tm.TitleSpec("credits", duration_s=12.0, dubs=(tm.DubSpec("fr", offset_s=0.3),), seed=5)
    with_credits = replace(spec, dubs=(tm.DubSpec("fr", offset_s=0.3, appended_credits_s=4.0),))
    plain = tm.build_title(tmp_path / "plain", spec, real_media=None)
    truth = tm.build_title(tmp_path / "credits", with_credits, real_media=None)
    assert truth["dubs"]["fr"]["appended_credits_s"] == 4.0 and plain["dubs"]["fr"]["appended_credits_s"] == 0.0
    a, sr = tm.read_audio(tmp_path / "plain/credits" / plain["dubs"]["fr"]["file"])
    b, _ = tm.read_audio(tmp_path / "credits/credits" / truth["dubs"]["fr"]["file"])
    assert b.shape[1] == a.shape[1] + 4 * sr
    assert np.array_equal(a, b[:, : a.shape[1]])  # the programme is untouched: same samples, same sync
    assert np.sqrt(np.mean(b[:, a.shape[1] :] ** 2)) > 10 ** (-40 / 20)  # the credits are music, not silence


def test_a_pitch_kept_time_stretch_keeps_the_length_and_the_pitch(tmp_path: Path) -> None:
    ratio = 25 / 24
    dubs = (tm.DubSpec("fr", speed_ratio=ratio, pitch_kept=True), tm.DubSpec("de", speed_ratio=ratio))
    spec = tm.TitleSpec("tempo", duration_s=12.0, dubs=dubs, seed=5)
    truth = tm.build_title(tmp_path, spec, real_media=None)
    assert truth["dubs"]["fr"]["pitch_kept"] is True and truth["dubs"]["de"]["pitch_kept"] is False
    orig, sr = tm.read_audio(tmp_path / "tempo" / truth["original_file"], mono=True)
    kept, _ = tm.read_audio(tmp_path / "tempo" / truth["dubs"]["fr"]["file"], mono=True)
    shifted, _ = tm.read_audio(tmp_path / "tempo" / truth["dubs"]["de"]["file"], mono=True)
    assert abs(kept.size / sr - 12.0 / ratio) < 0.01 and kept.size == shifted.size

    def centroid(y: np.ndarray) -> float:
        power = np.abs(np.fft.rfft(y[: 8 * sr])) ** 2
        return float(np.sum(np.fft.rfftfreq(8 * sr, 1 / sr) * power) / np.sum(power))

    # resampling raises every frequency by the ratio; the time-stretch leaves the spectrum in place
    assert abs(centroid(kept) / centroid(orig) - 1) < abs(centroid(shifted) / centroid(orig) - 1)
    assert centroid(shifted) / centroid(orig) > 1.02


def test_a_remix_is_streamed_with_its_state_and_does_what_it_says() -> None:
    from ml.testmedia.remix import Remix

    sr = 44100
    rng = np.random.default_rng(3)
    bed = (rng.normal(0, 0.05, (2, 4 * sr)) * np.repeat(rng.uniform(0.05, 1.0, 40), sr // 10)).astype(np.float32)
    whole = Remix(("eq", "compress", "echo", "lowpass"), sr)(bed)
    remix = Remix(("eq", "compress", "echo", "lowpass"), sr)
    chunked = np.concatenate([remix(bed[:, k : k + 10000]) for k in range(0, bed.shape[1], 10000)], axis=1)
    assert np.allclose(whole, chunked, atol=1e-5)  # the same however it is cut (state carried)
    spectrum = np.abs(np.fft.rfft(Remix(("lowpass",), sr)(bed)[0])) ** 2
    freqs = np.fft.rfftfreq(bed.shape[1], 1 / sr)
    assert spectrum[freqs > 10000].sum() < 1e-3 * spectrum[freqs < 6000].sum()  # band-limited at 8 kHz
    echo = Remix(("echo",), sr)(bed) - bed
    lag = round(0.06 * sr)
    assert np.allclose(echo[:, lag:], 0.5 * bed[:, :-lag], atol=0.01 * float(np.abs(bed).max()))  # 60 ms, -6 dB
    with pytest.raises(ValueError, match="reverb"):
        tm.DubSpec("fr", me_remix=("reverb",))


def test_dialogue_lines_sit_at_the_same_positions_in_every_language(tmp_path: Path) -> None:
    spec = tm.TitleSpec(
        "talk",
        duration_s=30.0,
        seed=11,
        me_level_db=-120.0,  # no bed: only dialogue is left
        original_codec="pcm_s16le",
        original_channels=1,
        dubs=(tm.DubSpec("de", codec="pcm_s16le", channels=1), tm.DubSpec("fr", codec="pcm_s16le", channels=1)),
    )
    truth = tm.build_title(tmp_path, spec)
    lines = truth["dialogue_lines"]
    assert lines == [[round(a, 6), round(b, 6)] for a, b in tm.dialogue_intervals(11, 0.0, 30.0)]
    lengths = np.array([b - a for a, b in lines])
    assert lengths.min() >= 1.5 - 1e-9 and lengths.max() <= 5.0 + 1e-9
    gaps = np.array([c - b for (_, b), (c, _) in zip(lines[:-1], lines[1:])])
    assert gaps.min() >= 1.0 - 1e-9 and gaps.max() <= 4.0 + 1e-9
    hop = int(0.01 * SR)
    inside = np.zeros(int(30.0 * SR) // hop, dtype=bool)
    near = np.zeros_like(inside)
    for a, b in lines:
        inside[int(a * SR) // hop + 3 : int(b * SR) // hop - 3] = True
        near[max(0, int(a * SR) // hop - 3) : int(b * SR) // hop + 4] = True
    assert 0.3 < near.mean() < 0.75
    signals = {}
    for lang, path in [("en", tmp_path / "talk" / "original.wav")] + [
        (d, tmp_path / "talk" / "dubs" / f"{d}.wav") for d in ("de", "fr")
    ]:
        y, rate = tm.read_audio(path, mono=True)
        assert rate == SR
        frames = y[: inside.size * hop].reshape(-1, hop)
        level = 10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-20)
        assert level[~near].max() < -85.0, lang  # silence between lines
        for a, b in lines:  # every line speaks in every language
            seg = level[int(a * SR) // hop + 3 : int(b * SR) // hop - 3]
            assert np.mean(seg > -50.0) > 0.3, (lang, a, b)
        signals[lang] = y
    for a, b in (("en", "de"), ("en", "fr"), ("de", "fr")):  # but they say different things
        x, y = signals[a], signals[b]
        assert abs(np.dot(x, y)) / np.sqrt(np.dot(x, x) * np.dot(y, y)) < 0.2


# --------------------------------------------------------------------------- determinism and extension


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    spec = tm.TitleSpec(
        "det",
        duration_s=8.0,
        seed=5,
        dubs=(tm.DubSpec("es", offset_s=0.3, codec="pcm_s16le"), tm.DubSpec("ru", speed_ratio=25 / 24)),
    )
    first = tm.build_title(tmp_path / "a", spec)
    second = tm.build_title(tmp_path / "b", spec)
    assert first == second
    for name in ("original.flac", "dubs/es.wav", "dubs/ru.flac"):
        assert (tmp_path / "a" / "det" / name).read_bytes() == (tmp_path / "b" / "det" / name).read_bytes(), name
    tm.build_title(tmp_path / "c", tm.TitleSpec("det", duration_s=8.0, seed=6))
    assert (tmp_path / "c" / "det" / "original.flac").read_bytes() != (tmp_path / "a" / "det" / "original.flac").read_bytes()


def test_large_offset_dub_has_real_content_and_original_is_unchanged(tmp_path: Path) -> None:
    plain = tm.TitleSpec("big", duration_s=10.0, seed=9, original_codec="pcm_s16le")
    shifted = tm.TitleSpec(
        "big", duration_s=10.0, seed=9, original_codec="pcm_s16le",
        dubs=(tm.DubSpec("de", offset_s=-300.0, codec="pcm_s16le"), tm.DubSpec("es", offset_s=200.0, codec="pcm_s16le")),
    )  # fmt: skip
    tm.build_title(tmp_path / "plain", plain)
    tm.build_title(tmp_path / "shifted", shifted)
    # the content of [0, duration] does not depend on how far the timeline was extended
    a = (tmp_path / "plain" / "big" / "original.wav").read_bytes()
    assert a == (tmp_path / "shifted" / "big" / "original.wav").read_bytes()
    for lang in ("de", "es"):
        y, sr = tm.read_audio(tmp_path / "shifted" / "big" / "dubs" / f"{lang}.wav", mono=True)
        assert y.size == 10 * sr
        for part in (y[:sr], y[-sr:]):
            assert np.sqrt(np.mean(part**2)) > 10 ** (-40 / 20), lang  # real material, not padding


def test_speech_pool_synthetic_fallback_is_deterministic(tmp_path: Path) -> None:
    bare = tm.MediaSources(tmp_path / "missing", effects_dir=None, espeak=None)
    a = tm.speech_pool("ja", 16000, sources=bare)
    b = tm.speech_pool("ja", 16000, sources=tm.MediaSources(tmp_path / "missing", effects_dir=None, espeak=None))
    assert a.dtype == np.float32 and a.size > 20 * 16000
    np.testing.assert_array_equal(a, b)
    assert np.sqrt(np.mean(a**2)) > 0.05
    assert not np.array_equal(a[: 16000 * 5], tm.speech_pool("pt", 16000, sources=bare)[: 16000 * 5])


def test_build_title_works_without_real_media(tmp_path: Path) -> None:
    spec = tm.TitleSpec("bare", duration_s=6.0, seed=1, dubs=(tm.DubSpec("it", offset_s=0.5, codec="pcm_s16le"),))
    truth = tm.build_title(tmp_path, spec, real_media=tmp_path / "no-such-folder")
    assert set(truth["dubs"]) == {"it"}
    y, sr = tm.read_audio(tmp_path / "bare" / "original.flac", mono=True)
    assert y.size == 6 * sr and np.sqrt(np.mean(y**2)) > 10 ** (-40 / 20)


# --------------------------------------------------------------------------- offset_at and segments


def test_offset_at_with_jumps() -> None:
    truth = {"offset_s": 0.0, "speed_ratio": 1.0, "jumps": [[30.0, 0.5], [60.0, -0.25]]}
    assert tm.offset_at(truth, 10.0) == 0.0
    assert tm.offset_at(truth, 29.999) == 0.0
    assert tm.offset_at(truth, 30.0) == 0.5
    assert tm.offset_at(truth, 59.0) == 0.5
    assert tm.offset_at(truth, 60.0) == -0.25
    assert tm.offset_at({"offset_s": -12.0}, 5.0) == -12.0
    dub = tm.DubSpec("fr", jumps=((30.0, 0.5), (60.0, -0.25)))
    assert tm.dub_segments(dub, 90.0) == [(0.0, 29.5, 0.0), (29.5, 60.25, 0.5), (60.25, 90.0, -0.25)]


def test_offset_at_with_drift() -> None:
    pal = {"offset_s": 0.0, "speed_ratio": 25 / 24, "jumps": []}
    assert tm.offset_at(pal, 0.0) == 0.0
    assert tm.offset_at(pal, 100.0) == pytest.approx(4.0)  # 25/24 faster: 4 % of elapsed time
    lead = {"offset_s": 1.0, "speed_ratio": 1.001, "jumps": []}
    assert tm.offset_at(lead, 1.0) == pytest.approx(1.0)  # dub(0) plays reference time offset_s
    t_ref = 500.0
    t_dub = (t_ref - 1.0) / 1.001  # dub(t) = mix(r t + o)
    assert tm.offset_at(lead, t_ref) == pytest.approx(t_ref - t_dub)
    both = {"offset_s": 0.2, "speed_ratio": 24 / 23.976, "jumps": [[50.0, 1.2]]}
    assert tm.offset_at(both, 60.0) == pytest.approx(60.0 - (60.0 - 1.2) * 23.976 / 24)


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("make", "bad"),
    [
        (lambda: tm.DubSpec("fr", codec="vorbis"), "vorbis"),
        (lambda: tm.DubSpec("fr", channels=4), "4"),
        (lambda: tm.DubSpec("fr", channels=6, codec="mp3"), "mp3"),
        (lambda: tm.DubSpec("fr", sample_rate=0), "0"),
        (lambda: tm.DubSpec("fr", speed_ratio=0.0), "0.0"),
        (lambda: tm.DubSpec("fr", offset_s=math.nan), "nan"),
        (lambda: tm.DubSpec("fr", codec="flac", bitrate=128000), "128000"),
        (lambda: tm.DubSpec("fr", localized_opening_s=-1.0), "-1.0"),
        (lambda: tm.DubSpec("fr", appended_credits_s=-2.0), "-2.0"),
        (lambda: tm.DubSpec("fr", pitch_kept="yes"), "yes"),
        (lambda: tm.DubSpec("fr", jumps=((30.0, 0.0), (20.0, 1.0))), "increasing"),
        (lambda: tm.DubSpec("fr", jumps=((30.0, 0.0), (31.0, 5.0))), "31.0"),
        (lambda: tm.DubSpec("French"), "French"),
        (lambda: tm.TitleSpec("t", duration_s=0.0), "0.0"),
        (lambda: tm.TitleSpec("t", duration_s=-5.0), "-5.0"),
        (lambda: tm.TitleSpec("../t"), "../t"),
        (lambda: tm.TitleSpec("t", original_channels=3), "3"),
        (lambda: tm.TitleSpec("t", dubs=(tm.DubSpec("fr"), tm.DubSpec("fr", offset_s=1.0))), "fr"),
        (lambda: tm.TitleSpec("t", duration_s=10.0, dubs=(tm.DubSpec("fr", jumps=((12.0, 1.0),)),)), "12.0"),
        (lambda: tm.TitleSpec("t", duration_s=10.0, dubs=(tm.DubSpec("fr", localized_opening_s=10.0),)), "10.0"),
    ],
)
def test_invalid_specs_raise_value_error(make, bad: str) -> None:
    with pytest.raises(ValueError, match=bad.replace(".", r"\.")):
        make()


def test_build_title_rejects_rate_the_codec_cannot_encode(tmp_path: Path) -> None:
    spec = tm.TitleSpec("t", duration_s=2.0, dubs=(tm.DubSpec("fr", codec="ac3", sample_rate=22050),))
    with pytest.raises(ValueError, match="22050"):
        tm.build_title(tmp_path, spec)
    assert not (tmp_path / "t").exists()
    with pytest.raises(ValueError, match="duplicate"):
        tm.build_landing_zone(tmp_path, [tm.TitleSpec("t", duration_s=1.0), tm.TitleSpec("t", duration_s=1.0)])


def test_demo_specs_cover_the_required_cases() -> None:
    specs = tm.demo_specs()
    assert len(specs) >= 3 and len({s.title_id for s in specs}) == len(specs)
    dubs = [d for s in specs for d in s.dubs]
    assert all(60.0 <= s.duration_s <= 120.0 and len(s.dubs) >= 2 for s in specs)
    assert {s.original_language for s in specs} | {d.language for d in dubs} <= {"en", "de", "es", "ru", "fr"}
    plain = [d for d in dubs if d.speed_ratio == 1.0 and not d.jumps]
    assert any(d.offset_s >= 0.5 for d in plain)
    assert any(d.offset_s == 0.0 for d in plain)
    assert any(0.0 < abs(d.offset_s) <= 0.05 for d in plain)
    assert any(abs(d.offset_s) >= 10.0 for d in plain)
    assert any(d.codec == "aac" and d.sample_rate == 48000 and d.channels == 6 for d in dubs)
    assert any(d.codec == "ac3" and d.bitrate == 128000 for d in dubs)
