"""Shot boundaries: hard cuts from HSV colour-histogram changes, fades from black frames.

For each frame (every s-th pixel, about ``max_height`` lines), a soft HSV histogram: every pixel is spread linearly
over the two nearest bins of each channel (hue circularly), so that a slow change (a fade, a pan)
moves histogram mass smoothly instead of jumping bin boundaries. The change between two frames is
the total variation of their histograms (0 = same colours, 1 = no colour in common).

- A **hard cut** at frame i: the change from frame i − 1 is at least ``cut_threshold`` and at least
  ``cut_ratio`` times the median change around it (fast motion changes its neighbours too), the
  previous cut is at least ``min_shot_s`` earlier, and no fade boundary is closer than that (the
  hue of near-black frames at the end of a fade is noise).
- A **fade** passes through black: a run of frames whose mean brightness is at most
  ``dark_level``, lit on both sides; its middle frame is a fade boundary (PySceneDetect's threshold
  detector places fade cuts the same way). Fades are never reported as hard cuts.

Shots are the spans between boundaries of either kind.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ml.decoding.audio import prefetched
from ml.errors import MediaError, ParameterError
from ml.policy import ShotParams, params_version
from ml.decoding.video import SampledFrames, SeekError, Span, VideoFrame, VideoInfo, iter_sampled, key_frame_spans, probe_video

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

ALGORITHM = "hsv-shots/3"
"""Bump when the detector changes in a way the parameters do not capture."""

BOUNDARY_KINDS = ("start", "cut", "fade")
"""How each shot begins: the title's first frame, a hard cut, or a fade through black."""


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
        Histogram change from the previous frame (0 for the first).
    brightness : np.ndarray [shape=(n_frames,), dtype=float32]
        Mean V (0..255) of every frame.
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

    @classmethod
    def no_picture(cls, params: ShotParams) -> "Shots":
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
        """First frames of the shots that begin with ``kind`` ("cut" or "fade")."""
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


def _fine_histogram(hsv: np.ndarray, params: ShotParams, out: np.ndarray | None = None) -> np.ndarray:
    """Fine-bin counts of an 8-bit OpenCV HSV image (hue 0..179), float32, into ``out`` if given
    (a 3-d ``cv2.Mat``, see :meth:`_SampledHistograms._fine_counts`).

    Returns
    -------
    np.ndarray [shape=(hue_bins * 4, saturation_bins * 4, value_bins * 8), dtype=float32]
    """
    import cv2

    sizes = list(_fine_shape(params))
    # OpenCV's 8-bit hue is 0..179 (degrees / 2); hue wraps around, saturation and value do not
    ranges = [0, 180, 0, 256, 0, 256]
    counted = cv2.calcHist([hsv], [0, 1, 2], None, sizes, ranges, hist=out)
    if out is not None and counted is not out:  # OpenCV allocated its own
        out[...] = counted.reshape(out.shape)
        return out
    return counted


def _fine_shape(params: ShotParams) -> tuple[int, int, int]:
    return (params.hue_bins * _FINE_H, params.saturation_bins * _FINE_S, params.value_bins * _FINE_V)


def _spread_value(fine: np.ndarray, params: ShotParams, out: np.ndarray | None = None) -> np.ndarray:
    """Fine-bin counts (of one frame or many) spread over the value bins: the largest of the three
    products, done first (a quarter of the work of spreading hue first).

    Returns
    -------
    np.ndarray [shape=(frames * hue_bins * 4 * saturation_bins * 4, value_bins), dtype=float32]
    """
    nv = params.value_bins
    return np.matmul(fine.reshape(-1, nv * _FINE_V), _spread(nv, _FINE_V, False), out=out)


def _coarse(by_value: np.ndarray, params: ShotParams) -> np.ndarray:
    """Soft histograms from fine-bin counts spread over value bins (:func:`_spread_value`), spread
    over saturation and hue bins in turn.

    Parameters
    ----------
    by_value : np.ndarray [shape=(k, hue_bins * 4 * saturation_bins * 4, value_bins), dtype=float32]

    Returns
    -------
    np.ndarray [shape=(k, hue_bins * saturation_bins * value_bins), dtype=float64], each row sums to 1
    """
    nh, ns, nv = params.hue_bins, params.saturation_bins, params.value_bins
    k = len(by_value)
    spread = _spread(ns, _FINE_S, False).T @ by_value.reshape(k * nh * _FINE_H, ns * _FINE_S, nv)
    spread = _spread(nh, _FINE_H, True).T @ spread.reshape(k, nh * _FINE_H, ns * nv)
    hist = spread.reshape(k, -1).astype(np.float64)
    return hist / hist.sum(axis=1, keepdims=True)


def soft_hsv_histogram(image: np.ndarray, params: ShotParams) -> tuple[np.ndarray, float]:
    """Soft HSV histogram of an RGB frame and its mean brightness.

    Parameters
    ----------
    image : np.ndarray [shape=(h, w, 3), dtype=uint8], RGB

    Returns
    -------
    histogram : np.ndarray [shape=(hue_bins * saturation_bins * value_bins,), dtype=float64], sums to 1
    brightness : float
        Mean V, 0..255.
    """
    import cv2

    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
    return _coarse(_spread_value(_fine_histogram(hsv, params), params)[None], params)[0], float(cv2.mean(hsv)[2])


