"""A title's original audio ↔ picture offset from its face tracks, and the dub ↔ picture verdict.

Lip sync gives one offset per face track (``ml.picture.lipsync``). Tracks without a speaker (a listener, a
face over off-screen dialogue) give flat score curves, hence low confidence, and are discarded;
the title's offset is where the rest agree (one vote per track, weighted by its confidence): the
mode of their offsets' kernel density, then the weighted median of the tracks near it. The
estimator's wrong tracks are gross errors (a side peak of the curve, 100-500 ms off, on either
side), not noise around the truth, so a median of all tracks is pulled by them; the agreeing tracks
are not. A title without a picture, or without any confident track, has no picture offset and says why.

The offset is used only on strong evidence: at least ``min_agreeing_tracks`` speaking tracks agree
on it, and they hold at least ``min_agreeing_share`` of the speaking tracks' confidence. Otherwise
the picture is ``unverified``: the estimate is kept (``estimate_s``) and said, but there is no
offset, and the dubs are judged against the original audio with the reason "not verified: ...",
never moved by a reading that one track, or a split vote, gives.

The dub's verdict against the picture then adds the two halves (DESIGN.md):
dub ↔ picture(t) = original ↔ picture + dub ↔ original(t). The lip-sync offset is one constant per
title, so the sum has the same kind (constant, drift, jumps) as the dub ↔ original timeline,
moved by that constant; whether it is in sync, its ITU band and its correction are judged on the
sum. Sign convention: seconds, positive = audio leads.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ml.audio_sync.matching import FrameMatches
from ml.audio_sync.verdict import Verdict, decide
from ml.errors import ParameterError
from ml.policy import LipSyncParams, MatchParams, VerdictParams

if TYPE_CHECKING:
    from ml.picture.lipsync import TrackSync

__all__ = ["ALGORITHM", "PICTURE_STATUSES", "PictureSync", "picture_sync", "picture_sync_version", "decide_against_picture"]

ALGORITHM = "picture-consensus/4"
"""How track offsets become the title's offset; bump when that changes (/1 was the weighted median
of all speaking tracks; /2 used the consensus of any number of agreeing tracks, one included; /3
needed two; /4 takes the plain median of the agreeing tracks, not the confidence-weighted one)."""

PICTURE_STATUSES = ("determined", "no_picture", "no_faces", "no_speaker", "unverified")
"""``determined``: the offset is known; otherwise why it is not (no video stream, no face track,
no track confident enough to be a speaker, or speakers whose evidence is too weak: too few agree)."""


@dataclass(frozen=True)
class PictureSync:
    """The original audio ↔ picture offset of a title, with its evidence.

    Attributes
    ----------
    status : str
        One of :data:`PICTURE_STATUSES`.
    offset_s : float or None
        Original audio ↔ picture, seconds (positive = the audio leads the picture); ``None``
        unless ``status == "determined"``.
    estimate_s : float or None
        The speaking tracks' consensus, seconds, also when it is too weakly supported to be used
        (``unverified``); ``None`` without a speaking track.
    reason : str
        The evidence in words (why the offset is what it is, or why there is none).
    estimator : str
        Identity of the lip-sync model or estimator that produced the track offsets.
    tracks : list of dict
        Per face track: ``track``, ``start_s``, ``end_s``, ``frames``, ``offset_s``,
        ``confidence``, ``used`` (confident enough to be a speaker) and ``agrees`` (a used
        track the offset was taken from).
    spread_s : float or None
        Confidence-weighted median absolute deviation of the agreeing tracks' offsets, seconds.
    shifts_s : np.ndarray [shape=(k,)]
        Candidate shifts of the score curves, seconds (empty without tracks).
    curves : np.ndarray [shape=(n_tracks, k)]
        Each track's score over ``shifts_s`` (higher = better), for the plot.
    """

    status: str
    offset_s: float | None
    reason: str
    estimator: str
    tracks: list = dataclasses.field(default_factory=list)
    spread_s: float | None = None
    shifts_s: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    curves: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 0)))
    estimate_s: float | None = None

    @property
    def determined(self) -> bool:
        return self.status == "determined"

    @property
    def offset_ms(self) -> float | None:
        return None if self.offset_s is None else round(self.offset_s * 1000.0, 1)

    @property
    def n_used(self) -> int:
        return sum(1 for t in self.tracks if t["used"])


def picture_sync_version(params: LipSyncParams) -> str:
    """What the title's offset depends on besides the track estimates (part of the
    ``lip_sync_offsets`` code_version, with the model's identity)."""
    return (
        f"{ALGORITHM}:conf{params.min_confidence:g}:agree{params.agreement_s:g}"
        f":tracks{params.min_agreeing_tracks}:share{params.min_agreeing_share:g}"
    )


