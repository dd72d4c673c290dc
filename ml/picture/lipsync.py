"""Lip sync of a title's original audio against its picture, without pretrained weights.

Audio-visual correlation across lags (after FaceSync, Slaney & Covell 2000): for every face track,
features of the mouth region frame by frame are correlated with speech features of the audio taken
at each frame's presentation time minus a candidate offset; the offset whose correlation is highest
is the track's offset.

- **Mouth features** (per frame of the track): the crop of :func:`ml.picture.faces.mouth_crops`, its central
  ``mouth_region`` share in grey, scaled to ``crop_size`` pixels. Two feature sets: the darkness of
  the mouth interior (mean of the darkest 20, 10, 5, 2.5 % of the pixels, negated: an open mouth
  shows a dark cavity) and the first ``n_components`` principal components of the pixels over the
  track (lip shape and teeth).
- **Speech features**: mel power spectrum (5-ms hop) averaged over a window around each instant,
  then MFCCs. Audio is sampled at any time by linear interpolation, so candidate offsets are a fine
  grid (``lag_step_s``), finer than a frame; outside the decoded audio is silence (the quietest
  frame's features), as a player plays it.
- **Score of an offset**: both feature sets are high-passed (a moving average over ``highpass_s``
  removed: head motion, lighting drift, the slow loudness contour) and standardised; the score is
  the mean squared Pearson correlation between every mouth feature and every speech feature over the
  track's frames (the Frobenius norm of the cross-correlation, which needs no inversion and so does
  not overfit a few seconds of frames as full CCA does). A squared correlation cannot tell a mouth
  that opens with the sound from one that closes with it, so one more score keeps the sign where it
  is known: the mean correlation of the mouth's darkness with the loudness (MFCC 0), positive when
  the mouth is open while the speech is loud. Without it a speaker who opens the mouth a breath
  before speaking is matched to the sound 3-4 frames off, under every shift (grid/bbaf2n,
  grid/brbk7n). Curves of every combination of feature set, MFCC count, window and high-pass are
  standardised over the offsets and averaged: different features fail on different clips, the
  average of their curves fails less often.
- **Mouth position**: face tracks detect every k-th frame and interpolate; with ``refine_landmarks``
  the landmarks are detected again on every frame of the track, in a small square around its box
  (the mouth moves between detections and a crop that lags it mixes head motion into the features).
- **Offset**: the argmax within ±``max_shift_frames`` frames (of the track's own frame rate, but
  no shorter than at 25 fps, :data:`REFERENCE_FRAME_S`, as every tolerance below; half a frame
  more), refined by a parabola through the peak and its neighbours. The curve reaches
  ``search_margin_frames`` further so that a maximum at the window's limit is recognisable: a best
  candidate at the limit that the curve beyond still exceeds is ``at_edge`` (the truth may lie
  outside the window) and never confident, and a higher value beyond the window counts against the
  peak's prominence.
- **Confidence** (0 = no evidence): the peak's prominence times the feature families' agreement,
  and 0 unless both halves of the track bear the offset out (``consistency``).
  Prominence: the averaged curve's peak minus its highest value at least ``GAP_FRAMES`` frames away,
  in standard deviations of the curve (a side peak as high as the main one gives 0). Agreement: the
  share of the feature families (darkness, signed darkness ~ loudness, principal components) whose
  own curve peaks (anywhere in the search) within one frame of the offset. Consistency: the track's
  first and second half are scored alone (the same features, the same offsets); each half's averaged
  curve, standardised over the offsets, at its highest within ``HALF_FRAMES`` of the offset; the lower
  of the two. A track's sync is one constant, so a true offset shows in both halves; a side peak made
  by one chance alignment, or by sound that a search reaching beyond the track's ends pulls in (a face
  over silence), shows in one. Below ``MIN_HALF_SUPPORT`` the confidence is 0 (issue 23: on 12 real
  edits the two confident tracks more than 200 ms off, a silent face in a film trailer +613 ms and a
  67-frame talking head +378 ms, had −0.72 and +0.03; right ones 0.75 and up; benchmarks/README.md,
  2026-12-06). ``min_confidence``
  was calibrated on the GRID clips only, against wrong readings of copies shifted by up to 25 frames
  (beyond the window too); the news-style clips are held out (benchmarks/README.md, 2026-12-06).

Times are the streams' presentation times (:mod:`ml.decoding.video`, :mod:`ml.decoding.audio`): a variable frame rate
and an audio stream that starts later or earlier than the picture are honoured.

Sign: the offset is in seconds, positive = audio leads (a sound is heard before the picture shows
the mouth making it). Audio heard ``d`` seconds early matches the picture at ``t`` with the audio at
``t − d``, so the score of offset ``o`` pairs the frame at ``t`` with the audio at ``t − o``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ml.errors import MediaError, ParameterError
from ml.policy import FaceParams, LipSyncParams, params_version

if TYPE_CHECKING:
    from ml.picture.faces import FaceTracks

__all__ = [
    "ALGORITHM",
    "TrackSync",
    "estimator_identity",
    "mouth_features",
    "speech_features",
    "score_curves",
    "estimate",
    "half_support",
    "curve_support",
    "refined_landmarks",
    "track_offsets",
    "clip_offset",
]

ALGORITHM = "lipsync-avcorr/6"
"""Bump when the estimator changes in a way the parameters do not capture (/6: the window and the
tolerances are counted in frames no shorter than at 25 fps, :data:`REFERENCE_FRAME_S`; above 25 fps
they were shorter in time, the same at 25 fps and below; /5: no confidence unless
both halves of the track bear the offset out; /4: the speech features'
mean over an even number of hops is centred on its instant, it was half a hop (2.5 ms) late; /3: the
confidence is prominence × agreement of the feature families, and an offset at the edge is never
confident; /2 was the peak over the curve's median)."""

HOP_S = 0.005
"""Hop of the speech features, seconds (they are interpolated at any instant)."""

CROP_SIDE = 96
"""Side of the mouth crops taken from the picture, pixels (their central share is used)."""

REFINE_SIDE = 160
"""Side of the square around a face box (1.6 × its size) in which landmarks are re-detected."""

REFERENCE_FRAME_S = 0.04
"""The window (``max_shift_frames``, ``search_margin_frames``) and the tolerances below are counted in
frames of at least this long (25 fps: SyncNet's rate, and the GRID clips' on which they were tuned):
in a faster picture a frame is shorter but the mouth moves no faster, so they are as long in time as
at 25 fps. Counted in the picture's own frames, ±15 frames of a 59.94-fps title reached ±250 ms (a
363-ms offset was read as no speaker at all) and one frame of agreement was 17 ms (a 360-ms offset
read right had no family agreeing). A slower picture's frames count as they are (24 fps: ±625 ms)."""


def frame_unit(frame_s: float) -> float:
    """Seconds of one frame as the window and tolerances count it (:data:`REFERENCE_FRAME_S`)."""
    return max(float(frame_s), REFERENCE_FRAME_S)


GAP_FRAMES = 3
"""The prominence of a peak is measured against the curve's highest value at least this many
frames away (a side peak, not the shoulder of the same peak)."""

AGREE_FRAMES = 1.0
"""A feature family agrees with the averaged curve when its own peak is within this many frames."""

HALF_FRAMES = 2.0
"""A half of a track bears the offset out where its own curve is high within this many frames of it
(a half is a noisier estimate than the whole, hence a frame more than ``AGREE_FRAMES``)."""

MIN_HALF_SUPPORT = 0.5
"""Consistency below this (standard deviations of a half's curve above its mean) makes the
confidence 0. Calibrated on the 12 real edits of benchmarks/edit_lipsync.py (k = 0-11); held out:
edits k = 12-23 (benchmarks/README.md, 2026-12-06)."""

DARK_SHARES = (0.2, 0.1, 0.05, 0.025)
"""Shares of the darkest mouth pixels whose mean darkness is a feature."""


def estimator_identity(params: LipSyncParams) -> str:
    """A stable string naming the estimator and its parameters (an asset's ``code_version``)."""
    return f"{ALGORITHM}:{params_version(ALGORITHM, params)}"


@dataclass(frozen=True)
class TrackSync:
    """Lip-sync offset of one face track.

    Attributes
    ----------
    track : int
        Face track id (:class:`ml.picture.faces.FaceTracks`).
    offset_s : float
        Original audio relative to the picture, seconds; positive = audio leads.
    confidence : float
        Prominence × agreement (0 when ``at_edge``); see the module's docstring.
    start_s, end_s : float
        Presentation times of the track's first and last frame.
    n_frames : int
        Frames of the track used.
    frame_rate : float
        The track's median frame rate (frames per second), the unit of ``max_shift_frames``.
    shifts_s : np.ndarray [shape=(n_shifts,), dtype=float64]
        Candidate offsets, seconds (positive = audio leads).
    scores : np.ndarray [shape=(n_shifts,), dtype=float64]
        Score of each candidate (higher = better; averaged standardised curves).
    prominence : float
        Peak minus the curve's highest value ``GAP_FRAMES`` or more frames away, in standard
        deviations of the curve (NaN from an estimator that does not measure it).
    agreement : float
        Share of the feature families whose own curve peaks within ``AGREE_FRAMES`` of the offset.
    at_edge : bool
        The best offset within ±``max_shift_frames`` is at the limit and the curve rises beyond it.
    consistency : float
        The lower of the two halves' support of the offset (:func:`half_support`; NaN where it was
        not measured: the confidence was 0 already, or an estimator that does not measure it).
    """

    track: int
    offset_s: float
    confidence: float
    start_s: float
    end_s: float
    n_frames: int
    frame_rate: float
    shifts_s: np.ndarray
    scores: np.ndarray
    prominence: float = float("nan")
    agreement: float = float("nan")
    at_edge: bool = False
    consistency: float = float("nan")

    def reliable(self, params: LipSyncParams) -> bool:
        """Whether the confidence reaches ``params.min_confidence``."""
        return bool(self.confidence >= params.min_confidence)

    def as_dict(self) -> dict:
        """Plain data (no curve), for metadata and JSON."""
        return {
            "track": self.track,
            "offset_s": self.offset_s,
            "confidence": self.confidence,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "n_frames": self.n_frames,
            "frame_rate": self.frame_rate,
            "prominence": self.prominence,
            "agreement": self.agreement,
            "at_edge": self.at_edge,
            "consistency": self.consistency,
        }


# ---------------------------------------------------------------------------------------------
# features


def mouth_features(crops: np.ndarray, params: LipSyncParams) -> dict[str, np.ndarray]:
    """Mouth-region features of a track's crops.

    Parameters
    ----------
    crops : np.ndarray [shape=(n, s, s, 3) RGB or (n, s, s) grey, dtype=uint8]
        Square crops centred on the mouth, one per frame (:func:`ml.picture.faces.mouth_crops`).

    Returns
    -------
    {"dark": [shape=(n, 4)], "pca": [shape=(n, k)]}, float64
    """
    import cv2

    crops = np.asarray(crops)
    if crops.ndim not in (3, 4) or crops.shape[1] != crops.shape[2] or len(crops) < 2:
        raise ParameterError(f"crops must have shape (n >= 2, s, s[, 3]), got {crops.shape}")
    side = crops.shape[1]
    a = int(round(side * (0.5 - params.mouth_region / 2)))
    b = max(a + 2, int(round(side * (0.5 + params.mouth_region / 2))))
    size = params.crop_size
    grey = np.empty((len(crops), size, size), np.float32)
    for i, crop in enumerate(crops):
        region = crop[a:b, a:b]
        if region.ndim == 3:
            region = cv2.cvtColor(np.ascontiguousarray(region), cv2.COLOR_RGB2GRAY)
        grey[i] = cv2.resize(region, (size, size), interpolation=cv2.INTER_AREA)
    pixels = grey.reshape(len(grey), -1).astype(np.float64)
    ordered = np.sort(pixels, axis=1)
    n_px = pixels.shape[1]
    dark = np.stack([-ordered[:, : max(1, int(n_px * share))].mean(axis=1) for share in DARK_SHARES], axis=1)
    centred = pixels - pixels.mean(axis=0)
    k = min(params.n_components, len(pixels) - 1, n_px)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    pca = u[:, :k] * s[:k]
    return {"dark": dark, "pca": pca}


def speech_features(y: np.ndarray, sample_rate: int, params: LipSyncParams) -> dict[tuple[int, float], np.ndarray]:
    """Speech features on a 5-ms grid: MFCCs of the mel power averaged over each window.

    Parameters
    ----------
    y : np.ndarray [shape=(n,), dtype=float32]
        Mono samples.

    Returns
    -------
    {(n_mfcc, window_s): [shape=(n_hops, n_mfcc)]}; row j is centred on sample j × hop (the mel
    frames are centred, and so is the mean over each window, whatever its length in hops).
    """
    import librosa
    from scipy.ndimage import uniform_filter1d

    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1 or y.size < sample_rate // 10:
        raise ParameterError(f"y must be mono audio of at least 0.1 s, got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ParameterError("y contains NaN or infinity")
    hop = int(round(HOP_S * sample_rate))
    n_fft = 1 << int(np.ceil(np.log2(0.025 * sample_rate)))
    mel = librosa.feature.melspectrogram(
        y=y, sr=sample_rate, n_fft=n_fft, hop_length=hop, win_length=int(0.025 * sample_rate),
        n_mels=40, fmin=80.0, fmax=min(7600.0, sample_rate / 2),
    )  # fmt: skip
    out = {}
    for window in params.windows_s:
        size = max(1, int(round(window / HOP_S)))
        smooth = uniform_filter1d(mel, size, axis=1, mode="nearest")
        if size % 2 == 0:
            # an even moving average is centred half a hop late (row j averages j − size/2 … j + size/2 − 1);
            # with the one a hop earlier it is centred on row j (end rows at half weight)
            smooth = 0.5 * (smooth + uniform_filter1d(mel, size, axis=1, mode="nearest", origin=-1))
        log_mel = np.log(smooth + 1e-10 + 1e-5 * smooth.max())
        for n_mfcc in params.n_mfcc:
            out[(n_mfcc, window)] = librosa.feature.mfcc(S=log_mel, n_mfcc=n_mfcc).T.astype(np.float64)
    return out


def _sample(features: np.ndarray, t0: float, times: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """Features (rows every HOP_S from t0) at arbitrary ``times`` by linear interpolation; ``fill``
    outside."""
    pos = (times - t0) / HOP_S
    inside = (pos >= 0) & (pos <= len(features) - 1)
    i0 = np.clip(np.floor(pos).astype(np.int64), 0, len(features) - 1)
    i1 = np.minimum(i0 + 1, len(features) - 1)
    w = (pos - i0)[:, None]
    out = features[i0] * (1 - w) + features[i1] * w
    out[~inside] = fill
    return out


def _highpass(x: np.ndarray, n: int) -> np.ndarray:
    from scipy.ndimage import uniform_filter1d

    return x - uniform_filter1d(x, n, axis=0, mode="nearest") if n >= 3 else x


def _standardise(x: np.ndarray) -> np.ndarray:
    x = x - x.mean(axis=0)
    sd = x.std(axis=0)
    return x / np.where(sd > 1e-12, sd, 1.0)


def score_curves(
    mouth: dict[str, np.ndarray],
    speech: dict[tuple[int, float], np.ndarray],
    speech_start_s: float,
    times: np.ndarray,
    shifts_s: np.ndarray,
    params: LipSyncParams,
) -> dict[str, np.ndarray]:
    """One standardised correlation curve per feature family over the candidate offsets.

    Parameters
    ----------
    mouth : from :func:`mouth_features`, rows at ``times``
    speech : from :func:`speech_features`, row 0 at ``speech_start_s``
    times : np.ndarray [shape=(n,)]
        Presentation time of each mouth row, seconds.
    shifts_s : np.ndarray [shape=(m,)]
        Candidate offsets, seconds (positive = audio leads).

    Returns
    -------
    {family: np.ndarray [shape=(m,)]}, higher = better: ``"<name>"`` per mouth feature set (the
    mean squared correlation) and ``"dark_sign"`` (the darkness's signed correlation with the
    loudness) when ``"dark"`` is a set; each the mean of its curves over the high-pass lengths and
    speech feature sets, every curve standardised over the offsets first.
    """
    times = np.asarray(times, dtype=np.float64)
    frame_s = float(np.median(np.diff(times))) if len(times) > 1 else 0.04
    n = len(times)
    names = list(mouth)
    families = names + (["dark_sign"] if "dark" in mouth else [])
    totals = {name: np.zeros(len(shifts_s)) for name in families}
    for highpass in params.highpass_s:
        width = int(round(highpass / frame_s)) | 1
        visual = [_standardise(_highpass(mouth[name], width)).T / n for name in names]
        for feats in speech.values():
            fill = feats[int(np.argmin(feats[:, 0]))]  # the quietest frame: silence
            curves = np.empty((len(families), len(shifts_s)))
            for j, offset in enumerate(shifts_s):
                audio = _standardise(_highpass(_sample(feats, speech_start_s, times - offset, fill), width))
                for i, v in enumerate(visual):
                    correlations = v @ audio
                    curves[i, j] = np.mean(correlations**2)
                    if names[i] == "dark":  # open mouth, louder speech: the sign is known
                        curves[-1, j] = np.mean(correlations[:, 0])
            for name, curve in zip(families, curves):
                sd = curve.std()
                if sd > 0:
                    totals[name] += (curve - curve.mean()) / sd
    n_sets = len(params.highpass_s) * len(speech)
    return {name: total / n_sets for name, total in totals.items()}


def refined_offset(shifts: np.ndarray, scores: np.ndarray, i: int) -> float:
    """The candidate offset ``shifts[i]`` refined by a parabola through ``scores[i]`` and its two
    neighbours (by at most half a step; unrefined at either end or where the curve is not convex)."""
    offset = float(shifts[i])
    if 0 < i < len(scores) - 1:
        left, mid, right = scores[i - 1 : i + 2]
        denom = left - 2 * mid + right
        if denom < 0:
            offset += float(np.clip(0.5 * (left - right) / denom, -0.5, 0.5)) * float(shifts[1] - shifts[0])
    return offset


def _peak(
    shifts: np.ndarray, scores: np.ndarray, families: dict[str, np.ndarray], frame_s: float, max_shift_s: float
) -> tuple[float, float, float, float, bool]:
    """(refined offset, confidence, prominence, agreement, at_edge) of an averaged score curve and
    its families' curves (see the module's docstring).

    ``frame_s``: a frame as the tolerances count it (:func:`frame_unit`). The offset is the best
    candidate within ±``max_shift_s`` (and half a frame); the curve beyond is
    evidence against it: a higher value there, ``GAP_FRAMES`` or more away, makes the prominence
    negative, and a best candidate at the window's limit that the curve beyond still exceeds is no
    peak but an edge (``at_edge``)."""
    inside = np.flatnonzero(np.abs(shifts) <= max_shift_s + 0.5 * frame_s + 1e-9)
    i = int(inside[np.argmax(scores[inside])])
    offset = refined_offset(shifts, scores, i)
    at_edge = bool(i in (0, len(scores) - 1) or scores[i - 1] > scores[i] or scores[i + 1] > scores[i])
    sd = scores.std()
    far = np.abs(shifts - shifts[i]) >= GAP_FRAMES * frame_s - 1e-9
    prominence = float((scores[i] - scores[far].max()) / sd) if sd > 0 and far.any() else 0.0
    agree = [abs(float(shifts[int(np.argmax(c))]) - float(shifts[i])) <= AGREE_FRAMES * frame_s + 1e-9 for c in families.values()]
    agreement = float(np.mean(agree)) if agree else 0.0
    confidence = 0.0 if at_edge else max(0.0, prominence) * agreement
    return offset, confidence, prominence, agreement, at_edge


def estimate(
    mouth: dict[str, np.ndarray],
    speech: dict[tuple[int, float], np.ndarray],
    speech_start_s: float,
    times: np.ndarray,
    params: LipSyncParams,
) -> TrackSync:
    """One track's estimate from its mouth features (rows at ``times``) and the title's speech
    features (row 0 at ``speech_start_s``): the curves over the candidate offsets, the peak, its
    confidence and the halves' consistency (see the module's docstring); ``track`` is 0."""
    times = np.asarray(times, dtype=np.float64)
    frame_rate = 1.0 / float(np.median(np.diff(times)))
    unit = frame_unit(1.0 / frame_rate)
    reach = (params.max_shift_frames + params.search_margin_frames) * unit
    shifts = np.arange(-reach, reach + params.lag_step_s / 2, params.lag_step_s)
    families = score_curves(mouth, speech, speech_start_s, times, shifts, params)
    scores = np.mean(list(families.values()), axis=0)
    offset, confidence, prominence, agreement, at_edge = _peak(shifts, scores, families, unit, params.max_shift_frames * unit)
    consistency = half_support(mouth, speech, speech_start_s, times, shifts, offset, params) if confidence > 0 else float("nan")
    if not consistency >= MIN_HALF_SUPPORT:
        confidence = 0.0
    return TrackSync(
        track=0, offset_s=offset, confidence=confidence, start_s=float(times[0]), end_s=float(times[-1]),
        n_frames=len(times), frame_rate=frame_rate, shifts_s=shifts, scores=scores,
        prominence=prominence, agreement=agreement, at_edge=at_edge, consistency=consistency,
    )  # fmt: skip


def half_support(
    mouth: dict[str, np.ndarray],
    speech: dict[tuple[int, float], np.ndarray],
    speech_start_s: float,
    times: np.ndarray,
    shifts_s: np.ndarray,
    offset_s: float,
    params: LipSyncParams,
) -> float:
    """How well both halves of a track bear out ``offset_s``: each half's averaged curve
    (:func:`score_curves` on its rows alone), standardised over the offsets, at its highest within
    ``HALF_FRAMES`` of the offset; the lower of the two (in standard deviations; see the module's
    docstring). A track too short to halve has none (−inf)."""
    times = np.asarray(times, dtype=np.float64)
    n = len(times)
    if n < 8:
        return float("-inf")
    frame_s = frame_unit(float(np.median(np.diff(times))))
    near = np.abs(shifts_s - offset_s) <= HALF_FRAMES * frame_s + 1e-9
    support = np.inf
    for rows in (slice(0, n // 2), slice(n // 2, n)):
        half = {name: features[rows] for name, features in mouth.items()}
        curve = np.mean(list(score_curves(half, speech, speech_start_s, times[rows], shifts_s, params).values()), axis=0)
        support = min(support, curve_support(curve, near))
    return support


def curve_support(curve: np.ndarray, near: np.ndarray) -> float:
    """A curve's highest value where ``near`` [bool, the same shape], in standard deviations above its
    mean (over its finite values: NaN where a shift has no evidence); 0 for a flat curve, −inf with
    fewer than 3 finite values or none where ``near``. A half's support of an offset (:func:`half_support`,
    and a SyncNet checkpoint's, :func:`ml.picture.syncnet.half_support`)."""
    curve = np.asarray(curve, dtype=np.float64)
    known = np.isfinite(curve)
    if known.sum() < 3 or not known[near].any():
        return float("-inf")
    sd = float(curve[known].std())
    return float((np.nanmax(curve[near]) - curve[known].mean()) / sd) if sd > 0 else 0.0


# ---------------------------------------------------------------------------------------------
# files


def refined_landmarks(path: str | Path, tracks: FaceTracks, track: int, *, batch_size: int = 16, threads: int = 2) -> np.ndarray:
    """Landmarks of ``track`` detected on every frame (face tracks detect on every k-th frame and
    interpolate; lip sync needs the mouth where it is on each frame).

    RetinaFace runs on a square 1.6 × the track's box around it, scaled to ``REFINE_SIDE`` pixels;
    the detection nearest the square's centre is kept. Frames where nothing is found keep the
    track's interpolated landmarks.

    Returns
    -------
    landmarks : np.ndarray [shape=(n_rows, 5, 2), dtype=float32], in stored-frame pixels
    """
    import cv2

    from ml.picture.faces import detect_faces_batch, track_frames

    rows = tracks.rows(track)  # an unknown track: track_frames says so
    out = tracks.landmarks[rows].copy()
    batch, where = [], []

    def flush():
        found = detect_faces_batch(np.stack(batch), 0.5)
        centre = np.array([REFINE_SIDE / 2, REFINE_SIDE / 2])
        for (i, x0, y0, scale), faces in zip(where, found):
            if not faces:
                continue
            box, pts, _ = min(faces, key=lambda f: float(np.hypot(*((f[0][:2] + f[0][2:]) / 2 - centre))))
            out[i] = pts / scale + np.array([x0, y0], np.float32)
        batch.clear()
        where.clear()

    for row, frame in track_frames(path, tracks, track, threads=threads):
        i = int(np.searchsorted(rows, row))
        x0, y0, x1, y1 = tracks.box[row]
        side = 1.6 * max(x1 - x0, y1 - y0, 8.0)
        left, top = (x0 + x1) / 2 - side / 2, (y0 + y1) / 2 - side / 2
        scale = REFINE_SIDE / side
        m = np.array([[scale, 0, -left * scale], [0, scale, -top * scale]], dtype=np.float32)
        batch.append(cv2.warpAffine(frame.image, m, (REFINE_SIDE, REFINE_SIDE), flags=cv2.INTER_AREA, borderValue=(0, 0, 0)))
        where.append((i, np.float32(left), np.float32(top), np.float32(scale)))
        if len(batch) == batch_size:
            flush()
    if batch:
        flush()
    return out


def _load_speech(path: str | Path, params: LipSyncParams):
    from ml.decoding.audio import load_audio

    y, start_s = load_audio(path, sample_rate=params.sample_rate)
    return speech_features(y, params.sample_rate, params), start_s


def track_offsets(
    path: str | Path,
    tracks: FaceTracks,
    params: LipSyncParams | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
    threads: int = 2,
) -> list[TrackSync]:
    """Lip-sync offset of every face track of the title at ``path``, against that file's own audio.

    Parameters
    ----------
    path : str or Path
        The title's original (its first video stream is the picture, its first audio stream the
        original audio).
    tracks : ml.picture.faces.FaceTracks
        Face tracks of that picture.
    params : LipSyncParams, optional
    progress : callable, optional
        Called as ``progress(tracks_done, n_tracks)`` after each track.

    Returns
    -------
    list of TrackSync, one per track, in track order (empty without tracks).

    Raises
    ------
    MediaError
        The file is unreadable, has no audio or no video stream, or is too short.
    """
    import dataclasses

    from ml.picture.faces import mouth_crops

    params = params or LipSyncParams()
    if tracks.n_tracks == 0:
        return []
    speech, speech_start = _load_speech(path, params)
    out = []
    for t in range(tracks.n_tracks):
        source = tracks
        if params.refine_landmarks:
            landmarks = tracks.landmarks.copy()
            landmarks[tracks.rows(t)] = refined_landmarks(path, tracks, t, threads=threads)
            source = dataclasses.replace(tracks, landmarks=landmarks)
        frames = list(mouth_crops(path, source, t, size=CROP_SIDE, scale=1.0, threads=threads, fields=params.read_fields))
        if len(frames) < 2:
            raise MediaError(path, f"face track {t} has {len(frames)} decodable frame(s): too few for lip sync")
        times = np.array([f[1] for f in frames], dtype=np.float64)
        crops = np.stack([f[2] for f in frames])
        out.append(dataclasses.replace(estimate(mouth_features(crops, params), speech, speech_start, times, params), track=t))
        if progress is not None:
            progress(t + 1, tracks.n_tracks)
    return out


def clip_offset(path: str | Path, params: LipSyncParams | None = None, *, face_params: FaceParams | None = None) -> TrackSync:
    """Lip-sync offset of a single-speaker clip: shots, face tracks (``face_params``), and the
    longest track, against the clip's own audio.

    Raises
    ------
    MediaError
        No audio or video stream, or no face track in the picture.
    """
    from ml.decoding.audio import probe_audio
    from ml.picture.faces import FaceTracks, track_faces
    from ml.picture.shots import shots_from_file

    params = params or LipSyncParams()
    probe_audio(path)  # no audio stream: fail before the picture work
    shots = shots_from_file(path)
    tracks = track_faces(path, shots, face_params)
    if tracks.n_tracks == 0:
        raise MediaError(path, "no face track in the picture: lip sync needs a visible speaker")
    longest = tracks.longest()
    rows = tracks.rows(longest)
    single = FaceTracks(
        track=np.zeros(len(rows), np.int64), frame=tracks.frame[rows], time_s=tracks.time_s[rows], box=tracks.box[rows],
        landmarks=tracks.landmarks[rows], score=tracks.score[rows], detected=tracks.detected[rows],
        track_shot=tracks.track_shot[[longest]], frame_width=tracks.frame_width, frame_height=tracks.frame_height,
        n_frames=tracks.n_frames, version=tracks.version,
    )  # fmt: skip
    result = track_offsets(path, single, params)[0]
    return TrackSync(**{**result.__dict__, "track": longest})