def sampled_histograms(frames: SampledFrames, params: ShotParams) -> tuple[np.ndarray, np.ndarray]:
    """Soft HSV histograms and mean brightness of sampled frames (:func:`ml.decoding.video.iter_sampled`): the
    values :func:`soft_hsv_histogram` gives for each frame, with the colour conversions and most
    products done once for all the frames.

    Returns
    -------
    histograms : np.ndarray [shape=(k, hue_bins * saturation_bins * value_bins), dtype=float64]
        Each row sums to 1.
    brightness : np.ndarray [shape=(k,), dtype=float64]
        Mean V of each frame, 0..255.
    """
    return _SampledHistograms(params)(frames)


class _SampledHistograms:
    """:func:`sampled_histograms` of batch after batch, in buffers allocated once: fresh arrays for
    every batch cost a page fault per 4 KiB, as much time as the colour conversions."""

    def __init__(self, params: ShotParams) -> None:
        self.params = params
        self._buffers: dict[str, np.ndarray] = {}
        self._counts = np.empty(0, np.float32)  # fine-bin counts of a batch's frames
        # per frame, a 3-d cv2.Mat view of them that OpenCV fills in place (a plain 3-d array would be
        # read as a 2-d image with channels, and replaced)
        self._views: list[np.ndarray] = []

    def _buffer(self, name: str, shape: tuple[int, ...], dtype: type) -> np.ndarray:
        size = int(np.prod(shape))
        buffer = self._buffers.get(name)
        if buffer is None or buffer.size < size:
            buffer = self._buffers[name] = np.empty(size, dtype)
        return buffer[:size].reshape(shape)

    def _fine_counts(self, k: int) -> tuple[np.ndarray, list[np.ndarray]]:
        """Fine-bin counts of k frames, and the per-frame views of them that OpenCV counts into."""
        import cv2

        if len(self._views) < k:
            self._counts = np.empty((k, *_fine_shape(self.params)), np.float32)
            self._views = [cv2.Mat(frame, wrap_channels=False) for frame in self._counts]
        return self._counts[:k], self._views[:k]

    def __call__(self, frames: SampledFrames) -> tuple[np.ndarray, np.ndarray]:
        params = self.params
        shape = frames.planes[0].shape[:3]
        hsv = frames.hsv(out=self._buffer("hsv", (*shape, 3), np.uint8), scratch=self._buffer("scratch", (3, *shape), np.uint8))
        k, h, w, _ = hsv.shape
        counts, views = self._fine_counts(k)
        for image, out in zip(hsv, views):  # the one call per frame; the products below are per batch
            _fine_histogram(image, params, out=out)
        nv = params.value_bins
        by_value = _spread_value(counts, params, out=self._buffer("by_value", (counts.size // (nv * _FINE_V), nv), np.float32))
        brightness = hsv[..., 2].sum(axis=(1, 2), dtype=np.int64) / (h * w)
        return _coarse(by_value.reshape(k, -1, nv), params), brightness


def _fade_boundaries(brightness: np.ndarray, dark_level: float) -> list[int]:
    """Middle frame of every black run that has lit frames on both sides."""
    dark = brightness <= dark_level
    out = []
    i, n = 0, len(dark)
    while i < n:
        if not dark[i]:
            i += 1
            continue
        j = i
        while j < n and dark[j]:
            j += 1
        if i > 0 and j < n:  # lit on both sides: a fade out and in (or a cut to black and a fade)
            out.append((i + j - 1 + 1) // 2)
        i = j
    return out


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
    times, changes, bright = [], [], []
    previous = None
    for frame in frames:
        hist, level = soft_hsv_histogram(frame.image, params)
        changes.append(0.0 if previous is None else 0.5 * float(np.abs(hist - previous).sum()))
        previous = hist
        times.append(frame.time_s)
        bright.append(level)
    if not times:
        raise ParameterError("no frames to detect shots in")
    return _shots(np.asarray(times, dtype=np.float64), np.asarray(changes), np.asarray(bright), params, frame_rate)


def _shots(t: np.ndarray, change: np.ndarray, brightness: np.ndarray, params: ShotParams, frame_rate: Fraction) -> Shots:
    """Cuts and fades from every frame's time, histogram change and brightness."""
    change = np.asarray(change, dtype=np.float32)
    brightness = np.asarray(brightness, dtype=np.float32)
    n = len(t)

    fade_middles = _fade_boundaries(brightness, params.dark_level)
    fade_times = t[fade_middles] if fade_middles else np.zeros(0)
    cuts: list[int] = []
    candidates = np.flatnonzero(change >= params.cut_threshold)
    for i in candidates:
        if i == 0:
            continue
        if fade_times.size and np.min(np.abs(fade_times - t[i])) < params.min_shot_s:
            continue  # the dark end of a fade (hue is noise in near-black frames), not a cut
        around = (np.abs(t - t[i]) <= params.context_s) & (np.arange(n) != i)
        local = float(np.median(change[around])) if np.any(around) else 0.0
        if change[i] < params.cut_ratio * local:
            continue
        if cuts and t[i] - t[cuts[-1]] < params.min_shot_s:
            if change[i] > change[cuts[-1]]:
                cuts[-1] = int(i)  # the stronger of two close candidates
            continue
        cuts.append(int(i))
    fades = [f for f in fade_middles if f not in cuts]

    starts = sorted({0, *cuts, *fades})
    kinds = [0 if s == 0 else (1 if s in cuts else 2) for s in starts]
    start = np.asarray(starts, dtype=np.int64)
    end = np.r_[start[1:] - 1, n - 1].astype(np.int64)
    rate = Fraction(frame_rate)
    return Shots(
        start_frame=start,
        end_frame=end,
        start_time_s=t[start],
        end_time_s=t[end],
        boundary=np.asarray(kinds, dtype=np.int8),
        frame_times_s=t,
        change=change,
        brightness=brightness,
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
    first_histogram: np.ndarray
    last_histogram: np.ndarray


def _changes(batches: Iterable[SampledFrames], params: ShotParams) -> _Part | None:
    """Times, histogram changes (0 for the first frame) and brightness of the frames of ``batches``;
    ``None`` when there is none."""
    histograms = _SampledHistograms(params)
    times, changes, bright = [], [], []
    first = previous = None
    for batch in batches:
        hists, levels = histograms(batch)
        steps = np.diff(np.vstack([hists[:1] if previous is None else previous, hists]), axis=0)
        changes.append(0.5 * np.abs(steps).sum(axis=1))  # 0 for the first frame
        first = hists[:1] if first is None else first
        previous = hists[-1:]
        times.append(batch.times_s)
        bright.append(levels)
    if first is None:
        return None
    return _Part(np.concatenate(times), np.concatenate(changes), np.concatenate(bright), first, previous)


def _joined(parts: list[_Part | None]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Times, changes and brightness of consecutive parts as one sequence: the change at the start of
    a part is from the last frame of the part before."""
    parts = [part for part in parts if part is not None]
    for before, part in zip(parts, parts[1:]):
        step = np.diff(np.vstack([before.last_histogram, part.first_histogram]), axis=0)
        part.changes[0] = (0.5 * np.abs(step).sum(axis=1))[0]  # as _changes computes it within a part
    return tuple(np.concatenate([getattr(part, name) for part in parts]) for name in ("times", "changes", "brightness"))


SPANS_PER_THREAD = 4
"""With several threads, the picture is cut at key frames into about this many spans per thread, so
that a thread that drew a short span takes another (key frames are seldom evenly spaced)."""

MIN_SPAN_S = 2.0
"""... but spans are no shorter than about this: each one opens the file and seeks."""


def shot_spans(path: str | Path, threads: int, info: VideoInfo | None = None) -> list[Span]:
    """The spans :func:`shots_from_file` decodes in parallel with ``threads`` threads (one span, the
    whole stream, with one thread or when the file cannot be cut)."""
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
    progress: Callable[[float, float | None], None] | None = None,
) -> Shots:
    """Shots of the first video stream of ``path`` (decoded on stream timestamps, every s-th pixel
    kept so that at most about ``params.max_height`` lines remain).

    With ``threads`` ≥ 2 the stream is cut at key frames into spans (:func:`ml.decoding.video.key_frame_spans`)
    that ``threads`` threads decode, each with a one-thread decoder, and measure: less CPU than
    FFmpeg's frame threads feeding the histograms (``benchmarks/shots_speed.py`` compares both), and
    the same result frame for frame. A file that cannot be cut
    (no index, no timestamps, seeks that miss) is decoded whole, FFmpeg's threads decoding ahead in
    a thread while the histograms are computed.

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
        spans = shot_spans(path, threads, info)
        if len(spans) > 1:
            parts = _in_spans(path, spans, params, threads, progress, info.duration_s)
        if parts is None:
            # decoding (FFmpeg) runs ahead in a thread while the histograms (numpy, OpenCV) are computed
            batches = prefetched(iter_sampled(path, max_height=params.max_height, threads=threads, deblock=params.deblock), depth=4)
            if progress is not None:
                batches = _reporting(batches, progress, info.duration_s)
            parts = [_changes(batches, params)]
    if all(part is None for part in parts):
        raise MediaError(path, "the video stream holds no decodable frame")
    times, changes, brightness = _joined(parts)
    return _shots(times, changes, brightness, params, info.frame_rate or Fraction(25))


def _reporting(batches: Iterable[SampledFrames], progress: Callable[[float, float | None], None], duration_s: float | None) -> Iterator[SampledFrames]:
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
        return _changes(iter_sampled(path, max_height=params.max_height, threads=1, span=span, deblock=params.deblock), params)

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
