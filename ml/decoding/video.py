"""Video decoding with PyAV, on stream timestamps.

Frames come in presentation order with their presentation time (seconds, relative to the container's
start, as :mod:`ml.decoding.audio` times audio), so variable-frame-rate files work: nothing assumes a constant
frame rate. Decoding is threaded (FFmpeg's frame and slice threads) and frames can be downscaled by
the decoder's scaler, which is far cheaper than decoding at full size and resizing afterwards.
Statistics that need no scaler (colour histograms) take every s-th pixel of the decoded planes
instead, in batches of frames (:func:`iter_sampled`). A stream can also be cut at key frames into
spans that decode on their own (:func:`key_frame_spans`), for work that runs one span per thread.
Pictures a model looks at (:func:`iter_frames`) are turned upright by the stream's display matrix,
as players do; statistics of sampled planes are taken as stored.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ml.errors import MediaError, ParameterError

__all__ = [
    "VideoInfo",
    "VideoFrame",
    "SampledFrames",
    "probe_video",
    "has_video",
    "iter_frames",
    "iter_sampled",
    "Span",
    "SeekError",
    "key_frame_spans",
    "LIMITED_TO_FULL_PLANES",
    "decoded_frames",
    "frames_between",
    "display_rotation",
    "reduced_level",
    "reduced_min_lines",
    "set_decoder_options",
    "REDUCIBLE_CODECS",
    "TIME_TOLERANCE_S",
]

PIXEL_FORMATS = ("rgb24", "gray")


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about the first video stream.

    Attributes
    ----------
    path : str
    codec : str
    width, height : int
        Stored size, pixels.
    frame_rate : Fraction or None
        Nominal frame rate as an exact fraction (30000/1001; for a variable-frame-rate file the rate
        its timestamps are counted in, not the average), ``None`` when unknown.
    duration_s : float or None
    n_frames : int or None
        Frame count the container declares, if any (not trusted for variable frame rates).
    field_order : {"progressive", "tff", "bff", "unknown"}
        Which field of an interlaced frame is shown first (its lines 0, 2, 4 … are the top field),
        as the stream's parameters say (:data:`FIELD_ORDERS`); frames flagged interlaced
        (:attr:`VideoFrame.interlaced`) hold two pictures half a frame apart.
    """

    path: str
    codec: str
    width: int
    height: int
    frame_rate: Fraction | None
    duration_s: float | None
    n_frames: int | None
    field_order: str = "progressive"

    @property
    def first_field(self) -> int:
        """Parity of the lines of the field shown first: 0 (top: lines 0, 2, 4 …) unless the
        stream says bottom first. Top first where unknown: HD and most SD are."""
        return 1 if self.field_order == "bff" else 0

    @property
    def scan(self) -> str:
        """"progressive", "interlaced, top field first" (or bottom), or "unknown", for people."""
        if self.field_order in ("tff", "bff"):
            return f"interlaced, {'top' if self.field_order == 'tff' else 'bottom'} field first"
        return self.field_order


@dataclass(frozen=True)
class VideoFrame:
    """One decoded frame.

    Attributes
    ----------
    index : int
        Position in presentation order, from 0.
    time_s : float
        Presentation time relative to the container's start, seconds.
    image : np.ndarray [shape=(h, w, 3) uint8 RGB, or (h, w) uint8 grey]
    rotation : int
        Degrees (0, 90, 180 or 270, counter-clockwise) the stored picture was turned by to give
        ``image``, as the stream's display matrix asks (see :func:`iter_frames`).
    interlaced : bool
        The decoder flags the frame interlaced: its even and odd lines are two fields, pictures
        taken half a frame apart (which first: :attr:`VideoInfo.field_order`), woven together.
    """

    index: int
    time_s: float
    image: np.ndarray
    rotation: int = 0
    interlaced: bool = False


