"""Matching a dub's signature against the original's (Vajpayee et al.).

For every kept frame of the dub, the Chebyshev (L∞) distance to the original's kept frames within
±``search_window_s``; the argmin gives that frame's offset. Frames whose best distance is
``theta_min_dist`` or more are dialogue (it differs between languages) and are discarded, unless
their best match is distinct (much closer than any match at another offset, ``max_rival_ratio``). The track
offset is the median of the remaining per-frame offsets; the per-frame offsets over time are kept
as the evidence for drift and intermittent offsets.

Sign convention: offset = t_original − t_dub, in seconds; positive = the dub's audio leads (an event
of the original at time T is heard in the dub at T − offset).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ml.audio_sync.envelope import EnvelopeStretches, match_envelopes, median_and_sigma
from ml.audio_sync.signatures import Signature, time_warped
from ml.errors import ParameterError
from ml.policy import MatchParams, params_version

__all__ = [
    "ALGORITHM",
    "COVERAGE_STRETCH_S",
    "FrameMatches",
    "coarse_alignment",
    "match_signatures",
    "match_version",
    "match_with_speed_search",
]

ALGORITHM = "linf-match/9"
"""Changes when matches of the same signatures can change (4: the sub-step refinement no longer
takes the next kept original frame past a dropped one as a neighbour; 5: matches keep the
original's length, which the verdict compares with the dub's; 6: a dub shorter than one coarse
stretch is aligned whole; 7: the speed search keeps the envelope stretches of the trial that holds
most of the dub, and the envelope matcher (``band-onset-xcorr/2``) accepts a drift's weak stretches
and aligns a programme shorter than two stretches whole; 8: the envelope matcher,
``band-onset-xcorr/3``, tests a stretch that does not count at the offsets of those that do; 9:
``band-onset-xcorr/4``, a weak stretch whose halves agree counts, and so does a tested lag that
ties with a lag nearby; a drift's pieces that count on its line are kept for its rate)."""
COVERAGE_STRETCH_S = 10.0
"""Coverage counts the share of the dub's stretches of this many seconds that hold a matched frame."""
SPEED_SEARCH_BELOW = 0.05
"""Share of a dub's kept frames below which its match counts as failed and the speed search runs
(dubs sharing the original's M&E matched 14-60 % of their frames on the demo titles; a 4 % speed-up
matched 0-3 %)."""
_RIVAL_EXCLUSION_S = 0.25
"""The rival of a frame's best match is its best match more than this far from it (seconds)."""
_DROPPED = np.float32(1e30)
"""Stands for the original's dropped frames in :class:`_FineMatcher`: its distance to any dub frame
is about 1e30, which marks it as no candidate."""
_WEAK_CONTRAST = 1.1
"""Stretches below this contrast are never used; up to min_coarse_contrast only when another
stretch agrees on their lag."""


def match_version(match: MatchParams, min_matched_frames: int) -> str:
    """``code_version`` of an asset that matches signatures using ``match`` and, through
    :func:`match_with_speed_search`, the verdict's ``min_matched_frames`` (below it the speed-change
    search runs, which can change the matches); no other verdict parameter.

    The signature parameters are not part of it: they reach the matches through the signatures'
    own data versions, so a signature change makes the matches stale as upstream data.
    """
    return params_version(ALGORITHM, match, min_matched_frames=min_matched_frames)


@dataclass(frozen=True)
class FrameMatches:
    """Per-frame evidence of a dub's offset against the original.

    Attributes
    ----------
    dub_times : np.ndarray [shape=(n,), dtype=float64]
        Time of every kept dub frame on the dub's timeline, seconds.
    offsets : np.ndarray [shape=(n,), dtype=float64]
        Offset of each frame's best match (t_original − t_dub), seconds; positive = dub leads.
    distances : np.ndarray [shape=(n,), dtype=float32]
        L∞ distance of each frame's best match (inf where no original frame was in the window).
    rival_distances : np.ndarray [shape=(n,), dtype=float32]
        Distance of the best match more than 0.25 s away from the best (how distinct the best is).
    theta_min_dist, max_rival_ratio : float
        Frames with ``distances < theta_min_dist`` or ``distances < max_rival_ratio *
        rival_distances`` are matched (see :class:`ml.policy.MatchParams`).
    dub_duration_s : float
        Duration of the dub track, seconds.
    reference_duration_s : float
        Duration of the original track, seconds (NaN in matches stored before it was kept).
    frame_seconds : float
        Seconds per signature frame (the resolution of one per-frame offset).
    """

    dub_times: np.ndarray
    offsets: np.ndarray
    distances: np.ndarray
    rival_distances: np.ndarray
    theta_min_dist: float
    dub_duration_s: float
    frame_seconds: float
    max_rival_ratio: float = 0.0
    speed: float = 1.0
    """The dub was matched after resampling it ``speed`` times slower (see
    :func:`match_with_speed_search`); times and offsets are on the dub's own timeline regardless."""
    reference_duration_s: float = float("nan")
    envelope_starts: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    """The envelope matcher's stretches (:class:`ml.audio_sync.envelope.EnvelopeStretches`): first
    and last dub time of each, seconds; empty when it did not run."""
    envelope_ends: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    envelope_offsets: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    """Each envelope stretch's offset, seconds (positive = dub leads)."""
    envelope_scores: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    envelope_contrasts: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    envelope_accepted: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, dtype=bool))
    """The envelope stretches that count as evidence."""
    envelope_piece_times: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    envelope_piece_offsets: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    """A drift's pieces that count at its offset (dub time and offset, seconds; see
    :func:`ml.audio_sync.envelope._pieces_on_the_line`)."""

    @property
    def envelope(self) -> EnvelopeStretches:
        """The envelope matcher's stretches."""
        return EnvelopeStretches(
            self.envelope_starts, self.envelope_ends, self.envelope_offsets, self.envelope_scores,
            self.envelope_contrasts, self.envelope_accepted.astype(bool),
            self.envelope_piece_times, self.envelope_piece_offsets,
        )  # fmt: skip

    @property
    def matched(self) -> np.ndarray:
        """Boolean mask of the frames kept as evidence [shape=(n,)]: best distance below
        θ_min_dist, or below ``max_rival_ratio`` × the rival distance (a distinct match)."""
        close = self.distances < self.theta_min_dist
        if self.max_rival_ratio > 0:
            close |= self.distances < self.max_rival_ratio * self.rival_distances
        return close

    @property
    def n_matched(self) -> int:
        return int(np.count_nonzero(self.matched))

    @property
    def matched_times(self) -> np.ndarray:
        return self.dub_times[self.matched]

    @property
    def matched_offsets(self) -> np.ndarray:
        return self.offsets[self.matched]

    @property
    def offset_s(self) -> float:
        """Track offset: median of the matched per-frame offsets (NaN without any), seconds."""
        offsets = self.matched_offsets
        return float(np.median(offsets)) if offsets.size else float("nan")

    @property
    def coverage(self) -> float:
        """Share of the dub's 10-s stretches that hold at least one matched frame, in [0, 1]."""
        n_stretches = max(1, int(np.ceil(self.dub_duration_s / COVERAGE_STRETCH_S)))
        stretches = np.unique(np.floor(self.matched_times / COVERAGE_STRETCH_S).astype(np.int64))
        stretches = stretches[(stretches >= 0) & (stretches < n_stretches)]
        return len(stretches) / n_stretches

    @property
    def spread_s(self) -> float:
        """Robust spread of the matched offsets (1.4826 × median absolute deviation), seconds."""
        offsets = self.matched_offsets
        if offsets.size == 0:
            return float("nan")
        return median_and_sigma(offsets)[1]

    @property
    def agreement(self) -> float:
        """Share of matched frames whose offset is within one frame of the median, in [0, 1]."""
        offsets = self.matched_offsets
        if offsets.size == 0:
            return 0.0
        return float(np.mean(np.abs(offsets - np.median(offsets)) <= self.frame_seconds * 1.01))


