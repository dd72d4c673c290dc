"""Shot boundaries: hard cuts from colour-histogram and luma changes inside the active picture,
dissolves from linear mixes, wipes from pixels switching shot one part after another or from two
pictures side by side sliding across (pushes), fades from black frames.

**Active picture.** Letterbox and pillarbox bars are found in every frame (rows and columns whose
every sampled pixel is at most ``bar_level``) and left out: a 224 × 224 clip pillarboxed into
1280 × 720 fills 56 % of the frame, and its bars would dilute every change by that much. A frame whose
lit part is a sliver (a caption on black) is measured whole.

For each frame (every s-th pixel, about ``max_height`` lines), a soft HSV histogram of the active
picture: every pixel is spread linearly over the two nearest bins of each channel (hue circularly),
so that a slow change (a fade, a pan) moves histogram mass smoothly instead of jumping bin
boundaries. The change between two frames is the total variation of their histograms (0 = same
colours, 1 = no colour in common). Beside it, a 16 × 16 luma (V) thumbnail of the whole frame, and
the luma step: the mean absolute difference of consecutive thumbnails (0..1).

- A **hard cut** at frame i, either
  - a colour cut: the histogram change from frame i − 1 is at least ``cut_threshold`` and at least
    ``cut_ratio`` times the median change around it (fast motion changes its neighbours too); or
  - a cut between similar-looking shots (two speakers on one set: the histogram barely changes): the
    histogram change is at least ``similar_min_change``, the luma step at least
    ``similar_min_luma``, and both are ``similar_contrast`` times the largest step of the
    ``neighbour_frames`` frames either side (a local-contrast rule: motion, dissolves and flashes
    change their neighbours too; a neighbour whose histogram changed only because the active box
    moved, with no luma step, does not count, and a lone frame that repeats the one before is passed
    over to the next step: :func:`_repeats`), or the same over two frames, one of which holds half
    of each shot (fields woven across the cut: :func:`_split_cuts`);

  and not a flash (the picture does not come back within ``neighbour_frames`` frames), the previous
  cut is at least ``min_shot_s`` earlier (of two closer ones the one with a luma step, then the
  larger change), and no fade boundary is closer than that (the hue of near-black frames at the end
  of a fade is noise).
- A **dissolve** (a cross-fade from one shot into the next, ``dissolve_s`` long): between frames
  m − w and m + w the thumbnail changes by at least ``dissolve_min_change`` within the active
  picture (the thumbnail's mean change over its share inside the bars: they do not change) (or,
  between two similar pictures, by at least ``dissolve_still_change`` and ``dissolve_still_contrast`` times as
  much as over the spans of the same length just before and just after it: the pictures it joins
  are still), the middle frame is the
  mean of the two ends (within ``dissolve_linearity`` of the change), every frame between is a mix
  of the two ends (its distance from the nearest mix, averaged over the frames, within
  ``dissolve_max_residual`` of the change: a large smooth object moving in close-up passes the
  middle frame's test on a 16 × 16 thumbnail, not this one), the two ends are not one picture at
  two exposures (a change of one sign that keeps the order of neighbouring pixels: an iris opening,
  whose highlights clip, is a mix of its ends too) nor one picture moved a little (:func:`_moved`:
  over a few frames of a slow pan each pixel moves a fraction of a pixel and is a mix of itself and
  its neighbour), the change reaches down at least ``dissolve_min_extent`` of the active picture's
  height, counting the rows that change in step with the whole (:func:`_extent`: a caption box or a
  lower third fading in over the shot is a mix of its ends too, within a band of rows, and a speaker
  moving beside it changes other rows at other times), the change is monotonous (at least
  ``dissolve_monotony`` of the sum of the steps between: a mix moves every pixel one way, motion
  goes back and forth) and no step between is a cut with a luma step (a colour
  cut without one inside a dissolve is its end, where the bars of the shot going out vanish, and is
  dropped). Its middle frame is the boundary; runs of middle frames whose spans lie one inside the
  other are one dissolve.
- A **wipe** replaces the picture part by part (a line or a shape moving across it): over a span as
  long as a dissolve's with no hard boundary inside, at least ``wipe_min_cover`` of the active
  picture's thumbnail pixels change, the picture goes from one shot to the other over at least
  ``wipe_min_frames`` frames and each of those pixels within ``wipe_max_pixel_share`` of them, one
  way (:func:`_wipe_search`), and its ends are two pictures, not one moved (:func:`_moved`: a pan across
  a face switches pixels from the background to the face one after another). A dissolve moves all
  the pixels together; its middle frame is the mean of its ends, a wipe's shows parts of both.
  Wipes are looked for where no dissolve or push is.
- A **push** or **slide** is reported as a wipe: the next shot comes in from a side and pushes the
  picture out or slides over it, or the picture slides out and uncovers it (:func:`_push_search`). No
  pixel switches from one shot to the other (each takes its neighbour's value), but every frame is
  the two end pictures side by side at an offset that grows from one end to the other. A pan
  across one scene is not one: its ends overlap, or, a whip pan across exactly one width, its
  pictures join seamlessly, in brightness and in colour (16 × 16 thumbnails of the chroma are kept
  for this), or, a pan across more than one width (a stretch of which fits the model), the picture
  moves on beyond the span. Pushes are looked for where no dissolve is.
- A **fade** passes through black: a run of frames whose mean brightness (of the active picture) is
  at most ``dark_level``, lit on both sides (black runs less than ``min_shot_s`` apart are one); its
  middle frame is a fade boundary (PySceneDetect's threshold detector places fade cuts the same
  way). Fades are never reported as hard cuts.

Shots are the spans between boundaries of any kind.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ml.decoding.audio import prefetched
from ml.decoding.video import (
    LIMITED_TO_FULL_PLANES,
    SampledFrames,
    SeekError,
    Span,
    VideoFrame,
    VideoInfo,
    iter_sampled,
    key_frame_spans,
    probe_video,
)
from ml.errors import MediaError, ParameterError
from ml.policy import ShotParams, params_version

__all__ = [
    "ALGORITHM",
    "BOUNDARY_KINDS",
    "Shots",
    "shots_version",
    "soft_hsv_histogram",
    "detect_shots",
    "shot_spans",
    "shots_from_file",
]

ALGORITHM = "hsv-luma-shots/18"
"""Bump when the detector changes in a way the parameters do not capture (/18: a cut whose histogram
barely changes or jitters (black and white; flicker and grain) is found by the picture's structure,
``ShotParams.structure_min``; /17: one picture at another
exposure or tone curve on the next frame was a cut; /16: a dissolve whose run
of middle frames one failing middle frame split, the spans of the two parts overlapping without one
inside the other, was two dissolves; /15: a push between two
smooth pictures was taken for a pan whose ends overlap by a sliver; /14: a push between two
pictures of one brightness where they meet was taken for a whip pan, their colours now count, and a
stretch of a pan across more than one width could be a push, two steps at the start of a file could
be a split cut, motion between repeated frames could be a cut, and of two colour cuts side by side the
one without a luma step could be kept and lost in a dissolve; /13: a wipe could be
reported whose pixels never got halfway over to the next shot, its middle before its span; /12: a cut split over two
frames by a frame holding half of each shot was missed; /11: a histogram change
where only the active box moved could hide a cut beside it; /10: the thresholds on a span's change
were on the whole thumbnail, bars and all, so a windowboxed picture's dissolves were missed; /9: a
whip pan across a face could be a wipe, a push of 8 frames was missed by a bound on its first step;
/8: a banner fading in over a moving speaker was a dissolve; /7: pushes and slides were not found,
and a slow pan could pass for a dissolve; /6: caption boxes fading in were dissolves, wipes were not
found; /5: a dissolve whose run of middle frames one failing middle frame split was two dissolves a
few frames apart; /4: black runs less than ``min_shot_s`` apart were two fades, and 10- and 12-bit
pictures were scaled to RGB by FFmpeg instead of sampled in place; /3: histograms of the whole
frame, colour cuts only, no dissolves)."""

BOUNDARY_KINDS = ("start", "cut", "fade", "dissolve", "wipe")
"""How each shot begins: the title's first frame, a hard cut, a fade through black, a dissolve or a
wipe, pushes and slides among them (their middle frame)."""

THUMB_SIDE = 16
"""Side of the luma thumbnails (pixels): coarse enough that compression noise and small motion
average out, fine enough that two speakers in one framing differ."""


def shots_version(params: ShotParams) -> str:
    """``code_version`` of an asset that detects shots with ``params``."""
    return params_version(ALGORITHM, params)


@dataclass(frozen=True)
class Shots:
    """The shots of a title's picture.

    Attributes
    ----------
    start_frame, end_frame : np.ndarray [shape=(n_shots,), dtype=int64]
        First and last frame of each shot (decoded frame indices, presentation order, inclusive).
    start_time_s, end_time_s : np.ndarray [shape=(n_shots,), dtype=float64]
        Presentation times of those frames, seconds from the container's start.
    boundary : np.ndarray [shape=(n_shots,), dtype=int8]
        Index into :data:`BOUNDARY_KINDS` of how each shot begins.
    frame_times_s : np.ndarray [shape=(n_frames,), dtype=float64]
        Presentation time of every frame.
    change : np.ndarray [shape=(n_frames,), dtype=float32]
        Histogram change of the active picture from the previous frame (0 for the first).
    brightness : np.ndarray [shape=(n_frames,), dtype=float32]
        Mean V (0..255) of every frame's active picture.
    luma_change : np.ndarray [shape=(n_frames,), dtype=float32]
        Mean absolute step of the 16 × 16 luma thumbnail from the previous frame, 0..1 (0 for the first).
    active_box : np.ndarray [shape=(n_shots, 4), dtype=float32]
        The active picture of each shot (inside letterbox and pillarbox bars): ``x0, y0, x1, y1`` as
        fractions of the frame's width and height, the median over the shot's frames.
    dissolve_span : np.ndarray [shape=(n_dissolves, 2), dtype=int64]
        First and last frame of every dissolve, in order (its middle frame begins a shot).
        These three are empty in artifacts written before ``hsv-luma-shots/4``.
    wipe_span : np.ndarray [shape=(n_wipes, 2), dtype=int64]
        First and last frame of every wipe, pushes and slides among them, in order (empty before
        ``hsv-luma-shots/6``; no pushes before ``/7``).
    frame_rate_num, frame_rate_den : int
        The stream's nominal frame rate (e.g. 30000/1001), for frame numbers at the edges.
    version : str
        :func:`shots_version` of the parameters used.
    """

    start_frame: np.ndarray
    end_frame: np.ndarray
    start_time_s: np.ndarray
    end_time_s: np.ndarray
    boundary: np.ndarray
    frame_times_s: np.ndarray
    change: np.ndarray
    brightness: np.ndarray
    frame_rate_num: int
    frame_rate_den: int
    version: str
    # last, with defaults: artifacts written before they existed (hsv-shots/3) still load
    luma_change: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    active_box: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    dissolve_span: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.int64))
    wipe_span: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.int64))

    @classmethod
    def no_picture(cls, params: ShotParams) -> Shots:
        """The shots of a title whose original has no video stream: none."""
        ints, floats = np.zeros(0, np.int64), np.zeros(0, np.float64)
        return cls(ints, ints, floats, floats, np.zeros(0, np.int8), floats, np.zeros(0, np.float32),
                   np.zeros(0, np.float32), 25, 1, shots_version(params))  # fmt: skip

    @property
    def n_shots(self) -> int:
        return len(self.start_frame)

    @property
    def n_frames(self) -> int:
        return len(self.frame_times_s)

    @property
    def frame_rate(self) -> Fraction:
        return Fraction(self.frame_rate_num, self.frame_rate_den)

    def boundaries(self, kind: str) -> np.ndarray:
        """First frames of the shots that begin with ``kind`` ("cut", "fade", "dissolve" or "wipe")."""
        if kind not in BOUNDARY_KINDS:
            raise ParameterError(f"kind={kind!r} must be one of {BOUNDARY_KINDS}")
        return self.start_frame[self.boundary == BOUNDARY_KINDS.index(kind)]

    def nominal_frame_numbers(self, frames: np.ndarray) -> np.ndarray:
        """Frame numbers at the nominal rate (time × rate, rounded): what editors and PySceneDetect
        count in a variable-frame-rate file, where frames were dropped."""
        return np.rint(self.frame_times_s[np.asarray(frames, dtype=np.int64)] * float(self.frame_rate)).astype(np.int64)

    def shot_of(self, frame: int) -> int:
        """Index of the shot that holds ``frame``."""
        return int(np.searchsorted(self.start_frame, frame, side="right") - 1)

    def table(self) -> list[dict]:
        """One row per shot (for metadata and reports)."""
        return [
            {
                "shot": i,
                "first_frame": int(self.start_frame[i]),
                "last_frame": int(self.end_frame[i]),
                "start_s": float(self.start_time_s[i]),
                "end_s": float(self.end_time_s[i]),
                "begins_with": BOUNDARY_KINDS[int(self.boundary[i])],
                **({"active_box": [round(float(v), 3) for v in self.active_box[i]]} if len(self.active_box) == self.n_shots else {}),
            }
            for i in range(self.n_shots)
        ]


_FINE_H, _FINE_S, _FINE_V = 4, 4, 8
"""Fine bins per coarse bin of hue, saturation and value: pixels are counted at this finer resolution
(one OpenCV pass), then each fine bin is spread linearly over the two nearest coarse bins, which
places every pixel within 1/8 of a coarse bin (1/16 for value) of where exact per-pixel
interpolation would, at a tenth of its cost. Value is the finest: a fade moves every pixel's value
together, and a fine value bin keeps each step of a uniform fade small (tested)."""


@functools.lru_cache(maxsize=16)
def _spread(n: int, fine: int, circular: bool) -> np.ndarray:
    """(n · fine, n) weights: each fine bin's centre shared linearly by the two nearest coarse bins."""
    centres = (np.arange(n * fine) + 0.5) / fine - 0.5  # in coarse-bin units
    low = np.floor(centres).astype(np.int64)
    frac = centres - low
    weights = np.zeros((n * fine, n), dtype=np.float32)  # float32 like OpenCV's counts: 10× faster products
    for k in range(n * fine):
        for j, w in ((low[k], 1.0 - frac[k]), (low[k] + 1, frac[k])):
            weights[k, j % n if circular else min(max(j, 0), n - 1)] += w
    return weights


