"""Robust models of a dub's offset over time: constant, linear drift, piecewise constant.

The per-frame offsets of matched frames (``ml.audio_sync.matching``) are evidence with outliers (repetitive
music matches a neighbouring bar, a dialogue frame sneaks under θ_min_dist). Each model is fitted
robustly and says which share of the frames it explains within ``tolerance_s``:

- constant: the median, inliers within the tolerance;
- drift: a line found by RANSAC (scikit-learn's ``RANSACRegressor``, as in DiVAS) and refitted to
  its inliers by Theil-Sen, slope in
  seconds of offset per second of dub time (= speed ratio − 1);
- segments: stretches of time with one offset each (offset clusters, each the mode of the remaining
  offsets, at least twice the tolerance apart, split into runs in time), as a reel change, an edit
  or a dub that goes out of sync and comes back produces.

:func:`fit_timeline` picks the model that explains enough of the evidence: a drift when its line
clearly beats the constant (half the typical residual), else the constant, else the segments.
"""

from __future__ import annotations

import dataclasses
import heapq
from dataclasses import dataclass

import numpy as np

from ml.errors import ParameterError

__all__ = ["Segment", "TimelineFit", "fit_timeline"]


@dataclass(frozen=True)
class Segment:
    """A stretch of the dub with one offset (seconds on the dub's timeline)."""

    start_s: float
    end_s: float
    offset_s: float
    frames: int


@dataclass(frozen=True)
class TimelineFit:
    """The chosen model of the offset timeline.

    Attributes
    ----------
    kind : {"constant", "drift", "intermittent", "scattered"}
        ``scattered`` when no model explains ``min_explained`` of the frames.
    intercept_s : float
        Offset at dub time 0 (drift), or the constant offset, seconds.
    slope : float
        Offset change per second of dub time (0 unless drift); the dub plays ``1 + slope`` times
        faster than the original.
    segments : tuple of Segment
        For ``intermittent``: the stretches and their offsets, in time order. For the other kinds,
        one segment spanning the evidence.
    explained : float
        Share of the frames within ``tolerance_s`` of the chosen model, in [0, 1].
    shares : dict
        Share explained by each model tried (``constant``, ``drift``, ``segments``).
    set_aside : tuple of Segment
        Stretches left out as recurring material (see :func:`fit_timeline`).
    """

    kind: str
    intercept_s: float
    slope: float
    segments: tuple[Segment, ...]
    explained: float
    shares: dict
    set_aside: tuple[Segment, ...] = ()
    """Short stretches whose offset puts their material out of order with the rest of the
    timeline (recurring music matched elsewhere); their frames were left out of the fit."""

    def offset_at(self, t_dub: float | np.ndarray) -> float | np.ndarray:
        """The model's offset at dub time(s) ``t_dub``, seconds."""
        t = np.asarray(t_dub, dtype=np.float64)
        if self.kind == "intermittent":
            starts = np.array([s.start_s for s in self.segments])
            idx = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(self.segments) - 1)
            out = np.array([s.offset_s for s in self.segments])[idx]
        else:
            out = self.intercept_s + self.slope * t
        return float(out) if out.ndim == 0 else out


def _constant(offsets: np.ndarray, tol: float) -> tuple[float, np.ndarray]:
    centre = float(np.median(offsets))
    inliers = np.abs(offsets - centre) <= tol
    if inliers.any():
        centre = float(np.median(offsets[inliers]))
        inliers = np.abs(offsets - centre) <= tol
    return centre, inliers


def _mode_cluster(offsets: np.ndarray, tol: float) -> tuple[float, np.ndarray]:
    """Centre and members of the densest cluster of offsets (width 2 × tol)."""
    ordered = np.sort(offsets)
    right = np.searchsorted(ordered, ordered + 2 * tol, side="right")
    best = int(np.argmax(right - np.arange(len(ordered))))
    centre = float(np.median(ordered[best : right[best]]))
    members = np.abs(offsets - centre) <= tol
    return float(np.median(offsets[members])), members