@dataclass(frozen=True)
class SampledFrames:
    """Every s-th pixel of consecutive frames (see :func:`iter_sampled`).

    Attributes
    ----------
    first_index : int
        Position of the first of these frames in presentation order, from 0 (from the first frame of
        the span decoded, see :func:`iter_sampled`).
    times_s : np.ndarray [shape=(k,), dtype=float64]
        Presentation times relative to the container's start, seconds.
    kind : {"yuv", "tv-yuv", "rgb"}
        What ``planes`` hold: full-range YUV, limited-range ("TV": Y 16..235, chroma 16..240) YUV,
        or RGB.
    planes : tuple of np.ndarray
        YUV: Y, U and V at the same sampled positions (a 4:2:0 pixel takes the chroma of its 2 × 2
        block), each [shape=(k, h, w), dtype=uint8]. RGB: one [shape=(k, h, w, 3), dtype=uint8].
    """

    first_index: int
    times_s: np.ndarray
    kind: str
    planes: tuple[np.ndarray, ...]

    def __len__(self) -> int:
        return len(self.times_s)

    def hsv(self, out: np.ndarray | None = None, scratch: np.ndarray | None = None) -> np.ndarray:
        """The frames in OpenCV's 8-bit HSV (hue 0..179, saturation and value 0..255): the same
        conversions as :func:`iter_frames` with ``subsample=True`` then ``cv2.COLOR_RGB2HSV``, each
        done once for all the frames.

        Parameters
        ----------
        out : np.ndarray [shape=(k, h, w, 3), dtype=uint8], optional
            Where to write them (reused from batch to batch, a buffer saves a page fault per 4 KiB).
        scratch : np.ndarray [shape=(3, k, h, w), dtype=uint8], optional
            Working space, likewise.

        Returns
        -------
        np.ndarray [shape=(k, h, w, 3), dtype=uint8]
            ``out`` if given.
        """
        import cv2

        shape = self.planes[0].shape[:3]
        n = int(np.prod(shape))
        # each step works pixel by pixel: one row of all the pixels keeps OpenCV's vector loops busy
        # (rows of 120 pixels, say, would each end in a scalar tail: 1.5 times slower in all)
        image = np.empty((1, n, 3), np.uint8) if out is None else out.reshape(1, n, 3)
        if self.kind == "rgb":
            cv2.cvtColor(self.planes[0].reshape(1, n, 3), cv2.COLOR_RGB2HSV, dst=image)
            return image.reshape(*shape, 3)
        planes = [plane.reshape(1, n) for plane in self.planes]
        if self.kind == "tv-yuv":  # stretched to full range
            scratch = np.empty((3, 1, n), np.uint8) if scratch is None else scratch.reshape(3, 1, n)
            planes = [cv2.LUT(plane, table, dst=level) for plane, table, level in zip(planes, LIMITED_TO_FULL_PLANES, scratch)]
        cv2.merge(planes, dst=image)
        cv2.cvtColor(image, cv2.COLOR_YUV2RGB, dst=image)
        cv2.cvtColor(image, cv2.COLOR_RGB2HSV, dst=image)
        return image.reshape(*shape, 3)


FIELD_ORDERS = {0: "unknown", 1: "progressive", 2: "tff", 3: "bff", 4: "bff", 5: "tff"}
"""FFmpeg's ``AVFieldOrder`` (coded order, then display order: TT, BB, TB, BT) as the field shown
first."""


def _open(path: str | Path):
    import av

    path = Path(path)
    if not path.exists():
        raise MediaError(path, "file does not exist")
    if path.stat().st_size == 0:
        raise MediaError(path, "file is empty (0 bytes)")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise MediaError(path, f"not a readable media file ({exc.strerror or exc})") from None
    if not container.streams.video:
        container.close()
        raise MediaError(path, "has no video stream (the picture-side assets need one)")
    return container


def has_video(path: str | Path) -> bool:
    """Whether ``path`` is a readable media file with a video stream."""
    try:
        _open(path).close()
    except MediaError:
        return False
    return True


def probe_video(path: str | Path) -> VideoInfo:
    """The first video stream's properties, without decoding."""
    container = _open(path)
    try:
        stream = container.streams.video[0]
        duration = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        rate = stream.base_rate or stream.guessed_rate or stream.average_rate
        return VideoInfo(
            path=str(path),
            codec=stream.codec_context.name,
            width=int(stream.codec_context.width),
            height=int(stream.codec_context.height),
            frame_rate=Fraction(rate) if rate else None,
            duration_s=duration,
            n_frames=int(stream.frames) if stream.frames else None,
            field_order=FIELD_ORDERS.get(int(stream.codec_context.field_order or 0), "unknown"),
        )
    finally:
        container.close()


