"""The typed policy: every threshold and parameter of dubsync in one place.

Three groups, one per stage, so that a change of one parameter makes stale exactly the assets that
use it (each asset's ``code_version`` is a hash of the groups it reads, see :func:`params_version`):

- :class:`SignatureParams`: the compressive-sensing audio signature (reference and dub signatures).
- :class:`MatchParams`: frame matching of a dub against the original (frame-match offsets).
- :class:`VerdictParams`: tolerances and evidence needed for a verdict (title verdicts).
- :class:`ShotParams`: shot boundaries of the picture (shot boundaries).
- :class:`FaceParams`: face detection and tracking (face tracks).

Defaults are the published values (Vajpayee et al.) where the paper gives them, otherwise values
tuned on generated titles; each carries its reason. A policy file (TOML) overrides any of them::

    [signature]
    theta_db = -65.0

    [match]
    theta_min_dist = 6.0
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ml.errors import ParameterError

__all__ = [
    "SignatureParams",
    "MatchParams",
    "VerdictParams",
    "ShotParams",
    "FaceParams",
    "LipSyncParams",
    "ConformParams",
    "Policy",
    "load_policy",
    "params_version",
]


LEVEL_REFERENCES = ("frame_peak", "full_scale")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ParameterError(message)


@dataclass(frozen=True)
class SignatureParams:
    """Parameters of the compressive-sensing audio signature."""

    sample_rate: int = 44100
    """Hz; every track is decoded to mono at this rate (paper: 44.1 kHz)."""
    n_fft: int = 4096
    """samples per STFT frame; F = n_fft / 2 + 1 = 2049 frequency bins (paper)."""
    hop_length: int = 2048
    """samples between frames: 46.4 ms at 44.1 kHz (paper)."""
    level_reference: str = "frame_peak"
    """what theta_db is relative to: "full_scale" (dB re full scale, the paper) or "frame_peak"
    (dB re the frame's loudest bin: a dub mixed louder or quieter, or down-mixed from 5.1, gives the
    same signature; tuned, the paper's absolute levels fail on a 6 dB gain change)."""
    theta_db: float = -60.0
    """loudness sparsification: bins quieter than this (dB, see level_reference) become 0 (tuned on
    generated titles: -60 separates M&E matches from dialogue best; -40 keeps too few bins)."""
    silence_db: float = -70.0
    """dB re full scale; frames whose loudest bin is quieter are silence and dropped (tuned)."""
    min_active_fraction: float = 0.02
    """frames with fewer non-zero bins than this share are silence and dropped (tuned)."""
    max_active_fraction: float = 0.98
    """frames with more non-zero bins than this share are broadband noise and dropped (tuned)."""
    max_frequency_hz: float = 22050.0
    """bins above this frequency are left out (22050 keeps all F = 2049 bins, as the paper)."""
    reference_oversampling: int = 4
    """the original's signature uses hop_length / this, so every dub offset finds an original frame
    within 1/8 hop (tuned: at the paper's single hop, an offset between two frame positions doubles
    the distance of true matches and they drown among dialogue frames)."""
    compression_ratio: int = 64
    """F / M; M = 2049 // 64 = 32 measurements per frame (tuned: the paper's 32 gives M = 64; at
    M = 32 every benchmark row is as accurate; at M = 28 a jump was missed)."""
    code_bits: int = 7
    """bits per stored measurement (one scale per track): 7 bits keep the rounding error at 0.8 % of
    the track's largest measurement, below match distances, and store M = 32 in 28 bytes a frame,
    2.2 MB per hour (tuned: 8 bits made 2.5 MB per hour with the same benchmark accuracy)."""
    seed: int = 20240601
    """seed of the Bernoulli sensing matrix; the same for every track so signatures compare."""
    envelope_bands: int = 8
    """log-spaced bands between envelope_low_hz and envelope_high_hz whose level is kept for every
    frame (one byte each, 0.5-dB steps) for the envelope matcher (:mod:`ml.audio_sync.envelope`),
    a second, independent dub ↔ original matcher for continuous dialogue over a quiet bed; 0 keeps
    none (issue 22: 8 bands found the lag of real speech over a bed 12 dB under it, where too few
    signature frames matched)."""
    envelope_low_hz: float = 60.0
    """lowest frequency of the envelope bands, Hz."""
    envelope_high_hz: float = 16000.0
    """highest frequency of the envelope bands, Hz (at most max_frequency_hz is used)."""

    def __post_init__(self) -> None:
        _require(self.sample_rate >= 8000, f"sample_rate={self.sample_rate} must be >= 8000 Hz")
        _require(
            self.n_fft >= 256 and self.n_fft & (self.n_fft - 1) == 0,
            f"n_fft={self.n_fft} must be a power of two >= 256",
        )
        _require(
            0 < self.hop_length <= self.n_fft,
            f"hop_length={self.hop_length} must be in 1..n_fft ({self.n_fft})",
        )
        _require(
            self.level_reference in LEVEL_REFERENCES,
            f"level_reference={self.level_reference!r} must be one of {LEVEL_REFERENCES}",
        )
        _require(math.isfinite(self.theta_db), f"theta_db={self.theta_db} must be finite")
        _require(
            self.level_reference == "full_scale" or self.theta_db < 0,
            f"theta_db={self.theta_db} must be negative with level_reference='frame_peak'",
        )
        _require(math.isfinite(self.silence_db), f"silence_db={self.silence_db} must be finite")
        _require(
            0.0 <= self.min_active_fraction < self.max_active_fraction <= 1.0,
            f"min_active_fraction={self.min_active_fraction} and max_active_fraction="
            f"{self.max_active_fraction} must satisfy 0 <= min < max <= 1",
        )
        _require(
            self.max_frequency_hz >= 1000,
            f"max_frequency_hz={self.max_frequency_hz} must be >= 1000 Hz",
        )
        _require(
            self.reference_oversampling >= 1 and self.hop_length % self.reference_oversampling == 0,
            f"reference_oversampling={self.reference_oversampling} must be >= 1 and divide "
            f"hop_length={self.hop_length}",
        )
        _require(
            1 <= self.compression_ratio <= self.n_bins,
            f"compression_ratio={self.compression_ratio} must be in 1..{self.n_bins} (the bin count)",
        )
        _require(2 <= self.code_bits <= 8, f"code_bits={self.code_bits} must be in 2..8")
        _require(0 <= self.envelope_bands <= 32, f"envelope_bands={self.envelope_bands} must be in 0..32")
        _require(
            20.0 <= self.envelope_low_hz < self.envelope_high_hz <= self.sample_rate / 2,
            f"envelope_low_hz={self.envelope_low_hz} and envelope_high_hz={self.envelope_high_hz} must satisfy "
            f"20 <= low < high <= {self.sample_rate / 2:g} Hz (bands above max_frequency_hz are left out)",
        )

    @property
    def n_bins(self) -> int:
        """F, the number of frequency bins used (up to ``max_frequency_hz``)."""
        top = int(np.floor(self.max_frequency_hz * self.n_fft / self.sample_rate))
        return min(self.n_fft // 2, top) + 1

    @property
    def n_measurements(self) -> int:
        """M = F // compression_ratio, the length of a signature vector."""
        return self.n_bins // self.compression_ratio

    @property
    def frame_seconds(self) -> float:
        """Duration of one hop of a dub's signature, seconds."""
        return self.hop_length / self.sample_rate

    def hop_for(self, role: str) -> int:
        """Hop of a signature: ``"dub"`` uses hop_length, ``"reference"`` hop_length /
        reference_oversampling."""
        if role not in ("dub", "reference"):
            raise ParameterError(f"role={role!r} must be 'dub' or 'reference'")
        return self.hop_length // (self.reference_oversampling if role == "reference" else 1)


@dataclass(frozen=True)
class MatchParams:
    """Parameters of matching a dub's signature against the original's."""

    search_window_s: float = 600.0
    """seconds; offsets up to ±this are found (the paper searched ±x per frame; here the coarse
    stage searches it per stretch, so ±10 min costs about what ±30 s does)."""
    strategy: str = "coarse_to_fine"
    """"coarse_to_fine": align each stretch as a whole (FFT cross-correlation), then match its
    frames within ±fine_window_s of that; "exhaustive": the paper's per-frame search over the whole
    window (cost grows with it)."""
    chunk_s: float = 30.0
    """seconds of dub aligned as one stretch in the coarse stage (tuned: long enough to hold M&E
    between dialogue lines, short enough that a drift moves the offset little within it)."""
    coarse_pool: int = 4
    """frames averaged into one cell of the coarse stage (4 × 46 ms = 186 ms)."""
    min_coarse_score: float = 0.1
    """a stretch's best normalised correlation (cosine of the pooled signatures) must reach this,
    else it holds no shared M&E and is skipped (tuned)."""
    min_coarse_contrast: float = 1.5
    """... and exceed the best correlation more than 1 s away by this factor, unless another stretch
    agrees on the lag (tuned: true lags scored 1.2-10x their rival on the demo titles, the weakest
    in a dialogue-heavy title; a wrong lag only says where to look: the fine stage then finds few
    matching frames there, and the timeline fit treats them as outliers)."""
    speed_candidates: tuple[float, ...] = (25 / 24, 24 / 25)
    """when a dub matches too little at its own speed, its audio is resampled by each of these
    ratios (a PAL 25/24 speed-up and its inverse shift the pitch by 4 %, and no frame matches
    unresampled) and matched again; the best wins and is reported as a drift. Empty: no search."""
    fine_window_s: float = 0.5
    """seconds around a stretch's coarse offset in which each frame is matched (covers the coarse
    stage's 186-ms cells and a drift of 1 % within a stretch)."""
    theta_min_dist: float = 8.0
    """L∞ distance; frames whose best match is this far or farther are dialogue and dropped (tuned
    on generated titles: M&E-only frames score about 3, lossy-coded ones up to 8, dialogue 18+)."""

    max_rival_ratio: float = 0.6
    """a frame is also matched when its best distance is at most this share of the best distance
    more than 0.25 s away (a distinct match): lossy codecs, speed changes and 5.1 down-mixes raise
    M&E distances above θ_min_dist without making them ambiguous (tuned: on the demo titles 2-4×
    the evidence at precision >= 0.99); 0 disables it (the paper's filter alone)."""

    envelope_matcher: bool = True
    """run the envelope matcher (:mod:`ml.audio_sync.envelope`) beside the signatures: each stretch
    aligned by the onsets of its band envelopes, evidence the verdict fuses with the matched frames
    (issue 22: continuous dialogue leaves too few frames under θ_min_dist)."""
    envelope_min_contrast: float = 1.4
    """an envelope stretch counts as evidence when its best correlation is this many times its best
    more than 1 s away (or a weaker one, from 1.1, when another stretch agrees; tuned on real
    speech over a bed 6-12 dB under it: true lags scored 1.7-3.4 ×)."""

    def __post_init__(self) -> None:
        _require(isinstance(self.envelope_matcher, bool), f"envelope_matcher={self.envelope_matcher!r} must be true or false")
        _require(
            math.isfinite(self.envelope_min_contrast) and self.envelope_min_contrast >= 1.1,
            f"envelope_min_contrast={self.envelope_min_contrast} must be a number >= 1.1",
        )
        _require(0.0 <= self.max_rival_ratio < 1.0, f"max_rival_ratio={self.max_rival_ratio} must be in [0, 1)")
        _require(
            self.strategy in ("coarse_to_fine", "exhaustive"),
            f"strategy={self.strategy!r} must be 'coarse_to_fine' or 'exhaustive'",
        )
        _require(self.chunk_s >= 2.0, f"chunk_s={self.chunk_s} must be >= 2 seconds")
        _require(self.coarse_pool >= 1, f"coarse_pool={self.coarse_pool} must be >= 1")
        _require(self.fine_window_s > 0, f"fine_window_s={self.fine_window_s} must be > 0")
        object.__setattr__(self, "speed_candidates", tuple(float(r) for r in self.speed_candidates))
        _require(
            all(0.5 <= r <= 2.0 and r != 1.0 for r in self.speed_candidates),
            f"speed_candidates={self.speed_candidates} must be ratios in [0.5, 2] other than 1",
        )
        _require(
            0.0 < self.search_window_s <= 24 * 3600,
            f"search_window_s={self.search_window_s} must be in (0, 86400] seconds",
        )
        _require(self.theta_min_dist > 0, f"theta_min_dist={self.theta_min_dist} must be > 0")


SYNC_LIMITS = ("acceptable", "undetectable", "symmetric")
"""The meanings "in sync" can take (:attr:`VerdictParams.sync_limit`)."""


@dataclass(frozen=True)
class VerdictParams:
    """Tolerances (ITU-R BT.1359) and the evidence a verdict needs. Seconds, positive = audio leads."""

    sync_limit: str = "acceptable"
    """what "in sync" means, for ``in_sync``, the verdict's kind and the ``within_tolerance`` check:
    ``"acceptable"`` (the default, a QC decision: ITU-R BT.1359's acceptability band, audio leading
    by at most ``acceptable_lead_s`` and lagging by at most ``acceptable_lag_s``); ``"undetectable"``
    (its undetectability band); ``"symmetric"`` (|offset| ≤ ``out_of_sync_s``: the paper's binary
    protocol, the named policy ``paper``)."""
    out_of_sync_s: float = 0.2
    """with ``sync_limit = "symmetric"``, |offset| above this is out of sync (the paper's protocol)."""
    undetectable_lead_s: float = 0.045
    """ITU-R BT.1359: audio leading by up to 45 ms is undetectable."""
    undetectable_lag_s: float = 0.125
    """ITU-R BT.1359: audio lagging by up to 125 ms is undetectable."""
    acceptable_lead_s: float = 0.090
    """ITU-R BT.1359: audio leading by up to 90 ms is acceptable."""
    acceptable_lag_s: float = 0.185
    """ITU-R BT.1359: audio lagging by up to 185 ms is acceptable."""
    min_matched_frames: int = 30
    """fewer matched frames than this (≈1.4 s of M&E) is too little evidence: undetermined (tuned)."""
    min_coverage: float = 0.2
    """share of the track's 10-s stretches with a matched frame below this: undetermined (tuned)."""
    timeline_tolerance_s: float = 0.035
    """a matched frame agrees with a timeline model within this (3 steps of the original's 11.6 ms
    frames; tuned)."""
    min_explained: float = 0.75
    """the chosen model (constant, drift, segments) must explain this share of matched frames,
    else undetermined (tuned)."""
    min_drift_s: float = 0.04
    """a line whose offset changes less than this over the track is a constant offset (tuned: about
    the ITU undetectable lead)."""
    min_segment_s: float = 1.0
    """a stretch with its own offset must span this much matched evidence to count as a segment
    (tuned: matches can be sparse; clusters that interleave in time are refused anyway)."""
    max_recurring_s: float = 60.0
    """a stretch up to this long (seconds) whose offset maps it out of order with the rest of the
    timeline (its material would come from the original before what precedes it in the dub) is
    recurring music matched elsewhere and set aside; longer ones (a swapped reel) stay evidence
    (tuned: recurring loops matched 20-40 s stretches where a dub held 10 min the original
    lacks); 0 sets nothing aside."""
    max_length_mismatch_s: float = 10.0
    """a dub whose length, once its measured offsets are applied (a drift's speed, a jump), differs
    from the original's by more than this is incomplete (appended localised credits, a missing scene
    or tail): its sync verdict still judges what it holds, and the separate completeness check fails
    with both lengths and where the extra or missing audio is (a QC default, not tuned: dubs differ
    by a few seconds of silence or idents at the ends, a missing scene or reel by more)."""
    min_dub_s: float = 5.0
    """a dub shorter than this (seconds) is too short to judge: undetermined with that reason, never
    a guess (issue 22: programmes of 5-30 s are aligned whole; under 5 s, a few seconds of shared
    M&E cannot tell an offset from a coincidence)."""

    def sync_band(self) -> tuple[float, float]:
        """The in-sync band as (largest lead, largest lag), seconds, both positive."""
        if self.sync_limit == "acceptable":
            return self.acceptable_lead_s, self.acceptable_lag_s
        if self.sync_limit == "undetectable":
            return self.undetectable_lead_s, self.undetectable_lag_s
        return self.out_of_sync_s, self.out_of_sync_s

    def describe_sync_limit(self) -> str:
        """The in-sync band in words, for a verdict's reason."""
        lead, lag = (round(s * 1000) for s in self.sync_band())
        if self.sync_limit == "symmetric":
            return f"the ±{lead} ms sync limit"
        return f"ITU-R BT.1359's {self.sync_limit} band (leads ≤ {lead} ms, lags ≤ {lag} ms)"

    def __post_init__(self) -> None:
        _require(
            self.sync_limit in SYNC_LIMITS,
            f"sync_limit={self.sync_limit!r} must be one of {', '.join(map(repr, SYNC_LIMITS))}",
        )
        for name in (
            "out_of_sync_s",
            "undetectable_lead_s",
            "undetectable_lag_s",
            "acceptable_lead_s",
            "acceptable_lag_s",
        ):
            value = getattr(self, name)
            _require(math.isfinite(value) and value > 0, f"{name}={value} must be a positive number")
        _require(
            self.undetectable_lead_s <= self.acceptable_lead_s,
            f"undetectable_lead_s={self.undetectable_lead_s} must not exceed "
            f"acceptable_lead_s={self.acceptable_lead_s}",
        )
        _require(
            self.undetectable_lag_s <= self.acceptable_lag_s,
            f"undetectable_lag_s={self.undetectable_lag_s} must not exceed "
            f"acceptable_lag_s={self.acceptable_lag_s}",
        )
        _require(self.min_matched_frames >= 1, f"min_matched_frames={self.min_matched_frames} must be >= 1")
        _require(0.0 <= self.min_coverage <= 1.0, f"min_coverage={self.min_coverage} must be in [0, 1]")
        _require(
            self.timeline_tolerance_s > 0,
            f"timeline_tolerance_s={self.timeline_tolerance_s} must be > 0",
        )
        _require(0.0 < self.min_explained <= 1.0, f"min_explained={self.min_explained} must be in (0, 1]")
        _require(self.min_drift_s > 0, f"min_drift_s={self.min_drift_s} must be > 0")
        _require(self.min_segment_s > 0, f"min_segment_s={self.min_segment_s} must be > 0")
        _require(self.max_recurring_s >= 0, f"max_recurring_s={self.max_recurring_s} must be >= 0")
        _require(
            math.isfinite(self.max_length_mismatch_s) and self.max_length_mismatch_s >= 0,
            f"max_length_mismatch_s={self.max_length_mismatch_s} must be a number >= 0",
        )
        _require(
            math.isfinite(self.min_dub_s) and self.min_dub_s >= 0,
            f"min_dub_s={self.min_dub_s} must be a number >= 0",
        )


@dataclass(frozen=True)
class ShotParams:
    """Parameters of the HSV colour-histogram shot-boundary detector."""

    max_height: int = 48
    """every s-th pixel of every s-th line is kept (s even), so that at most about this many lines
    remain, before the histograms (tuned: the published cuts and the 10-minute generated title's are
    found the same, weakest cut and strongest other change within 0.02, at 36, 48, 72 and 144 lines;
    fewer lines, fewer pixels to convert and count: on the 720p title 52 lines against 72)."""
    hue_bins: int = 16
    """hue bins (tuned; the classic 16 × 4 × 4 HSV histogram)."""
    saturation_bins: int = 4
    """saturation bins."""
    value_bins: int = 4
    """value (brightness) bins. Pixels are spread linearly over the two nearest bins of each channel,
    so a uniform fade moves mass smoothly instead of jumping a bin boundary (fades.mp4: at most 0.17)."""
    cut_threshold: float = 0.4
    """a hard cut changes at least this share of the histogram (total variation, 0..1) between two
    frames (tuned on the published cuts: cuts 0.49..0.98, everything else at most 0.32)."""
    cut_ratio: float = 2.5
    """... and at least this many times the median change of the frames around it (tuned: keeps
    fast motion and flashes, whose neighbours change too, from being cuts)."""
    context_s: float = 1.0
    """seconds either side whose median change is the local reference for cut_ratio."""
    min_shot_s: float = 0.4
    """no two cuts closer than this (PySceneDetect's default is 15 frames, 0.5 s at 30 fps)."""
    dark_level: float = 12.0
    """frames whose mean brightness (V, 0..255) is at most this are black (a fade passes through
    them); the middle of a black run between two lit frames is a fade boundary (PySceneDetect's
    threshold detector uses 12)."""
    deblock: bool = False
    """run the codec's in-loop deblocking filter while decoding (False: skipped, FFmpeg's
    ``skip_loop_filter=all``). Skipping it makes H.264 and HEVC cheaper to decode and leaves the
    histograms nearly as they were (measured: the same cuts and fades on the published clips, each
    frame's change within 0.045, the weakest cut and strongest other change within 0.011; on the
    three real H.264 clips shot detection ran at 0.95-1.09 × decode-only, 0.73-0.91 × a decode-only
    that skips the filter too: ``benchmarks/shots_speed.py``). Streams without the filter (MPEG-4
    part 2, x264 ``ultrafast``) decode the same either way."""
    reduced_decode: bool = True
    """decode at 1/2, 1/4 or 1/8 of the coded size where the codec can (FFmpeg's ``lowres``: MPEG-1/2,
    MPEG-4 part 2, H.263, Motion JPEG, DV, JPEG 2000; :func:`ml.decoding.video.reduced_level`), keeping at least
    ``2 * max_height`` lines. An MPEG-2 720p frame then decodes in 0.28 ms instead of 0.47 (its
    inverse transforms and motion compensation at 1/4 size) and each sampled pixel is about the mean of
    the block it stands for. Measured on MPEG-2 re-encodes (``benchmarks/shots_speed.py``, full size and
    reduced in turn, twice; benchmarks/README.md 2026-12-06): shot detection 0.71-0.72 → 1.06-1.10 ×
    decode-only on a 720p edit, 0.63-0.64 → 0.87-0.91 on a 480p one, 0.64-0.65 → 0.94-0.99 on a
    3-minute 720 × 576 title; on MPEG-2 re-encodes of the twelve real edits the same 108 cuts. Other
    codecs decode at full size either way."""

    bar_level: float = 24.0
    """rows and columns whose every sampled pixel has a value (V, 0..255) at most this are letterbox or
    pillarbox bars: the histograms, the brightness and the similar-shot rule measure the picture
    inside them (x264 at CRF 23 keeps black bars below 8; dark picture edges count as bars, which
    only leaves dark pixels out)."""
    min_active_fraction: float = 0.3
    """... unless the lit part is narrower or lower than this share of the frame: then the frame is a
    black one with a caption or a sliver of light (testvideo.mp4's dark shot holds one lit strip
    3 lines high), measured whole."""
    similar_min_change: float = 0.05
    """a cut between two similar-looking shots (same set, same light: histograms barely change) changes
    at least this share of the histogram (measured: 0.11 and 0.16 between two GRID speakers,
    0.005-0.016 between frames of one shot) ..."""
    similar_min_luma: float = 0.03
    """... and moves the frame's 16 × 16 luma thumbnail by at least this mean absolute step (0..1;
    measured 0.067-0.069 there, ≤ 0.015 within a shot) ..."""
    similar_contrast: float = 4.0
    """... and both steps are at least this many times the largest step of the ``neighbour_frames``
    frames either side: a local-contrast rule (PySceneDetect's AdaptiveDetector compares with the mean
    of its neighbours, 3 ×). Motion, dissolves and flashes change the neighbours too (measured: cuts
    7-9 × in histogram, 42-66 × in luma; dissolve steps at most 1.5 ×)."""
    structure_min: float = 0.1
    """a cut also where the picture's structure steps, whatever its histogram does: the 16 × 16 luma
    thumbnail within the active box, each standardised first (its mean removed, divided by its
    spread: blind to a change of brightness or contrast; pixels near black or white left out,
    :func:`ml.picture.shots._structure_steps`), moves by at least this mean
    absolute step (in standard deviations), at least ``structure_contrast`` times the largest such
    step of the ``neighbour_frames`` frames either side, with a luma step of ``structure_min_luma``. In
    black and white (the histogram's hue and saturation say nothing) and in old film's flicker and
    grain (the histogram jitters frame to frame) a cut between two speakers on one set failed the
    histogram's floor or contrast (benchmarks/README.md, 2026-12-07, stop 41)."""
    structure_contrast: float = 8.0
    """... the structure rule's local contrast (see ``structure_min``), higher than the similar-shot
    rule's: under an old film's grain and flicker the encoder's slices can shift in brightness apart,
    a step in structure 6-7 × its neighbours within a shot (benchmarks/README.md, 2026-12-07, stop 41)."""
    structure_min_luma: float = 0.02
    """... the luma step (as ``similar_min_luma``: 5 grey levels) that a structure step needs: in a flat,
    dark picture a key frame's refresh of a grey level or two is a large step in standard deviations
    (a black-and-white cut between two GRID speakers at 160 and 224 lines stepped 0.0299)."""
    neighbour_frames: int = 2
    """frames either side of a candidate cut whose steps are its local reference."""
    flash_ratio: float = 0.5
    """a luma step of at least ``similar_min_luma`` is a flash, not a cut, when the picture comes back to
    within this share of the step: a frame up to ``neighbour_frames`` after it is that close to the
    frame before it (the flash begins), or the frame after the step is that close to one up to
    ``neighbour_frames`` before the frame before it (the flash ends)."""
    dissolve_s: tuple[float, float] = (0.2, 2.0)
    """shortest and longest dissolve looked for, seconds (editors' dissolves are 0.5-2 s)."""
    dissolve_min_change: float = 0.045
    """a dissolve moves the luma thumbnail by at least this mean absolute change from its first to its
    last frame, within the active picture (the thumbnail's mean change over its share inside the
    bars, from ``hsv-luma-shots/10``: a picture windowboxed into a seventh of the frame changed a
    seventh as much) (measured 0.06-0.19 over 0.5 s dissolves between real clips, 0.049 over their
    middle 0.4 s between two GRID speakers; a talking head moving its head, face_4.mp4,
    0.029-0.047) ..."""
    dissolve_still_change: float = 0.03
    """... or by at least this between two still pictures (a dissolve between two similar speakers on
    480-line encodes: 0.044 over its middle 1.6 s, just below ``dissolve_min_change``) ..."""
    dissolve_still_contrast: float = 4.0
    """... that is, where the thumbnail changes at least this many times less over the spans of the same
    length just before and just after (measured: that dissolve 8.1-8.9 ×; every other span of 0.025 to
    0.045 that passed the other rules, in the 12 development edits, the talking heads and the generated
    titles, at most 1.7 ×: motion goes on either side) ..."""
    dissolve_linearity: float = 0.25
    """... its middle frame is the mean of the frames at both ends within this share of that change
    (measured 0.04-0.20; a cut inside the span gives 0.5; face_4.mp4's head moves 0.28-0.54) ..."""
    dissolve_monotony: float = 0.6
    """... the change from end to end is at least this share of the sum of the frame-to-frame
    steps between (a mix moves every pixel one way: measured 0.76-1.0; motion goes back and forth) ..."""
    dissolve_exposure_coherence: float = 0.95
    """... it is not one picture at another exposure: a change of one sign nearly everywhere (its mean at
    least this share of its mean absolute value) ..."""
    dissolve_exposure_discordance: float = 0.1
    """... that keeps the pixels in their local order: fewer than this share of the neighbouring pixel
    pairs in a clear order (8 levels apart, not both clipped at the other end) swap, in one direction
    or the other (0: no exposure test). Measured on the 16 × 16 thumbnails, on spans of 4 and 6
    frames, half the dissolve and all of it: talking heads brightened with clipping highlights or by a
    tone curve, and GRID speakers brightened × 1.6-1.8 over their flat, clipping backgrounds,
    0.000-0.051 on every span; the real dissolves whose change had one sign on every span (edits 5, 7,
    8, 25, 28, 31, edit_0's MPEG-2 re-encode) 0.218-0.350 over the whole dissolve (a few frames inside
    one are two mixes of the same pictures and swap few: those spans are not the ones that find it).
    The same two tests, within the active box, tell an exposure or tone step from a cut on the next
    frame (``ml.picture.shots._exposure_step``) ..."""
    dissolve_max_residual: float = 0.12
    """... and every frame between is a mix of the two ends: their mean distance from the nearest mix
    of the two is at most this share of that change (measured: the 24 dissolves of the development
    edits 0.007-0.090, the largest the one between two still GRID speakers, 0.083-0.087 on its HEVC,
    VP9 and MPEG-2 re-encodes; hands turning objects in close-up, issue-195-aspect-ratio.mp4, whose
    middle frames pass the test above, 0.167-0.189)."""
    dissolve_min_extent: float = 0.5
    """... and the change reaches down the picture: the rows from the first to the last that hold a
    pixel of the 16 × 16 thumbnail changing by at least 0.4 of the largest change span at least
    this share of the active picture's height (0: no such test). A change held within a band of rows is
    a graphic fading in or out over one shot (a caption box, a lower third, a banner), not a new shot.
    Measured (benchmarks/README.md, 2026-12-07): with this at 0.5, every dissolve of the 24
    development and 24 held-out real edits, of 21 re-encodes of three of them, testvideo.mp4's
    cross-fade and 29 dissolves between two GRID speakers in one framing is still found; at 0.7 the
    one between two speakers as published is lost (their clothes change twice as much as their
    faces). A caption box a quarter of the height tall fading in and out over face_4.mp4 gives one
    dissolve with this at 0.4 and none from 0.5 (two with no such test)."""

    wipe_min_cover: float = 0.5
    """A **wipe** (the next shot replacing the picture part by part, along a line or a shape moving
    across): over a span as long as a dissolve's, at least this share of the active picture's
    thumbnail pixels change by 24 levels or more ..."""
    wipe_min_frames: int = 4
    """... the picture goes from one shot to the other over at least this many frames (between a tenth
    and nine tenths of those pixels switched) ..."""
    wipe_max_pixel_share: float = 0.2
    """... and each pixel over at most this share of them (the quarter to three quarters of its own way:
    a wipe replaces each part at once, a dissolve mixes all of them together; 0: no wipes). Measured
    (benchmarks/README.md, 2026-12-07): the hard-edged wipes of benchmarks/transitions.py are found
    from 0.04 (the iris from 0.1), the one whose edge is feathered over a fifth of the width from 0.15;
    the first false wipe comes at 0.35 (the generated 10-minute title; the zoom of benchmarks/
    transitions.py at 0.4), none up to 0.3 in the 48 real edits, 21 re-encodes of three of them, the
    16 talking heads, the shot clips and 28 dissolves between GRID speakers."""
    push_max_residual: float = 0.2
    """A **push** or **slide** (the next shot sliding in from a side, pushing the picture out or moving
    over it, or the picture sliding out and uncovering the next; reported as a wipe): over a span as
    long as a dissolve's, every frame is the two end pictures side by side at one offset, the offset
    growing frame after frame from one end to the other over at least ``wipe_min_frames`` frames, and
    the frames lie at most this share as far from that as from the nearest mix of the two ends
    (:func:`ml.picture.shots._push_search`; 0: no pushes). Measured (benchmarks/README.md, 2026-12-07) on
    the pushes and slides of benchmarks/transitions.py and five more (four sides, 12 to 40 frames, a
    pillarboxed pair, eased ones): 0.07-0.17; the nearest of anything else, a whip pan through a
    clip's own cut 0.22, a tilt across a talking head 0.26, a pan across one 0.45, the hard-edged
    wipes 0.49 or more; no span of the 48 real edits comes this far."""

    def __post_init__(self) -> None:
        _require(self.max_height >= 16, f"max_height={self.max_height} must be >= 16")
        _require(isinstance(self.dissolve_s, (tuple, list)), f"dissolve_s={self.dissolve_s!r} must be (shortest, longest) seconds")
        object.__setattr__(self, "dissolve_s", tuple(float(x) for x in self.dissolve_s))  # a policy file gives a list
        _require(0 <= self.bar_level < 255, f"bar_level={self.bar_level} must be in 0..255")
        _require(0 < self.min_active_fraction <= 1, f"min_active_fraction={self.min_active_fraction} must be in (0, 1]")
        _require(0 < self.similar_min_change <= 1, f"similar_min_change={self.similar_min_change} must be in (0, 1]")
        _require(0 < self.similar_min_luma <= 1, f"similar_min_luma={self.similar_min_luma} must be in (0, 1]")
        _require(self.similar_contrast >= 1, f"similar_contrast={self.similar_contrast} must be >= 1")
        _require(self.structure_min > 0, f"structure_min={self.structure_min} must be > 0")
        _require(self.structure_contrast >= 1, f"structure_contrast={self.structure_contrast} must be >= 1")
        _require(0 < self.structure_min_luma <= 1, f"structure_min_luma={self.structure_min_luma} must be in (0, 1]")
        _require(self.neighbour_frames >= 1, f"neighbour_frames={self.neighbour_frames} must be >= 1")
        _require(0 < self.flash_ratio < 1, f"flash_ratio={self.flash_ratio} must be in (0, 1)")
        _require(
            len(self.dissolve_s) == 2 and 0 < self.dissolve_s[0] <= self.dissolve_s[1],
            f"dissolve_s={self.dissolve_s} must be (shortest, longest) seconds, 0 < shortest <= longest",
        )
        _require(0 < self.dissolve_min_change <= 1, f"dissolve_min_change={self.dissolve_min_change} must be in (0, 1]")
        _require(
            0 < self.dissolve_still_change <= self.dissolve_min_change,
            f"dissolve_still_change={self.dissolve_still_change} must be in (0, dissolve_min_change={self.dissolve_min_change}]",
        )
        _require(self.dissolve_still_contrast >= 1, f"dissolve_still_contrast={self.dissolve_still_contrast} must be >= 1")
        _require(0 < self.wipe_min_cover <= 1, f"wipe_min_cover={self.wipe_min_cover} must be in (0, 1]")
        _require(self.wipe_min_frames >= 2, f"wipe_min_frames={self.wipe_min_frames} must be >= 2")
        _require(0 <= self.wipe_max_pixel_share < 1, f"wipe_max_pixel_share={self.wipe_max_pixel_share} must be in [0, 1)")
        _require(0 <= self.push_max_residual < 1, f"push_max_residual={self.push_max_residual} must be in [0, 1)")
        _require(0 <= self.dissolve_min_extent < 1, f"dissolve_min_extent={self.dissolve_min_extent} must be in [0, 1)")
        _require(0 < self.dissolve_linearity < 0.5, f"dissolve_linearity={self.dissolve_linearity} must be in (0, 0.5)")
        _require(0 < self.dissolve_monotony <= 1, f"dissolve_monotony={self.dissolve_monotony} must be in (0, 1]")
        _require(self.dissolve_max_residual > 0, f"dissolve_max_residual={self.dissolve_max_residual} must be > 0")
        coherence = self.dissolve_exposure_coherence
        _require(0 < coherence <= 1, f"dissolve_exposure_coherence={coherence} must be in (0, 1]")
        discordance = self.dissolve_exposure_discordance
        _require(0 <= discordance <= 1, f"dissolve_exposure_discordance={discordance} must be in [0, 1]")
        for name in ("hue_bins", "saturation_bins", "value_bins"):
            _require(1 <= getattr(self, name) <= 64, f"{name}={getattr(self, name)} must be in 1..64")
        _require(0 < self.cut_threshold <= 1, f"cut_threshold={self.cut_threshold} must be in (0, 1]")
        _require(self.cut_ratio >= 1, f"cut_ratio={self.cut_ratio} must be >= 1")
        _require(self.context_s > 0, f"context_s={self.context_s} must be > 0")
        _require(self.min_shot_s >= 0, f"min_shot_s={self.min_shot_s} must be >= 0")
        _require(0 <= self.dark_level < 255, f"dark_level={self.dark_level} must be in 0..255")
        _require(isinstance(self.deblock, bool), f"deblock={self.deblock!r} must be true or false")
        _require(isinstance(self.reduced_decode, bool), f"reduced_decode={self.reduced_decode!r} must be true or false")


@dataclass(frozen=True)
class FaceParams:
    """Parameters of face detection (RetinaFace) and tracking."""

    max_height: int = 288
    """frames are scaled to this height for detection (tuned: every talking head of the shared clips
    and the generated titles is found at 288 lines, and tracking a 720p title ran 2.4 × faster than
    at 360)."""
    detect_every: int = 5
    """run the detector on every k-th frame; boxes between are interpolated (tuned: 0.2 s at 25 fps;
    a face moves little in that time)."""
    batch_size: int = 8
    """frames per detector call."""
    score_threshold: float = 0.9
    """RetinaFace confidence below which a detection is dropped (the package's default)."""
    link_iou: float = 0.3
    """a detection continues a track when its box overlaps the track's last box by this IoU."""
    max_gap: int = 2
    """detector runs a track may miss before it ends (a blink of the detector, not of the face)."""
    min_track_s: float = 1.0
    """tracks shorter than this are dropped (SyncNet needs seconds of a face; tuned)."""
    smoothing_frames: int = 5
    """boxes are smoothed by a centred moving median/mean over this many frames."""
    max_colour_change: float = 0.18
    """a detection does not continue a track when the colours around the face (an 8 × 4 × 4 HSV
    histogram of the box widened to hair and collar) changed by at least this total variation since
    the track's last detection: another person in the same place, after a cut the shot detector
    missed (measured on real edits, one detector run apart: ≤ 0.14 within a talking-head shot, 0.22-0.94
    across a cut, 0.22 and 0.25 between two GRID speakers) ..."""
    min_face_correlation: float = 0.5
    """... or when the face itself (a 32 × 32 grey crop aligned on the eyes and mouth, zero mean) correlates
    with the track's last one by less than this (measured: ≥ 0.68 within a shot, −0.44-0.78 across
    cuts, below 0.5 at 8 of 12)."""
    max_jump: float = 0.5
    """... or when the box's centre moved by more than this share of its width, or its width changed by
    more than ``max_scale_change``, since the track's last detection (a face does not jump within a shot)."""
    max_scale_change: float = 1.5
    """the largest ratio of two consecutive detections' box widths within one track."""
    min_face_px: float = 20.0
    """faces narrower than this (pixels of the displayed frame) are not tracked: too small to read
    lips from; when these are the only faces, the picture's problem is ``small_faces``. A floor at
    the detector's own limit, not a guarantee (measured with ``clip_offset`` on copies shrunk into
    the frame: a GRID speaker read within 2 ms of its full-size reading down to 23 px wide and was not
    found at 15 px; a retalking speaker read right at 73 px but 165 ms off its full-size reading at 47 px, confidence 2.75,
    so width alone does not make a face readable)."""
    black_level: float = 16.0
    """a picture none of whose searched frames has a 99th-percentile grey level above this (of 255)
    is black (measured: 0 on a black picture, 160-241 on the 16 shared talking heads)."""
    still_change: float = 6.0
    """a picture none of whose searched frames differs from the one searched before by more than
    this anywhere (the largest absolute grey difference after a 5 × 5 Gaussian blur, at the
    detector's size, of 255) is a still image (measured: 2.5 on a GRID speaker's first frame held
    for 3 s, H.264 CRF 23; 10.3-209 on the 16 shared talking heads and on copies of two of them
    shrunk to faces of 15-150 px)."""

    def __post_init__(self) -> None:
        _require(0 < self.max_colour_change <= 1, f"max_colour_change={self.max_colour_change} must be in (0, 1]")
        _require(-1 <= self.min_face_correlation < 1, f"min_face_correlation={self.min_face_correlation} must be in [-1, 1)")
        _require(self.max_jump > 0, f"max_jump={self.max_jump} must be > 0")
        _require(self.max_scale_change > 1, f"max_scale_change={self.max_scale_change} must be > 1")
        _require(self.max_height >= 64, f"max_height={self.max_height} must be >= 64")
        _require(self.detect_every >= 1, f"detect_every={self.detect_every} must be >= 1")
        _require(self.batch_size >= 1, f"batch_size={self.batch_size} must be >= 1")
        _require(0 < self.score_threshold < 1, f"score_threshold={self.score_threshold} must be in (0, 1)")
        _require(0 < self.link_iou < 1, f"link_iou={self.link_iou} must be in (0, 1)")
        _require(self.max_gap >= 0, f"max_gap={self.max_gap} must be >= 0")
        _require(self.min_track_s >= 0, f"min_track_s={self.min_track_s} must be >= 0")
        _require(self.smoothing_frames >= 1, f"smoothing_frames={self.smoothing_frames} must be >= 1")
        _require(self.min_face_px >= 0, f"min_face_px={self.min_face_px} must be >= 0")
        _require(0 <= self.black_level < 255, f"black_level={self.black_level} must be in [0, 255)")
        _require(0 <= self.still_change < 255, f"still_change={self.still_change} must be in [0, 255)")


@dataclass(frozen=True)
class Policy:
    """Every parameter of dubsync."""

    signature: SignatureParams = field(default_factory=SignatureParams)
    match: MatchParams = field(default_factory=MatchParams)
    verdict: VerdictParams = field(default_factory=VerdictParams)
    shots: ShotParams = field(default_factory=ShotParams)
    faces: FaceParams = field(default_factory=FaceParams)
    lipsync: LipSyncParams = field(default_factory=lambda: LipSyncParams())
    conform: ConformParams = field(default_factory=lambda: ConformParams())

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """The policy as plain data (the shape of a policy file)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "policy") -> Policy:
        """Build a policy from plain data; unknown sections or keys are errors, missing ones default."""
        groups = {f.name: f.type for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(groups))
        _require(not unknown, f"{source}: unknown section(s) {unknown}; known: {sorted(groups)}")
        kwargs = {}
        for f in dataclasses.fields(cls):
            group_cls = {
                "signature": SignatureParams,
                "match": MatchParams,
                "verdict": VerdictParams,
                "shots": ShotParams,
                "faces": FaceParams,
                "lipsync": LipSyncParams,
                "conform": ConformParams,
            }[f.name]
            values = data.get(f.name, {})
            _require(isinstance(values, dict), f"{source}: [{f.name}] must be a table")
            known = {g.name for g in dataclasses.fields(group_cls)}
            bad = sorted(set(values) - known)
            _require(not bad, f"{source}: unknown key(s) {bad} in [{f.name}]; known: {sorted(known)}")
            kwargs[f.name] = group_cls(**values)
        return cls(**kwargs)


NAMED_POLICIES: dict[str, dict[str, dict[str, Any]]] = {
    "paper": {"verdict": {"sync_limit": "symmetric", "out_of_sync_s": 0.2}},
}
"""Policies known by name, as overrides of the defaults: ``paper`` is the binary protocol of the
published method (out of sync = |offset| > 0.2 s), which its benchmark rows are scored by."""


def named_policy(name: str) -> Policy:
    """A policy of :data:`NAMED_POLICIES` by name."""
    _require(name in NAMED_POLICIES, f"no named policy {name!r}; known: {sorted(NAMED_POLICIES)}")
    return Policy.from_dict(NAMED_POLICIES[name], source=f"named policy {name!r}")


def load_policy(path: str | Path | None = None) -> Policy:
    """Read a policy file (TOML) over the defaults; ``None`` gives the defaults.

    Raises
    ------
    ParameterError
        If the file is missing, is not valid TOML, or names an unknown key or a bad value.
    """
    if path is None or str(path) == "":
        return Policy()
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ParameterError(f"policy file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ParameterError(f"policy file {path} is not valid TOML: {exc}") from None
    return Policy.from_dict(data, source=str(path))


def params_version(algorithm: str, *groups: Any, **single: Any) -> str:
    """A short, stable hash of an algorithm's name and version and the parameter groups it uses.

    This is the ``code_version`` of an asset: it changes when the algorithm's version string is
    bumped or when any parameter it reads changes, and for nothing else. ``single`` names parameters
    read one by one from a group whose other parameters the asset does not read (without them the
    hash is what it was before they existed).
    """
    parts: list[Any] = [algorithm] + [{"group": type(g).__name__, **dataclasses.asdict(g)} for g in groups]
    if single:
        parts.append({"single": single})
    payload = json.dumps(parts, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class LipSyncParams:
    """Parameters of the weight-free lip-sync estimator (:mod:`ml.picture.lipsync`): audio-visual
    correlation of mouth-region features with speech features across candidate offsets."""

    max_shift_frames: int = 15
    """offsets up to ±this many frames are reported (SyncNet's ±15): frames of the track's own rate,
    but none shorter than at 25 fps (``ml.picture.lipsync.REFERENCE_FRAME_S``), so ±600 ms at 25 fps
    and faster, ±625 ms at 24 (a SyncNet checkpoint reads every track at 25 fps)."""
    search_margin_frames: int = 8
    """the search reaches this many frames (counted likewise) beyond ±max_shift_frames, so that a maximum at the limit
    is recognised as one (a reading at the limit, or below a higher value beyond it, is never
    confident). Tuned on the GRID clips, their curves translated by shifts of 0 to ±25 frames (209
    cases, 66 of them wrong: > 200 ms off or the truth beyond the window): with a 2-frame margin 13
    wrong readings reached min_confidence, with 8 none (benchmarks/README.md, 2026-12-06)."""
    lag_step_s: float = 0.01
    """seconds between candidate offsets; audio features are interpolated, so the grid is finer
    than a frame (the peak is then refined by a parabola)."""
    min_confidence: float = 0.5
    """a track's offset counts as evidence when its confidence (peak prominence × agreement of the
    feature families, and 0 unless both halves of the track bear the offset out, :mod:`ml.picture.lipsync`)
    reaches this. Calibrated on the GRID clips only (the
    news-style clips held out): on their curves translated by shifts of 0 to ±25 frames, no estimate
    more than 200 ms off (or with the truth beyond the window) reached 0.32, and 117 of the 143
    within ±40 ms reached 0.5 (benchmarks/README.md, 2026-12-06, with the measured held-out figures).
    A SyncNet checkpoint's confidence (median − min distance) is on another scale and was not
    recalibrated with it (it was 2.0 for both before)."""
    agreement_s: float = 0.04
    """seconds; the title's offset is taken from the speaking tracks that agree within twice this
    (the bandwidth of the mode of their offsets, :func:`ml.picture.title_sync.picture_sync`; about one
    frame). The estimator's wrong tracks are side peaks 100-500 ms off, which a median of all
    tracks follows when several fall on one side."""
    min_agreeing_tracks: int = 2
    """the title's offset is used (for the dubs' verdicts against the picture) only when at least this
    many speaking tracks agree on it: one track is not evidence, its estimate can be a side peak as
    confident as the truth (benchmarks/lipsync.py). Otherwise the picture is "not verified" and the
    dubs are judged against the original audio."""
    min_agreeing_share: float = 0.5
    """... and when the agreeing tracks hold at least this share of the speaking tracks' confidence:
    where as much confidence points elsewhere, the consensus is a guess between rival offsets."""
    sample_rate: int = 16000
    """Hz; the audio is decoded to mono at this rate for the speech features."""
    crop_size: int = 24
    """pixels; the mouth region is scaled to crop_size × crop_size grey pixels."""
    mouth_region: float = 0.5
    """share of the mouth crop (whose side is the face width) kept around the mouth centre (tuned
    on the shared clips: 0.5 holds the lips and little else)."""
    n_components: int = 6
    """principal components of the mouth pixels over a track used as features."""
    n_mfcc: tuple[int, ...] = (13, 20)
    """MFCC counts of the speech feature sets; each gives its own curve (averaged)."""
    windows_s: tuple[float, ...] = (0.04, 0.08)
    """seconds of mel power averaged around each instant, one feature set per value (about one and
    two frames)."""
    refine_landmarks: bool = True
    """detect the landmarks again on every frame of a track (in a small square around its box)
    instead of using the face tracks' interpolation between detections (tuned: the shared clips
    were about 10 points more often within ±1 frame; costs one small detector run per frame)."""
    read_fields: bool = True
    """read an interlaced picture field by field (:func:`ml.picture.faces.mouth_crops`): each
    frame's two fields as two pictures half a frame apart, twice the samples of the mouth's
    movement, instead of the woven frame (which shows the mouth at two instants at once).
    Progressive pictures are read as before."""
    highpass_s: tuple[float, ...] = (0.4, 0.8)
    """seconds; a moving average this long is removed from both feature sets before correlating
    (removes head motion, lighting drift and the slow loudness contour; tuned: 1 s let slow trends
    win on 3-s clips)."""

    def __post_init__(self) -> None:
        _require(1 <= self.max_shift_frames <= 250, f"max_shift_frames={self.max_shift_frames} must be in 1..250")
        _require(1 <= self.search_margin_frames <= 50, f"search_margin_frames={self.search_margin_frames} must be in 1..50")
        _require(0 < self.lag_step_s <= 0.02, f"lag_step_s={self.lag_step_s} must be in (0, 0.02] seconds")
        _require(math.isfinite(self.min_confidence), f"min_confidence={self.min_confidence} must be finite")
        _require(0.005 <= self.agreement_s <= 0.5, f"agreement_s={self.agreement_s} must be in [0.005, 0.5] seconds")
        _require(self.min_agreeing_tracks >= 1, f"min_agreeing_tracks={self.min_agreeing_tracks} must be >= 1")
        _require(0 <= self.min_agreeing_share <= 1, f"min_agreeing_share={self.min_agreeing_share} must be in [0, 1]")
        _require(8000 <= self.sample_rate <= 48000, f"sample_rate={self.sample_rate} must be in 8000..48000 Hz")
        _require(8 <= self.crop_size <= 96, f"crop_size={self.crop_size} must be in 8..96 pixels")
        _require(0.1 <= self.mouth_region <= 1.0, f"mouth_region={self.mouth_region} must be in [0.1, 1]")
        _require(1 <= self.n_components <= 64, f"n_components={self.n_components} must be in 1..64")
        for name in ("n_mfcc", "windows_s", "highpass_s"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
            _require(len(getattr(self, name)) >= 1, f"{name}={getattr(self, name)} must not be empty")
        _require(all(isinstance(n, int) and 2 <= n <= 40 for n in self.n_mfcc), f"n_mfcc={self.n_mfcc} must be integers in 2..40")
        _require(all(0.005 <= w <= 0.5 for w in self.windows_s), f"windows_s={self.windows_s} must be in [0.005, 0.5] seconds")
        _require(all(0.1 <= h <= 10 for h in self.highpass_s), f"highpass_s={self.highpass_s} must be in [0.1, 10] seconds")


@dataclass(frozen=True)
class ConformParams:
    """How a dub out of sync is corrected against the picture (:mod:`ml.audio_sync.conform`) and how
    close its re-check must come. The most padding a conform may add is ``[verdict]
    max_length_mismatch_s``."""

    crossfade_s: float = 0.01
    """seconds of linear crossfade at each join of an intermittent dub's segments (none inside a
    segment): long enough to avoid a click, short enough to leave no audible double (a QC default)."""
    residual_limit_s: float = 0.005
    """a conformed dub must re-check in sync within this, at its start and at its end (issue 25's
    target; the matcher refines offsets to about 1 ms)."""
    residual_edge_share: float = 0.1
    """the residual at the start (end) is the median offset of the matched frames in the first (last)
    this share of the conformed dub."""

    def __post_init__(self) -> None:
        _require(0.0 <= self.crossfade_s <= 0.5, f"crossfade_s={self.crossfade_s} must be in [0, 0.5] seconds")
        _require(
            0.0 < self.residual_limit_s <= 0.2, f"residual_limit_s={self.residual_limit_s} must be in (0, 0.2] seconds"
        )
        _require(
            0.0 < self.residual_edge_share <= 0.5,
            f"residual_edge_share={self.residual_edge_share} must be in (0, 0.5]",
        )