_THEIL_SEN_POINTS = 600
"""A drift's final line is the Theil-Sen line of at most this many inliers (its cost grows with the
square of the points: 600 points are 180 000 pairwise slopes, a few hundredths of a second)."""


def _line(times: np.ndarray, offsets: np.ndarray, tol: float, seed: int) -> tuple[float, float, np.ndarray]:
    from sklearn.linear_model import LinearRegression, RANSACRegressor

    ransac = RANSACRegressor(
        LinearRegression(),
        min_samples=2,
        residual_threshold=tol,
        max_trials=500,
        random_state=seed,
    )
    ransac.fit(times[:, None], offsets)
    inliers = ransac.inlier_mask_
    # refit on the inliers only, by Theil-Sen (the median of pairwise slopes, on at most
    # _THEIL_SEN_POINTS of them evenly spaced): least squares on inliers up to ±tol off bent a
    # 120-ms drift by 3-7 % (pitch-kept 1.001 and 24/23.976 over 120 s), Theil-Sen by 0.6-1.5 %
    from scipy.stats import theilslopes

    t_in, o_in = times[inliers], offsets[inliers]
    if len(t_in) > _THEIL_SEN_POINTS:
        pick = np.linspace(0, len(t_in) - 1, _THEIL_SEN_POINTS).round().astype(np.int64)
        t_in, o_in = t_in[pick], o_in[pick]
    slope = float(theilslopes(o_in, t_in)[0])
    intercept = float(np.median(offsets[inliers] - slope * times[inliers]))
    inliers = np.abs(offsets - (intercept + slope * times)) <= tol
    return intercept, slope, inliers


def _segments(
    times: np.ndarray, offsets: np.ndarray, tol: float, min_frames: int, min_span_s: float
) -> tuple[list[Segment], list[np.ndarray]]:
    """Stretches of time with one offset each, in time order, with the members of each.

    Offset clusters (each the mode of the remaining offsets, at least twice the tolerance from the
    others) label the frames; in time order, runs of frames of one cluster are the stretches. A
    cluster may hold several stretches: a dub that goes out of sync and comes back is three
    stretches of two offsets. Runs too small to count (fewer than ``min_frames`` frames or shorter
    than ``min_span_s``) are dropped, smallest first, and their neighbours of one cluster merged,
    so that stray matches never split a stretch; clusters that interleave in time leave only small
    runs, and no stretch (ambiguity, not an edit).
    """
    labels = np.full(len(offsets), -1)
    remaining = np.ones(len(offsets), dtype=bool)
    centres: list[float] = []
    for _ in range(8):
        if remaining.sum() < min_frames:
            break
        centre, members_sub = _mode_cluster(offsets[remaining], tol)
        members = np.zeros_like(remaining)
        members[np.flatnonzero(remaining)[members_sub]] = True
        remaining &= ~members
        if members.sum() < min_frames:
            break
        if any(abs(centre - c) < 2 * tol for c in centres):
            continue  # too close to another cluster's offset to be a jump (a drift's staircase)
        labels[members] = len(centres)
        centres.append(centre)
    order = np.argsort(times, kind="stable")
    order = order[labels[order] >= 0]
    # runs of one label in time order: [label, first, last] as positions in ``order``
    runs: list[list[int]] = []
    for position, label in enumerate(labels[order]):
        if runs and runs[-1][0] == label:
            runs[-1][2] = position
        else:
            runs.append([int(label), position, position])

    runs = _without_small_runs(runs, times[order], min_frames, min_span_s)
    segments, member_masks = [], []
    for label, first, last in runs:
        picked = order[first : last + 1]
        picked = picked[labels[picked] == label]
        mask = np.zeros(len(offsets), dtype=bool)
        mask[picked] = True
        t = times[picked]
        segments.append(Segment(float(t.min()), float(t.max()), float(np.median(offsets[picked])), int(mask.sum())))
        member_masks.append(mask)
    return segments, member_masks