_FINE_RANGES = [0, 256, 0, 180, 0, 256]
"""calcHist's ranges of value, hue and saturation: OpenCV's 8-bit hue is 0..179 (degrees / 2)."""
_FINE_CHANNELS = [2, 0, 1]
"""... counted value first (see :func:`_fine_shape`)."""


def _fine_shape(params: ShotParams) -> tuple[int, int, int]:
    """Fine bins of value, hue and saturation, in the order they are counted: value first, so that
    spreading it (the largest of the three products) multiplies whole rows."""
    return (params.value_bins * _FINE_V, params.hue_bins * _FINE_H, params.saturation_bins * _FINE_S)


class _FineCounts:
    """One frame's fine-bin counts, in a buffer allocated once that OpenCV fills in place (a 3-d
    ``cv2.Mat`` view: a plain 3-d array would be read as a 2-d image with channels, and replaced).
    One frame at a time, spread over the value bins at once: 128 KiB that stay in the core's cache,
    where a batch's counts (128 KiB a frame) would go out to memory and back."""

    def __init__(self, params: ShotParams) -> None:
        import cv2

        self.counts = np.empty(_fine_shape(params), np.float32)
        self.view = cv2.Mat(self.counts, wrap_channels=False)
        # what each frame's two calls take, looked up once
        self._calc_hist = cv2.calcHist
        self._sizes = list(_fine_shape(params))
        self._rows = self.counts.reshape(params.value_bins * _FINE_V, -1)  # a plain ndarray: no cv2.Mat view per frame
        self._weights = _spread(params.value_bins, _FINE_V, False).T

    def spread_value(self, hsv: np.ndarray, out: np.ndarray) -> None:
        """The fine-bin counts of ``hsv`` (an 8-bit OpenCV HSV image, hue 0..179; hue wraps around,
        saturation and value do not), value first [shape=(value_bins * 8, hue_bins * 4,
        saturation_bins * 4)], spread over the value bins, into ``out`` [shape=(value_bins, hue_bins *
        4 * saturation_bins * 4), float32]: the largest of the three products, done first (a quarter of
        the work of spreading hue first)."""
        counted = self._calc_hist([hsv], _FINE_CHANNELS, None, self._sizes, _FINE_RANGES, hist=self.view)
        if counted is not self.view:  # OpenCV allocated its own: copied in, not counted again
            self.counts[...] = counted.reshape(self.counts.shape)
        np.matmul(self._weights, self._rows, out=out)


@functools.lru_cache(maxsize=16)
def _spread_hue_saturation(nh: int, ns: int) -> np.ndarray:
    """(nh · 4 · ns · 4, nh · ns) weights: fine (hue, saturation) bins spread over both coarse ones at
    once (products of their weights)."""
    return np.kron(_spread(nh, _FINE_H, True), _spread(ns, _FINE_S, False))


def _coarse(by_value: np.ndarray, params: ShotParams) -> np.ndarray:
    """Soft histograms from fine-bin counts spread over value bins (:meth:`_FineCounts.spread_value`), spread
    over hue and saturation bins.

    Every weight is a multiple of 1/8 (1/16 for value) and every count a whole number, so each
    product and partial sum is exact in float32 (below 2**24 / 1024 sampled pixels a frame): the
    histograms do not depend on the order of the products.

    Parameters
    ----------
    by_value : np.ndarray [shape=(k, value_bins, hue_bins * 4 * saturation_bins * 4), dtype=float32]

    Returns
    -------
    np.ndarray [shape=(k, hue_bins * saturation_bins * value_bins), dtype=float64], each row sums to 1
    """
    nh, ns, nv = params.hue_bins, params.saturation_bins, params.value_bins
    k = len(by_value)
    spread = by_value.reshape(k * nv, -1) @ _spread_hue_saturation(nh, ns)  # (k · value, hue · saturation)
    hist = spread.reshape(k, nv, nh * ns).transpose(0, 2, 1).reshape(k, -1).astype(np.float64)
    return hist / hist.sum(axis=1, keepdims=True)


def _active_boxes(value: np.ndarray, params: ShotParams) -> np.ndarray:
    """The active picture of each frame: ``y0, y1, x0, x1`` (sampled pixels, end exclusive) inside its
    letterbox and pillarbox bars, or the whole frame when its lit part is a sliver or nothing.

    Parameters
    ----------
    value : np.ndarray [shape=(k, h, w), dtype=uint8]
        The frames' V (HSV value) channel.

    Returns
    -------
    np.ndarray [shape=(k, 4), dtype=int64]
    """
    k, h, w = value.shape
    rows = value.max(axis=2) > params.bar_level  # (k, h): a lit pixel in the row
    cols = value.max(axis=1) > params.bar_level
    # first and last lit row and column (argmax: the first True)
    y0, y1 = rows.argmax(axis=1), h - rows[:, ::-1].argmax(axis=1)
    x0, x1 = cols.argmax(axis=1), w - cols[:, ::-1].argmax(axis=1)
    boxed = rows.any(axis=1) & (y1 - y0 >= params.min_active_fraction * h) & (x1 - x0 >= params.min_active_fraction * w)
    return np.where(boxed[:, None], np.stack([y0, y1, x0, x1], axis=1), np.array([0, h, 0, w]))


def _thumbnails(value: np.ndarray) -> np.ndarray:
    """16 × 16 luma thumbnails of whole frames' V channel [shape=(k, h, w), uint8, C-contiguous],
    [shape=(k, 256), uint8]."""
    import cv2

    k, h, w = value.shape
    side = THUMB_SIDE
    # one call for all the frames, stacked: OpenCV's area weights of each output row depend on h / 16
    # alone, and stacked frames get the same ones when h and w shrink and h / 16 is exact (16 / h
    # inverted, as OpenCV computes it); otherwise rows at the frames' edges would mix
    if h >= side and w >= side and 1 / (side / h) == h / side:
        return cv2.resize(value.reshape(k * h, w), (side, side * k), interpolation=cv2.INTER_AREA).reshape(k, side * side)
    return np.stack([cv2.resize(frame, (side, side), interpolation=cv2.INTER_AREA).reshape(-1) for frame in value])


