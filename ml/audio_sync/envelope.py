"""The envelope matcher: a second dub ↔ original matcher, independent of the signatures' frames.

Continuous dialogue leaves the signature matcher (:mod:`ml.audio_sync.matching`) too few frames
under θ_min_dist: its L∞ distance compares whole spectra frame by frame, and dialogue differs
between languages in almost every frame. The music and effects are still there under the
dialogue, and over a stretch of tens of seconds their changes correlate where the dialogue's do
not. This matcher cross-correlates, per stretch of the dub, the onsets of the band envelopes that
every signature keeps (:attr:`ml.audio_sync.signatures.Signature.envelope`: the level of a few
log-spaced bands of every frame): the rise of each band's level over one dub hop, half-wave
rectified and standardised per band (a spectral flux per band). Each stretch is aligned as a whole
within ±``search_window_s`` frame by frame (FFT, with the signatures' coarse-stage correlator),
then on the original's finer grid (its 4 × oversampled frames) within a frame of the best lag,
and refined below that grid by a parabola.

Each stretch is evidence of its own: its offset, its correlation and its contrast (the best
correlation over the best more than 1 s away). A stretch is accepted when its contrast reaches
``envelope_min_contrast``, or a weaker one that another accepted stretch agrees with, or (of any
contrast) one that lies on the line through two or more accepted stretches (a drift's weak stretch),
or a weak one whose two halves, each aligned by itself, peak at its lag (:func:`_halves_agree`),
or one whose correlation at an accepted stretch's offset stands out from its own scores (a test at
a few lags named in advance, not a search: :func:`_tested`).
When the accepted stretches drift, pieces of a third of a stretch are tested on their line
(:func:`_pieces_on_the_line`): the verdict takes the drift's rate from them.
A programme shorter than two stretches is aligned whole. The verdict
(:func:`ml.audio_sync.verdict.decide`) fuses these stretches with the signatures' frames.

Sign convention: offset = t_original − t_dub, seconds; positive = the dub's audio leads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ml.audio_sync.signatures import Signature
from ml.errors import ParameterError
from ml.policy import MatchParams

__all__ = ["ALGORITHM", "EnvelopeStretches", "band_onsets", "match_envelopes", "median_and_sigma"]

ALGORITHM = "band-onset-xcorr/4"
"""Changes when the envelope matcher can find other offsets from the same envelopes (3: a stretch
that does not count is tested at the accepted stretches' offsets; 4: a weak stretch whose halves
peak at its lag counts, and a tested lag within one deviation of a lag nearby counts; a drift's
pieces of a third of a stretch are tested on the stretches' line, for its rate)."""
MAX_RISE_DB = 20.0
"""A band's rise over one hop counts up to this many dB (the first sound after digital silence
would otherwise outweigh every other onset)."""
_RIVAL_S = 1.0
"""The rival of a stretch's best lag is its best lag more than this far away, seconds."""
TESTED_MIN_Z = 3.5
"""A stretch that does not stand out by itself counts at an accepted stretch's offset when its
correlation there is this many robust standard deviations above its median over the window (see
:func:`_tested`)."""
TESTED_TIE_Z = 1.0
"""A tested lag is the peak of its surroundings when no lag within 1 s scores more than this many
robust standard deviations higher (see :func:`_tested`)."""
HALVES_MIN_Z = 6.0
"""A weak stretch counts at its best lag when each of its halves, aligned by itself, peaks there
this many robust standard deviations above its median over the window (see :func:`_halves_agree`)."""
WEAK_CONTRAST = 1.1
"""Stretches below this contrast are never accepted, up to ``envelope_min_contrast`` only when an
accepted stretch agrees with their offset."""


@dataclass(frozen=True)
class EnvelopeStretches:
    """Per-stretch evidence of the envelope matcher, on the dub's own timeline.

    Attributes
    ----------
    starts, ends : np.ndarray [shape=(k,), dtype=float64]
        Dub time of each stretch's first and last frame, seconds.
    offsets : np.ndarray [shape=(k,), dtype=float64]
        Each stretch's offset (t_original − t_dub), seconds; positive = dub leads.
    scores : np.ndarray [shape=(k,), dtype=float64]
        Normalised correlation (cosine) of the stretch with the original at that offset.
    contrasts : np.ndarray [shape=(k,), dtype=float64]
        ``scores`` over the best score more than 1 s away.
    accepted : np.ndarray [shape=(k,), dtype=bool]
        The stretches that count as evidence.
    piece_times, piece_offsets : np.ndarray [shape=(p,), dtype=float64]
        When the accepted stretches drift: the centre (dub time, seconds) and offset (seconds) of
        each piece of a third of a stretch that counts at the line's offset (see
        :func:`_pieces_on_the_line`); empty otherwise.
    """

    starts: np.ndarray
    ends: np.ndarray
    offsets: np.ndarray
    scores: np.ndarray
    contrasts: np.ndarray
    accepted: np.ndarray
    piece_times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    piece_offsets: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @classmethod
    def empty(cls) -> EnvelopeStretches:
        zeros = np.zeros(0, dtype=np.float64)
        return cls(zeros, zeros, zeros, zeros, zeros, np.zeros(0, dtype=bool))


def band_onsets(signature: Signature, step: int = 1) -> np.ndarray:
    """The rise of each band's level over ``step`` frames, rectified and standardised per band.

    Parameters
    ----------
    signature : Signature
        With band envelopes (``envelope_bands`` > 0).
    step : int
        Frames over which the rise is taken (the original's frames per dub frame, so that both
        tracks' rises span one dub hop).

    Returns
    -------
    np.ndarray [shape=(n_frames, B), dtype=float32]
        Zero mean and unit variance per band (bands without any change stay 0).
    """
    envelope = signature.envelope
    if envelope is None:
        raise ParameterError("the signature has no band envelopes: compute it with envelope_bands > 0")
    rise = np.zeros_like(envelope)
    if len(envelope) > step:
        np.clip(envelope[step:] - envelope[:-step], 0.0, MAX_RISE_DB, out=rise[step:])
    rise -= rise.mean(axis=0)
    rise /= rise.std(axis=0) + np.float32(1e-6)
    return rise


def match_envelopes(dub: Signature, reference: Signature, params: MatchParams) -> EnvelopeStretches:
    """Align each stretch of the dub with the original by its band onsets.

    Parameters
    ----------
    dub, reference : Signature
        Signatures with band envelopes, the reference made with ``role="reference"``.
    params : MatchParams
        ``chunk_s`` (stretch length; a dub shorter than one stretch is aligned whole),
        ``search_window_s``, ``envelope_min_contrast``.

    Returns
    -------
    EnvelopeStretches
        One entry per stretch that lies on the original at some lag within the window; offsets and
        times on the dub's own timeline (a dub resampled by the speed search is mapped back).
    """
    from ml.audio_sync.matching import _Correlator

    if dub.envelope_codes is None or reference.envelope_codes is None:
        return EnvelopeStretches.empty()
    if dub.envelope_codes.shape[1] != reference.envelope_codes.shape[1]:
        raise ParameterError(
            f"band envelopes differ: dub {dub.envelope_codes.shape[1]} bands, original "
            f"{reference.envelope_codes.shape[1]}: recompute both with the same policy"
        )
    s = dub.hop_length // reference.hop_length
    d = band_onsets(dub, 1)
    # the original's onsets, and its layouts below, are the same for every dub and trial speed
    r = reference.derived(("band-onsets", s), lambda: band_onsets(reference, s))
    r_phases = reference.derived(("band-onset-phases", s), lambda: [np.ascontiguousarray(r[p::s]) for p in range(s)])
    # the search runs on cells of ``pool`` dub frames, the lag then on the original's own grid
    # within a cell of the best. One frame a cell: pooling 2 or 4 frames halves or quarters the
    # search, but onsets smear and real speech over a quiet bed then found a wrong lag (+188 ms for
    # -120 ms, contrast 2.1) where single frames found the right one
    pool = 1
    d_cells = _pool(d, pool)
    r_cells = _pool(r_phases[0], pool)  # the original's phase 0, on the dub's grid
    step_s = dub.frame_seconds
    cell_s = step_s * pool
    ref_step_s = reference.hop_length / reference.sample_rate
    # offset of dub frame i against original frame s·i + k: origin + k · ref_step_s
    origin = reference.frame_times(np.array([0]))[0] - dub.frame_times(np.array([0]))[0]
    chunk = min(max(4, int(round(params.chunk_s / cell_s))), len(d_cells), len(r_cells))
    if chunk < 4:
        return EnvelopeStretches.empty()
    if len(d_cells) < 2 * chunk <= 2 * len(r_cells):
        # a programme shorter than two stretches is aligned whole: its second stretch would be a
        # remnant, and one stretch of two cannot hold the dub's stretches that the verdict needs
        # (a 60-s dub with a reverberant, band-limited M&E: +3854 ms at contrast 1.04, then +502 ms
        # at 2.13 in two 30-s stretches; +503 ms at 2.14 aligned whole)
        chunk = min(len(d_cells), len(r_cells))
    whole = chunk == len(d_cells)
    correlate = reference.derived(("band-onset-correlator", s, pool, chunk), lambda: _Correlator(r_cells, chunk))
    lag_lo = int(np.ceil((-params.search_window_s - origin) / cell_s))
    lag_hi = int(np.floor((params.search_window_s - origin) / cell_s))
    rows, curves = [], []
    for c0 in range(0, len(d_cells), chunk):
        c1 = min(len(d_cells), c0 + chunk)
        block = d_cells[c0:c1]
        width = c1 - c0
        if width < 4 or not block.any():
            continue
        curve = _cosines(correlate, block, c0, (lag_lo, lag_hi), len(r_cells), whole=whole)
        if curve is None:
            continue
        q, score = curve
        curves.append((q, score, c0, c1))
        best = int(np.argmax(score))
        rival = np.where(np.abs(q - q[best]) * cell_s > _RIVAL_S, score, -np.inf).max()
        contrast = float(score[best] / max(rival, 1e-3)) if np.isfinite(score[best]) else 0.0
        f0, f1 = c0 * pool, min(len(d), c1 * pool)  # the stretch's dub frames
        offset, fine_score = _refine(d[f0:f1], r_phases, f0, (int(q[best]) - c0) * pool, s, pool)
        rows.append((dub.frame_times(np.array([f0]))[0], dub.frame_times(np.array([f1 - 1]))[0],
                     origin + offset * ref_step_s, fine_score, contrast))  # fmt: skip
    if not rows:
        return EnvelopeStretches.empty()
    starts, ends, offsets, scores, contrasts = (np.array(col, dtype=np.float64) for col in zip(*rows))
    accepted = contrasts >= params.envelope_min_contrast
    weak = (contrasts >= WEAK_CONTRAST) & ~accepted
    for i in np.flatnonzero(weak):  # agreement is evidence too
        if np.any(accepted & (np.abs(offsets - offsets[i]) <= 2 * cell_s)):
            accepted[i] = True
    for i in np.flatnonzero(weak & ~accepted):  # so is agreement of a stretch's two halves
        q, score, c0, c1 = curves[i]
        best = int(q[int(np.argmax(score))]) - c0
        accepted[i] = _halves_agree(correlate, d_cells[c0:c1], c0, (lag_lo, lag_hi), len(r_cells), best)
    accepted |= _on_the_line(starts, ends, offsets, accepted, 2 * cell_s)
    found = np.unique(np.round((offsets[accepted] - origin) / cell_s))  # the accepted lags, cells
    for i in np.flatnonzero(~accepted):  # a stretch at an offset found elsewhere: one test, no search
        q, score, c0, c1 = curves[i]
        tested = _tested(q - c0, score, found, 2, int(np.ceil(_RIVAL_S / cell_s)))
        if tested is not None:
            f0, f1 = c0 * pool, min(len(d), c1 * pool)
            offset, scores[i] = _refine(d[f0:f1], r_phases, f0, tested * pool, s, pool)
            offsets[i] = origin + offset * ref_step_s
            rival = np.where(np.abs(q - c0 - tested) * cell_s > _RIVAL_S, score, -np.inf).max()
            contrasts[i] = float(score[q - c0 == tested][0] / max(rival, 1e-3))
            accepted[i] = True
    piece_times, piece_offsets = _pieces_on_the_line(
        d, r_phases, s, (starts, ends, offsets, accepted), (lag_lo, lag_hi),
        (dub.frame_times(np.array([0]))[0], step_s, origin, ref_step_s), params,
    )  # fmt: skip
    if dub.speed != 1.0:  # back to the dub's own timeline (see ml.audio_sync.matching)
        centres = (starts + ends) / 2
        offsets = offsets + centres * (1.0 - 1.0 / dub.speed)
        starts, ends = starts / dub.speed, ends / dub.speed
        piece_offsets = piece_offsets + piece_times * (1.0 - 1.0 / dub.speed)
        piece_times = piece_times / dub.speed
    return EnvelopeStretches(starts, ends, offsets, scores, contrasts, accepted, piece_times, piece_offsets)


PIECES_PER_STRETCH = 3
"""A drift's rate is measured on pieces of a third of a stretch (10 s of 30; see
:func:`_pieces_on_the_line`)."""


def _pieces_on_the_line(
    d: np.ndarray,
    r_phases: list[np.ndarray],
    s: int,
    stretches: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    window: tuple[int, int],
    grid: tuple[float, float, float, float],
    params: MatchParams,
) -> tuple[np.ndarray, np.ndarray]:
    """When the accepted stretches drift, the pieces of the dub (a third of a stretch each) that
    count at the drift's offset: the centre (dub time, seconds) and refined offset (seconds) of
    each piece whose correlation within 2 cells of the line through the accepted stretches passes
    :func:`_tested`; empty arrays when fewer than two stretches count or their line changes by less
    than a cell over the dub.

    A drift's rate is the slope of its offsets. Three or four stretches of 30 s, each located to a
    few ms, give it to ±5-20 % of a 1,000-ppm rate when one of them does not count (xcombined_1/es:
    939 ppm for 991 on the three last stretches). Pieces of 10 s are each less precise, but a line
    through twice or thrice as many points over more of the programme is less so; each is a test
    at lags named in advance by the stretches' line (not a search), so a piece with no counterpart
    does not count.
    """
    empty = np.zeros(0), np.zeros(0)
    starts, ends, offsets, accepted = stretches
    t0, step_s, origin, ref_step_s = grid  # dub frame i's time t0 + i·step_s; offsets origin + lag·step_s
    if np.count_nonzero(accepted) < 2:
        return empty
    centres = (starts + ends) / 2
    slope, intercept = np.polyfit(centres[accepted], offsets[accepted], 1)
    if abs(slope) * (float(np.max(ends)) - float(np.min(starts))) < step_s:
        return empty  # a constant: nothing to measure a rate from
    from ml.audio_sync.matching import _Correlator

    width = max(4, int(round(params.chunk_s / PIECES_PER_STRETCH / step_s)))
    if len(d) < 2 * width:
        return empty
    r_cells = r_phases[0]  # the original's phase 0: its frames on the dub's grid
    correlate = _Correlator(r_cells, width)
    reach_cells = int(np.ceil(_RIVAL_S / step_s))
    times, found = [], []
    for c0 in range(0, len(d) - width + 1, width):
        block = d[c0 : c0 + width]
        curve = _cosines(correlate, block, c0, window, len(r_cells)) if block.any() else None
        if curve is None:
            continue
        q, score = curve
        centre = t0 + (c0 + (width - 1) / 2) * step_s
        line = np.array([np.round((intercept + slope * centre - origin) / step_s)])
        lag = _tested(q - c0, score, line, 2, reach_cells)
        if lag is None:
            continue
        offset, _ = _refine(block, r_phases, c0, lag, s, 1)
        times.append(centre)
        found.append(origin + offset * ref_step_s)
    return np.array(times, dtype=np.float64), np.array(found, dtype=np.float64)


def _tested(lags: np.ndarray, score: np.ndarray, candidates: np.ndarray, reach: int, reach_cells: int) -> int | None:
    """The lag (of ``lags``, cells) within ``reach`` cells of one of the ``candidates`` (cells, the
    offsets of the accepted stretches) where ``score`` is highest, when it stands
    ``TESTED_MIN_Z`` robust standard deviations above the median of the stretch's scores over its
    whole window and no lag within ``reach_cells`` of it scores higher; else None.

    A search over thousands of lags finds its best by chance somewhere; a test at a handful of
    lags named in advance does not: the best lag of a stretch with no counterpart (20 s of credits
    after the programme) stood 3.2-3.4 deviations above its median over 1,600-1,700 lags. Where
    the dialogue covers the bed, a stretch's true lag can stand out less than a chance one
    (xcredits_0/ru 60-90 s: 3.8 deviations at +0.5 s, 4.7 at −3.5 s), and the test finds it.
    """
    finite = np.isfinite(score)
    if not finite.any() or len(candidates) == 0:
        return None
    median, sigma = median_and_sigma(score[finite])
    if sigma <= 0:
        return None
    near = finite & np.any(np.abs(lags[:, None] - candidates[None, :]) <= reach, axis=1)
    if not near.any():
        return None
    k = int(np.flatnonzero(near)[np.argmax(score[near])])
    if (score[k] - median) / sigma < TESTED_MIN_Z:
        return None
    # and the peak of its surroundings: a lag on the flank of a stronger peak nearby is that
    # peak's (the middle of a dub 0 → −0.4 → 0 s scored 3.5 deviations at +94 ms, 0.5 s from its
    # own peak at −0.4 s, 14 deviations). Scores less than one deviation apart cannot rank two
    # lags, and the offset found elsewhere decides between them (the first stretch of xoutback_1/ru
    # scored 4.75 deviations at its −50 ms and 5.3 at a lone lag 0.23 s away)
    around = np.abs(lags - lags[k]) <= reach_cells
    return int(lags[k]) if score[k] >= np.max(score[around & finite]) - sigma * TESTED_TIE_Z else None


def _halves_agree(correlate, block: np.ndarray, c0: int, window: tuple[int, int], n_ref: int, lag: int) -> bool:
    """Whether each half of a stretch (``block``, cells from ``c0``), aligned by itself over the
    ``window`` (the lowest and highest offset, cells), has its own best lag within 2 cells of the
    stretch's ``lag`` (cells, relative to ``c0``), standing ``HALVES_MIN_Z`` robust standard
    deviations above its median over the window.

    Agreement is evidence, within a stretch as between stretches: the best lags of two halves of
    15 s that share no audio fall together by chance about once in a few hundred stretches, and a
    chance best rarely stands out in both. Music with a steady beat leaves a stretch's contrast
    low (rivals one and two beats away) while both halves still peak at its offset: the middle of
    xoutback_1/ru (+0.8 s for 30-60 s) has contrast 1.35, its halves peak at +789 ms with 12.1 and
    9.8 deviations; the wrong bests of the x-outback and x-credits stretches have halves that peak
    apart, at 2.1-4.1 deviations at the stretch's lag.
    """
    width = len(block) // 2
    if width < 4:
        return False
    for h0 in (0, width):
        half = block[h0 : h0 + width]
        if not half.any():
            return False
        start = c0 + h0
        curve = _cosines(correlate, half, start, window, n_ref)
        if curve is None:
            return False
        q, score = curve
        allowed = np.isfinite(score)
        if np.count_nonzero(allowed) < 8:
            return False
        median, sigma = median_and_sigma(score[allowed])
        k = int(np.argmax(score))
        if sigma <= 0 or abs(int(q[k]) - start - lag) > 2 or (score[k] - median) / sigma < HALVES_MIN_Z:
            return False
    return True


def _cosines(
    correlate, block: np.ndarray, start: int, window: tuple[int, int], n_ref: int, *, whole: bool = False
) -> tuple[np.ndarray, np.ndarray] | None:
    """The cosine of ``block`` (cells from ``start``) with the original's cells at each offset of
    ``window`` (the lowest and highest, cells, relative to ``start``): the original cells ``q`` where
    the block would begin, and the score there, ``-inf`` where the original is silent or holds less
    than three quarters of the block (half of it, scaled by the share it holds, when the programme
    is aligned ``whole``: a cosine over fewer cells scores higher by chance); None when no offset
    is left. ``correlate`` is the original's :class:`ml.audio_sync.matching._Correlator`."""
    width = len(block)
    q0, q1 = max(start + window[0], -width), min(start + window[1], n_ref)
    if q1 < q0:
        return None
    raw, energy = correlate(block, q0, q1)
    score = raw / (np.sqrt(np.maximum(energy, 1e-9)) * (np.linalg.norm(block) + 1e-9))
    q = np.arange(q0, q1 + 1)
    on_reference = np.minimum(q + width, n_ref) - np.maximum(q, 0)
    allowed = (energy > 1e-6) & ((2 if whole else 4) * on_reference > (1 if whole else 3) * width)
    if not allowed.any():
        return None
    if whole:
        score = score * np.sqrt(np.clip(on_reference, 0, None) / width)
    return q, np.where(allowed, score, -np.inf)


def median_and_sigma(values: np.ndarray) -> tuple[float, float]:
    """The median of ``values`` and their robust standard deviation (1.4826 × the median absolute
    deviation)."""
    median = float(np.median(values))
    return median, 1.4826 * float(np.median(np.abs(values - median)))


def _on_the_line(starts: np.ndarray, ends: np.ndarray, offsets: np.ndarray, accepted: np.ndarray, tolerance: float) -> np.ndarray:
    """The stretches not accepted whose best lag lies within ``tolerance`` (s) of the straight line
    through at least two accepted stretches (their least-squares offset over time), however weak
    their contrast: by chance a stretch's best lag lands in a window of ±2 cells of a line in one of
    thousands of cells, while a drift moves each stretch's offset by tens of ms, so that a weak
    stretch of a drift agrees with no accepted stretch's offset itself (1.001 + 5.1 + EQ: −482 ms
    at contrast 1.09 beside −453, −415 and −386 ms accepted)."""
    out = np.zeros(len(offsets), dtype=bool)
    if np.count_nonzero(accepted) < 2:
        return out
    centres = (starts + ends) / 2
    slope, intercept = np.polyfit(centres[accepted], offsets[accepted], 1)
    out[~accepted] = np.abs(offsets[~accepted] - (slope * centres[~accepted] + intercept)) <= tolerance
    return out


def _pool(x: np.ndarray, factor: int) -> np.ndarray:
    """Means of ``factor`` consecutive rows (the last, partial group dropped)."""
    n = len(x) // factor
    return x[: n * factor].reshape(n, factor, -1).mean(axis=1)


def _refine(block: np.ndarray, r_phases: list[np.ndarray], f0: int, lag: int, s: int, reach: int) -> tuple[float, float]:
    """The best offset of ``block`` (dub frames f0…) on the original's own grid within ``reach``
    dub frames of ``lag``, in original frames k (dub frame i ↔ original frame s·i + k), refined by
    a parabola through its neighbours; and the correlation there. ``r_phases[p]`` holds the
    original's onsets of frames s·j + p."""
    width = len(block)
    n_r = sum(len(phase) for phase in r_phases)
    ks = np.arange(s * (lag - reach), s * (lag + reach) + 1)
    scores = np.full(len(ks), -np.inf)
    for n, k in enumerate(ks):
        # dub frames i whose original frame s·(f0 + i) + k exists: a slice of that frame's phase
        first = s * f0 + int(k)
        i0 = max(0, -(first // s))  # the first i with first + s·i >= 0: ceil(-first / s)
        i1 = min(width, (n_r - 1 - first) // s + 1)  # one past the last with first + s·i < len(r)
        if i1 - i0 < 4:
            continue
        j = first // s + i0  # original frame first + s·i0 = s·j + first % s
        a, b = block[i0:i1], r_phases[first % s][j : j + i1 - i0]
        scores[n] = float(np.vdot(a, b) / (np.sqrt(np.vdot(a, a) * np.vdot(b, b)) + 1e-9))
    best = int(np.argmax(scores))
    delta = 0.0
    if 0 < best < len(ks) - 1 and np.all(np.isfinite(scores[best - 1 : best + 2])):
        left, centre, right = scores[best - 1 : best + 2]
        curvature = left - 2 * centre + right
        if curvature < 0:
            delta = float(np.clip(0.5 * (left - right) / curvature, -0.5, 0.5))
    return float(ks[best] + delta), float(scores[best])