def _validate(dub: Signature, reference: Signature) -> None:
    if dub.version != reference.version:
        raise ParameterError(
            f"signatures were made with different parameters (dub {dub.version}, original "
            f"{reference.version}): recompute both with the same policy"
        )
    if reference.hop_length > dub.hop_length:
        raise ParameterError(
            f"the original's signature (hop {reference.hop_length}) must be at least as fine as the "
            f"dub's (hop {dub.hop_length}): compute it with role='reference'"
        )
    if dub.vectors.ndim != 2 or dub.vectors.shape[1] != reference.vectors.shape[1]:
        raise ParameterError(
            f"signature vectors differ in shape: dub {dub.vectors.shape}, original "
            f"{reference.vectors.shape}"
        )


def match_signatures(
    dub: Signature,
    reference: Signature,
    params: MatchParams | None = None,
    *,
    progress: Callable[[float], None] | None = None,
) -> FrameMatches:
    """Match every kept dub frame against the original.

    With ``params.strategy == "coarse_to_fine"`` (the default), each stretch of ``chunk_s`` seconds
    of the dub is first aligned as a whole against the original within ±``search_window_s``
    (cross-correlation of the pooled signatures, by FFT), then each of its frames is matched within
    ±``fine_window_s`` of that alignment; the cost barely grows with the search window. With
    ``"exhaustive"`` (the paper), each frame is compared with every original frame within
    ±``search_window_s``. Both refine each frame's offset below the original's frame step by
    interpolating the distance around the best match.

    Parameters
    ----------
    dub, reference : Signature
        Signatures of the dub and of the original-language track, same parameters; the reference
        made with ``role="reference"`` (finer hop).
    params : MatchParams, optional
        Defaults to the policy's defaults.
    progress : callable, optional
        Called with the share of dub frames done, in [0, 1].

    Returns
    -------
    FrameMatches
        Every kept dub frame with its best offset and distance.
    """
    params = params or MatchParams()
    _validate(dub, reference)
    fine = _FineMatcher(dub, reference)
    if params.strategy == "exhaustive":
        # one dub frame of margin, so that an offset of exactly ±search_window_s is still found
        fine.run([(0, len(dub.frames), 0.0)], params.search_window_s + dub.frame_seconds, progress)
    else:
        fine.run(coarse_alignment(dub, reference, params), params.fine_window_s, progress)
    offsets, distances, rivals = fine.offsets, fine.distances, fine.rivals
    offsets[~np.isfinite(distances)] = np.nan
    times = dub.times
    if dub.speed != 1.0:
        # back from the slowed timeline t' to the dub's own t = t' / speed: an event of the original
        # at t' + offset' is heard in the dub at t' / speed
        offsets = offsets + times * (1.0 - 1.0 / dub.speed)
        times = times / dub.speed
    envelope = match_envelopes(dub, reference, params) if params.envelope_matcher else EnvelopeStretches.empty()
    return FrameMatches(
        envelope_starts=envelope.starts,
        envelope_ends=envelope.ends,
        envelope_offsets=envelope.offsets,
        envelope_scores=envelope.scores,
        envelope_contrasts=envelope.contrasts,
        envelope_accepted=envelope.accepted,
        envelope_piece_times=envelope.piece_times,
        envelope_piece_offsets=envelope.piece_offsets,
        dub_times=times,
        offsets=offsets,
        distances=distances,
        rival_distances=rivals,
        theta_min_dist=params.theta_min_dist,
        max_rival_ratio=params.max_rival_ratio,
        dub_duration_s=dub.duration_s / dub.speed,
        frame_seconds=dub.frame_seconds / dub.speed,
        speed=dub.speed,
        reference_duration_s=reference.duration_s,
    )