def _without_small_runs(runs: list[list[int]], times: np.ndarray, min_frames: int, min_span_s: float) -> list[list[int]]:
    """``runs`` (``[label, first, last]``, positions in ``times``, in time order; neighbours of
    different labels) without those too small to count, dropped smallest (fewest frames, then
    shortest, then earliest) first; when a dropped run leaves two runs of one label side by side,
    they join (the positions between them were other labels) and the joined run is judged again.
    A heap and a linked list: each drop costs log R, not a pass over every run."""
    n = len(runs)
    label = [run[0] for run in runs]
    first = [run[1] for run in runs]
    last = [run[2] for run in runs]
    before, after = list(range(-1, n - 1)), list(range(1, n + 1))
    alive, version = [True] * n, [0] * n
    heap: list[tuple[int, float, int, int, int]] = []

    def judge(i: int) -> None:
        count, span = last[i] - first[i] + 1, float(times[last[i]] - times[first[i]])
        if count < min_frames or span < min_span_s:
            heapq.heappush(heap, (count, span, first[i], version[i], i))

    for i in range(n):
        judge(i)
    while heap:
        *_, seen, i = heapq.heappop(heap)
        if not alive[i] or seen != version[i]:
            continue  # dropped already, or joined since it was judged
        alive[i] = False
        p, q = before[i], after[i]
        if p >= 0:
            after[p] = q
        if q < n:
            before[q] = p
        if p >= 0 and q < n and label[p] == label[q]:
            last[p], alive[q] = last[q], False
            after[p] = after[q]
            if after[q] < n:
                before[after[q]] = p
            version[p] += 1
            judge(p)
    return [[label[i], first[i], last[i]] for i in range(n) if alive[i]]


def _in_order(segments: list[Segment], backstep_s: float) -> set[int]:
    """Indices of the heaviest (most frames) chain of segments, in dub-time order, whose material
    in the original also comes in order: each starts in the original no more than ``backstep_s``
    before the previous one ends there. An edit or a reel change keeps that order (dropping or
    repeating a little material); music that recurs matches out of order."""
    best: list[tuple[int, list[int]]] = []  # per segment: heaviest chain ending with it
    for j, seg in enumerate(segments):
        weight, chain = seg.frames, [j]
        for i in range(j):
            before = segments[i]
            if seg.start_s + seg.offset_s >= before.end_s + before.offset_s - backstep_s:
                if best[i][0] + seg.frames > weight:
                    weight, chain = best[i][0] + seg.frames, best[i][1] + [j]
        best.append((weight, chain))
    return set(max(best, key=lambda b: b[0])[1]) if best else set()


