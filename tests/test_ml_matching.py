"""Matching recovers known offsets on generated pairs; the verdict names each kind of error."""

import dataclasses

import numpy as np
import pytest

from ml.audio_sync.matching import coarse_alignment, match_signatures, match_with_speed_search
from ml.audio_sync.signatures import (
    pack_codes,
    signature_from_audio,
    signature_from_file,
)
from ml.audio_sync.verdict import decide
from ml.decoding.audio import load_audio
from ml.policy import MatchParams, Policy, SignatureParams
from ml.testmedia import DubSpec, TitleSpec, build_title

OFFSETS = {
    "fr": -30.0, "de": -12.3, "es": -5.0, "ru": -0.5, "it": -0.05,
    "pt": 0.0, "nl": 0.05, "pl": 1.0, "sv": 5.0, "ja": 30.0,
}  # fmt: skip
POLICY = Policy()


def _generated(root, spec, real_media):
    """Build a title; return its folder and the original's (reference) signature."""
    build_title(root, spec, real_media=real_media)
    folder = root / spec.title_id
    return folder, signature_from_file(next(folder.glob("original.*")), role="reference")


@pytest.fixture(scope="module")
def offset_title(tmp_path_factory, real_media):
    dubs = tuple(DubSpec(lang, offset_s=off) for lang, off in OFFSETS.items())
    spec = TitleSpec("offsets", duration_s=60.0, dubs=dubs, seed=11)
    return _generated(tmp_path_factory.mktemp("offsets"), spec, real_media)


@pytest.mark.parametrize("language", list(OFFSETS))
def test_matching_recovers_known_offsets_to_a_few_ms(offset_title, language):
    folder, reference = offset_title
    dub = signature_from_file(next(folder.glob(f"dubs/{language}.*")))
    matches = match_signatures(dub, reference, POLICY.match)
    truth = OFFSETS[language]
    assert matches.n_matched >= POLICY.verdict.min_matched_frames
    assert abs(matches.offset_s - truth) <= 0.005, (matches.offset_s, truth)
    verdict = decide(matches, match=POLICY.match, params=POLICY.verdict)
    assert verdict.kind == ("in_sync" if abs(truth) <= 0.2 else "constant")
    assert verdict.in_sync == (abs(truth) <= 0.2)
    assert verdict.correction_shift_s == pytest.approx(verdict.offset_s)
    # in sync and undetectable (pt 0, it -50 ms lag): nothing to fix; nl +50 ms lead is past the
    # +45 ms undetectable limit, so its shift is the correction
    assert verdict.correction.startswith("none") == (verdict.band == "undetectable" and verdict.in_sync)
    if language == "nl":
        assert verdict.band == "acceptable" and verdict.correction == "delay the dub audio by 50 ms"


def test_matches_against_one_original_object_equal_those_against_fresh_copies(offset_title):
    # the original's layouts are made once per signature object (Signature.derived) and shared by
    # every dub matched against it: a dub's matches must not depend on the dubs matched before it,
    # whatever their lengths (a 20-s cut, first, is aligned whole: narrower stretches, other transforms)
    folder, reference = offset_title
    sr = POLICY.signature.sample_rate
    y, _ = load_audio(next(folder.glob("dubs/ru.*")), sample_rate=sr)
    dubs = [signature_from_file(next(folder.glob(f"dubs/{lang}.*"))) for lang in ("fr", "pt", "ja")]
    dubs.insert(0, signature_from_audio(y[: 20 * sr], sample_rate=sr))
    shared = dataclasses.replace(reference)  # a new object, no layouts made yet
    for dub in dubs:
        once = match_signatures(dub, shared, POLICY.match)
        fresh = match_signatures(dub, dataclasses.replace(reference), POLICY.match)
        for field in dataclasses.fields(once):
            np.testing.assert_array_equal(getattr(once, field.name), getattr(fresh, field.name), err_msg=field.name)
    assert once.n_matched >= POLICY.verdict.min_matched_frames
    assert len(shared.__dict__["_derived"]) >= 5  # made once, kept with the object


