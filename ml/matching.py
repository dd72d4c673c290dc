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

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ml.errors import ParameterError
from ml.policy import MatchParams, params_version
from ml.signatures import Signature

__all__ = ["ALGORITHM", "COVERAGE_STRETCH_S", "FrameMatches", "match_signatures", "match_version"]

ALGORITHM = "linf-window-match/2"
COVERAGE_STRETCH_S = 10.0
"""Coverage counts the share of the dub's stretches of this many seconds that hold a matched frame."""
_RIVAL_EXCLUSION_S = 0.25
"""The rival of a frame's best match is its best match more than this far from it (seconds)."""
_BLOCK = 64
"""Dub frames compared per step: bounds the temporary distance array to 64 × window × M floats."""


def match_version(match: MatchParams) -> str:
    """``code_version`` of an asset that matches signatures using ``match``.

    The signature parameters are not part of it: they reach the matches through the signatures'
    own data versions, so a signature change makes the matches stale as upstream data.
    """
    return params_version(ALGORITHM, match)


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
        return float(1.4826 * np.median(np.abs(offsets - np.median(offsets))))

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
    """Match every kept dub frame against the original within ±``params.search_window_s`` (plus one
    dub frame of margin).

    Parameters
    ----------
    dub, reference : Signature
        Signatures of the dub and of the original-language track, same parameters.
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
    t_dub = dub.times
    t_ref = reference.times
    n = len(t_dub)
    offsets = np.zeros(n, dtype=np.float64)
    distances = np.full(n, np.inf, dtype=np.float32)
    rivals = np.full(n, np.inf, dtype=np.float32)
    # one dub frame of margin, so that an offset of exactly ±search_window_s is still found
    window = params.search_window_s + dub.frame_seconds
    ref_vectors = reference.vectors
    for start in range(0, n, _BLOCK):
        stop = min(n, start + _BLOCK)
        lo = int(np.searchsorted(t_ref, t_dub[start] - window, side="left"))
        hi = int(np.searchsorted(t_ref, t_dub[stop - 1] + window, side="right"))
        if hi <= lo:
            continue
        block = dub.vectors[start:stop]
        cand = ref_vectors[lo:hi]
        dist = np.abs(block[:, None, :] - cand[None, :, :]).max(axis=2)
        gap = t_ref[None, lo:hi] - t_dub[start:stop, None]
        dist[np.abs(gap) > window] = np.inf
        best = np.argmin(dist, axis=1)
        rows = np.arange(stop - start)
        distances[start:stop] = dist[rows, best]
        offsets[start:stop] = gap[rows, best]
        near = np.abs(gap - gap[rows, best][:, None]) <= _RIVAL_EXCLUSION_S
        dist[near] = np.inf
        rivals[start:stop] = dist.min(axis=1)
        if progress is not None:
            progress(stop / n)
    offsets[~np.isfinite(distances)] = np.nan
    return FrameMatches(
        dub_times=t_dub,
        offsets=offsets,
        distances=distances,
        rival_distances=rivals,
        theta_min_dist=params.theta_min_dist,
        max_rival_ratio=params.max_rival_ratio,
        dub_duration_s=dub.duration_s,
        frame_seconds=dub.frame_seconds,
    )