def fit_timeline(
    times: np.ndarray,
    offsets: np.ndarray,
    *,
    tolerance_s: float = 0.035,
    min_explained: float = 0.75,
    min_drift_s: float = 0.04,
    min_segment_frames: int = 20,
    min_segment_s: float = 5.0,
    max_recurring_s: float = 0.0,
    max_backstep_s: float = 10.0,
    seed: int = 0,
) -> TimelineFit:
    """Fit constant, drift and segment models to matched per-frame offsets; pick the simplest
    that explains at least ``min_explained`` of the frames.

    Music that recurs (a cue, a loop) can match a stretch of the dub at a wholly different offset,
    above all where the dub holds material the original lacks. Such a stretch is short, and its
    offset maps it out of order: its material would come from the original before what precedes
    it in the dub, which no edit or reel change does. Stretches of at most ``max_recurring_s``
    outside the heaviest in-order chain of segments are set aside, and the models are fitted to
    the rest. A longer out-of-order stretch (a swapped reel) stays as evidence.

    Parameters
    ----------
    times : np.ndarray [shape=(n,)]
        Dub time of each matched frame, seconds.
    offsets : np.ndarray [shape=(n,)]
        Offset of each matched frame, seconds (positive = dub leads).
    tolerance_s : float
        A frame is explained by a model when its offset is within this of the model, seconds.
    min_explained : float
        Share of frames the chosen model must explain, in (0, 1].
    min_drift_s : float
        A line whose offset changes by less than this over the evidence is a constant, seconds.
    min_segment_frames, min_segment_s : int, float
        Smallest cluster (frames) and stretch (seconds) that counts as a segment.
    max_recurring_s : float
        Longest out-of-order stretch set aside as recurring material, seconds; 0 sets none aside.
    max_backstep_s : float
        A later stretch may start this much before an earlier one ends in the original and still
        be in order (a reel change that repeats material), seconds.
    seed : int
        RANSAC's random state.
    """
    times = np.asarray(times, dtype=np.float64)
    offsets = np.asarray(offsets, dtype=np.float64)
    if times.shape != offsets.shape or times.ndim != 1:
        raise ParameterError(f"times {times.shape} and offsets {offsets.shape} must be equal 1-D shapes")
    if len(times) < 2:
        raise ParameterError(f"need at least 2 matched frames to fit a timeline, got {len(times)}")
    if not 0 < min_explained <= 1:
        raise ParameterError(f"min_explained={min_explained} must be in (0, 1]")
    n = len(offsets)
    segments, members = _segments(times, offsets, tolerance_s, min_segment_frames, min_segment_s)
    if max_recurring_s > 0 and len(segments) >= 2:
        chain = _in_order(segments, max_backstep_s)
        aside = [
            i for i, s in enumerate(segments) if i not in chain and s.end_s - s.start_s <= max_recurring_s
        ]
        kept = ~np.logical_or.reduce([members[i] for i in aside]) if aside else None
        if kept is not None and np.count_nonzero(kept) >= 2:
            fit = fit_timeline(
                times[kept],
                offsets[kept],
                tolerance_s=tolerance_s,
                min_explained=min_explained,
                min_drift_s=min_drift_s,
                min_segment_frames=min_segment_frames,
                min_segment_s=min_segment_s,
                seed=seed,
            )
            return dataclasses.replace(fit, set_aside=tuple(segments[i] for i in aside))
    # the models are fitted only to the frames kept (RANSAC is the costly one)
    span = (float(times.min()), float(times.max()))
    centre, const_in = _constant(offsets, tolerance_s)
    intercept, slope, line_in = _line(times, offsets, tolerance_s, seed)
    seg_in = np.logical_or.reduce(members) if members else np.zeros(n, dtype=bool)
    shares = {
        "constant": float(const_in.mean()),
        "drift": float(line_in.mean()),
        "segments": float(seg_in.mean()) if len(segments) >= 2 else 0.0,
    }
    whole = (Segment(span[0], span[1], centre, int(const_in.sum())),)
    drift_change = abs(slope) * (span[1] - span[0])
    # a drift must beat the constant clearly: its typical residual at most half the constant's
    const_residual = float(np.median(np.abs(offsets - centre)))
    line_residual = float(np.median(np.abs(offsets - (intercept + slope * times))))
    if (
        shares["drift"] >= min_explained
        and drift_change >= min_drift_s
        and line_residual <= 0.5 * const_residual
        and shares["drift"] >= shares["segments"]
    ):
        line = (Segment(span[0], span[1], intercept + slope * span[0], int(line_in.sum())),)
        return TimelineFit("drift", intercept, slope, line, shares["drift"], shares)
    if shares["constant"] >= min_explained:
        return TimelineFit("constant", centre, 0.0, whole, shares["constant"], shares)
    if shares["segments"] >= min_explained:
        return TimelineFit(
            "intermittent", segments[0].offset_s, 0.0, tuple(segments), shares["segments"], shares
        )
    best = max(shares.values())
    return TimelineFit("scattered", centre, 0.0, whole, best, shares)