def test_offsets_beyond_the_search_window_are_not_guessed(offset_title):
    folder, reference = offset_title
    dub = signature_from_file(next(folder.glob("dubs/ja.*")))  # +30 s
    narrow = MatchParams(search_window_s=10.0)
    matches = match_signatures(dub, reference, narrow)
    verdict = decide(matches, match=narrow, params=POLICY.verdict)
    assert verdict.kind == "undetermined" and not verdict.in_sync
    assert verdict.offset_s is None


def test_a_dub_without_the_original_music_and_effects_is_undetermined(rng):
    sr = 44100
    a = rng.normal(0, 0.1, sr * 30).astype(np.float32)
    b = rng.normal(0, 0.1, sr * 30).astype(np.float32)
    # coloured, unrelated signals: no shared M&E
    a = np.convolve(a, np.hanning(64), mode="same").astype(np.float32)
    b = np.convolve(b, np.hanning(9), mode="same").astype(np.float32)
    reference = signature_from_audio(a, sample_rate=sr, role="reference")
    dub = signature_from_audio(b, sample_rate=sr)
    matches = match_signatures(dub, reference, POLICY.match)
    verdict = decide(matches, match=POLICY.match, params=POLICY.verdict)
    assert verdict.kind == "undetermined"
    assert not verdict.in_sync
    assert verdict.reason


def test_signatures_of_different_parameters_do_not_match(rng):
    y = rng.normal(0, 0.1, 44100 * 5).astype(np.float32)
    a = signature_from_audio(y, sample_rate=44100, role="reference")
    b = signature_from_audio(y, sample_rate=44100, params=SignatureParams(seed=3))
    with pytest.raises(ValueError, match="different parameters"):
        match_signatures(b, a)


def test_reference_signature_must_be_the_finer_one(rng):
    y = rng.normal(0, 0.1, 44100 * 5).astype(np.float32)
    reference = signature_from_audio(y, sample_rate=44100, role="reference")
    dub = signature_from_audio(y, sample_rate=44100)
    with pytest.raises(ValueError, match="role='reference'"):
        match_signatures(reference, dub)


def test_theta_min_dist_alone_is_the_papers_filter(offset_title):
    folder, reference = offset_title
    dub = signature_from_file(next(folder.glob("dubs/pl.*")))
    paper = MatchParams(max_rival_ratio=0.0)
    matches = match_signatures(dub, reference, paper)
    assert np.array_equal(matches.matched, matches.distances < paper.theta_min_dist)
    # the rival rule changes which frames count, not the search: the default finds the same
    # distances and offsets, and keeps more frames (on this 60-s title the paper's filter alone
    # keeps none of pl's), most of them at the true +1 s (the others, about 7 %, are outliers the
    # timeline fit sets aside), and the track offset they give is the true one
    default = match_signatures(dub, reference, POLICY.match)
    assert np.array_equal(default.distances, matches.distances)
    assert np.array_equal(default.offsets, matches.offsets, equal_nan=True)  # NaN: no frame in reach
    added = default.matched & ~matches.matched
    assert not (matches.matched & ~default.matched).any() and added.sum() >= POLICY.verdict.min_matched_frames
    assert np.mean(np.abs(default.offsets[added] - OFFSETS["pl"]) <= 0.005) >= 0.85
    assert abs(default.offset_s - OFFSETS["pl"]) <= 0.005


@pytest.mark.parametrize("language", ["de", "it", "nl", "sv"])
def test_offsets_are_accurate_below_the_frame_step(offset_title, language):
    """-12.3, -0.05, +0.05 and +5 s lie between frame positions; refinement finds them to a few ms."""
    folder, reference = offset_title
    dub = signature_from_file(next(folder.glob(f"dubs/{language}.*")))
    matches = match_signatures(dub, reference, POLICY.match)
    assert abs(matches.offset_s - OFFSETS[language]) <= 0.005


def test_exhaustive_strategy_agrees_with_coarse_to_fine(offset_title):
    folder, reference = offset_title
    dub = signature_from_file(next(folder.glob("dubs/es.*")))  # -5 s
    fast = match_signatures(dub, reference, POLICY.match)
    paper = match_signatures(dub, reference, MatchParams(strategy="exhaustive", search_window_s=30.0))
    assert abs(fast.offset_s - paper.offset_s) <= 0.005
    assert fast.n_matched >= 0.8 * paper.n_matched