def _consensus(offsets: np.ndarray, weights: np.ndarray, agreement_s: float) -> tuple[float, np.ndarray]:
    """(offset, members): the mode of the weighted Gaussian kernel density of ``offsets``
    (bandwidth ``agreement_s``, on a 1-ms grid), then the median of the offsets within
    ``2 × agreement_s`` of it (``members``, a boolean mask), one vote each: the weights say which
    offset the evidence gathers at, not how precise each estimate is."""
    grid = np.arange(offsets.min() - agreement_s, offsets.max() + agreement_s + 5e-4, 1e-3)
    density = (weights[None, :] * np.exp(-0.5 * ((grid[:, None] - offsets[None, :]) / agreement_s) ** 2)).sum(axis=1)
    mode = float(grid[int(np.argmax(density))])
    members = np.abs(offsets - mode) <= 2 * agreement_s
    return float(np.median(offsets[members])), members


def _beyond_the_window(track_offsets: list[TrackSync], max_shift_frames: int | None, agreement_s: float) -> str:
    """What a title without a speaking track adds to its reason when tracks' curves peak together
    beyond the estimator's window (the offset may lie outside it, and the window's peaks were side
    peaks): at least 2, and a third of the tracks, within ``2 × agreement_s`` of the median of those
    beyond (the tracks of a face that does not speak peak anywhere, on either side); "" otherwise."""
    from ml.picture.lipsync import frame_unit

    if max_shift_frames is None:
        return ""
    peaks, windows = [], []
    for t in track_offsets:
        shifts, scores = np.asarray(t.shifts_s, dtype=np.float64), np.asarray(t.scores, dtype=np.float64)
        if not shifts.size or not np.isfinite(scores).any() or not t.frame_rate > 0:
            continue
        unit = frame_unit(1.0 / t.frame_rate)
        window = max_shift_frames * unit
        peak = float(shifts[int(np.nanargmax(scores))])
        if abs(peak) > window + 0.5 * unit:
            peaks.append(peak)
            windows.append(window)
    if not peaks:
        return ""
    middle = float(np.median(peaks))
    together = int(np.sum(np.abs(np.asarray(peaks) - middle) <= 2 * agreement_s))
    if together < max(2, len(track_offsets) / 3):
        return ""
    return (
        f"; {together} of {len(track_offsets)} tracks peak together beyond the ±{1000 * min(windows):.0f} ms searched "
        f"(near {1000 * middle:+.0f} ms): the offset may lie outside the window"
    )


