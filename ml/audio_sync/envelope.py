"""The envelope matcher: a second dub ↔ original matcher, independent of the signatures' frames.

Continuous dialogue leaves the signature matcher (:mod:`ml.audio_sync.matching`) too few frames
under θ_min_dist: its L∞ distance compares whole spectra frame by frame, and dialogue differs
between languages in almost every frame. The music and effects are still there under the
dialogue, and over a stretch of tens of seconds their changes correlate where the dialogue's do
not. This matcher cross-correlates, per stretch of the dub, the onsets of the band envelopes that
every signature keeps (:attr:`ml.audio_sync.signatures.Signature.envelope`: the level of a few
log-spaced bands of every frame): the rise of each band's level over one dub hop, half-wave
rectified and standardised per band (a spectral flux per band). Each stretch is aligned as a whole
within ±``search_window_s`` (FFT, as the signatures' coarse stage), then on the original's finer
grid (its 4 × oversampled frames) around the best lag, and refined below that grid by a parabola.

Each stretch is evidence of its own: its offset, its correlation and its contrast (the best
correlation over the best more than 1 s away). A stretch is accepted when its contrast reaches
``envelope_min_contrast``, or a weaker one that another accepted stretch agrees with. The verdict
(:func:`ml.audio_sync.verdict.decide`) fuses these stretches with the signatures' frames.

Sign convention: offset = t_original − t_dub, seconds; positive = the dub's audio leads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ml.audio_sync.signatures import Signature
from ml.errors import ParameterError
from ml.policy import MatchParams

__all__ = ["ALGORITHM", "EnvelopeStretches", "band_onsets", "match_envelopes"]

ALGORITHM = "band-onset-xcorr/1"
"""Changes when the envelope matcher can find other offsets from the same envelopes."""
MAX_RISE_DB = 20.0
"""A band's rise over one hop counts up to this many dB (the first sound after digital silence
would otherwise outweigh every other onset)."""
_RIVAL_S = 1.0
"""The rival of a stretch's best lag is its best lag more than this far away, seconds."""
_WEAK_CONTRAST = 1.1
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
    """

    starts: np.ndarray
    ends: np.ndarray
    offsets: np.ndarray
    scores: np.ndarray
    contrasts: np.ndarray
    accepted: np.ndarray

    @classmethod
    def empty(cls) -> "EnvelopeStretches":
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
    r = band_onsets(reference, s)
    r0 = np.ascontiguousarray(r[::s])  # the original's phase 0, on the dub's grid
    step_s = dub.frame_seconds
    ref_step_s = reference.hop_length / reference.sample_rate
    # offset of dub frame i against original frame s·i + k: origin + k · ref_step_s
    origin = reference.frame_times(np.array([0]))[0] - dub.frame_times(np.array([0]))[0]
    chunk = min(max(4, int(round(params.chunk_s / step_s))), len(d), len(r0))
    if chunk < 4:
        return EnvelopeStretches.empty()
    whole = chunk == len(d)
    correlate = _Correlator(r0, chunk)
    lag_lo = int(np.ceil((-params.search_window_s - origin) / step_s))
    lag_hi = int(np.floor((params.search_window_s - origin) / step_s))
    rows = []
    for c0 in range(0, len(d), chunk):
        c1 = min(len(d), c0 + chunk)
        block = d[c0:c1]
        width = c1 - c0
        if width < 4 or not block.any():
            continue
        q0, q1 = max(c0 + lag_lo, -width), min(c0 + lag_hi, len(r0))
        if q1 < q0:
            continue
        raw, energy = correlate(block, q0, q1)
        score = raw / (np.sqrt(np.maximum(energy, 1e-9)) * (np.linalg.norm(block) + 1e-9))
        q = np.arange(q0, q1 + 1)
        on_reference = np.minimum(q + width, len(r0)) - np.maximum(q, 0)
        allowed = (energy > 1e-6) & ((2 if whole else 4) * on_reference > (1 if whole else 3) * width)
        if not allowed.any():
            continue
        if whole:  # a cosine over fewer frames scores higher by chance
            score = score * np.sqrt(np.clip(on_reference, 0, None) / width)
        score = np.where(allowed, score, -np.inf)
        best = int(np.argmax(score))
        lag = int(q[best]) - c0
        rival = np.where(np.abs(q - q[best]) * step_s > _RIVAL_S, score, -np.inf).max()
        contrast = float(score[best] / max(rival, 1e-3)) if np.isfinite(score[best]) else 0.0
        offset, fine_score = _refine(block, r, c0, lag, s)
        rows.append((dub.frame_times(np.array([c0]))[0], dub.frame_times(np.array([c1 - 1]))[0],
                     origin + offset * ref_step_s, fine_score, contrast))  # fmt: skip
    if not rows:
        return EnvelopeStretches.empty()
    starts, ends, offsets, scores, contrasts = (np.array(col, dtype=np.float64) for col in zip(*rows))
    accepted = contrasts >= params.envelope_min_contrast
    weak = (contrasts >= _WEAK_CONTRAST) & ~accepted
    for i in np.flatnonzero(weak):  # agreement is evidence too
        if np.any(accepted & (np.abs(offsets - offsets[i]) <= 2 * step_s)):
            accepted[i] = True
    if dub.speed != 1.0:  # back to the dub's own timeline (see ml.audio_sync.matching)
        centres = (starts + ends) / 2
        offsets = offsets + centres * (1.0 - 1.0 / dub.speed)
        starts, ends = starts / dub.speed, ends / dub.speed
    return EnvelopeStretches(starts, ends, offsets, scores, contrasts, accepted)


def _refine(block: np.ndarray, r: np.ndarray, c0: int, lag: int, s: int) -> tuple[float, float]:
    """The best offset of ``block`` (dub frames c0…) on the original's own grid within one dub
    frame of ``lag``, in original frames k (dub frame i ↔ original frame s·i + k), refined by a
    parabola through its neighbours; and the correlation there."""
    width = len(block)
    ks = np.arange(s * (lag - 1), s * (lag + 1) + 1)
    scores = np.full(len(ks), -np.inf)
    block_rows = np.arange(width)
    for n, k in enumerate(ks):
        idx = s * (c0 + block_rows) + k
        valid = (idx >= 0) & (idx < len(r))
        if valid.sum() < 4:
            continue
        a, b = block[valid], r[idx[valid]]
        scores[n] = float(np.sum(a * b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-9))
    best = int(np.argmax(scores))
    delta = 0.0
    if 0 < best < len(ks) - 1 and np.all(np.isfinite(scores[best - 1 : best + 2])):
        left, centre, right = scores[best - 1 : best + 2]
        curvature = left - 2 * centre + right
        if curvature < 0:
            delta = float(np.clip(0.5 * (left - right) / curvature, -0.5, 0.5))
    return float(ks[best] + delta), float(scores[best])