def _thinned(signature, keep):
    """``signature`` with only the kept frames where ``keep`` is true (the others dropped)."""
    mask = np.zeros(signature.n_frames, dtype=bool)
    mask[signature.frames[keep]] = True
    codes = pack_codes(signature.codes[keep], signature.code_bits)
    return dataclasses.replace(signature, kept_mask=np.packbits(mask), packed_codes=codes)


def _written_out(dub, reference, spans, window):
    """The per-frame search written out: each kept dub frame of a span ``(first, last, lag)``
    against every kept original frame within ``lag ± window``; the first of equal best distances;
    the offset refined by the vertex of a V through the distances of the original's frames one step
    either side (none when one of them is dropped or outside the window); the rival is the best
    distance more than 0.25 s from the best match. Returns offsets, distances, rivals and how many
    best matches had a dropped neighbour."""
    t_ref, v_ref, f_ref = reference.times, reference.vectors, reference.frames
    kept = set(f_ref.tolist())
    n = len(dub.frames)
    offsets, distances, rivals = np.full(n, np.nan), np.full(n, np.inf), np.full(n, np.inf)
    dropped_neighbours = 0
    for first, last, lag in spans:
        for i in range(first, last):
            t = dub.times[i]
            inside = np.flatnonzero((t_ref >= t + lag - window) & (t_ref <= t + lag + window))
            if len(inside) == 0:
                continue
            dist = np.abs(v_ref[inside] - dub.vectors[i]).max(axis=1)
            b = int(np.argmin(dist))
            by_frame = dict(zip(f_ref[inside].tolist(), dist.astype(np.float64)))
            near = [by_frame.get(int(f_ref[inside[b]]) + side) for side in (-1, 1)]
            dropped_neighbours += any(int(f_ref[inside[b]]) + side not in kept for side in (-1, 1))
            d0, delta = float(dist[b]), 0.0
            if None not in near and max(near) > d0:
                delta = float(np.clip((near[0] - near[1]) / (2 * (max(near) - d0)), -0.5, 0.5))
            offsets[i] = t_ref[inside[b]] - t + reference.frame_seconds * delta
            distances[i] = dist[b]
            far = np.abs(t_ref[inside] - t_ref[inside[b]]) > 0.25
            rivals[i] = dist[far].min(initial=np.inf)
    return offsets, distances, rivals, dropped_neighbours


@pytest.mark.parametrize("strategy", ["coarse_to_fine", "exhaustive"])
def test_fine_matching_is_the_per_frame_search_written_out(offset_title, strategy):
    """Both ways of computing the distances (lag by lag over blocks of frames, and frame by frame
    for wide windows) give what a per-frame search gives, bit for bit, also where frames of either
    signature were dropped (gaps inside blocks, dropped neighbours of best matches)."""
    folder, reference = offset_title
    dub = signature_from_file(next(folder.glob("dubs/de.*")))  # -12.3 s: between frame positions
    n_ref, n_dub = len(reference.frames), len(dub.frames)
    reference = _thinned(reference, np.arange(n_ref) % 5 != 2)
    dub = _thinned(dub, (np.arange(n_dub) % 3 != 1) & ((np.arange(n_dub) < 300) | (np.arange(n_dub) >= 420)))
    if strategy == "exhaustive":
        params = MatchParams(strategy="exhaustive", search_window_s=15.0)
        spans, window = [(0, len(dub.frames), 0.0)], params.search_window_s + dub.frame_seconds
    else:
        params = POLICY.match
        spans, window = coarse_alignment(dub, reference, params), params.fine_window_s
    matches = match_signatures(dub, reference, params)
    offsets, distances, rivals, dropped_neighbours = _written_out(dub, reference, spans, window)
    assert dropped_neighbours > 50  # the case where a dropped frame would be taken as a neighbour
    searched = np.isfinite(distances)
    assert searched.sum() >= 400  # of 775 kept dub frames (the coarse stage leaves out the title's ends)
    np.testing.assert_array_equal(matches.distances, distances.astype(np.float32))
    np.testing.assert_array_equal(matches.rival_distances, rivals.astype(np.float32))
    np.testing.assert_allclose(matches.offsets[searched], offsets[searched], rtol=0, atol=1e-9)
    assert np.isnan(matches.offsets[~searched]).all()