def match_with_speed_search(
    dub: Signature,
    reference: Signature,
    params: MatchParams,
    *,
    resignature: Callable[[float], Signature],
    min_matched_frames: int,
    progress: Callable[[float], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> FrameMatches:
    """Match the dub; if fewer than ``min_matched_frames`` frames, or fewer than
    ``SPEED_SEARCH_BELOW`` of its kept frames, match, try each of ``params.speed_candidates`` two
    ways: resampled (``resignature(speed)`` gives the dub's signature resampled that many times
    slower, undoing a speed-up that shifted the pitch) and time-warped with its pitch kept
    (:func:`ml.audio_sync.signatures.time_warped`, undoing a time-stretch that kept it, as PAL
    conversions with pitch correction do); keep the result with the most matched frames, with the
envelope stretches of whichever trial's accepted stretches hold the most of the dub."""
    best = match_signatures(dub, reference, params, progress=progress)
    enough = max(min_matched_frames, SPEED_SEARCH_BELOW * len(best.dub_times))
    if best.n_matched >= enough or not params.speed_candidates or len(dub.frames) == 0:
        return best  # (a silent dub has nothing to find at another speed either)
    if log is not None:
        log(
            f"only {best.n_matched} frames match at the dub's own speed: trying it "
            f"{', '.join(f'{s:.6g}' for s in params.speed_candidates)} times slower"
        )
    trials = [(speed, how) for speed in params.speed_candidates for how in ("resampled", "pitch kept")]
    tried = [best]
    for speed, how in trials:
        warped = resignature(speed) if how == "resampled" else time_warped(dub, speed)
        candidate = match_signatures(warped, reference, params)
        if log is not None:
            log(f"speed {speed:.6g} ({how}): {candidate.n_matched} frames match")
        # a few chance matches at another speed do not replace the dub's own envelope evidence
        if candidate.n_matched > best.n_matched and (
            candidate.n_matched >= min_matched_frames or not best.envelope_accepted.any()
        ):
            best = candidate
        tried.append(candidate)
    # the envelope stretches are on the dub's own timeline whatever the speed they were matched
    # at: the verdict gets those of the trial whose accepted stretches hold the largest share of
    # the dub (a pitch-kept 24/25 stretch: its signatures matched best time-warped, 113 scattered
    # frames, its envelopes resampled, 4 stretches of 4 on one drift); on a tie (within a hundredth:
    # a 6-s promo's one stretch ends 10 ms later resampled) the chosen trial's own
    strongest = max(tried, key=_envelope_held)
    if _envelope_held(strongest) > _envelope_held(best) + 0.01:
        best = dataclasses.replace(best, **{f: getattr(strongest, f) for f in _ENVELOPE_FIELDS})
    return best


_ENVELOPE_FIELDS = ("envelope_starts", "envelope_ends", "envelope_offsets", "envelope_scores",
                    "envelope_contrasts", "envelope_accepted", "envelope_piece_times",
                    "envelope_piece_offsets")  # fmt: skip


def _envelope_held(matches: FrameMatches) -> float:
    """Share of the envelope matcher's stretches (by their length) that its accepted ones hold."""
    spans = matches.envelope_ends - matches.envelope_starts
    total = float(np.sum(spans))
    return float(np.sum(spans[matches.envelope_accepted.astype(bool)])) / total if total > 0 else 0.0


def _dense(signature: Signature, step: int) -> np.ndarray:
    """Signature vectors on a regular grid of ``step`` × its hop, z-scored per measurement, with
    dropped frames as zeros [shape=(n_grid, M)]."""
    grid = np.zeros((signature.n_frames // step + 1, signature.vectors.shape[1]), dtype=np.float32)
    if len(signature.frames) == 0:
        return grid
    frames, vectors = signature.frames, signature.vectors
    mean, std = _mean_std(vectors)  # of all kept frames
    if step > 1:  # z-scores of the frames on the grid only
        on_grid = frames % step == 0
        frames, vectors = frames[on_grid], vectors[on_grid]
    grid[frames // step] = (vectors - mean) / (std + 1e-6)
    return grid


def _mean_std(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``x.mean(axis=0)`` and ``x.std(axis=0)`` [shape=(M,)] bit for bit as NumPy's
    ``_methods._var`` computes them (its sums over axis 0 add row after row), with the sum of ``x``
    taken once (``std`` takes it again) and the squared deviations summed a block of rows at a
    time, each block's sum carried into the next as its first row, instead of in one array as
    large as ``x`` (40 MB for an hour of the original)."""
    n = len(x)
    mean = np.true_divide(np.add.reduce(x, axis=0, keepdims=True), n)
    rows = _MEAN_STD_ROWS
    scratch = np.empty((min(rows, n) + 1, x.shape[1]), dtype=x.dtype)
    total = None
    for first in range(0, n, rows):
        part = x[first : first + rows]
        at = 0 if total is None else 1
        block = scratch[: at + len(part)]
        if total is not None:
            block[0] = total
        np.subtract(part, mean, out=block[at:])
        np.multiply(block[at:], block[at:], out=block[at:])
        total = np.add.reduce(block, axis=0)
    if total is None:  # no rows: NumPy's NaNs
        total = np.add.reduce(x - mean, axis=0)
    return mean[0], np.sqrt(np.true_divide(total, n))


_MEAN_STD_ROWS = 4096
"""Rows per block of :func:`_mean_std` (512 kB of float32 at 32 measurements)."""


def _whitened(signature: Signature, step: int, pool: int) -> np.ndarray:
    """The coarse stage's cells: :func:`_dense` pooled by ``pool`` and differenced in time."""
    return np.diff(_pool(_dense(signature, step), pool), axis=0, prepend=np.float32(0.0))


def _pool(x: np.ndarray, factor: int) -> np.ndarray:
    n = len(x) // factor
    return x[: n * factor].reshape(n, factor, -1).mean(axis=1)


def coarse_alignment(
    dub: Signature, reference: Signature, params: MatchParams
) -> list[tuple[int, int, float]]:
    """Alignment of each stretch of the dub as a whole: ``(first, last, lag_s)`` per chunk.

    ``first:last`` index the dub's kept frames; ``lag_s`` is the chunk's offset (t_original −
    t_dub). Chunks whose best correlation does not stand out (no shared M&E) are left out.
    """
    step = dub.hop_length // reference.hop_length  # reference frames per dub frame
    pool = params.coarse_pool
    # time differences whiten the pooled signatures: slow trends (loudness, key) correlate at
    # every lag, changes (onsets, cuts, effects) only at the right one; single precision throughout
    d = _whitened(dub, 1, pool)
    # the original's cells and their transforms are the same for every dub and trial speed
    r = reference.derived(("coarse", step, pool), lambda: _whitened(reference, step, pool))
    cell_s = dub.frame_seconds * pool
    # grid cell k of either track starts at its own start time + k * cell_s
    origin = reference.start_time_s - dub.start_time_s
    # a programme shorter than one stretch is aligned whole: no stretch needs more audio than the
    # dub, or the original, has (a 24-s promo found no stretch at all with 30-s stretches)
    chunk = min(max(4, int(round(params.chunk_s / cell_s))), len(d), len(r))
    if chunk < 4:
        return []
    # a lag counts where the stretch lies mostly on the original (a few edge cells inflate a
    # cosine); a programme aligned whole may overhang by up to half (a 15-s promo 5 s late)
    whole = chunk == len(d)
    overlap = (1, 2) if whole else (3, 4)
    correlate = reference.derived(("coarse-correlator", step, pool, chunk), lambda: _Correlator(r, chunk))
    # reference cells q whose lag q - c0 lies within the search window
    lag_lo = int(np.ceil((-params.search_window_s - cell_s - origin) / cell_s))
    lag_hi = int(np.floor((params.search_window_s + cell_s - origin) / cell_s))
    candidates = []
    frame_cells = dub.frames // pool
    for c0 in range(0, len(d), chunk):
        c1 = min(len(d), c0 + chunk)
        block = d[c0:c1]
        width = c1 - c0
        if width < 4 or not block.any():
            continue
        q0, q1 = max(c0 + lag_lo, -width), min(c0 + lag_hi, len(r))
        if q1 < q0:
            continue
        raw, energy = correlate(block, q0, q1)
        # normalised: cosine between the chunk and the reference cells it lies on at each lag
        score = raw / (np.sqrt(np.maximum(energy, 1e-9)) * (np.linalg.norm(block) + 1e-9))
        q = np.arange(q0, q1 + 1)
        lag_s = (q - c0) * cell_s + origin
        on_reference = np.minimum(q + width, len(r)) - np.maximum(q, 0)
        allowed = (energy > 1e-6) & (overlap[1] * on_reference > overlap[0] * width)
        if not allowed.any():
            continue
        if whole:  # a cosine over fewer cells scores higher by chance: weigh it by the cells it has
            score = score * np.sqrt(np.clip(on_reference, 0, None) / width)
        score = np.where(allowed, score, -np.inf)
        best = int(np.argmax(score))
        rival = np.where(np.abs(lag_s - lag_s[best]) > 1.0, score, -np.inf).max()
        contrast = score[best] / max(rival, 1e-3)
        if score[best] < params.min_coarse_score or contrast < _WEAK_CONTRAST:
            continue
        first = int(np.searchsorted(frame_cells, c0, side="left"))
        last = int(np.searchsorted(frame_cells, c1, side="left"))
        if last > first:
            candidates.append([first, last, float(lag_s[best]), contrast, lag_s, score])
    _prefer_continuity(candidates, params, cell_s)
    # a weak stretch counts when another stretch found the same lag: agreement is evidence too
    lags = np.array([c[2] for c in candidates])
    out = []
    for first, last, lag, contrast, _, _ in candidates:
        agreeing = np.count_nonzero(np.abs(lags - lag) <= 2 * cell_s) - 1
        if contrast >= params.min_coarse_contrast or agreeing >= 1:
            out.append((first, last, lag))
    return out


class _Correlator:
    """Cross-correlation of blocks of up to ``width`` cells with a long multichannel signal ``r``
    [shape=(n, M)], summed over channels, by overlap-save: the reference's pieces are transformed
    once, and each block costs one product and one inverse transform per piece it reaches (the sum
    over channels is taken before the inverse transform)."""

    def __init__(self, r: np.ndarray, width: int):
        import scipy.fft

        self.width = width
        self.size = scipy.fft.next_fast_len(4 * width, real=True)
        self.hop = self.size - width + 1  # valid correlations per piece
        self.pad = width  # zero cells before the reference, for blocks overhanging its start
        n = len(r) + self.pad
        n_pieces = -(-(n + width) // self.hop)
        padded = np.zeros((n_pieces * self.hop + self.size, r.shape[1]), dtype=np.float32)
        padded[self.pad : self.pad + len(r)] = r
        pieces = np.lib.stride_tricks.sliding_window_view(padded, self.size, axis=0)[:: self.hop][:n_pieces]
        self.spectra = scipy.fft.rfft(pieces, axis=2)  # [piece, channel, frequency]
        energy = np.concatenate([[0.0], np.cumsum(np.square(padded.astype(np.float64)).sum(axis=1))])
        self._energy = energy

    def __call__(self, block: np.ndarray, q0: int, q1: int) -> tuple[np.ndarray, np.ndarray]:
        """For each reference cell q in ``q0..q1`` (may start below 0), the correlation
        ``sum_k r[q + k] · block[k]`` and the energy ``sum_k |r[q + k]|²`` of the cells the block
        lies on (cells outside the reference count as zeros)."""
        import scipy.fft

        width = len(block)
        spectrum = np.conj(scipy.fft.rfft(block.T, n=self.size, axis=1))  # [channel, frequency]
        a, b = q0 + self.pad, q1 + self.pad  # positions in the padded signal
        p0, p1 = a // self.hop, b // self.hop
        product = (self.spectra[p0 : p1 + 1] * spectrum).sum(axis=1)  # 3 × faster than einsum here
        corr = scipy.fft.irfft(product, n=self.size, axis=1)[:, : self.hop].reshape(-1)
        raw = corr[a - p0 * self.hop : b - p0 * self.hop + 1]
        energy = self._energy[a + width : b + width + 1] - self._energy[a : b + 1]
        return raw, energy


_CONTINUITY_SHARE = 0.8
"""A stretch takes its neighbours' (or the consensus) lag when that scores at least this share of
its own best."""


def _prefer_continuity(candidates: list, params: MatchParams, cell_s: float) -> None:
    """Music that recurs (a cue, a loop) can make a distant lag score best for one stretch. Where
    the lag of a neighbouring stretch, or the lag most stretches agree on, scores nearly as well in
    this stretch, take it instead (in place). A drift or a jump keeps its own lags: there the other
    lags score far lower."""
    if len(candidates) < 2:
        return
    strong = [c[2] for c in candidates if c[3] >= params.min_coarse_contrast]
    consensus = float(np.median(strong)) if strong else None
    own = [c[2] for c in candidates]
    for i, candidate in enumerate(candidates):
        lag_s, score = candidate[4], candidate[5]
        best = float(np.max(score))
        options = [own[j] for j in (i - 1, i + 1) if 0 <= j < len(own)]
        if consensus is not None:
            options.append(consensus)
        choice, choice_score = candidate[2], best
        for option in options:
            if abs(option - candidate[2]) <= 2 * cell_s:
                continue
            near = np.abs(lag_s - option) <= 2 * cell_s
            if not near.any():
                continue
            k = int(np.flatnonzero(near)[np.argmax(score[near])])
            if score[k] >= _CONTINUITY_SHARE * best and (choice == candidate[2] or score[k] > choice_score):
                choice, choice_score = float(lag_s[k]), float(score[k])
        candidate[2] = choice


class _FineMatcher:
    """Per-frame matching of dub frames against the original's frames near a given lag.

    Both signatures are laid out on their whole frame grids (the original's dropped frames as
    :data:`_DROPPED`, which no match comes near). Dub frame f and original frame s·f + k (s: the
    original's frames per dub frame) lie k original steps apart, so for a block of consecutive dub
    frames and one lag k the original's frames form one contiguous run of its phase k mod s. The
    distances of a block are computed lag by lag on whole rows of measurement-major arrays, without
    gathering candidates; when a window holds more lags than a block may hold frames (the exhaustive
    search), frame by frame on contiguous runs of the original's frames instead. Either way each
    frame is compared with the original's kept frames within its own window, as written out in
    ``tests/test_ml_matching.py``. Blocks run on a small thread pool (NumPy releases the GIL in its
    loops). Fills ``offsets``, ``distances`` and ``rivals`` (one entry per dub frame)."""

    _TABLE_VALUES = 1 << 21
    """Distances per block (8 MB of float32): bounds the frames of a block by the lags it tries."""
    _MAX_BLOCK_FRAMES = 1024
    """Dub frames per block at most: keeps a lag's rows (32 measurements × frames) in the cache."""

    def __init__(self, dub: Signature, reference: Signature):
        self.step = dub.hop_length // reference.hop_length
        self.dub_frames = dub.frames
        self.dub_times = dub.times
        self.dub = dub
        self.reference = reference
        # every frame of the original, kept or not: a window's lags are found on these times
        self.ref_times = reference.frame_times(np.arange(reference.n_frames, dtype=np.int64))
        self.ref_step = reference.hop_length / reference.sample_rate
        self.rival_lags = int(np.floor(_RIVAL_EXCLUSION_S / self.ref_step + 1e-9))
        n = len(self.dub_times)
        self.offsets = np.full(n, np.nan, dtype=np.float64)
        self.distances = np.full(n, np.inf, dtype=np.float32)
        self.rivals = np.full(n, np.inf, dtype=np.float32)

    @functools.cached_property
    def dub_grid(self) -> np.ndarray:
        """Every frame of the dub, measurement-major (dropped frames as zeros, never read)
        [shape=(M, n_frames), dtype=float32]."""
        grid = np.zeros((self.dub.vectors.shape[1], self.dub.n_frames), dtype=np.float32)
        grid[:, self.dub.frames] = self.dub.vectors.T
        return grid

    @functools.cached_property
    def phases(self) -> np.ndarray:
        """The original's frames by phase, measurement-major: ``[p, m, j]`` is measurement m of
        frame s·j + p [shape=(s, M, ceil(n_frames / s)), dtype=float32]."""
        return self.reference.derived(("fine-phases", self.step), self._make_phases)

    def _make_phases(self) -> np.ndarray:
        ref, s = self.reference, self.step
        phases = np.full((s, ref.vectors.shape[1], -(-ref.n_frames // s)), _DROPPED, dtype=np.float32)
        for p in range(s):
            kept = ref.frames % s == p
            phases[p][:, ref.frames[kept] // s] = ref.vectors[kept].T
        return phases

    @functools.cached_property
    def rows(self) -> np.ndarray:
        """The original's frames, frame-major [shape=(n_frames, M), dtype=float32]."""
        ref = self.reference
        rows = np.full((ref.n_frames, ref.vectors.shape[1]), _DROPPED, dtype=np.float32)
        rows[ref.frames] = ref.vectors
        return rows

    def run(
        self, spans: list[tuple[int, int, float]], window: float, progress: Callable[[float], None] | None
    ) -> None:
        """Match dub frames ``first:last`` of every span within ``lag ± window`` of its lag."""
        if len(self.reference.frames) == 0:
            return
        lags = int(np.ceil(2 * window / self.ref_step)) + 2  # lags within a window
        width = max(1, min(self._MAX_BLOCK_FRAMES, self._TABLE_VALUES // lags))
        by_lag = lags <= self._MAX_BLOCK_FRAMES  # else rows of a lag would be too short to pay
        # the layouts this way reads, made once here rather than by whichever thread comes first
        _ = (self.dub_grid, self.phases) if by_lag else self.rows
        blocks = []
        for first, last, lag in spans:
            start = first
            while start < last:  # consecutive kept frames within ``width`` frames of the block's first
                stop = int(np.searchsorted(self.dub_frames[start:last], self.dub_frames[start] + width)) + start
                blocks.append((start, stop, lag, window, by_lag))
                start = stop
        total = max(1, len(self.dub_times))
        workers = min(len(blocks), _match_threads())
        if workers <= 1:
            for block in blocks:
                self._match(*block)
                if progress is not None:
                    progress(block[1] / total)
            return
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dubsync-match") as pool:
            for done, _ in enumerate(pool.map(lambda block: self._match(*block), blocks), start=1):
                if progress is not None:
                    progress(blocks[done - 1][1] / total)

    def _match(self, start: int, stop: int, lag: float, window: float, by_lag: bool) -> None:
        s = self.step
        frames = self.dub_frames[start:stop]
        t_dub = self.dub_times[start:stop]
        # each frame's window: lags lo..hi-1 (original frame s·f + k), as found on the times
        lo = np.searchsorted(self.ref_times, t_dub + lag - window, side="left") - s * frames
        hi = np.searchsorted(self.ref_times, t_dub + lag + window, side="right") - s * frames
        k_min, k_max = int(lo.min()), int(hi.max())
        if k_max <= k_min:
            return
        if by_lag:
            table = self._by_lag(frames, k_min, k_max)
        else:
            table = self._by_frame(start, stop, k_min, k_max)
        lags = np.arange(k_min, k_max)[:, None]
        outside = lags < lo
        outside |= lags >= hi
        outside |= table >= _DROPPED / 2
        np.copyto(table, np.inf, where=outside)
        best = np.argmin(table, axis=0)  # the first of equal distances: the earliest original frame
        columns = np.arange(len(frames))
        best_lag = best + k_min
        self.distances[start:stop] = table[best, columns]
        at = np.clip(s * frames + best_lag, 0, len(self.ref_times) - 1)  # off the original only when no frame was in reach
        self.offsets[start:stop] = self.ref_times[at] - t_dub + self.ref_step * _vertex(table.T, best, columns)
        apart = lags - best_lag
        np.abs(apart, out=apart)
        np.copyto(table, np.inf, where=apart <= self.rival_lags)
        self.rivals[start:stop] = table.min(axis=0)

    def _by_lag(self, frames: np.ndarray, k_min: int, k_max: int) -> np.ndarray:
        """Distances [shape=(k_max - k_min, len(frames))] of dub frames (kept, ascending) to original
        frames s·f + k, computed over the dub frames frames[0]..frames[-1] for the s lags s·a + p
        (p = 0 … s-1) of each a at once: their original frames are column f + a of every phase."""
        s, phases = self.step, self.phases
        f0, n = int(frames[0]), int(frames[-1] - frames[0]) + 1
        a0, a1 = k_min // s, (k_max - 1) // s + 1
        dub = self.dub_grid[None, :, f0 : f0 + n]
        scratch = np.empty((s, dub.shape[1], n), dtype=np.float32)
        table = np.full((a1 - a0, s, n), np.inf, dtype=np.float32)  # lag s·a + p at [a - a0, p]
        for rows, a in zip(table, range(a0, a1)):
            j0 = f0 + a  # column of dub frame f0's original frames in the phases
            c0, c1 = max(0, -j0), min(n, phases.shape[2] - j0)  # dub frames whose original frames exist
            if c1 <= c0:
                continue
            diff = scratch[:, :, c0:c1]
            np.subtract(phases[:, :, j0 + c0 : j0 + c1], dub[:, :, c0:c1], out=diff)
            np.abs(diff, out=diff)
            np.maximum.reduce(diff, axis=1, out=rows[:, c0:c1])
        table = table.reshape(-1, n)[k_min - s * a0 : k_max - s * a0]
        return table if n == len(frames) else table[:, frames - f0]

    def _by_frame(self, start: int, stop: int, k_min: int, k_max: int) -> np.ndarray:
        """As :meth:`_by_lag`, one dub frame at a time."""
        rows, s = self.rows, self.step
        table = np.full((k_max - k_min, stop - start), np.inf, dtype=np.float32)
        scratch = np.empty((k_max - k_min, rows.shape[1]), dtype=np.float32)
        for column, (f, vector) in enumerate(zip(self.dub_frames[start:stop], self.dub.vectors[start:stop])):
            r0, r1 = s * int(f) + k_min, s * int(f) + k_max
            c0, c1 = max(0, -r0), (k_max - k_min) - max(0, r1 - len(rows))
            if c1 <= c0:
                continue
            diff = scratch[c0:c1]
            np.subtract(rows[r0 + c0 : r0 + c1], vector, out=diff)
            np.abs(diff, out=diff)
            np.max(diff, axis=1, out=table[c0:c1, column])
        return table


def _match_threads() -> int:
    """Threads for per-frame matching: the cores this process may use, at most 4."""
    import os

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


def _vertex(dist: np.ndarray, best: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Sub-step position of each row's minimum, in steps (−0.5 … 0.5), from the distances at the
    neighbouring lags: the vertex of a symmetric V through the three points (the L∞ distance grows
    about linearly with the lag error). Rows at an edge or with infinite neighbours get 0."""
    width = dist.shape[1]
    left_i, right_i = np.maximum(best - 1, 0), np.minimum(best + 1, width - 1)
    d0 = dist[rows, best].astype(np.float64)
    dl = dist[rows, left_i].astype(np.float64)
    dr = dist[rows, right_i].astype(np.float64)
    valid = (best > 0) & (best < width - 1) & np.isfinite(dl) & np.isfinite(dr) & np.isfinite(d0)
    with np.errstate(divide="ignore", invalid="ignore"):
        rise = np.maximum(dl, dr) - d0
        delta = np.where(valid & (rise > 0), (dl - dr) / (2.0 * rise), 0.0)
    return np.clip(delta, -0.5, 0.5)