def picture_sync(
    track_offsets: list[TrackSync],
    *,
    min_confidence: float,
    estimator: str,
    has_picture: bool = True,
    agreement_s: float = LipSyncParams.agreement_s,
    min_agreeing_tracks: int = LipSyncParams.min_agreeing_tracks,
    min_agreeing_share: float = LipSyncParams.min_agreeing_share,
    max_shift_frames: int | None = None,
) -> PictureSync:
    """The title's original audio ↔ picture offset from its tracks' lip-sync estimates.

    Parameters
    ----------
    track_offsets : list of ml.picture.lipsync.TrackSync
        One estimate per face track of the title (its ``track``, ``offset_s``, ``confidence``,
        ``start_s``, ``end_s`` and ``n_frames`` are read, and its score curve, ``shifts_s`` and
        ``scores``, is kept for the plot).
    min_confidence : float
        Tracks below this confidence have no speaker and are discarded.
    agreement_s : float
        Seconds; the bandwidth in which speaking tracks count as agreeing (about one frame).
    estimator : str
        Identity of what produced the estimates (recorded with the result).
    has_picture : bool
        False for an audio-only original: no offset, status ``no_picture``.
    min_agreeing_tracks : int
        Fewer agreeing speaking tracks than this: status ``unverified``, no offset.
    min_agreeing_share : float
        Agreeing tracks holding less than this share of the speaking tracks' confidence (0..1):
        likewise.
    max_shift_frames : int, optional
        The estimator's window (``LipSyncParams.max_shift_frames``, a frame counted as
        :func:`ml.picture.lipsync.frame_unit` counts it). Given, a title with no speaking track says
        how many tracks' curves peak together beyond the window (the offset may lie outside it;
        nothing is read from them).
    """
    if min_confidence < 0:
        raise ParameterError(f"min_confidence={min_confidence} must be >= 0")
    if not agreement_s > 0:
        raise ParameterError(f"agreement_s={agreement_s} must be > 0")
    if min_agreeing_tracks < 1:
        raise ParameterError(f"min_agreeing_tracks={min_agreeing_tracks} must be >= 1")
    if not 0 <= min_agreeing_share <= 1:
        raise ParameterError(f"min_agreeing_share={min_agreeing_share} must be in [0, 1]")
    shifts = np.asarray(track_offsets[0].shifts_s, dtype=np.float64) if track_offsets else np.zeros(0)
    if track_offsets and all(len(t.scores) == len(shifts) for t in track_offsets):
        table = np.vstack([np.asarray(t.scores, dtype=np.float64) for t in track_offsets])
    else:
        table = np.zeros((0, len(shifts)))
    if not has_picture:
        return PictureSync("no_picture", None, "the original has no video stream", estimator, shifts_s=shifts, curves=table)
    if not track_offsets:
        return PictureSync("no_faces", None, "no face track in the picture", estimator, shifts_s=shifts, curves=table)
    rows = [
        {
            "track": int(t.track),
            "start_s": round(float(t.start_s), 3),
            "end_s": round(float(t.end_s), 3),
            "frames": int(t.n_frames),
            "offset_s": float(t.offset_s),
            "confidence": float(t.confidence),
            "used": bool(np.isfinite(t.offset_s) and t.confidence >= min_confidence),
            "agrees": False,
        }
        for t in track_offsets
    ]
    used = [r for r in rows if r["used"]]
    if not used:
        best = max(r["confidence"] for r in rows)
        return PictureSync(
            "no_speaker",
            None,
            f"no face track looks like a speaker: best confidence {best:.3f} of {len(rows)} tracks "
            f"(need {min_confidence:g}){_beyond_the_window(track_offsets, max_shift_frames, agreement_s)}",
            estimator,
            rows,
            shifts_s=shifts,
            curves=table,
        )
    offsets = np.array([r["offset_s"] for r in used])
    # the speakers' confidence (not their length: the estimator's errors are per clip and the same
    # under every shift, benchmarks/lipsync.py) weighs where the consensus is and whether it is
    # strong enough; the offset is the plain median of the agreeing tracks, since a confidence (a
    # peak's prominence) says whether a track has an offset, not how precise it is: weighted, one
    # speaker with a -54 ms bias and the highest confidence outvoted two agreeing ones in the demo's
    # talk_show (picture-consensus/3; benchmarks/README.md, 2026-12-06)
    weights = np.array([max(r["confidence"], 1e-6) for r in used])
    offset, members = _consensus(offsets, weights, agreement_s)
    spread = float(np.median(np.abs(offsets[members] - offset)))
    for r, member in zip(used, members):
        r["agrees"] = bool(member)
    lead = "leads" if offset > 0 else "lags"
    agree = int(members.sum())
    share = float(weights[members].sum() / weights.sum())
    if agree < min_agreeing_tracks or share < min_agreeing_share:
        reason = (
            f"not verified: {agree} of {len(used)} speaking tracks agree on {offset * 1000:+.0f} ms "
            f"({share:.0%} of their confidence; {len(rows)} tracks), and the picture's offset is used only when at least "
            f"{min_agreeing_tracks} agree with at least {min_agreeing_share:.0%} of it"
        )
        return PictureSync("unverified", None, reason, estimator, rows, spread, shifts, table, estimate_s=offset)
    reason = (
        f"original audio {lead} the picture by {abs(offset) * 1000:.0f} ms: "
        + (
            "1 speaking track"
            if len(used) == 1
            else f"{agree} of {len(used)} speaking tracks agree within ±{2 * agreement_s * 1000:.0f} ms"
        )
        + f" ({len(rows)} tracks; spread {spread * 1000:.0f} ms)"
    )
    return PictureSync("determined", offset, reason, estimator, rows, spread, shifts, table, estimate_s=offset)


def decide_against_picture(
    matches: FrameMatches,
    picture: PictureSync | None,
    *,
    match: MatchParams,
    params: VerdictParams,
) -> Verdict:
    """The dub's verdict against the picture when the title's picture offset is known, else
    against the original audio (with the reason why not the picture).

    The dub ↔ original offsets of every matched frame are moved by the original ↔ picture offset
    and judged as one timeline, so the kind, the band and the correction refer to the picture.
    """
    if picture is None or not picture.determined:
        verdict = decide(matches, match=match, params=params)
        if picture is not None and picture.status != "no_picture":
            verdict = dataclasses.replace(
                verdict, reason=f"{verdict.reason}; relative to the original audio, not the picture: {picture.reason}"
            )
        return verdict
    moved = dataclasses.replace(
        matches,
        offsets=matches.offsets + picture.offset_s,
        envelope_offsets=matches.envelope_offsets + picture.offset_s,
        envelope_piece_offsets=matches.envelope_piece_offsets + picture.offset_s,
    )
    verdict = decide(moved, match=match, params=params, reference="picture")
    return dataclasses.replace(
        verdict,
        original_to_picture_s=picture.offset_s,
        reason=f"{verdict.reason} (dub ↔ picture = dub ↔ original + original ↔ picture {picture.offset_s * 1000:+.0f} ms)",
    )