@pytest.fixture(scope="module")
def kinds_title(tmp_path_factory, real_media):
    """A 150-s title: a drift (24 → 23.976 fps), a jump at a reel change, an offset beyond ±30 s."""
    spec = TitleSpec(
        "kinds",
        duration_s=150.0,
        dubs=(
            DubSpec("fr", offset_s=-0.1, speed_ratio=24 / 23.976),
            DubSpec("de", offset_s=0.0, jumps=((70.0, 0.5),), codec="aac", bitrate=128000),
            DubSpec("es", offset_s=75.0),
        ),
        seed=21,
    )
    return _generated(tmp_path_factory.mktemp("kinds"), spec, real_media)


def _verdict(folder, reference, language):
    dub = signature_from_file(next(folder.glob(f"dubs/{language}.*")))
    matches = match_signatures(dub, reference, POLICY.match)
    return decide(matches, match=POLICY.match, params=POLICY.verdict)


def test_a_drift_is_reported_as_a_slope_with_its_rate(kinds_title):
    verdict = _verdict(*kinds_title, "fr")
    true_ppm = (24 / 23.976 - 1) * 1e6
    assert verdict.kind == "drift"
    assert verdict.drift_ppm == pytest.approx(true_ppm, rel=0.02)  # the bar is 10 %
    assert verdict.offset_s == pytest.approx(-0.1, abs=0.005)
    assert verdict.correction_speed_ratio == pytest.approx(23.976 / 24, rel=2e-5)


def test_a_jump_is_reported_as_two_segments(kinds_title):
    verdict = _verdict(*kinds_title, "de")
    assert verdict.kind == "intermittent"
    assert [round(s["offset_s"], 2) for s in verdict.segments] == [0.0, 0.5]
    assert verdict.segments[0]["end_s"] <= 70.5 and verdict.segments[1]["start_s"] >= 69.5
    assert not verdict.in_sync


def test_offsets_beyond_30_seconds_are_found(kinds_title):
    verdict = _verdict(*kinds_title, "es")
    assert verdict.kind == "constant"
    assert verdict.offset_s == pytest.approx(75.0, abs=0.005)


def test_a_pal_speed_up_is_found_by_the_speed_search(tmp_path, real_media):
    """25/24 shifts the pitch by 4 %: nothing matches at the dub's own speed; resampled, it does.

    (Seed 4. With seed 3 the generated bed repeats a music excerpt 49.6 s apart, the last stretch
    aligns on the repeat and the verdict is undetermined: a known limit, see the closing note.)"""
    from ml.audio_sync.matching import match_with_speed_search

    spec = TitleSpec("pal", duration_s=90.0, dubs=(DubSpec("fr", offset_s=-0.1, speed_ratio=25 / 24),), seed=4)
    folder, reference = _generated(tmp_path, spec, real_media)
    path = next(folder.glob("dubs/fr.*"))
    plain = match_signatures(signature_from_file(path), reference, POLICY.match)
    assert plain.n_matched < 0.05 * len(plain.dub_times)  # a few stray frames at most
    matches = match_with_speed_search(
        signature_from_file(path), reference, POLICY.match,
        resignature=lambda speed: signature_from_file(path, speed=speed),
        min_matched_frames=POLICY.verdict.min_matched_frames,
    )  # fmt: skip
    assert matches.speed == pytest.approx(25 / 24)
    verdict = decide(matches, match=POLICY.match, params=POLICY.verdict)
    assert verdict.kind == "drift"
    assert verdict.drift_ppm == pytest.approx((25 / 24 - 1) * 1e6, rel=0.01)
    assert verdict.offset_s == pytest.approx(-0.1, abs=0.01)


SHORT_OFFSETS = {"fr": 0.0, "de": -5.0, "sv": 2.5}


