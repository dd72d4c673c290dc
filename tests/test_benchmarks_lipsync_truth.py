"""The bilabial-release truth of the talking heads (benchmarks/lipsync_truth.py, issue 23): where the
acoustic release is found, the sign of a clip's measured sync, and the committed annotations."""

from __future__ import annotations

import numpy as np

from benchmarks.lipsync_truth import MIN_EVENTS, audio_release, band_energy_db, measured_sync, read_truth


def test_audio_release_is_the_burst_after_the_silent_closure():
    rate = 16000
    rng = np.random.default_rng(0)
    t = np.arange(int(0.8 * rate)) / rate
    y = 0.01 * rng.standard_normal(t.size)  # room noise
    vowel = (t >= 0.10) & (t < 0.30)
    y[vowel] += 0.3 * np.sin(2 * np.pi * 150 * t[vowel]) * (1 + 0.5 * np.sin(2 * np.pi * 2500 * t[vowel]))
    burst = t >= 0.500  # the closure is silent 0.30-0.50 s, then broadband noise (a burst, aspiration, a vowel)
    y[burst] += 0.3 * rng.standard_normal(int(burst.sum()))
    energy = band_energy_db(y.astype(np.float32), rate)
    # searched around a visual release 60 ms later (the window, ±160 ms, holds the vowel's end too)
    found = audio_release(energy, rate, 0.0, 0.56)
    assert abs(found - 0.500) < 0.003


def _rows(clip, d_mids, use="1"):
    return [{"clip": clip, "event": str(i), "use": use, "d_mid_ms": str(d)} for i, d in enumerate(d_mids)]


def test_measured_sync_is_the_clips_median_less_the_controls_with_dubsync_sign(real_media):
    rows = (
        _rows("bbaf2n", [10.0, -10.0]) + _rows("brbk7n", [5.0])  # controls: their pooled median, 5 ms, is the zero
        + _rows("face_2", [45.0, 45.0, 35.0, 55.0])  # acoustic releases 45 ms after the visual ones: audio lags
        + _rows("face_3", [-20.0] * (MIN_EVENTS - 1))  # too few events: not measured
        + _rows("face_4", [500.0] * 5, use="0")  # looked at and left out
    )  # fmt: skip
    sync = measured_sync(rows)
    assert sync["bbaf2n"] == 0.0 and sync["brbk7n"] == 0.0
    assert np.isclose(sync["face_2"], -0.040)  # positive = audio leads, as dubsync's offsets
    assert sync["face_3"] is None
    assert sync["face_4"] is None


def test_the_committed_annotations_measure_the_held_out_clips(real_media):
    rows = read_truth()
    used = [r for r in rows if r["use"] == "1"]
    assert all(r["d_mid_ms"] and int(r["first_open_frame"]) > int(r["last_closed_frame"]) for r in used)
    sync = measured_sync(rows)
    measured = [name for name in ("face_1", "face_2", "face_3", "face_4", "face_5") if sync.get(name) is not None]
    assert len(measured) >= 4