def _chroma_thumbnails(u: np.ndarray, v: np.ndarray, tables: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """16 × 16 thumbnails of whole frames' chroma (U and V of YUV, full range, 128 = grey) [each
    shape=(k, h, w), uint8; ``tables``: limited-range levels to full range, of U and V], from every
    other sampled pixel (chroma is coarse in every codec, and a thumbnail needs few) [shape=(k, 2,
    256), uint8]. Only the seam of a push is judged on them (:func:`_seamless`): two shots of the same
    brightness where they meet are seldom the same colour."""
    import cv2

    planes = [np.ascontiguousarray(plane[:, ::2, ::2]) for plane in (u, v)]
    if tables is not None:
        planes = [cv2.LUT(plane.reshape(1, -1), table).reshape(plane.shape) for plane, table in zip(planes, tables)]
    return np.stack([_thumbnails(plane) for plane in planes], axis=1)


@dataclass
class _Features:
    """Per-frame measures of consecutive frames."""

    histograms: np.ndarray  # (k, bins) float64, rows sum to 1
    brightness: np.ndarray  # (k,) float64, mean V of the active picture
    thumbs: np.ndarray  # (k, THUMB_SIDE ** 2) uint8
    boxes: np.ndarray  # (k, 4) float32, active picture x0 y0 x1 y1 as fractions of the frame
    chroma: np.ndarray  # (k, 2, THUMB_SIDE ** 2) uint8, see :func:`_chroma_thumbnails`


def _frame_measures(
    hsv: np.ndarray, params: ShotParams, by_value: np.ndarray | None = None, value: np.ndarray | None = None,
    fine: _FineCounts | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fine-bin counts of each frame's active picture spread over the value bins (into ``by_value``
    if given, see :meth:`_FineCounts.spread_value`), its mean brightness, the frame's luma thumbnail and the
    active box (fractions), of k frames [shape=(k, h, w, 3), OpenCV HSV]: what both the per-frame and
    the batched paths compute, the same way. Only the counts take calls per frame (the boxes
    differ); the rest is done for all the frames at once. ``value`` [shape=(k, h, w), uint8] and
    ``fine`` are working space.
    """
    k, h, w, _ = hsv.shape
    if value is None:
        value = np.empty((k, h, w), np.uint8)
    if by_value is None:
        by_value = np.empty((k, params.value_bins, params.hue_bins * _FINE_H * params.saturation_bins * _FINE_S), np.float32)
    fine = _FineCounts(params) if fine is None else fine
    np.copyto(value, hsv[..., 2])
    boxes = _active_boxes(value, params)
    y0, y1, x0, x1 = boxes.T
    spread_value = fine.spread_value
    for image, a, b, c, d, out in zip(hsv, y0.tolist(), y1.tolist(), x0.tolist(), x1.tolist(), by_value):
        spread_value(image[a:b, c:d], out)
    inside = ((np.arange(h) >= y0[:, None]) & (np.arange(h) < y1[:, None]))[:, :, None]
    inside = inside & ((np.arange(w) >= x0[:, None]) & (np.arange(w) < x1[:, None]))[:, None, :]
    brightness = (value * inside).sum(axis=(1, 2), dtype=np.int64) / ((y1 - y0) * (x1 - x0))
    fractions = np.stack([x0 / w, y0 / h, x1 / w, y1 / h], axis=1).astype(np.float32)
    return by_value, brightness, _thumbnails(value), fractions


def soft_hsv_histogram(image: np.ndarray, params: ShotParams) -> tuple[np.ndarray, float]:
    """Soft HSV histogram of an RGB frame's active picture (inside letterbox and pillarbox bars) and
    its mean brightness.

    Parameters
    ----------
    image : np.ndarray [shape=(h, w, 3), dtype=uint8], RGB

    Returns
    -------
    histogram : np.ndarray [shape=(hue_bins * saturation_bins * value_bins,), dtype=float64], sums to 1
    brightness : float
        Mean V of the active picture, 0..255.
    """
    hist, brightness, *_ = _image_features(image, params)
    return hist, brightness


def _image_features(image: np.ndarray, params: ShotParams) -> tuple[np.ndarray, float, np.ndarray, np.ndarray, np.ndarray]:
    import cv2

    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
    by_value, (brightness,), (thumb,), (box,) = _frame_measures(hsv[None], params)
    yuv = cv2.cvtColor(image, cv2.COLOR_RGB2YUV)
    (chroma,) = _chroma_thumbnails(yuv[None, ..., 1], yuv[None, ..., 2])
    return _coarse(by_value, params)[0], float(brightness), thumb, box, chroma


def sampled_histograms(frames: SampledFrames, params: ShotParams) -> tuple[np.ndarray, np.ndarray]:
    """Soft HSV histograms and mean brightness of sampled frames (:func:`ml.decoding.video.iter_sampled`): the
    values :func:`soft_hsv_histogram` gives for each frame, with the colour conversions and most
    products done once for all the frames.

    Returns
    -------
    histograms : np.ndarray [shape=(k, hue_bins * saturation_bins * value_bins), dtype=float64]
        Each row sums to 1.
    brightness : np.ndarray [shape=(k,), dtype=float64]
        Mean V of each frame's active picture, 0..255.
    """
    features = _SampledHistograms(params)(frames)
    return features.histograms, features.brightness


class _SampledHistograms:
    """:func:`sampled_histograms` (and the thumbnails and active boxes) of batch after batch, in
    buffers allocated once: fresh arrays for every batch cost a page fault per 4 KiB, as much time as
    the colour conversions."""

    def __init__(self, params: ShotParams) -> None:
        self.params = params
        self._buffers: dict[str, np.ndarray] = {}
        self._fine = _FineCounts(params)

    def _buffer(self, name: str, shape: tuple[int, ...], dtype: type) -> np.ndarray:
        size = int(np.prod(shape))
        buffer = self._buffers.get(name)
        if buffer is None or buffer.size < size:
            buffer = self._buffers[name] = np.empty(size, dtype)
        return buffer[:size].reshape(shape)

    def __call__(self, frames: SampledFrames) -> _Features:
        params = self.params
        shape = frames.planes[0].shape[:3]
        hsv = frames.hsv(out=self._buffer("hsv", (*shape, 3), np.uint8), scratch=self._buffer("scratch", (3, *shape), np.uint8))
        k = hsv.shape[0]
        fine_hs = params.hue_bins * _FINE_H * params.saturation_bins * _FINE_S
        by_value = self._buffer("by_value", (k, params.value_bins, fine_hs), np.float32)
        _, brightness, thumbs, boxes = _frame_measures(hsv, params, by_value, self._buffer("value", shape, np.uint8), self._fine)
        return _Features(_coarse(by_value, params), brightness, thumbs, boxes, self._chroma(frames))

    @staticmethod
    def _chroma(frames: SampledFrames) -> np.ndarray:
        """:func:`_chroma_thumbnails` of the frames: their own U and V planes, or an RGB picture's."""
        import cv2

        if frames.kind != "rgb":
            return _chroma_thumbnails(*frames.planes[1:3], LIMITED_TO_FULL_PLANES[1:] if frames.kind == "tv-yuv" else None)
        shape = frames.planes[0].shape[:3]
        yuv = cv2.cvtColor(frames.planes[0].reshape(1, -1, 3), cv2.COLOR_RGB2YUV).reshape(*shape, 3)
        return _chroma_thumbnails(yuv[..., 1], yuv[..., 2])


def _fade_boundaries(brightness: np.ndarray, dark_level: float, t: np.ndarray, min_shot_s: float) -> list[int]:
    """Middle frame of every black run that has lit frames on both sides. Black runs less than
    ``min_shot_s`` apart are one run: lit frames between them are no shot, but a fade's brightness
    wobbling about ``dark_level`` (a 10-bit HEVC re-encode of testvideo.mp4's fade in: 12.0, 11.4, 13.8
    about a dark level of 12, made a second fade 17 frames after the first)."""
    dark = brightness <= dark_level
    runs = []
    i, n = 0, len(dark)
    while i < n:
        if not dark[i]:
            i += 1
            continue
        j = i
        while j < n and dark[j]:
            j += 1
        if runs and t[i] - t[runs[-1][1] - 1] < min_shot_s:
            runs[-1] = (runs[-1][0], j)
        else:
            runs.append((i, j))
        i = j
    # lit on both sides: a fade out and in (or a cut to black and a fade)
    return [(i + j) // 2 for i, j in runs if i > 0 and j < n]


def detect_shots(frames: Iterable[VideoFrame], params: ShotParams, *, frame_rate: Fraction) -> Shots:
    """Shots of a sequence of decoded frames (RGB, any size; see :func:`shots_from_file`).

    Parameters
    ----------
    frames : iterable of VideoFrame
        In presentation order.
    params : ShotParams
    frame_rate : Fraction
        The stream's nominal frame rate (stored for frame numbers at the edges; the detector itself
        works on timestamps).
    """
    times, changes, bright, thumbs, boxes, chroma = [], [], [], [], [], []
    previous = None
    for frame in frames:
        hist, level, thumb, box, colour = _image_features(frame.image, params)
        changes.append(0.0 if previous is None else 0.5 * float(np.abs(hist - previous).sum()))
        previous = hist
        times.append(frame.time_s)
        bright.append(level)
        thumbs.append(thumb)
        boxes.append(box)
        chroma.append(colour)
    if not times:
        raise ParameterError("no frames to detect shots in")
    per_frame = np.asarray(times, dtype=np.float64), np.asarray(changes), np.asarray(bright), np.stack(thumbs), np.stack(boxes)
    return _shots(*per_frame, params, frame_rate, np.stack(chroma))


def _luma_steps(thumbs: np.ndarray, lag: int = 1) -> np.ndarray:
    """Mean absolute step of thumbnails [shape=(n, side²), uint8] from the one ``lag`` frames before,
    0..1 (0 for the first ``lag``)."""
    steps = np.zeros(len(thumbs), np.float32)
    for a in range(lag, len(thumbs), 8192):  # in blocks: a film's thumbnails as int16 would take 100s of MB
        b = min(len(thumbs), a + 8192)
        steps[a:b] = np.abs(thumbs[a:b].astype(np.int16) - thumbs[a - lag : b - lag]).mean(axis=1) / 255.0
    return steps


STRUCTURE_FLOOR = 4.0
"""Grey levels: a thumbnail's spread is taken as at least this when it is standardised
(:func:`_structure_steps`), so that a flat or black frame's noise is not blown up."""


STRUCTURE_CLIP = 12
"""Grey levels: a thumbnail pixel this close to black or white in either frame is left out of the
structure step (:func:`_structure_steps`): a change of brightness or contrast clips it there, which
standardising does not undo (an old film's bars, grained and flickering with the picture, clip at
black when it darkens)."""


def _structure_steps(thumbs: np.ndarray, boxes: np.ndarray | None = None) -> np.ndarray:
    """Mean absolute step of thumbnails [shape=(n, side²), uint8] from the one before, within frame
    i's active box [shape=(n, 4), fractions of the frame; ``None``: the whole frame], each first
    standardised over the box (its mean removed, divided by its standard deviation, at least
    :data:`STRUCTURE_FLOOR`), in standard deviations (0 for the first): a change of the picture's
    structure, blind to one of its brightness or contrast (flicker, exposure). Bars are left out:
    they stay black where the picture's brightness and contrast change, and would read as structure;
    so are pixels near black or white in either frame (:data:`STRUCTURE_CLIP`)."""
    n = len(thumbs)
    steps = np.zeros(n, np.float32)
    if n < 2:
        return steps
    for a in range(1, n, 8192):  # in blocks, as _luma_steps
        b = min(n, a + 8192)
        if boxes is None:
            inside = np.ones((b - a, THUMB_SIDE * THUMB_SIDE), bool)
        else:
            rows, columns = _box_rows_columns(boxes[a:b])
            inside = (rows[:, :, None] & columns[:, None, :]).reshape(b - a, -1)
        before, after = thumbs[a - 1 : b - 1], thumbs[a:b]
        lit = (np.minimum(before, after) > STRUCTURE_CLIP) & (np.maximum(before, after) < 255 - STRUCTURE_CLIP)
        inside &= lit
        count = np.maximum(inside.sum(axis=1, keepdims=True), 1)
        z = []
        for frames in (before, after):
            x = np.where(inside, frames.astype(np.float32), 0.0)
            x -= np.where(inside, x.sum(axis=1, keepdims=True) / count, 0.0)
            spread = np.sqrt((x * x).sum(axis=1, keepdims=True) / count)
            z.append(x / np.maximum(spread, STRUCTURE_FLOOR))
        # a step shared by a whole row is a band of the picture brightening (an encoder's slice at a key
        # frame, a rolling flicker), not the picture changing: each row's mean step is taken out
        step = (z[1] - z[0]).reshape(b - a, THUMB_SIDE, THUMB_SIDE)
        mask = inside.reshape(b - a, THUMB_SIDE, THUMB_SIDE)
        per_row = np.maximum(mask.sum(axis=2, keepdims=True), 1)
        step = np.where(mask, step - step.sum(axis=2, keepdims=True) / per_row, 0.0)
        steps[a:b] = np.abs(step).reshape(b - a, -1).sum(axis=1) / count[:, 0]
    return steps


def _neighbour_max(x: np.ndarray, k: int, width: int = 1, skip: np.ndarray | None = None) -> np.ndarray:
    """Largest value of the ``k`` entries either side of each run of ``width`` entries that ends at an
    entry (entries i − width + 1 … i; not the run itself), passing over the entries ``skip`` marks
    [shape=(n,), bool] (they neither count nor take a place)."""
    n = len(x)
    kept = np.ones(n, bool) if skip is None else ~skip
    padded = np.r_[np.zeros(k, x.dtype), x[kept], np.zeros(k, x.dtype)]
    counted = np.cumsum(kept)  # kept entries up to each one: the place in x[kept] of the next kept entry after it
    start = np.arange(n) - width + 1
    before = np.where(start > 0, counted[np.maximum(start - 1, 0)], 0)  # kept entries before the run
    out = np.zeros(n, x.dtype)
    for j in range(k):
        np.maximum(out, padded[before + j], out=out)  # x[kept][before - k + j]
        np.maximum(out, padded[counted + k + j], out=out)  # x[kept][counted + j]
    return out


REPEAT_STEP = 0.5 / 255
"""A frame whose luma thumbnail is within this of the one before (0..1) repeats it: content of a lower
frame rate carried at a higher one (24 frames a second at 30, a frame in four shown twice). Where a
repeat stands alone, the local-contrast rules pass over it to the next real step (:func:`_repeats`)."""


def _repeats(luma: np.ndarray) -> np.ndarray:
    """Frames that repeat the one before and stand alone [shape=(n,), bool]: motion in such content
    comes in steps between still ones, so beside a repeat every step looks sudden; a run of them (a still
    picture) is the picture, not its frame rate."""
    repeated = luma < REPEAT_STEP
    repeated[0] = False
    alone = repeated.copy()
    alone[1:] &= ~repeated[:-1]
    alone[:-1] &= ~repeated[1:]
    return alone

SPLIT_SHARE = 0.25
"""A cut split over two frames: each of its two steps is at least this share of the two together (a
frame that holds half of each shot)."""


def _split_cuts(
    change: np.ndarray, picture_change: np.ndarray, luma: np.ndarray, thumbs: np.ndarray, params: ShotParams, skip: np.ndarray | None = None
) -> np.ndarray:
    """Whether frame i ends a cut between similar-looking shots split over its step and the one before
    (frame i − 1 holds half of each shot: its fields, or lines, woven across the cut) [shape=(n,),
    bool]: the two histogram changes together and the luma step from frame i − 2 to frame i pass the
    similar-shots rule (``similar_min_change``, ``similar_min_luma``, ``similar_contrast`` times the
    steps of the ``neighbour_frames`` frames either side of the pair), each half at least
    :data:`SPLIT_SHARE` of them."""
    n, k = len(change), params.neighbour_frames
    out = np.zeros(n, bool)
    if n < 3:
        return out
    both = np.r_[0.0, 0.0, change[1:-1] + change[2:]]  # both[i] = change[i - 1] + change[i]
    both_luma = _luma_steps(thumbs, 2)
    halves = (np.r_[0.0, change[:-1]] >= SPLIT_SHARE * both) & (change >= SPLIT_SHARE * both)
    halves &= (np.r_[0.0, luma[:-1]] >= SPLIT_SHARE * both_luma) & (luma >= SPLIT_SHARE * both_luma)
    # against the steps around the pair: into frames i − 1 − k … i − 2 and i + 1 … i + k
    out = (both >= params.similar_min_change) & (both_luma >= params.similar_min_luma) & halves
    out &= (both >= params.similar_contrast * _neighbour_max(picture_change, k, 2, skip))
    out &= both_luma >= params.similar_contrast * _neighbour_max(luma, k, 2, skip)
    out[:3] = False  # frame 0 has no step (nothing before it): a pair ending at 2 has none before it to stand out from
    return out


def _is_flash(thumbs: np.ndarray, i: int, step: float, params: ShotParams) -> bool:
    """Whether the step into frame ``i`` is a flash, not a cut: within ``neighbour_frames`` frames the
    picture comes back to the one before the step (a flash begins at ``i``), or frame ``i`` is the
    picture of a frame before the one before (a flash ends at ``i``)."""
    k = params.neighbour_frames

    def closest(frame: np.ndarray, others: np.ndarray) -> float:
        if not len(others):
            return np.inf
        return float(np.abs(others.astype(np.int16) - frame.astype(np.int16)).mean(axis=1).min()) / 255.0

    back = min(closest(thumbs[i - 1], thumbs[i + 1 : i + 1 + k]), closest(thumbs[i], thumbs[max(0, i - 1 - k) : i - 1]))
    return back < params.flash_ratio * step


def _exposure_step(thumbs: np.ndarray, boxes: np.ndarray, i: int, params: ShotParams) -> bool:
    """Whether frame ``i`` is frame ``i − 1`` at another exposure or tone curve within its active box
    (:func:`_one_picture_brighter`, the bars left out): a camera's exposure or white balance jumping,
    or an encoder's key frame refreshing the colour that its predicted frames let drift in a still
    shot (a 50-fps edit: the background 30-40 levels brighter, the face as it was; PySceneDetect's
    detectors saw no cut), is no cut. Two pictures keep no local order. Both frames must have an order
    to keep (:data:`EXPOSURE_MIN_ORDER`): out of black, or between two flat pictures, every change
    is "one picture brighter"."""
    rows, columns = _box_rows_columns(boxes[i : i + 1])
    inside = rows[0][:, None] & columns[0][None, :]
    first, last = (np.where(inside.ravel(), thumbs[j].astype(np.float32) / 255.0, 0.0)[None] for j in (i - 1, i))
    a, b = _neighbour_pairs(THUMB_SIDE)
    if min(float((np.abs(x[0, a] - x[0, b]) >= ORDER_STEP).mean()) for x in (first, last)) < EXPOSURE_MIN_ORDER:
        return False
    return bool(_one_picture_brighter(first, last, params)[0])


EXPOSURE_MIN_ORDER = 0.25
"""An exposure step (:func:`_exposure_step`) needs at least this share of the neighbouring thumbnail
pixel pairs in a clear order (:data:`ORDER_STEP`) in both frames. Measured: testvideo.mp4's black
frame holding only a caption, before its published cut at 394, 0.10; both frames of every cut of
the 32 real edits (0-11, 24-35, 40-47) 0.43 or more (bars left out, as here); the 50-fps edit's
key-frame step 0.65."""


def _off_mix(frames: np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Mean absolute distance of each ``frames[..., :]`` [shape=(..., m)] from its nearest mix of
    ``first`` and ``last`` (broadcast against it), its nearest point of the segment between them
    [shape=(...)]."""
    d, x = last - first, frames - first
    share = np.clip((x * d).sum(axis=-1, keepdims=True) / np.maximum((d * d).sum(axis=-1, keepdims=True), 1e-12), 0.0, 1.0)
    return np.abs(x - share * d).mean(axis=-1)


def _mix_residual(scaled: np.ndarray, middles: np.ndarray, w: int, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """How far the frames strictly between ``middles − w`` and ``middles + w`` of ``scaled``
    [shape=(n, side²)] lie from mixes of the two ends ``first`` and ``last`` [shape=(k, side²)]: each
    frame's mean absolute distance from its nearest point of the segment between them, averaged
    over the frames, in shares of the ends' mean absolute difference [shape=(k,)].

    A dissolve shows every frame as ``(1 − a) · first + a · last``; a large, smooth object moving
    in close-up (hands turning an object before the camera) can pass the middle frame's test on a
    16 × 16 thumbnail, but the frames between it and the ends lie off that line."""
    out = np.empty(len(middles))
    between = np.arange(-w + 1, w)
    for lo in range(0, len(middles), 256):  # in blocks: (k, 2w − 1, side²) floats for a long dissolve
        hi = min(len(middles), lo + 256)
        ends, other = first[lo:hi], last[lo:hi]
        distance = _off_mix(scaled[middles[lo:hi, None] + between], ends[:, None], other[:, None]).mean(axis=1)  # (b, 2w − 1) frames
        out[lo:hi] = distance / np.maximum(np.abs(other - ends).mean(axis=1), 1e-12)
    return out


ORDER_STEP = 8 / 255
"""Two neighbouring thumbnail pixels are in a clear order when their values differ by at least this
(in flat areas the order is compression noise; see :func:`_discordant`)."""
CLIPPED = 5 / 255
"""... and a pair that both sit within this of black or of white at the other end is no evidence either
(highlights clipped by a brightening, shadows crushed by a darkening)."""
NEIGHBOURS = ((0, 1), (1, 0), (1, 1), (1, -1), (0, 2), (2, 0), (2, 2), (2, -2))
"""Row and column offsets of the pixel pairs compared: the picture's local structure (its edges and
their direction), which a change of exposure keeps and another picture does not."""


@functools.lru_cache(maxsize=4)
def _neighbour_pairs(side: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices into a flattened side × side thumbnail of the two pixels of every pair of :data:`NEIGHBOURS`."""
    index = np.arange(side * side).reshape(side, side)
    a, b = [], []
    for dy, dx in NEIGHBOURS:
        rows, cols = slice(max(0, -dy), side - max(0, dy)), slice(max(0, -dx), side - max(0, dx))
        shifted = (slice(rows.start + dy, rows.stop + dy), slice(cols.start + dx, cols.stop + dx))
        a.append(index[rows, cols].ravel())
        b.append(index[shifted].ravel())
    return np.concatenate(a), np.concatenate(b)


def _discordant(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Share of the neighbouring pixel pairs (:data:`NEIGHBOURS`) in a clear order in each ``x``
    [shape=(k, side²)] that the ``y`` of the same row puts clearly in the other order (by at least half
    of :data:`ORDER_STEP`) [shape=(k,)]."""
    a, b = _neighbour_pairs(THUMB_SIDE)
    dx, dy = x[:, a] - x[:, b], y[:, a] - y[:, b]
    white, black = y >= 1 - CLIPPED, y <= CLIPPED
    clear = (np.abs(dx) >= ORDER_STEP) & ~(white[:, a] & white[:, b]) & ~(black[:, a] & black[:, b])
    crossed = clear & (dx * dy < 0) & (np.abs(dy) >= ORDER_STEP / 2)
    return crossed.sum(axis=1) / np.maximum(clear.sum(axis=1), 1)


def _one_picture_brighter(first: np.ndarray, last: np.ndarray, params: ShotParams) -> np.ndarray:
    """Whether each ``last`` [shape=(k, side²)] is ``first`` at another exposure or tone curve, not
    another picture: the change has one sign nearly everywhere (its mean is at least
    ``dissolve_exposure_coherence`` of its mean absolute value) and the pixels keep their local order
    (less than ``dissolve_exposure_discordance`` of the neighbouring pairs in a clear order swap, in
    one direction or the other: :func:`_discordant`) [shape=(k,), bool].

    A proportional change is caught by the gain test of :func:`_dissolves`; a brightening whose
    highlights clip is not proportional, and is a mix of its ends as a dissolve is."""
    change = last - first
    coherent = np.abs(change.mean(axis=1)) >= params.dissolve_exposure_coherence * np.maximum(np.abs(change).mean(axis=1), 1e-12)
    out = np.zeros(len(first), bool)
    if coherent.any():
        x, y = first[coherent], last[coherent]
        out[coherent] = np.minimum(_discordant(x, y), _discordant(y, x)) < params.dissolve_exposure_discordance
    return out


def _thumbnail_edges(boxes: np.ndarray) -> np.ndarray:
    """Active boxes [shape=(k, 4), x0 y0 x1 y1, fractions of the frame] in thumbnail pixels, rounded
    [shape=(k, 4), int64, 0..THUMB_SIDE]."""
    return np.clip(np.rint(np.asarray(boxes, np.float64) * THUMB_SIDE).astype(np.int64), 0, THUMB_SIDE)


def _box_rows_columns(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The thumbnail's rows and columns inside each active box [shape=(k, 4), fractions]: two
    [shape=(k, THUMB_SIDE), bool] (their outer product is the box's pixels)."""
    x0, y0, x1, y1 = _thumbnail_edges(boxes).T
    index = np.arange(THUMB_SIDE)
    return (index >= y0[:, None]) & (index < y1[:, None]), (index >= x0[:, None]) & (index < x1[:, None])


EXTENT_LEVEL = 0.4
"""A thumbnail row is in a change when one of its pixels changes by at least this share of the
largest change of any pixel (see :func:`_extent`). Between two speakers in one framing the face
changes about half as much as the clothes below it and must count; a head moving above a caption box
changes a fifth to a third as much as the box, and should not."""
EXTENT_STEP = 0.2
"""... and a row is in step with the change when its own share of the way from the first frame to
the last differs from the whole picture's by at most this, averaged over the frames between (a
dissolve moves every row together; a speaker moving under a banner that fades in moves other rows
at other times). Measured (benchmarks/README.md, 2026-12-07): every dissolve of the 24 real edits of
each set keeps its extent from 0.1 up; the banner over face_3 of benchmarks/transitions.py is
held to its band of rows up to 0.25."""


def _extent(scaled: np.ndarray, middles: np.ndarray, w: int, boxes: np.ndarray) -> np.ndarray:
    """How far down the active picture ``boxes`` [shape=(k, 4), x0 y0 x1 y1, fractions of the frame]
    the change from ``middles − w`` to ``middles + w`` of ``scaled`` [shape=(n, side²)] reaches: the
    rows from the first to the last in the change (:data:`EXTENT_LEVEL`) and in step with it
    (:data:`EXTENT_STEP`), as a share of the picture's thumbnail rows [shape=(k,)].

    A dissolve into another shot changes the picture from top to bottom, and one between two speakers
    in the same framing changes the speaker, from the head to the clothes at the frame's edge; a
    caption box, a lower third or a banner fading in over the picture changes a band of rows, and the
    speaker moving beside it changes other rows at other times."""
    side = THUMB_SIDE
    first, last = scaled[middles - w], scaled[middles + w]
    d = last - first
    between = scaled[middles[:, None] + np.arange(-w + 1, w)] - first[:, None]  # (k, 2w − 1, side²)
    # each frame's share of the way from the first to the last, over the whole picture and row by row
    share = np.clip((between * d[:, None]).sum(axis=2) / np.maximum((d * d).sum(axis=1), 1e-12)[:, None], 0.0, 1.0)
    d, between = d.reshape(-1, side, side), between.reshape(len(d), -1, side, side)
    x0, y0, x1, y1 = _thumbnail_edges(boxes).T
    rows_in, columns_in = _box_rows_columns(boxes)
    d = d * columns_in[:, None, :]  # the active picture's columns only
    largest = np.abs(d).max(axis=2) * rows_in  # (k, side): each row's largest change
    row_share = (between * columns_in[:, None, None, :] * d[:, None]).sum(axis=3) / np.maximum((d * d).sum(axis=2), 1e-12)[:, None]
    in_step = np.abs(np.clip(row_share, 0.0, 1.0) - share[:, :, None]).mean(axis=1) <= EXTENT_STEP
    changed = rows_in & in_step & (largest >= EXTENT_LEVEL * largest.max(axis=1, keepdims=True))
    top, bottom = changed.argmax(axis=1), side - 1 - changed[:, ::-1].argmax(axis=1)
    out = np.where(changed.any(axis=1), (bottom - top + 1) / np.maximum(y1 - y0, 1), 0.0)
    # a sliver is measured whole, as the histograms are; a picture that does not change is no evidence
    return np.where((x1 - x0 < 2) | (y1 - y0 < 2) | (largest.max(axis=1) <= 0), 1.0, out)


MOVE_MAX_SHIFT = 4
"""A camera move is looked for up to this many thumbnail pixels (a quarter of the picture) in each
direction (see :func:`_moved`) ..."""
MOVE_MATCH = 0.5
"""... and the last picture is the first moved when, over their overlap, it lies at most this share as
far from the first shifted as from the first in place. Measured (benchmarks/README.md, 2026-12-07):
the 48 dissolves of the development and held-out edits 0.69 or more, a pan across a still at a fifth
of a pixel a frame (which passed every other test over 4 frames) 0.38."""


@functools.lru_cache(maxsize=4)
def _shift_operators(max_shift: int, min_shift: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The maps of a thumbnail's rows shifted left by every 1 / :data:`PUSH_STEPS` pixel above
    ``min_shift`` up to ``max_shift`` [shape=(side, shifts · side)] (column j · side + x: pixel x at
    shift j), and each shift's overlap as weights that average over it [shape=(shifts, side)]."""
    side = THUMB_SIDE
    x = np.arange(side, dtype=np.float64)
    shifts = np.arange(PUSH_STEPS * min_shift + 1, PUSH_STEPS * max_shift + 1) / PUSH_STEPS
    maps = np.concatenate([_sampling(x + shift).T for shift in shifts], axis=1)
    overlap = side - np.ceil(shifts).astype(np.int64)
    weights = (x[None, :] < overlap[:, None]) / (overlap[:, None] * side)
    return maps, weights


def _moved(first: np.ndarray, last: np.ndarray, max_shift: int = MOVE_MAX_SHIFT, min_shift: int = 0) -> np.ndarray:
    """Whether each ``last`` [shape=(k, side²)] is ``first`` moved sideways or up or down by up to
    ``max_shift`` pixels (a pan or a tilt; by more than ``min_shift``), within :data:`MOVE_MATCH`
    [shape=(k,), bool].

    Between two frames of a slow pan across a smooth picture every pixel moves a fraction of a pixel
    and is a mix of itself and its neighbour: the picture between is a mix of its ends, as a
    dissolve's is."""
    side = THUMB_SIDE
    a, b = first.reshape(-1, side, side), last.reshape(-1, side, side)
    in_place = np.maximum(np.abs(b - a).mean(axis=(1, 2)), 1e-12)
    best = np.full(len(a), np.inf)
    maps, weights = _shift_operators(max_shift, min_shift)
    for lo in range(0, len(a), 64):  # in blocks: (k, side, shifts, side) floats
        for where in _PUSH_SIDES:
            ta, tb = _turned(a[lo : lo + 64], where), _turned(b[lo : lo + 64], where)
            shifted = (ta @ maps).reshape(len(ta), side, -1, side)
            distance = np.einsum("krsx,sx->ks", np.abs(tb[:, :, None, :] - shifted), weights)
            best[lo : lo + 64] = np.minimum(best[lo : lo + 64], distance.min(axis=1))
    return best <= MOVE_MATCH * in_place

MIN_ACTIVE_SHARE = 0.1
"""A change within the active picture is the thumbnail's mean change over the share of it inside the
bars, at least this (a picture windowboxed into a tenth of the frame's thumbnail is measured as if it
filled a tenth)."""


def _active_share(boxes: np.ndarray) -> np.ndarray:
    """Share of the thumbnail's pixels inside each active box [shape=(n, 4), fractions] [shape=(n,)]."""
    x0, y0, x1, y1 = _thumbnail_edges(boxes).T
    return ((x1 - x0) * (y1 - y0)) / THUMB_SIDE**2


class _SpanBlock(NamedTuple):
    """The spans m − w … m + w of one half-width w, for a block of middle frames m (see :func:`_spans`)."""

    low: int  # frame of scaled[0]
    scaled: np.ndarray  # (frames, side²) float32 thumbnails, 0..1
    w: int
    m: np.ndarray  # middle frames
    first: np.ndarray  # thumbnails at m − w, m and m + w (views into scaled)
    mid: np.ndarray
    last: np.ndarray
    change: np.ndarray  # mean absolute change from first to last
    level: np.ndarray  # the same within the active picture (what the thresholds on a change are for)
    monotonous: np.ndarray  # bool: change >= dissolve_monotony of the sum of the steps between, no hard boundary inside
    no_hard: np.ndarray  # bool: no hard boundary inside


SPAN_REACH = 3
"""Each block of spans holds the thumbnails of ``SPAN_REACH`` · w frames more on either side (the
spans either side of a still-picture dissolve, 3w out)."""


def _spans(
    thumbs: np.ndarray, t: np.ndarray, luma: np.ndarray, hard: list[int], params: ShotParams, active: np.ndarray
) -> Iterator[_SpanBlock]:
    """What the searches of :func:`_searched` (dissolves, wipes, pushes) look over: every span m − w …
    m + w of six half-widths w from ``dissolve_s``, in blocks of middle frames (a film's thumbnails as
    float32 would take 100s of MB), each block's thumbnails scaled once for all the widths, with
    :data:`SPAN_REACH` · w frames more on either side. ``active``: each frame's share of the thumbnail
    inside its bars."""
    n = len(thumbs)
    step_s = float(np.median(np.diff(t))) if n > 1 else 0.04
    shortest, longest = (max(1, int(round(s / step_s / 2))) for s in params.dissolve_s)
    widths = sorted({*np.unique(np.geomspace(shortest, longest, 6).round().astype(int))})
    cumulative = np.r_[0.0, np.cumsum(luma[1:], dtype=np.float64)]  # cumulative[i] = sum of steps 1..i
    hard_marks = np.zeros(n + 1, np.int64)
    for h in hard:
        hard_marks[h] = 1
    hard_before = np.cumsum(hard_marks)  # hard boundaries at frames <= i
    for a in range(0, n, 8192):  # middle frames a..b - 1
        b = min(n, a + 8192)
        low = max(0, a - SPAN_REACH * widths[-1])
        scaled = thumbs[low : min(n, b + SPAN_REACH * widths[-1])].astype(np.float32) / 255.0
        for w in widths:
            if 2 * w >= n:
                break
            m0, m1 = max(a, w), min(b, n - w)
            if m0 >= m1:
                continue
            m = np.arange(m0, m1)
            first, mid, last = (scaled[m0 + d - low : m1 + d - low] for d in (-w, 0, w))
            change = np.abs(last - first).mean(axis=1)
            path = cumulative[m + w] - cumulative[m - w]
            no_hard = hard_before[m + w] - hard_before[m - w] == 0
            level = change / np.maximum(active[m], MIN_ACTIVE_SHARE)  # bars do not change
            yield _SpanBlock(
                low, scaled, w, m, first, mid, last, change, level, (change >= params.dissolve_monotony * path) & no_hard, no_hard
            )


class _Search(NamedTuple):
    """A search over the spans of :func:`_spans`: ``visit`` each block of them in turn, then ``finish``:
    the (first, middle, last) frame of every transition found."""

    visit: Callable[[_SpanBlock], None]
    finish: Callable[[], list[tuple[int, int, int]]]


def _searched(
    thumbs: np.ndarray, t: np.ndarray, luma: np.ndarray, hard: list[int], params: ShotParams, boxes: np.ndarray | None,
    *searches: Callable[[int, ShotParams, np.ndarray | None], _Search],
) -> list[list[tuple[int, int, int]]]:
    """What each of ``searches`` (made with the number of frames, ``params`` and ``boxes``) finds over
    one pass of the spans (:func:`_spans`): each block's thumbnails are scaled once for all of them."""
    n = len(thumbs)
    if n < 3:
        return [[] for _ in searches]
    made = [search(n, params, boxes) for search in searches]
    active = np.ones(n) if boxes is None else _active_share(boxes)
    for block in _spans(thumbs, t, luma, hard, params, active):
        for search in made:
            search.visit(block)
    return [search.finish() for search in made]


def _nested(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Whether one of the frame spans ``a`` and ``b`` (first, last) lies within the other."""
    return (b[0] <= a[0] and a[1] <= b[1]) or (a[0] <= b[0] and b[1] <= a[1])


DISSOLVE_RUN_GAP = 2
"""Two runs of middle frames with a dissolve's span (see :func:`_dissolve_search`) at most this many
frames apart are one dissolve: two dissolves have a shot between them, whose middle frames fail."""


def _dissolve_search(n: int, params: ShotParams, boxes: np.ndarray | None) -> _Search:
    """(first, middle, last) frame of every dissolve: spans m − w … m + w over which the thumbnail
    changes monotonously, by at least ``dissolve_min_change`` (or by at least ``dissolve_still_change``
    where it changes ``dissolve_still_contrast`` times less over m − 3w … m − w and m + w … m + 3w),
    through the mean of both ends and through mixes of them (:func:`_mix_residual`), with no hard
    boundary in ``hard`` inside, between two pictures (not one at two gains: a fade)."""
    best = np.zeros(n)  # per middle frame: the largest change of a span that passes
    best_w = np.zeros(n, np.int64)

    def visit(block: _SpanBlock) -> None:
        low, scaled, w, m, first, mid, last, change, level, monotonous, _ = block
        ok = (level >= params.dissolve_min_change) & monotonous
        # weaker, between two still pictures: the spans of the same length either side change far less
        still = np.flatnonzero(~ok & monotonous & (level >= params.dissolve_still_change) & (m >= 3 * w) & (m + 3 * w < n))
        if still.size:
            at = m[still] - low
            around = np.maximum(
                np.abs(scaled[at - w] - scaled[at - 3 * w]).mean(axis=1), np.abs(scaled[at + 3 * w] - scaled[at + w]).mean(axis=1)
            )
            ok[still] = change[still] >= params.dissolve_still_contrast * np.maximum(around, 1e-3)
        # the costlier tests only where these pass (few frames): row by row, the same values
        kept = np.flatnonzero(ok)
        if kept.size:
            first, mid, last, strong = first[kept], mid[kept], last[kept], change[kept]
            passes = np.abs(mid - 0.5 * (first + last)).mean(axis=1) <= params.dissolve_linearity * strong
            # not one picture at two gains (a fade in or out, or a slow change of exposure): the
            # end frames are not proportional, within the linearity tolerance
            for x, y in ((first, last), (last, first)):
                gain = (x * y).sum(axis=1) / np.maximum((x * x).sum(axis=1), 1e-9)
                passes &= np.abs(y - gain[:, None] * x).mean(axis=1) > params.dissolve_linearity * strong
            # every frame between is a mix of the two ends, not only the middle one
            where = np.flatnonzero(passes)
            passes[where] = _mix_residual(scaled, m[kept[where]] - low, w, first[where], last[where]) <= params.dissolve_max_residual
            # nor one picture at two exposures, where the highlights clip (an iris opening): the
            # change has one sign nearly everywhere and neighbouring pixels keep their order
            where = np.flatnonzero(passes)
            passes[where] = ~_one_picture_brighter(first[where], last[where], params)
            # nor one picture moved a little (a slow pan or tilt)
            where = np.flatnonzero(passes)
            passes[where] = ~_moved(first[where], last[where])
            # nor a graphic fading in over the shot: the change reaches across the active picture
            where = np.flatnonzero(passes)
            if params.dissolve_min_extent > 0 and where.size:
                at = m[kept[where]]
                inside = np.tile([0.0, 0.0, 1.0, 1.0], (len(at), 1)) if boxes is None else boxes[at]
                passes[where] = _extent(scaled, at - low, w, inside) >= params.dissolve_min_extent
            ok[kept] = passes
        better = ok & (change > best[m])
        best[m[better]] = change[better]
        best_w[m[better]] = w

    def finish() -> list[tuple[int, int, int]]:
        runs = []  # runs of middle frames that pass, each with its widest half-width
        i = 0
        while i < n:
            if best[i] == 0:
                i += 1
                continue
            j = i
            while j < n and best[j] > 0:
                j += 1
            w = int(best_w[i:j].max())
            if runs and (
                i - runs[-1][1] <= DISSOLVE_RUN_GAP
                or _nested((i - w, j - 1 + w), (runs[-1][0] - runs[-1][2], runs[-1][1] - 1 + runs[-1][2]))
            ):
                # a middle frame where a test just fails (the mix residual of a span that reaches into the
                # speaker's motion) splits a dissolve's run in two: runs a frame or two apart, or whose spans
                # lie one inside the other, are the same dissolve. Spans that only overlap are two (two
                # dissolves 1.8 s apart, each found over up to 2 s)
                runs[-1] = (runs[-1][0], j, max(w, runs[-1][2]))
            else:
                runs.append((i, j, w))
            i = j
        out = []
        for i, j, w in runs:  # one dissolve each, at the strongest
            run = np.arange(i, j)
            # the middle of the run's widest strong span: the run is symmetric about the dissolve's middle
            top = run[best[run] >= 0.9 * best[run].max()]
            middle = int(round(0.5 * (top[0] + top[-1])))
            out.append((max(0, i - w), middle, min(n - 1, j - 1 + w)))
        return out

    return _Search(visit, finish)


def _dissolves(
    thumbs: np.ndarray, t: np.ndarray, luma: np.ndarray, hard: list[int], params: ShotParams, boxes: np.ndarray | None = None
) -> list[tuple[int, int, int]]:
    """:func:`_dissolve_search` alone over the spans of ``thumbs``."""
    return _searched(thumbs, t, luma, hard, params, boxes, _dissolve_search)[0]


WIPE_PIXEL_CHANGE = 24 / 255
"""A thumbnail pixel takes part in a wipe when it changes by at least this from the wipe's first frame
to its last (see :func:`_wipe_search`)."""
WIPE_HALFWAY = 0.3
"""... at most this share of them are between a quarter and three quarters of their way on the span's
middle frame (a first, quick test: a dissolve's are all halfway there) ..."""
WIPE_SWITCH_BACK = 0.05
"""... and at most this share of the switches between consecutive frames go back (a wipe's edge moves
one way; motion goes back and forth)."""


def _switching(scaled: np.ndarray, middles: np.ndarray, w: int, strong: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For the frames strictly between ``middles − w`` and ``middles + w`` of ``scaled`` [shape=(n,
    side²)], of the ``strong`` pixels of each [shape=(k, side²), bool]: the share nearer the last frame
    than the first on each frame [shape=(k, 2w − 1)], each pixel's mean number of frames between a
    quarter and three quarters of its way [shape=(k,)], and the share of the switches between
    consecutive frames that go back [shape=(k,)]."""
    first, last = scaled[middles - w], scaled[middles + w]
    frames = scaled[middles[:, None] + np.arange(-w + 1, w)]  # (k, 2w − 1, side²)
    way = (frames - first[:, None]) / np.where(strong, last - first, 1.0)[:, None]
    switched = (way > 0.5) & strong[:, None]
    count = np.maximum(strong.sum(axis=1), 1)
    halfway = ((way > 0.25) & (way < 0.75) & strong[:, None]).sum(axis=(1, 2)) / count
    back = (switched[:, :-1] & ~switched[:, 1:]).sum(axis=(1, 2)) / np.maximum(switched.sum(axis=(1, 2)), 1)
    return switched.sum(axis=2) / count[:, None], halfway, back


def _wipe_search(n: int, params: ShotParams, boxes: np.ndarray) -> _Search:
    """(first, middle, last) frame of every wipe: the next shot replaces the picture part by part, each
    part at once, over at least ``wipe_min_frames`` frames (a line or a shape sweeping across). Over
    a span m − w … m + w with no hard boundary of ``hard`` inside, the thumbnail changes by at least
    ``dissolve_min_change``, at least ``wipe_min_cover`` of the active picture's pixels change by
    :data:`WIPE_PIXEL_CHANGE` or more, and each of them goes from the first frame's value to the
    last's in at most ``wipe_max_pixel_share`` of the frames over which the picture as a whole goes
    (a dissolve moves every pixel together, over all of it), one way (:data:`WIPE_SWITCH_BACK`).
    The middle frame is the first on which most of those pixels show the next shot."""
    if params.wipe_max_pixel_share <= 0:
        return _Search(lambda block: None, list)
    side = THUMB_SIDE
    edges = _thumbnail_edges(boxes)
    found: dict[int, tuple[int, int, int, int]] = {}  # middle frame: (frames the picture takes, first, last, w)

    def visit(block: _SpanBlock) -> None:
        low, scaled, w, m, first, mid, last, size, level, monotonous, _ = block
        kept = np.flatnonzero((level >= params.dissolve_min_change) & monotonous)
        # a wipe's middle frame shows parts of both shots, not their mean (a dissolve's does)
        mid = mid[kept]
        parts = np.abs(mid - 0.5 * (first[kept] + last[kept])).mean(axis=1) > params.dissolve_linearity * size[kept]
        kept, mid = kept[parts], mid[parts]
        if not kept.size:
            return
        box = edges[m[kept]]
        index = np.arange(side)[None, :]
        rows, cols = (index >= box[:, 1:2]) & (index < box[:, 3:4]), (index >= box[:, 0:1]) & (index < box[:, 2:3])
        inside = rows[:, :, None] & cols[:, None, :]
        inside = inside.reshape(len(kept), -1)
        strong = (np.abs(last[kept] - first[kept]) >= WIPE_PIXEL_CHANGE) & inside
        covered = (strong.sum(axis=1) >= params.wipe_min_cover * inside.sum(axis=1)) & strong.any(axis=1)
        # ... and at the middle frame most of those pixels show one shot or the other, not a mix
        way = (mid[covered] - first[kept[covered]]) / np.where(strong[covered], last[kept[covered]] - first[kept[covered]], 1.0)
        halfway = ((way > 0.25) & (way < 0.75) & strong[covered]).sum(axis=1) / strong[covered].sum(axis=1)
        covered[np.flatnonzero(covered)[halfway > WIPE_HALFWAY]] = False
        # every few middle frames on the longer spans: a wipe shows on many middles, and each span
        # finds its frames (the middle it reports is where the picture is half replaced, not m)
        sel = np.flatnonzero(covered)
        sel = sel[m[kept[sel]] % max(1, w // 4) == 0]
        chosen, chosen_strong = kept[sel], strong[sel]
        for lo in range(0, len(chosen), 256):  # in blocks: (k, 2w − 1, side²) floats for a long span
            part, pixels = chosen[lo : lo + 256], chosen_strong[lo : lo + 256]
            shares, each, back = _switching(scaled, m[part] - low, w, pixels)
            going = (shares > 0.1) & (shares < 0.9)
            frames = going.sum(axis=1)
            passes = (frames >= params.wipe_min_frames) & (each <= params.wipe_max_pixel_share * frames) & (back <= WIPE_SWITCH_BACK)
            # ... between two pictures, not one moved (a pan across a face switches its pixels from
            # the background to the face one after another, one way)
            where = np.flatnonzero(passes)
            passes[where] = ~_moved(first[part[where]], last[part[where]], PUSH_PAN_SHIFT)
            # ... and half of them show the next shot on a frame between (else the picture does not go
            # over to it within the span: a cut just after it, its frame before half of each shot)
            passes &= (shares >= 0.5).any(axis=1)
            for j in np.flatnonzero(passes).tolist():
                start = int(m[part[j]]) - w + 1
                middle = start + int(np.argmax(shares[j] >= 0.5))
                on = np.flatnonzero(going[j])
                if frames[j] > found.get(middle, (0,))[0]:
                    found[middle] = (int(frames[j]), start + int(on[0]) - 1, start + int(on[-1]) + 1, w)

    def finish() -> list[tuple[int, int, int]]:
        out = []
        for middle in sorted(found):  # middles within one another's span: one wipe, the one the picture takes longest over
            frames, first, last, _ = found[middle]
            if out and first <= out[-1][2]:
                if frames > out[-1][3]:
                    out[-1] = (min(first, out[-1][0]), middle, max(last, out[-1][2]), frames)
                continue
            out.append((first, middle, last, frames))
        return [(first, middle, last) for first, middle, last, _ in out]

    return _Search(visit, finish)



PUSH_STEPS = 4
"""Offsets of a push looked for per thumbnail pixel (a quarter-pixel grid, between the pixels' values
linearly: a thumbnail pixel is the mean of its block, a shifted block the mix of two)."""
PUSH_SEAM = 2.0
"""A push whose two pictures join seamlessly is a pan across one scene (a whip pan fits the same
model): where the two pictures meet, they differ by at least this many times as much as neighbouring
columns of each picture do (the median) ..."""
PUSH_SEAM_EDGES = 1.25
"""... and at least this many times as much as the two columns at each picture's edge do (unless both
edges are bars: a camera does not move bars). Measured on the thumbnails (benchmarks/README.md,
2026-12-07): 8 whip pans of one width across still and playing pictures 0.1-1.9 and 0.1-1.1;
5 pushes 3.0-12.6 and 3.2-24.0; two pushes whose pictures' edges look alike at 16 × 16 (face_3 into
face_5, 8 frames; the lizard into face_3) 1.7 and 1.1, 1.4 and 1.1: taken for pans. So the pictures must
join in colour too (:data:`PUSH_SEAM_COLOUR`)."""
PUSH_SEAM_COLOUR = 12 / 255
"""Two pictures join in colour (:func:`_chroma_thumbnails`, U and V summed) by the same two bars, or where
they differ by less than this (0..1: 6 levels of 255 in each) whatever the steps beside the seam
(chroma is smooth within a picture: a few levels can be twice its steps, and a grey picture has none).
Two talking heads over backgrounds of one brightness seldom share their colour. Chosen on 176 random
pushes and whip pans of one width beyond the benchmark (four seeds of benchmarks/transitions.py
``--moves``; issue 23, stop 38; benchmarks/README.md), then checked on a fifth: the
pushes that joined in brightness at every span differed by 15-85 levels where they met, the whip pans
that failed the bars in colour by at most 11; any value from 10 to 14 gives the same results there."""
PUSH_PAN_SHIFT = 12
"""A wipe's ends must be two pictures, not one moved by up to this many pixels (:func:`_moved`: a pan
across a face switches its pixels from the background to the face one after another, one way)."""
PUSH_MIDDLE_OFF = 0.25
"""First, quickest test of a span for a push: its middle frame lies at least this share of the change
from the nearest mix of its ends (on the edits, 23 of 629 spans looked at on edit_5 and 14 of 664 on
edit_24 pass 0.3; the spans that find each push of benchmarks/transitions.py 0.6 and more) ..."""
PUSH_PROFILE = 0.5
"""... then the middle frame's column means (row means for a push up or down) lie at most this share
as far from the two end pictures' side by side as from their nearest mix."""
PUSH_OVERLAP_SHIFT = 8
"""... and spans whose last picture is the first moved by up to this many pixels (:func:`_moved`: its
ends overlap by half the picture or more) are a pan, not a push (a push's two pictures are two shots).
A pan whose ends overlap by less is left to the push fit, the seam (:func:`_seamless`) and the camera
moving on (:func:`_moving_on`): on a sliver of 4-5 columns two smooth pictures match by chance (face_1
into the lizard and back, 8-frame pushes of benchmarks/transitions.py ``--moves``, matched at 10-12
pixels: missed with :data:`PUSH_PAN_SHIFT` here; issue 23, stop 39, benchmarks/README.md). The wipe
search keeps :data:`PUSH_PAN_SHIFT`."""
_PUSH_SIDES = ("right", "left", "bottom", "top")
_PUSH_MODELS = ((True, True), (False, True), (True, False))
"""Which of the two pictures moves: both (a push), the next one (it slides in over the still
picture), the first one (it slides out, uncovering the next)."""


def _turned(x: np.ndarray, side: str) -> np.ndarray:
    """Thumbnails [shape=(..., side, side)] turned so that a picture coming in from ``side`` comes in
    from the right."""
    if side in ("bottom", "top"):
        x = np.swapaxes(x, -1, -2)
    return x[..., ::-1] if side in ("left", "top") else x


def _sampling(coordinates: np.ndarray) -> np.ndarray:
    """[shape=(side, side)] that takes a row of thumbnail pixels to its values at ``coordinates``
    [shape=(side,)], linearly between pixels, the edge pixels beyond the edges."""
    side = THUMB_SIDE
    c = np.clip(coordinates, 0, side - 1)
    i = np.floor(c).astype(np.int64)
    out = np.zeros((side, side))
    np.add.at(out, (np.arange(side), i), 1 - (c - i))
    np.add.at(out, (np.arange(side), np.minimum(i + 1, side - 1)), c - i)
    return out


@functools.lru_cache(maxsize=16)
def _slide_operators(out_moves: bool, in_moves: bool, whole: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """For every offset s of ``0 … side`` in :data:`PUSH_STEPS` steps, the maps of the first and the
    next picture's rows into a frame where the next one is s pixels in from the right: the first
    picture shifted left by s (``out_moves``) or in place, the next one's left s pixels (``in_moves``)
    or its own right s pixels, the column the edge crosses a mix of both. As matrices that rows
    [shape=(..., side)] multiply: [shape=(side, offsets · side)], column s · side + x of the frame's
    pixel x at offset s. ``whole``: whole pixels only (offsets 0 … side)."""
    side = THUMB_SIDE
    x = np.arange(side, dtype=np.float64)
    outgoing, incoming = [], []
    for s in np.arange(side + 1) if whole else np.linspace(0, side, PUSH_STEPS * side + 1):
        share = np.clip(side - (x + s), 0, 1)[:, None]  # of each column, the part the first picture holds
        outgoing.append(share * _sampling(x + s if out_moves else x))
        incoming.append((1 - share) * _sampling(x + s - side if in_moves else x))
    return tuple(np.ascontiguousarray(np.stack(ops).transpose(2, 0, 1).reshape(side, -1)) for ops in (outgoing, incoming))


def _joins(first: np.ndarray, last: np.ndarray, floor: float = 0.0) -> bool:
    """Whether the right edge of ``first`` and the left edge of ``last`` [shape=(channels, side, side),
    turned] join like neighbouring columns of one picture (see :data:`PUSH_SEAM`), their differences
    summed over the channels; a difference under ``floor`` joins whatever the steps beside it."""
    jump = float(np.abs(first[..., -1] - last[..., 0]).sum(axis=0).mean())
    steps = [np.abs(np.diff(x, axis=-1)).sum(axis=0).mean(axis=0) for x in (first, last)]
    typical = float(np.median(np.r_[steps[0], steps[1]]))
    at_edges = 0.5 * float(steps[0][-1] + steps[1][0])
    return jump < PUSH_SEAM * typical or jump < PUSH_SEAM_EDGES * at_edges or jump < floor


def _seamless(first: np.ndarray, last: np.ndarray, bar: float, colour: tuple[np.ndarray, np.ndarray] | None = None) -> bool:
    """Whether the right edge of ``first`` and the left edge of ``last`` [shape=(side, side), turned]
    join like neighbouring columns of one picture, in brightness and, given both pictures' ``colour``
    [shape=(2, side, side), chroma, turned], in colour (see :data:`PUSH_SEAM_COLOUR`)."""
    if first[:, -1].max() <= bar and last[:, 0].max() <= bar:
        return False  # bars moving with the pictures: an edit, not a camera
    return _joins(first[None], last[None]) and (colour is None or _joins(*colour, PUSH_SEAM_COLOUR))


def _push_fit(
    first: np.ndarray, last: np.ndarray, frames: np.ndarray, params: ShotParams, tried: np.ndarray,
    colour: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[float, np.ndarray] | None:
    """The best push or slide from ``first`` into ``last`` [shape=(side, side)] through ``frames``
    [shape=(k, side, side)]: (score, each frame's offset in pixels) of the side and the model whose
    frames lie nearest to them, the score their distance from them as a share of their distance from
    the nearest mix of the ends, over the frames on the move; ``None`` when no model explains the
    frames as a move from one end to the other (see :func:`_push_search`). ``tried`` [shape=(sides,
    models), bool]: the sides (:data:`_PUSH_SIDES`) and models (:data:`_PUSH_MODELS`) to try.
    ``colour``: the chroma thumbnails of ``first`` and ``last`` [shape=(2, side, side)], if known."""
    side = THUMB_SIDE
    offsets = np.linspace(0, side, PUSH_STEPS * side + 1)
    best = None
    for i, where in enumerate(_PUSH_SIDES):
        if not tried[i].any():
            continue
        a, b, f = _turned(first, where), _turned(last, where), _turned(frames, where)
        off = _off_mix(f.reshape(len(f), -1), a.ravel(), b.ravel())
        for (out_moves, in_moves), trying in zip(_PUSH_MODELS, tried[i]):
            if not trying:
                continue
            outgoing, incoming = _slide_operators(out_moves, in_moves)
            predicted = (a @ outgoing + b @ incoming).reshape(side, -1, side)  # (rows, offsets, columns)
            distance = np.abs(f[:, :, None] - predicted[None]).mean(axis=(1, 3))  # (frames, offsets)
            s = offsets[distance.argmin(axis=1)]
            moving = (s > 0.5) & (s < side - 0.5)
            steps = np.diff(s)
            # from one end to the other (a fast push is a step in on the first frame between), one way
            edge = max(1.0, 1.5 * float(np.median(steps[steps > 0]))) if (steps > 0).any() else 1.0
            if moving.sum() < params.wipe_min_frames or s[0] > edge or s[-1] < side - edge or np.clip(-steps, 0, None).sum() > 1:
                continue
            score = float(distance.min(axis=1)[moving].sum() / max(float(off[moving].sum()), 1e-12))
            if best is None or score < best[0]:
                best = (score, s, out_moves and in_moves, where)
    if best is None:
        return None
    score, s, both, where = best
    turned = None if colour is None else tuple(_turned(x, where) for x in colour)
    if both and _seamless(_turned(first, where), _turned(last, where), params.bar_level / 255.0, turned):
        return None  # a pan across one scene
    return score, s


PUSH_STILL_LAG = 2
"""A push starts from one picture and ends on the other: the frames this many frames before its first and
after its last are those pictures not moved by more than a thumbnail pixel (:func:`_moving_on`)."""


def _moving_on(scaled: np.ndarray, low: int, begin: int, end: int) -> bool:
    """Whether the picture moves on beyond a push's span ``begin`` … ``end`` (frames; ``scaled``
    [shape=(frames, side²)] from frame ``low``): the frame :data:`PUSH_STILL_LAG` before ``begin`` or
    after ``end`` is the picture at that end moved by more than a thumbnail pixel (:func:`_moved`),
    as a camera panning across a scene wider than the frame keeps moving where a stretch of its pan
    whose ends lie one width apart fits a push. Frames beyond the block are not looked at."""
    pairs = [(begin - PUSH_STILL_LAG, begin), (end, end + PUSH_STILL_LAG)]
    pairs = [(a - low, b - low) for a, b in pairs if 0 <= a - low and b - low < len(scaled)]
    if not pairs:
        return False
    a, b = (scaled[[pair[k] for pair in pairs]] for k in (0, 1))
    return bool(_moved(a, b, MOVE_MAX_SHIFT, 1).any())


def _push_search(n: int, params: ShotParams, boxes: np.ndarray, chroma: np.ndarray | None = None) -> _Search:
    """(first, middle, last) frame of every push or slide: over a span m − w … m + w with no hard
    boundary of ``hard`` inside, where the thumbnail changes by at least ``dissolve_min_change``, every
    frame is the two end pictures side by side (:func:`_slide_operators`: the next one coming in from
    a side, one or both of them moving) at an offset that grows from one end to the other over at
    least ``wipe_min_frames`` frames, and the frames lie at most ``push_max_residual`` as far from
    that as from the nearest mix of the ends (a dissolve's lie on the mix); a push whose pictures join
    seamlessly is a pan (:func:`_seamless`, in colour too where the ``chroma`` thumbnails [shape=(n, 2,
    side²)] are given). The middle frame is the first with the next picture half in."""
    if params.push_max_residual <= 0:
        return _Search(lambda block: None, list)
    side = THUMB_SIDE
    found = []  # (score, first, middle, last)

    def visit(block: _SpanBlock) -> None:
        low, scaled, w, m, first, mid, last, change, level, _, no_hard = block
        if 2 * w - 1 < params.wipe_min_frames + 2:
            return
        kept = np.flatnonzero((level >= params.dissolve_min_change) & no_hard & (m % max(1, w // 4) == 0))
        # a push's middle frame is parts of two pictures, far from every mix of them (a still picture's
        # or a speaker's is near one)
        kept = kept[_off_mix(mid[kept], first[kept], last[kept]) >= PUSH_MIDDLE_OFF * change[kept]]
        if not kept.size:
            return
        # then, on the middle frame's column (row) means: the two ends side by side at some offset
        a, b, f = (x[kept].reshape(-1, side, side) for x in (first, last, mid))
        likely = np.zeros((len(kept), len(_PUSH_SIDES), len(_PUSH_MODELS)), bool)
        for i, where in enumerate(_PUSH_SIDES):
            pa, pb, pf = (_turned(x, where).mean(axis=1) for x in (a, b, f))  # (k, side)
            off = _off_mix(pf, pa, pb)
            for k, (out_moves, in_moves) in enumerate(_PUSH_MODELS):
                outgoing, incoming = _slide_operators(out_moves, in_moves, whole=True)
                # a row's operator applied to the means is the means' operator: (k, offsets, side),
                # whole pixels only (a fraction of a pixel moves the distance a little)
                predicted = (pa @ outgoing + pb @ incoming).reshape(len(pa), -1, side)
                distance = np.abs(pf[:, None] - predicted).mean(axis=2)
                at = distance.argmin(axis=1)
                likely[:, i, k] = (distance.min(axis=1) <= PUSH_PROFILE * off) & (at > 0) & (at < side)
        # nor a pan or a tilt: the two ends overlap (one picture moved by up to half of it, PUSH_OVERLAP_SHIFT)
        maybe = np.flatnonzero(likely.any(axis=(1, 2)))
        maybe = maybe[~_moved(a[maybe], b[maybe], PUSH_OVERLAP_SHIFT)]
        for j in maybe.tolist():
            if any(begin <= m[kept[j]] <= end for _, begin, _, end in found):
                continue  # found already, over another span
            at = int(m[kept[j]]) - low
            frames = scaled[at - w : at + w + 1].reshape(-1, side, side)
            ends = int(m[kept[j]]) - w, int(m[kept[j]]) + w
            colour = None if chroma is None else tuple(chroma[e].reshape(2, side, side) / 255.0 for e in ends)
            fit = _push_fit(frames[0], frames[-1], frames[1:-1], params, likely[j], colour)
            if fit is None or fit[0] > params.push_max_residual:
                continue
            score, s = fit
            start = at + low - w + 1
            on = np.flatnonzero((s > 0.5) & (s < side - 0.5))
            begin, end = start + int(on[0]) - 1, start + int(on[-1]) + 1
            if _moving_on(scaled, low, begin, end):
                continue  # a stretch of a longer pan, whose ends are one width apart
            found.append((score, begin, start + int(np.argmax(s >= side / 2)), end))

    def finish() -> list[tuple[int, int, int]]:
        out: list[tuple[float, int, int, int]] = []
        for score, first, middle, last in sorted(found, key=lambda x: x[1]):  # overlapping: one push, the best fit's middle
            if out and first <= out[-1][3]:
                best = min(out[-1], (score, first, middle, last))
                out[-1] = (best[0], min(first, out[-1][1]), best[2], max(last, out[-1][3]))
                continue
            out.append((score, first, middle, last))
        return [(first, middle, last) for _, first, middle, last in out]

    return _Search(visit, finish)



def _shots(
    t: np.ndarray,
    change: np.ndarray,
    brightness: np.ndarray,
    thumbs: np.ndarray,
    boxes: np.ndarray,
    params: ShotParams,
    frame_rate: Fraction,
    chroma: np.ndarray | None = None,
) -> Shots:
    """Cuts, dissolves and fades from every frame's time, histogram change, brightness, luma
    thumbnail [shape=(n, side²), uint8], active box [shape=(n, 4)] and chroma thumbnails [shape=(n,
    2, side²), uint8; ``None``: not known, a push's seam is then judged on the luma alone]."""
    change = np.asarray(change, dtype=np.float32)
    brightness = np.asarray(brightness, dtype=np.float32)
    luma = _luma_steps(thumbs)
    n = len(t)

    fade_middles = _fade_boundaries(brightness, params.dark_level, t, params.min_shot_s)
    fade_times = t[fade_middles] if fade_middles else np.zeros(0)
    k = params.neighbour_frames
    # a histogram change where the active box moves and the luma does not is the bars' doing (a bar
    # pixel near ``bar_level``, a stray pixel at the frame's edge of an intra-coded re-encode), not
    # the picture's: it does not hide a cut beside it
    box_moved = np.r_[False, (np.abs(np.diff(boxes, axis=0)) > 1e-6).any(axis=1)]
    picture_change = np.where(box_moved & (luma < params.similar_min_luma), 0.0, change).astype(np.float32)
    repeats = _repeats(luma)  # frames shown twice: the contrast is with the steps beside them
    change_contrast = change >= params.similar_contrast * _neighbour_max(picture_change, k, skip=repeats)
    luma_contrast = luma >= params.similar_contrast * _neighbour_max(luma, k, skip=repeats)
    similar = (change >= params.similar_min_change) & (luma >= params.similar_min_luma) & change_contrast & luma_contrast
    # ... or where the picture's structure steps, sharply, whatever the histogram does (black and white,
    # flicker and grain)
    structure = _structure_steps(thumbs, boxes)
    similar |= (
        (structure >= params.structure_min)
        & (structure >= params.structure_contrast * _neighbour_max(structure, k, skip=repeats))
        & (luma >= params.structure_min_luma)
    )
    # ... or the same over two frames, one of which holds half of each shot (fields woven across the cut)
    split = _split_cuts(change, picture_change, luma, thumbs, params, repeats) & ~similar & ~np.r_[False, similar[:-1]]
    similar |= split
    cuts: list[int] = []
    # a cut with a luma step outranks one without beside it: a frame woven across a cut between two
    # shots of one brightness carries the next shot's colour in its chroma (4:2:0 shares a line pair's)
    # while its sampled lines, all even, are the first shot's; the luma steps on the next frame
    firmness = (luma >= params.similar_min_luma) | split
    candidates = np.flatnonzero((change >= params.cut_threshold) | similar)
    for i in candidates:
        if i == 0:
            continue
        if fade_times.size and np.min(np.abs(fade_times - t[i])) < params.min_shot_s:
            continue  # the dark end of a fade (hue is noise in near-black frames), not a cut
        if not similar[i]:
            around = (np.abs(t - t[i]) <= params.context_s) & (np.arange(n) != i)
            local = float(np.median(change[around])) if np.any(around) else 0.0
            if change[i] < params.cut_ratio * local:
                continue
        if luma[i] >= params.similar_min_luma and _is_flash(thumbs, int(i), float(luma[i]), params):
            continue
        if _exposure_step(thumbs, boxes, int(i), params):
            continue  # one picture at another exposure or tone curve (an iris, a keyframe's refresh)
        if cuts and t[i] - t[cuts[-1]] < params.min_shot_s:
            if (firmness[i], change[i]) > (firmness[cuts[-1]], change[cuts[-1]]):
                cuts[-1] = int(i)  # the stronger of two close candidates
            continue
        cuts.append(int(i))
    fades = [f for f in fade_middles if f not in cuts]
    # a colour cut with hardly a luma step may be a dissolve's last frame, where the bars of the shot
    # going out vanish from the active picture: it does not stop a dissolve, and one inside a dissolve
    # is not a cut
    firm = [c for c in cuts if firmness[c]]
    hard = sorted({*firm, *fades})
    pushes_in = functools.partial(_push_search, chroma=chroma)
    dissolves, pushes, wipes = _searched(thumbs, t, luma, hard, params, boxes, _dissolve_search, pushes_in, _wipe_search)
    # a push where no dissolve is (a dissolve's spans, wider than it, can look like one), a wipe where
    # neither is (a push's pixels can switch one way, as a wipe's do); both are reported as wipes
    pushes = [(a, m, b) for a, m, b in pushes if not any(a <= last and first <= b for first, _, last in dissolves)]
    wipes = [(a, m, b) for a, m, b in wipes if not any(a <= last and first <= b for first, _, last in [*dissolves, *pushes])]
    wipes = sorted([*wipes, *pushes])
    cuts = [c for c in cuts if c in firm or not any(a < c <= b for a, _, b in [*dissolves, *wipes])]
    dissolve_middles = [m for _, m, _ in dissolves]
    wipe_middles = [m for _, m, _ in wipes]

    starts = sorted({0, *cuts, *fades, *dissolve_middles, *wipe_middles})
    kinds = [0 if s == 0 else (1 if s in cuts else (2 if s in fades else (3 if s in dissolve_middles else 4))) for s in starts]
    start = np.asarray(starts, dtype=np.int64)
    end = np.r_[start[1:] - 1, n - 1].astype(np.int64)
    rate = Fraction(frame_rate)
    active = np.stack([np.median(boxes[a : b + 1], axis=0) for a, b in zip(start, end)]).astype(np.float32)
    return Shots(
        start_frame=start,
        end_frame=end,
        start_time_s=t[start],
        end_time_s=t[end],
        boundary=np.asarray(kinds, dtype=np.int8),
        frame_times_s=t,
        change=change,
        brightness=brightness,
        luma_change=luma,
        active_box=active,
        dissolve_span=np.asarray([(a, b) for a, _, b in dissolves], dtype=np.int64).reshape(-1, 2),
        wipe_span=np.asarray([(a, b) for a, _, b in wipes], dtype=np.int64).reshape(-1, 2),
        frame_rate_num=rate.numerator,
        frame_rate_den=rate.denominator,
        version=shots_version(params),
    )


@functools.cache
def _threadpools():
    """The thread pools (BLAS, OpenMP) of the libraries loaded so far, numpy's among them, found once:
    looking for them costs a millisecond, a good part of the set-up of a short clip."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@dataclass
class _Part:
    """Per-frame results of consecutive frames: the input of :func:`_shots`, joined part after part."""

    times: np.ndarray
    changes: np.ndarray
    brightness: np.ndarray
    thumbs: np.ndarray
    boxes: np.ndarray
    chroma: np.ndarray
    first_histogram: np.ndarray
    last_histogram: np.ndarray


def _changes(batches: Iterable[SampledFrames], params: ShotParams) -> _Part | None:
    """Times, histogram changes (0 for the first frame), brightness, thumbnails, active boxes and
    chroma thumbnails of the frames of ``batches``; ``None`` when there is none."""
    histograms = _SampledHistograms(params)
    times, changes, bright, thumbs, boxes, chroma = [], [], [], [], [], []
    first = previous = None
    for batch in batches:
        features = histograms(batch)
        hists = features.histograms
        steps = np.diff(np.vstack([hists[:1] if previous is None else previous, hists]), axis=0)
        changes.append(0.5 * np.abs(steps).sum(axis=1))  # 0 for the first frame
        first = hists[:1] if first is None else first
        previous = hists[-1:]
        times.append(batch.times_s)
        bright.append(features.brightness)
        thumbs.append(features.thumbs)
        boxes.append(features.boxes)
        chroma.append(features.chroma)
    if first is None:
        return None
    return _Part(*(np.concatenate(x) for x in (times, changes, bright, thumbs, boxes, chroma)), first, previous)


_PER_FRAME = ("times", "changes", "brightness", "thumbs", "boxes", "chroma")


def _joined(parts: list[_Part | None]) -> tuple[np.ndarray, ...]:
    """Times, changes, brightness, thumbnails, active boxes and chroma thumbnails of consecutive parts as one sequence:
    the change at the start of a part is from the last frame of the part before."""
    parts = [part for part in parts if part is not None]
    for before, part in zip(parts, parts[1:]):
        step = np.diff(np.vstack([before.last_histogram, part.first_histogram]), axis=0)
        part.changes[0] = (0.5 * np.abs(step).sum(axis=1))[0]  # as _changes computes it within a part
    return tuple(np.concatenate([getattr(part, name) for part in parts]) for name in _PER_FRAME)


BATCH = 64
"""Frames measured together (:func:`ml.decoding.video.iter_sampled`'s ``batch``): each batch costs some
fixed work (about 40 calls: the colour conversions, the active boxes, the thumbnails, the spreads),
a quarter as much per frame as with 16 (on the 854 × 480 title, one thread: 0.109 ms a frame of CPU
above decoding against 0.138; benchmarks/README.md, 2026-12-06). The results do not depend on it."""

SPANS_PER_THREAD = 4
"""With ``in_spans`` and several threads, the picture is cut at key frames into about this many
spans per thread, so that a thread that drew a short span takes another (key frames are seldom
evenly spaced)."""

MIN_SPAN_S = 2.0
"""... but spans are no shorter than about this: each one opens the file and seeks."""


def shot_spans(path: str | Path, threads: int, info: VideoInfo | None = None) -> list[Span]:
    """The spans :func:`shots_from_file` decodes in parallel with ``threads`` threads and ``in_spans``
    (one span, the whole stream, with one thread or when the file cannot be cut)."""
    info = info or probe_video(path)
    if threads < 2 or not info.duration_s:
        return [Span()]
    parts = min(SPANS_PER_THREAD * threads, int(info.duration_s / MIN_SPAN_S))
    # a multiple of the threads: n spans of a clip's T seconds keep the last thread busy for about
    # ceil(n / threads) · T / n, so 5 spans on 2 threads take 0.6 T where 4 take 0.5 T
    parts -= parts % threads if parts >= threads else 0
    return key_frame_spans(path, max(1, parts))


def shots_from_file(
    path: str | Path,
    params: ShotParams | None = None,
    *,
    threads: int = 2,
    in_spans: bool = True,
    progress: Callable[[float, float | None], None] | None = None,
) -> Shots:
    """Shots of the first video stream of ``path`` (decoded on stream timestamps, every s-th pixel
    kept so that at most about ``params.max_height`` lines remain).

    With ``in_spans`` (the default) and ``threads`` ≥ 2 the stream is cut at key frames into spans
    (:func:`ml.decoding.video.key_frame_spans`) that ``threads`` Python threads decode, each with a
    one-thread decoder, and measure; a file that cannot be cut (no index, no timestamps, seeks that
    miss) is decoded in one pass. Without ``in_spans`` it is decoded in one pass by one decoder with
    ``threads`` FFmpeg threads, which runs ahead in a thread of its own while the histograms are
    computed. Both give the same result, frame for frame, at about the same CPU time. Wall time
    (``benchmarks/shots_speed.py``, benchmarks/README.md 2026-12-06): on this 2-core machine with
    nothing else running (load 1-1.5) the spans ran at 0.95-1.01 × decode-only on 720p edits and a
    delivery-like title against 0.73-0.87 for the one pass, and still ahead at load 5-7; only with
    both cores busy with other work (load 8-17) did the one pass win (FFmpeg's threads decode without
    Python's lock). So the spans are the default; ``in_spans=False`` suits a machine whose cores are
    taken by other work.

    ``progress(seconds_done, duration_s)`` is called as the work goes on: after each span (seconds
    done: the spans finished), or after each batch of frames in one pass (``duration_s`` is the
    container's, ``None`` if it declares none).

    Raises
    ------
    MediaError
        The file is unreadable, has no video stream, or a frame cannot be decoded.
    """
    params = params or ShotParams()
    if threads < 1:
        raise ParameterError(f"threads={threads} must be >= 1")
    info = probe_video(path)
    parts = None
    # BLAS threads would spin for each small product and fight the decoder for the cores (1.3× slower)
    with _threadpools().limit(limits=1, user_api="blas"):
        spans = shot_spans(path, threads, info) if in_spans else [Span()]
        if len(spans) > 1:
            parts = _in_spans(path, spans, params, threads, progress, info.duration_s)
        if parts is None:
            # decoding (FFmpeg) runs ahead in a thread while the histograms (numpy, OpenCV) are computed
            batches = prefetched(_sampled(path, params, threads), depth=4)
            if progress is not None:
                batches = _reporting(batches, progress, info.duration_s)
            parts = [_changes(batches, params)]
    if all(part is None for part in parts):
        raise MediaError(path, "the video stream holds no decodable frame")
    times, changes, brightness, thumbs, boxes, chroma = _joined(parts)
    return _shots(times, changes, brightness, thumbs, boxes, params, info.frame_rate or Fraction(25), chroma)


def _sampled(path: str | Path, params: ShotParams, threads: int, span: Span | None = None) -> Iterator[SampledFrames]:
    """The detector's samples of ``path`` (or of one span): ``BATCH`` frames at a time, decoded as
    ``params`` say (deblocking filter, reduced size)."""
    return iter_sampled(
        path, max_height=params.max_height, batch=BATCH, threads=threads, span=span, deblock=params.deblock, reduce=params.reduced_decode
    )


def _reporting(
    batches: Iterable[SampledFrames], progress: Callable[[float, float | None], None], duration_s: float | None
) -> Iterator[SampledFrames]:
    for batch in batches:
        yield batch
        progress(float(batch.times_s[-1]), duration_s)


def _in_spans(
    path: str | Path,
    spans: list[Span],
    params: ShotParams,
    threads: int,
    progress: Callable[[float, float | None], None] | None = None,
    duration_s: float | None = None,
) -> list[_Part | None] | None:
    """:func:`_changes` of every span, ``threads`` spans at a time; ``None`` if a seek missed its key
    frame (:class:`ml.decoding.video.SeekError`). ``progress`` hears of each span finished, in the caller's
    thread."""
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    import cv2  # noqa: F401  # here, before the threads: two threads importing OpenCV at once see a half-made module

    def measure(span: Span) -> _Part | None:
        return _changes(_sampled(path, params, 1, span), params)

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="dubsync-shots") as pool:
        futures = [pool.submit(measure, span) for span in spans]
        try:
            pending, done_s = set(futures), 0.0
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    part = future.result()  # raises the span's error, if any
                    if progress is not None and part is not None:
                        done_s += float(part.times[-1] - part.times[0])
                        progress(done_s, duration_s)
            return [future.result() for future in futures]
        except SeekError:
            return None
        finally:
            for future in futures:
                future.cancel()