@pytest.fixture(scope="module")
def short_title(tmp_path_factory, real_media):
    """A 15-s promo: shorter than one coarse stretch (``chunk_s`` = 30 s)."""
    dubs = tuple(DubSpec(lang, offset_s=off) for lang, off in SHORT_OFFSETS.items())
    spec = TitleSpec("promo", duration_s=15.0, dubs=dubs, seed=7)
    return _generated(tmp_path_factory.mktemp("promo"), spec, real_media)


@pytest.mark.parametrize("language", list(SHORT_OFFSETS))
def test_a_15_s_programme_is_aligned_whole(short_title, language):
    # issue 22: below one 30-s stretch the coarse stage found nothing ("only 0 dub frames match");
    # a programme of 5-30 s is aligned as one stretch, even 5 s late (10 s of it on the original)
    folder, reference = short_title
    dub = signature_from_file(next(folder.glob(f"dubs/{language}.*")))
    assert dub.duration_s < POLICY.match.chunk_s
    truth = SHORT_OFFSETS[language]
    assert [round(lag, 0) for _, _, lag in coarse_alignment(dub, reference, POLICY.match)] == [round(truth, 0)]
    verdict = decide(match_signatures(dub, reference, POLICY.match), match=POLICY.match, params=POLICY.verdict)
    assert verdict.kind == ("in_sync" if truth == 0 else "constant")
    assert abs(verdict.offset_s - truth) <= 0.005, (verdict.offset_s, truth)
    assert verdict.complete


def test_a_dub_under_5_s_or_silent_is_undetermined_with_that_reason(short_title):
    folder, reference = short_title
    sr = POLICY.signature.sample_rate
    fr, _ = load_audio(next(folder.glob("dubs/fr.*")), sample_rate=sr)
    # the first 4 s of an in-sync dub: its frames may well match, but 4 s is no evidence
    head = match_signatures(signature_from_audio(fr[: 4 * sr], sample_rate=sr), reference, POLICY.match)
    verdict = decide(head, match=POLICY.match, params=POLICY.verdict)
    assert verdict.kind == "undetermined" and verdict.offset_s is None and not verdict.in_sync
    assert "the dub lasts 4.0 s, under min_dub_s = 5 s" in verdict.reason
    # 10 s of digital silence: no frame to match, never a guess
    silent = match_signatures(signature_from_audio(np.zeros(10 * sr, np.float32), sample_rate=sr), reference, POLICY.match)
    verdict = decide(silent, match=POLICY.match, params=POLICY.verdict)
    assert verdict.kind == "undetermined" and verdict.offset_s is None
    assert verdict.reason.startswith("the dub is silent")


@pytest.fixture(scope="module")
def delivery_title(tmp_path_factory, real_media):
    """A 60-s programme: a dub that goes +0.5 s out of sync at 30 % and comes back at 70 %, and an
    in-sync dub with 20 s of localised end credits appended."""
    dubs = (
        DubSpec("fr", jumps=((18.0, 0.5), (42.0, 0.0))),
        DubSpec("de", appended_credits_s=20.0),
    )
    spec = TitleSpec("deliveries", duration_s=60.0, dubs=dubs, seed=3)
    return _generated(tmp_path_factory.mktemp("deliveries"), spec, real_media)


def test_a_dub_out_of_sync_and_back_is_intermittent_with_its_three_stretches(delivery_title):
    folder, reference = delivery_title
    dub = signature_from_file(next(folder.glob("dubs/fr.*")))
    verdict = decide(match_signatures(dub, reference, POLICY.match), match=POLICY.match, params=POLICY.verdict)
    assert verdict.kind == "intermittent" and not verdict.in_sync
    # the jump at original time 18 s to +0.5 s switches at dub time 17.5 s, the way back at 42 s
    assert [round(s["offset_s"], 2) for s in verdict.segments] == [0.0, 0.5, 0.0]
    bounds = [(s["start_s"], s["end_s"]) for s in verdict.segments]
    assert bounds[0][0] < 1.0 and abs(bounds[0][1] - 17.5) < 1.5 and abs(bounds[1][0] - 17.5) < 1.5
    assert abs(bounds[1][1] - 42.0) < 1.5 and abs(bounds[2][0] - 42.0) < 1.5 and bounds[2][1] > 58.0
    assert "3 stretches" in verdict.reason and verdict.complete