@dataclass(frozen=True)
class Span:
    """The frames of the first video stream whose presentation timestamps (in the stream's time base)
    are in ``[start_pts, end_pts)``; ``None`` is an open end. The spans of :func:`key_frame_spans`
    begin on key frames, so each one decodes on its own, and they hold every frame once."""

    start_pts: int | None = None
    end_pts: int | None = None


class SeekError(Exception):
    """Seeking to a span's key frame did not land on it (a file whose index or timestamps cannot be
    trusted): decode the stream whole instead."""


def key_frame_spans(path: str | Path, parts: int) -> list[Span]:
    """Split the first video stream at up to ``parts - 1`` key frames, about evenly spaced in time,
    found by seeking (reading one packet per seek, decoding nothing).

    A single span, the whole stream, when ``parts`` is 1, the stream's duration is unknown, or a seek
    does not land on a key frame with a timestamp. Key frames far apart give fewer, uneven spans.

    Raises
    ------
    MediaError
        The file is missing, unreadable or has no video stream.
    """
    import av

    if parts < 1:
        raise ParameterError(f"parts={parts} must be >= 1")
    whole = [Span()]
    if parts == 1:
        return whole
    container = _open(path)
    try:
        stream = container.streams.video[0]
        if stream.time_base is None:
            return whole
        if stream.duration:
            duration = int(stream.duration)
        elif container.duration:
            duration = int(container.duration / 1_000_000 / stream.time_base)
        else:
            return whole
        start = int(stream.start_time or 0)

        def key_frame_at_or_before(target: int) -> int | None:
            container.seek(target, stream=stream, backward=True)
            packet = next(iter(container.demux(stream)), None)
            if packet is None or packet.pts is None or not packet.is_keyframe:
                return None
            return int(packet.pts)

        first = key_frame_at_or_before(start)
        if first is None:
            return whole
        splits = []
        for i in range(1, parts):
            pts = key_frame_at_or_before(start + duration * i // parts)
            if pts is None:
                return whole
            if pts > first and pts not in splits:
                splits.append(pts)
    except av.FFmpegError:  # a container that cannot seek: decode it whole
        return whole
    finally:
        container.close()
    splits.sort()
    return [Span(a, b) for a, b in zip([None, *splits], [*splits, None])]


def _target_size(width: int, height: int, max_height: int | None) -> tuple[int, int]:
    if not max_height or height <= max_height:
        return width, height
    scale = max_height / height
    # even sizes: some scalers and encoders require them
    return max(2, int(round(width * scale / 2)) * 2), max(2, int(round(max_height / 2)) * 2)


_CHROMA = {"420": (2, 2), "422": (1, 2), "444": (1, 1)}
_SUBSAMPLED_FORMATS = {
    **{f"{family}{chroma}p": (*_CHROMA[chroma], 8) for family in ("yuv", "yuvj", "yuva") for chroma in _CHROMA},
    **{f"{family}{chroma}p{bits}le": (*_CHROMA[chroma], bits) for family in ("yuv", "yuva") for chroma in _CHROMA for bits in (10, 12)},
}  # fmt: skip
"""Planar YUV formats :func:`iter_frames` and :func:`iter_sampled` can subsample directly: (vertical and
horizontal chroma subsampling, bits per sample); an alpha plane (``yuva``: ProRes 4444, VP9 with alpha)
is left out. 10- and 12-bit samples (HEVC Main 10, ProRes, DNxHR HQX: deliveries) are rounded to 8
bits; scaling those frames with FFmpeg instead cost 1-3 ms a 720p frame, as much as decoding them
(benchmarks/README.md, 2026-12-06)."""


_LEVELS = np.arange(256, dtype=np.float64)
LIMITED_TO_FULL_PLANES = tuple(
    np.clip(np.round(levels), 0, 255).astype(np.uint8)
    for levels in ((_LEVELS - 16) * 255 / 219, (_LEVELS - 128) * 255 / 224 + 128, (_LEVELS - 128) * 255 / 224 + 128)
)
"""Tables (Y, U, V) from limited-range levels to full range."""
_LIMITED_TO_FULL = np.stack(LIMITED_TO_FULL_PLANES, axis=-1).reshape(1, 256, 3)
"""The same as one 3-channel table."""


def _sample_step(height: int, max_height: int) -> int:
    """Take every s-th pixel so that about ``max_height`` lines remain; s is even, so that chroma
    samples line up with luma samples in 4:2:0."""
    return max(2, -(-height // max_height) // 2 * 2)


@functools.lru_cache(maxsize=64)
def _sample_layout(
    format_name: str, width: int, height: int, line_sizes: tuple[int, ...], max_height: int
) -> tuple[int, tuple[tuple[int, slice, slice], ...]] | None:
    """Bits per sample, and where every s-th pixel of a frame of this layout lies in each of its Y, U
    and V planes: (line size in samples, row slice, column slice) of each, all three the same shape;
    ``None`` for formats other than planar YUV (:data:`_SUBSAMPLED_FORMATS`). Worked out once per
    layout, not per frame (a stream keeps its layout)."""
    known = _SUBSAMPLED_FORMATS.get(format_name)
    if known is None:
        return None
    chroma_rows, chroma_cols, bits = known
    line_sizes = tuple(size // (2 if bits > 8 else 1) for size in line_sizes)
    step = _sample_step(height, max_height)
    # the positions a[: h : step, : w : step] of the luma plane and of the chroma planes (at half the
    # step where the chroma is subsampled), as many rows and columns as all three have
    rows = min(len(range(0, height, step)), len(range(0, height // chroma_rows, step // chroma_rows)))
    cols = min(len(range(0, width, step)), len(range(0, width // chroma_cols, step // chroma_cols)))
    luma = (line_sizes[0], slice(0, rows * step, step), slice(0, cols * step, step))
    row_step, col_step = step // chroma_rows, step // chroma_cols
    chroma = ((line, slice(0, rows * row_step, row_step), slice(0, cols * col_step, col_step)) for line in line_sizes[1:3])
    return bits, (luma, *chroma)


def _sampled_planes(frame, max_height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Every s-th pixel of a planar YUV frame (:data:`_SUBSAMPLED_FORMATS`) as three (h, w) uint8
    arrays of its Y, U and V planes (no scaler; views, without a copy, of an 8-bit frame; a frame of
    more bits per sample rounded to 8, so that limited range stays 16..235), or ``None`` for other
    pixel formats."""
    planes = frame.planes
    found = _sample_layout(frame.format.name, frame.width, frame.height, tuple(plane.line_size for plane in planes[:3]), max_height)
    if found is None:
        return None
    bits, layout = found
    if bits == 8:
        return tuple(np.frombuffer(plane, np.uint8).reshape(-1, line)[rows, cols] for plane, (line, rows, cols) in zip(planes, layout))
    shift = bits - 8
    return tuple(
        np.minimum((np.frombuffer(plane, "<u2").reshape(-1, line)[rows, cols] + (1 << (shift - 1))) >> shift, 255).astype(np.uint8)
        for plane, (line, rows, cols) in zip(planes, layout)
    )


def _full_range(frame) -> bool:
    return frame.format.name.startswith("yuvj") or frame.color_range == 2  # 2: AVCOL_RANGE_JPEG


def _subsampled_rgb(frame, max_height: int) -> np.ndarray | None:
    """Every s-th pixel of a planar YUV frame (:data:`_SUBSAMPLED_FORMATS`) as a small RGB image (no
    scaler: about 0.2 ms for a 720p frame against 3 ms for the scaler), or ``None`` for other pixel
    formats."""
    import cv2

    planes = _sampled_planes(frame, max_height)
    if planes is None:
        return None
    yuv = np.dstack(planes)
    if not _full_range(frame):
        # limited ("TV") range: Y in 16..235 and chroma in 16..240 stretched to full range
        yuv = cv2.LUT(np.ascontiguousarray(yuv), _LIMITED_TO_FULL)
    return cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB)


def display_rotation(frame) -> int:
    """Degrees (0, 90, 180 or 270, counter-clockwise) a decoded ``av.VideoFrame`` is to be turned by
    for display: its display matrix (side data that phones and some cameras write instead of
    turning the pixels), rounded to a quarter turn; 0 without one. Mirroring is ignored."""
    degrees = float(getattr(frame, "rotation", 0) or 0)
    return int(round(degrees / 90.0)) % 4 * 90


def _check_decoding(max_height: int | None, threads: int) -> None:
    if max_height is not None and max_height < 16:
        raise ParameterError(f"max_height={max_height} must be at least 16 pixels")
    if threads < 1:
        raise ParameterError(f"threads={threads} must be >= 1")


TIME_TOLERANCE_S = 0.001
"""Two presentation times this close are the same frame's (frames are at least 1/240 s apart)."""


REDUCIBLE_CODECS = {"mpeg1video": 3, "mpeg2video": 3, "mpeg4": 3, "h263": 3, "mjpeg": 3, "dvvideo": 3, "jpeg2000": 3}
"""Decoders that can decode at 1/2, 1/4 or 1/8 of the coded size (FFmpeg's ``lowres``: the inverse
transform of fewer coefficients, motion compensated at that size; JPEG 2000 stops its wavelet
synthesis that many levels early) and the deepest level used of each."""


def reduced_level(codec: str, height: int, min_lines: int | None) -> int:
    """How many halvings (FFmpeg's ``lowres``) ``codec`` can decode a picture of ``height`` lines at
    and still keep at least ``min_lines`` lines: 0 for codecs that cannot (:data:`REDUCIBLE_CODECS`)
    and when ``min_lines`` is None."""
    level = 0
    if min_lines is not None:
        while level < REDUCIBLE_CODECS.get(codec, 0) and height >> (level + 1) >= min_lines:
            level += 1
    return level


def reduced_min_lines(max_height: int) -> int:
    """The ``min_lines`` a picture sampled down to about ``max_height`` lines is decoded with when a
    reduced size is asked for (:func:`iter_sampled`, :func:`iter_frames`): twice as many, so that every
    s-th pixel is still taken with s ≥ 2 (even: 4:2:0 chroma lines up)."""
    return 2 * max_height


def set_decoder_options(stream, *, deblock: bool = True, min_lines: int | None = None) -> int:
    """Set, on a PyAV video ``stream`` whose decoder has not opened yet, the options of
    :func:`decoded_frames` (``deblock``, ``min_lines``); returns the reduced-size level set (0: full size)."""
    options = stream.codec_context.options
    if not deblock:
        options["skip_loop_filter"] = "all"  # read when the decoder opens
    level = reduced_level(stream.codec_context.name, stream.codec_context.height, min_lines)
    if level:
        options["lowres"] = str(level)
    return level


def decoded_frames(
    path: str | Path,
    threads: int = 2,
    span: Span | None = None,
    *,
    between: tuple[float, float] | None = None,
    seek: bool = True,
    deblock: bool = True,
    min_lines: int | None = None,
) -> Iterator[tuple[int, float, object]]:
    """(index, presentation time in seconds, ``av.VideoFrame``) of every frame of the first video
    stream, in presentation order; decoding errors become :class:`MediaError`.

    With ``span``, only its frames, indices from 0 at its first frame; a seek that misses the span's
    key frame raises :class:`SeekError`. With ``between=(start_s, end_s)``, only the frames whose
    times are in that range (within :data:`TIME_TOLERANCE_S`), indices from 0 at the first of them,
    decoded from the key frame at or before ``start_s`` (one seek); :class:`SeekError` when the seek
    lands after ``start_s`` or a frame has no timestamp (see :func:`frames_between`, which then
    decodes from the start instead: ``seek=False``). With ``deblock=False`` the codec's in-loop
    deblocking filter is skipped (FFmpeg's ``skip_loop_filter=all``): cheaper to decode (H.264,
    HEVC), a little blocky, and the error grows until the next key frame; for statistics of a few
    sampled lines, not for pictures a model looks at. With ``min_lines``, codecs that can
    (:data:`REDUCIBLE_CODECS`: MPEG-1/2, MPEG-4 part 2, H.263, Motion JPEG, DV, JPEG 2000) decode at
    1/2, 1/4 or 1/8 of the coded size, as small as keeps at least ``min_lines`` lines (:func:`reduced_level`): each
    pixel about the mean of the block it stands for, and much cheaper (an MPEG-2 720p stream at 1/4:
    0.28 ms a frame against 0.47); frames of other codecs come at full size, and so do those of a
    stream whose decoder refuses the reduced size (lossless JPEG: "Function not implemented") or
    gives no frame at it.
    """
    if span == Span():  # the whole stream
        span = None
    if span is not None and between is not None:
        raise ParameterError("give span or between, not both")
    try:
        yield from _decoded_frames(path, threads, span, between, seek, deblock, min_lines)
    except _ReducedRefused:  # before any frame was yielded: the same frames, at full size
        yield from _decoded_frames(path, threads, span, between, seek, deblock, None)


class _ReducedRefused(Exception):
    """The decoder failed at a reduced size before its first frame."""


def _decoded_frames(
    path: str | Path,
    threads: int,
    span: Span | None,
    between: tuple[float, float] | None,
    seek: bool,
    deblock: bool,
    min_lines: int | None,
) -> Iterator[tuple[int, float, object]]:
    """:func:`decoded_frames`, at the reduced size if ``min_lines`` (:class:`_ReducedRefused` if that
    fails before the first frame)."""
    import av

    container = _open(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        stream.thread_count = threads
        level = set_decoder_options(stream, deblock=deblock, min_lines=min_lines)
        start = container.start_time / 1_000_000 if container.start_time is not None else 0.0
        index = 0
        last_time = time_base = None
        frames = container.decode(stream)
        try:
            if span is not None:
                frames = _in_span(container, stream, frames, span)
            elif between is not None and seek:
                frames = _from_time(container, stream, frames, between[0] + start)
            for frame in frames:
                if frame.pts is None:
                    time_s = (last_time + 1.0 / float(stream.average_rate or 25)) if last_time is not None else 0.0
                else:
                    if time_base is None:  # pts · num / den: float(pts * time_base) without a Fraction per frame
                        time_base = frame.time_base
                    time_s = frame.pts * time_base.numerator / time_base.denominator - start
                last_time = time_s
                if between is not None:
                    if time_s < between[0] - TIME_TOLERANCE_S:
                        continue
                    if time_s > between[1] + TIME_TOLERANCE_S:
                        break
                yield index, time_s, frame
                index += 1
        except av.FFmpegError as exc:
            if level and index == 0:
                raise _ReducedRefused from None
            counted_from_start = (span is None or span.start_pts is None) and between is None
            where = f"frame {index}" if counted_from_start else f"the frame after {last_time or 0.0:.3f} s"
            raise MediaError(path, f"{where} cannot be decoded ({exc.strerror or exc}): the file is corrupt or truncated") from None
        if index == 0 and span is None and between is None:
            if level:
                raise _ReducedRefused
            raise MediaError(path, "the video stream holds no decodable frame")
    finally:
        container.close()


def _from_time(container, stream, frames: Iterator, start_s: float) -> Iterator:
    """The decoded frames from the key frame at or before ``start_s`` (container time, seconds):
    one seek, then a check that it did not land later (a file whose index cannot be trusted)."""
    import av

    if stream.time_base is None:
        raise SeekError("the stream has no time base: it cannot be seeked by time")
    try:
        container.seek(int(start_s / stream.time_base), stream=stream, backward=True)
    except av.FFmpegError as exc:
        raise SeekError(f"the seek to {start_s:.3f} s failed ({exc.strerror or exc})") from None
    first = True
    for frame in frames:
        if frame.pts is None:
            raise SeekError("a frame without a timestamp: frames cannot be placed after a seek")
        if first and float(frame.pts * frame.time_base) > start_s + TIME_TOLERANCE_S:
            raise SeekError(f"the seek to {start_s:.3f} s landed at {float(frame.pts * frame.time_base):.3f} s")
        first = False
        yield frame


def _in_span(container, stream, frames: Iterator, span: Span) -> Iterator:
    """The decoded frames of ``span``: seek to its key frame, drop the frames before it (an open
    GOP's leading frames belong to the span before), stop at its end."""
    if span.start_pts is not None:
        container.seek(span.start_pts, stream=stream, backward=True)
    started = span.start_pts is None
    for frame in frames:
        pts = frame.pts
        if pts is None:
            raise SeekError("a frame without a timestamp: spans cannot be told apart")
        if span.end_pts is not None and pts >= span.end_pts:
            return
        if not started:
            if pts < span.start_pts:
                continue
            if pts != span.start_pts:
                raise SeekError(f"no frame at {span.start_pts}: the first one after it is at {pts}")
            started = True
        yield frame


def frames_between(
    path: str | Path, start_s: float, end_s: float, *, threads: int = 2, deblock: bool = True, min_lines: int | None = None
) -> Iterator[tuple[int, float, object]]:
    """(index from 0, presentation time in seconds, ``av.VideoFrame``) of the frames of the first
    video stream whose times lie in [``start_s``, ``end_s``] (within :data:`TIME_TOLERANCE_S`), in
    presentation order.

    Decoding starts at the key frame at or before ``start_s`` (one seek) and stops after ``end_s``:
    a face track of a few seconds costs a few seconds of decoding, not the whole title's. A file
    that cannot be seeked by time (no index, frames without timestamps, a seek that lands late) is
    decoded from its start instead, with the same frames as the result. ``deblock`` and
    ``min_lines``: see :func:`decoded_frames`.

    Raises
    ------
    MediaError
        The file is missing, unreadable, has no video stream, or a frame cannot be decoded.
    """
    if not end_s >= start_s:
        raise ParameterError(f"end_s={end_s} must be >= start_s={start_s}")
    done = 0
    try:
        for item in decoded_frames(path, threads, between=(start_s, end_s), deblock=deblock, min_lines=min_lines):
            yield item
            done += 1
        return
    except SeekError:
        pass
    for item in decoded_frames(path, threads, between=(start_s, end_s), seek=False, deblock=deblock, min_lines=min_lines):
        if item[0] >= done:  # the frames before were yielded before the seek was found wanting
            yield item


def iter_frames(
    path: str | Path,
    *,
    max_height: int | None = None,
    pixel_format: str = "rgb24",
    threads: int = 2,
    keep: callable = None,
    subsample: bool = False,
    between: tuple[float, float] | None = None,
    deblock: bool = True,
    rotate: bool = True,
    reduce: bool = False,
) -> Iterator[VideoFrame]:
    """Decode the first video stream frame by frame, turned as its display matrix says.

    Parameters
    ----------
    path : str or Path
    max_height : int, optional
        Downscale (keeping the aspect ratio of the stored pixels) so frames are at most this tall.
    pixel_format : {"rgb24", "gray"}
    threads : int
        Decoder threads (frame and slice threading, as the codec allows).
    keep : callable(index) -> bool, optional
        Convert only the frames for which it returns True (others are decoded, as they must be, but
        not scaled or copied); a skipped frame is not yielded.
    subsample : bool
        With ``max_height`` and RGB output: take every s-th pixel of planar YUV frames (8, 10 or 12
        bits, :data:`_SUBSAMPLED_FORMATS`) instead of scaling them (no averaging, an order of
        magnitude cheaper; for statistics such as colour histograms). Other pixel formats are scaled
        as usual.
    between : (start_s, end_s), optional
        Only the frames whose times lie in this range, decoded from the key frame at or before
        ``start_s`` (:func:`frames_between`); indices (and ``keep``'s) then count from 0 at the
        first of them.
    deblock : bool
        False: skip the codec's in-loop deblocking filter (see :func:`decoded_frames`), as the shot
        detector decodes.
    reduce : bool
        With ``max_height``: decode at a reduced size where the codec can (see :func:`iter_sampled`),
        as the shot detector decodes.
    rotate : bool
        Turn every frame by the rotation of the stream's display matrix (:func:`display_rotation`,
        read on the first frame), as FFmpeg's players do, so that faces are upright; the image is
        then ``max_height`` lines tall before turning (its width after). False: the stored pixels.

    Yields
    ------
    VideoFrame
        In presentation order, with times from the stream's timestamps.

    Raises
    ------
    MediaError
        The file is missing, unreadable, has no video stream, or a frame cannot be decoded.
    """
    import av

    if pixel_format not in PIXEL_FORMATS:
        raise ParameterError(f"pixel_format={pixel_format!r} must be one of {PIXEL_FORMATS}")
    _check_decoding(max_height, threads)
    fast = subsample and max_height is not None and pixel_format == "rgb24"
    size = None  # of the first frame, for all: every image the same shape
    turns = None  # quarter turns, likewise
    min_lines = reduced_min_lines(max_height) if reduce and max_height is not None else None
    if between is None:
        frames = decoded_frames(path, threads, deblock=deblock, min_lines=min_lines)
    else:
        frames = frames_between(path, *between, threads=threads, deblock=deblock, min_lines=min_lines)
    for index, time_s, frame in frames:
        size = size or _target_size(frame.width, frame.height, max_height)
        if turns is None:
            turns = display_rotation(frame) // 90 if rotate else 0
        if keep is not None and not keep(index):
            continue
        image = _subsampled_rgb(frame, max_height) if fast else None
        if image is None:
            width, height = size
            try:
                image = frame.reformat(width=width, height=height, format=pixel_format).to_ndarray()
            except av.FFmpegError as exc:
                raise MediaError(path, f"frame {index} cannot be converted ({exc.strerror or exc})") from None
        if turns:
            image = np.ascontiguousarray(np.rot90(image, turns))
        yield VideoFrame(index=index, time_s=time_s, image=image, rotation=90 * turns, interlaced=bool(frame.interlaced_frame))


def iter_sampled(
    path: str | Path,
    *,
    max_height: int,
    batch: int = 16,
    threads: int = 2,
    span: Span | None = None,
    deblock: bool = True,
    reduce: bool = False,
) -> Iterator[SampledFrames]:
    """Decode the first video stream and keep every s-th pixel of each frame, in runs of ``batch``
    frames: the input of statistics such as colour histograms, which need no scaler, and whose
    colour conversions cost less done once for many frames.

    Parameters
    ----------
    path : str or Path
    max_height : int
        s is the smallest even step that leaves at most about this many lines (see ``subsample`` in
        :func:`iter_frames`: the same pixels).
    batch : int
        Frames per :class:`SampledFrames` (fewer for the last one, and where the kind or size of the
        samples changes).
    threads : int
        Decoder threads (frame and slice threading, as the codec allows).
    span : Span, optional
        Only these frames (:func:`key_frame_spans`); ``first_index`` then counts from the span's
        first frame.
    deblock : bool
        False: skip the codec's in-loop deblocking filter (see :func:`decoded_frames`).
    reduce : bool
        Decode at a reduced size where the codec can, keeping at least ``2 * max_height`` lines
        (``min_lines`` of :func:`decoded_frames`): every s-th pixel of the smaller picture, s smaller
        too.

    Yields
    ------
    SampledFrames
        In presentation order, with times from the stream's timestamps. Planar YUV frames of 8, 10
        or 12 bits (:data:`_SUBSAMPLED_FORMATS`) are sampled in place (kind "yuv" or "tv-yuv", 8
        bits); frames of other pixel formats are scaled by FFmpeg to about ``max_height`` lines, as
        RGB.

    Raises
    ------
    MediaError
        The file is missing, unreadable, has no video stream, or a frame cannot be decoded.
    SeekError
        With ``span``: the seek did not land on the span's key frame.
    """
    import av

    _check_decoding(max_height, threads)
    if batch < 1:
        raise ParameterError(f"batch={batch} must be >= 1")
    n, first, kind, shape = 0, 0, None, None
    times = planes = None
    min_lines = reduced_min_lines(max_height) if reduce else None
    for index, time_s, frame in decoded_frames(path, threads, span, deblock=deblock, min_lines=min_lines):
        sampled = _sampled_planes(frame, max_height)
        if sampled is not None:
            frame_kind = "yuv" if _full_range(frame) else "tv-yuv"
        else:
            width, height = _target_size(frame.width, frame.height, max_height)
            try:
                sampled = (frame.reformat(width=width, height=height, format="rgb24").to_ndarray(),)
            except av.FFmpegError as exc:
                raise MediaError(path, f"frame {index} cannot be converted ({exc.strerror or exc})") from None
            frame_kind = "rgb"
        if n and (n == batch or frame_kind != kind or sampled[0].shape != shape):
            yield SampledFrames(first, times[:n], kind, tuple(plane[:n] for plane in planes))
            n = 0
        if n == 0:  # new arrays: the consumer may still be reading the previous ones
            first, kind, shape = index, frame_kind, sampled[0].shape
            times = np.empty(batch)
            planes = tuple(np.empty((batch, *plane.shape), np.uint8) for plane in sampled)
        times[n] = time_s
        for plane, samples in zip(planes, sampled):
            np.copyto(plane[n], samples)
        n += 1
    if n:
        yield SampledFrames(first, times[:n], kind, tuple(plane[:n] for plane in planes))