def test_appended_credits_leave_the_dub_in_sync_and_fail_its_completeness(delivery_title):
    folder, reference = delivery_title
    dub = signature_from_file(next(folder.glob("dubs/de.*")))
    verdict = decide(match_signatures(dub, reference, POLICY.match), match=POLICY.match, params=POLICY.verdict)
    assert verdict.kind == "in_sync" and verdict.in_sync and abs(verdict.offset_s) <= 0.005
    assert verdict.complete is False
    assert verdict.dub_duration_s == pytest.approx(80.0, abs=0.05) and verdict.original_duration_s == pytest.approx(60.0, abs=0.05)
    assert verdict.tail_s == pytest.approx(-20.0, abs=0.05)
    assert "20.0 s longer" in verdict.completeness
    assert "the dub holds 20.0 s after the original ends (dub 60.0-80.0 s)" in verdict.completeness


@pytest.mark.parametrize("ratio", [25 / 24, 24 / 25])
def test_a_time_stretch_with_the_pitch_kept_is_a_drift_with_its_rate(tmp_path, real_media, ratio):
    # a PAL conversion with pitch correction: the spectra stay where they were, the timing drifts
    # by 4 %; resampling (the pitch-shifting search) finds almost nothing, the time warp finds it
    spec = TitleSpec("tempo", duration_s=45.0, dubs=(DubSpec("fr", offset_s=-0.1, speed_ratio=ratio, pitch_kept=True),), seed=5)
    folder, reference = _generated(tmp_path, spec, real_media)
    path = next(folder.glob("dubs/fr.*"))
    dub = signature_from_file(path)
    matches = match_with_speed_search(
        dub, reference, POLICY.match, resignature=lambda speed: signature_from_file(path, speed=speed),
        min_matched_frames=POLICY.verdict.min_matched_frames,
    )  # fmt: skip
    verdict = decide(matches, match=POLICY.match, params=POLICY.verdict)
    # at its own speed a few frames near each stretch's lag may match already (45 s of 25/24 matched
    # 6 %, above the speed search's 5 %): the verdict must be the drift either way
    assert matches.speed in (1.0, pytest.approx(ratio))
    assert verdict.kind == "drift"
    truth_ppm = (ratio - 1) * 1e6
    assert abs(verdict.drift_ppm - truth_ppm) <= 0.05 * abs(truth_ppm), (verdict.drift_ppm, truth_ppm)
    assert abs(verdict.offset_s - (-0.1)) <= 0.02


REMIXED = {"fr": -2.0, "de": -0.12}


@pytest.fixture(scope="module")
def remixed_title(tmp_path_factory, real_media):
    """The dubs' M&E remixed (EQ ±4-6 dB, 4:1 compression, a 60-ms echo, an 8-kHz low-pass); de's
    also 12 dB quieter under the same dialogue."""
    remix = ("eq", "compress", "echo", "lowpass")
    dubs = (DubSpec("fr", offset_s=REMIXED["fr"], me_remix=remix), DubSpec("de", offset_s=REMIXED["de"], me_remix=remix, me_gain_db=-12.0))
    spec = TitleSpec("remixed", duration_s=60.0, dubs=dubs, seed=4)
    return _generated(tmp_path_factory.mktemp("remixed"), spec, real_media)


@pytest.mark.parametrize("language", list(REMIXED))
def test_a_dub_with_a_remixed_music_and_effects_is_aligned(remixed_title, language):
    folder, reference = remixed_title
    dub = signature_from_file(next(folder.glob(f"dubs/{language}.*")))
    verdict = decide(match_signatures(dub, reference, POLICY.match), match=POLICY.match, params=POLICY.verdict)
    truth = REMIXED[language]
    assert verdict.kind == ("in_sync" if abs(truth) <= 0.2 else "constant"), verdict.reason
    assert abs(verdict.offset_s - truth) <= 0.005, (verdict.offset_s, truth)
    assert "envelope matcher" in verdict.reason and "signatures" in verdict.reason
