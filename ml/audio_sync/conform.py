"""Conform a dub to the picture from its verdict, then re-check the result with the same matching and
verdict code.

A verdict's offset model says where the dub's material belongs: dub time t plays picture time
t + o(t) (positive o = the dub leads). The conformed dub plays at output time T the dub's material
of picture time T:

- ``constant``: output sample q reads dub sample q − round(R·o) (a lead is delayed: silence is
  padded at the start; a lag is advanced: the start is trimmed);
- ``drift`` (o(t) = a + b·t): the dub is stretched by 1 + b (soxr, streaming; the verdict's speed
  ratio is 1 / (1 + b)), then shifted by a;
- ``intermittent`` (a constant offset per stretch): each stretch is shifted by its own offset and
  the stretches are joined at the cuts, refined from the per-frame matches, with a short linear
  crossfade at each join and none inside a stretch; material a jump dropped becomes silence,
  material it repeated is heard once.

The output keeps the dub's sample rate and channel layout, in its own codec when that is lossless
(FLAC, PCM WAV) and in FLAC otherwise, and lasts exactly as long as the original's programme
(trimmed or padded with silence at the end). It is written under a hidden temporary name, re-checked
against the original's signature (and the title's lip-sync offset when the verdict refers to the
picture), and renamed only when the residual is within ``residual_limit_s`` at its start and its end;
otherwise it is removed and :class:`ml.errors.ConformError` says why. Sample indices stay integers;
they become seconds only in the report.

The samples themselves stay packed integers in the output's format from decoder to encoder. The
re-check's signature is computed from them as they are written (down-mixed by libswresample and
framed by :class:`~ml.audio_sync.signatures.SignatureBuilder` exactly as a decode of the file
would be), not by decoding the file again; the file's own checksum (FLAC's STREAMINFO MD5, or the
hash of a WAV's data) must equal that of the samples checked. Decoding and rendering run in a
process of their own (its GIL apart from this one's), which hands the rendered blocks over a pipe;
here one thread reads them, the main thread computes the re-check's signature, and another encodes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ml.audio_sync.matching import FrameMatches, match_with_speed_search
from ml.audio_sync.signatures import Signature, SignatureBuilder, signature_from_file
from ml.audio_sync.verdict import Verdict
from ml.decoding.audio import prefetched
from ml.errors import ConformError, DubsyncError, MediaError, ParameterError
from ml.policy import Policy, params_version

__all__ = [
    "ALGORITHM",
    "FIXABLE",
    "REFUSED",
    "ConformPlan",
    "Piece",
    "Residual",
    "ConformResult",
    "conform_version",
    "refusal",
    "refine_cuts",
    "plan_conform",
    "render_conform",
    "recheck",
    "conform_dub",
    "output_format",
    "written_md5",
]

ALGORITHM = "conform/1"
FIXABLE = ("constant", "drift", "intermittent")
"""Verdict kinds a conform corrects; ``in_sync`` needs nothing, ``undetermined`` has no offset."""
REFUSED = "not conformed:"
"""How the message of a refused conform starts (nothing to fix, or too much padding), as against one
whose re-check failed ("conformed dub discarded: ...")."""
_LOSSLESS = {"flac": ("flac", ".flac"), "pcm_s16le": ("wav", ".wav"), "pcm_s24le": ("wav", ".wav")}
_BLOCK = 1 << 18
"""Output samples rendered at a time (≈ 6 s at 44.1 kHz)."""
_FRAME = 1 << 16
"""Samples per block libswresample converts from a dub whose decoder does not hand out the output's
packed integers (≈ 1.5 s at 44.1 kHz)."""
FLAC_LEVEL = 0
"""FLAC compression level of a conformed dub (0-8, libFLAC's scale; FFmpeg's for the layouts it
encodes): 0 (fixed predictors, no LPC search), the cheapest to encode (benchmarks/conform_speed.py)."""


def conform_version(policy: Policy) -> str:
    """``code_version`` of the conform asset: the conform parameters, the padding limit of
    ``[verdict]``, and the signature, matching and verdict parameters its re-check uses."""
    return params_version(ALGORITHM, policy.conform, policy.signature, policy.match, policy.verdict)


def refusal(verdict: Verdict) -> str | None:
    """Why a dub with this verdict is not conformed, or None when it can be."""
    if verdict.kind == "in_sync":
        return f"in sync ({verdict.reason}): nothing to conform"
    if verdict.kind == "undetermined":
        return f"undetermined, no offset to correct: {verdict.reason}"
    if verdict.kind not in FIXABLE or verdict.offset_s is None:
        return f"a {verdict.kind} verdict has no correction to apply"
    return None


@dataclass(frozen=True)
class Piece:
    """One stretch of the output: output samples ``[start, stop)`` play source sample ``q − delay``.

    ``fade_in`` / ``fade_out`` mark a join with the previous / next piece (a crossfade centred on
    ``start`` / ``stop``)."""

    start: int
    stop: int
    delay: int
    fade_in: bool = False
    fade_out: bool = False


@dataclass(frozen=True)
class ConformPlan:
    """How a dub's samples become the conformed dub's.

    Attributes
    ----------
    kind : str
        The verdict kind corrected.
    sample_rate : int
        The dub's (and the output's) rate, Hz.
    n_out : int
        Output samples: the original's programme length at ``sample_rate``.
    stretch : float
        Source samples per dub sample: 1 + the drift's slope (1.0 unless a drift).
    pieces : tuple of Piece
        On the source's sample grid (the dub, or the dub stretched by ``stretch``).
    padding_s, trimmed_s : float
        Seconds of silence the output gets, and seconds of the dub it leaves out.
    shifts_s : tuple of float
        The shift of each piece, seconds (positive = the dub is delayed).
    """

    kind: str
    sample_rate: int
    n_out: int
    stretch: float
    pieces: tuple
    padding_s: float
    trimmed_s: float
    shifts_s: tuple

    def describe(self) -> str:
        """The correction applied, in words."""
        def shift(s: float) -> str:
            return f"{'delayed' if s > 0 else 'advanced'} {abs(s) * 1000:.1f} ms"

        if self.kind == "drift":
            text = f"played at {1 / self.stretch:.6f}× speed, {shift(self.shifts_s[0])}"
        elif self.kind == "intermittent":
            text = f"{len(self.pieces)} stretches joined: " + ", ".join(shift(s) for s in self.shifts_s)
        else:
            text = shift(self.shifts_s[0])
        return f"{text}; {self.padding_s:.2f} s of silence padded, {self.trimmed_s:.2f} s trimmed"


def refine_cuts(
    verdict: Verdict, matches: FrameMatches | None, *, tolerance_s: float
) -> list[float]:
    """Dub times (s) of the jumps between an intermittent verdict's segments.

    Between two segments the cut is put where the most matched frames fall on the right side: the
    frames within ``tolerance_s`` of the earlier offset before it, those of the later offset after
    it. Without matches (or frames) it is the middle of the gap between the two segments.

    Parameters
    ----------
    verdict : Verdict
        An intermittent verdict (its ``segments``, offsets against its ``reference``).
    matches : FrameMatches or None
        The dub's per-frame matches against the original (the verdict's evidence).
    tolerance_s : float
        A frame belongs to a segment when its offset is within this of the segment's, seconds.
    """
    segments = verdict.segments
    cuts = []
    if matches is not None:
        moved = matches.offsets + (verdict.original_to_picture_s or 0.0)
        mask = matches.matched
        times, offsets = matches.dub_times[mask], moved[mask]
    for before, after in zip(segments, segments[1:]):
        cut = 0.5 * (before["end_s"] + after["start_s"])
        if matches is not None:
            window = (times >= before["start_s"]) & (times <= after["end_s"])
            t, o = times[window], offsets[window]
            early = np.abs(o - before["offset_s"]) <= tolerance_s
            late = np.abs(o - after["offset_s"]) <= tolerance_s
            keep = early | late
            t, early, late = t[keep], early[keep], late[keep]
            order = np.argsort(t, kind="stable")
            t, early, late = t[order], early[order], late[order]
            if len(t) >= 2:
                # score of a cut after frame i: early frames up to i + late frames after i
                score = np.cumsum(early)[:-1] + (late.sum() - np.cumsum(late)[:-1])
                best = np.flatnonzero(score == score.max())
                i = int(best[len(best) // 2])
                cut = 0.5 * (t[i] + t[i + 1])
        cuts.append(float(cut))
    return cuts


def plan_conform(
    verdict: Verdict,
    *,
    sample_rate: int,
    dub_samples: int,
    dub_start_s: float,
    original_duration_s: float,
    cuts_s: list[float] | None = None,
    max_padding_s: float,
) -> ConformPlan:
    """The samples of the conformed dub.

    Parameters
    ----------
    verdict : Verdict
        Of kind ``constant``, ``drift`` or ``intermittent``.
    sample_rate : int
        The dub's rate, Hz.
    dub_samples : int
        The dub's length in samples at ``sample_rate``.
    dub_start_s : float
        Time of the dub's first sample from its container's start, seconds.
    original_duration_s : float
        The original's programme length, seconds: the output's length.
    cuts_s : list of float, optional
        Dub times of an intermittent verdict's jumps (see :func:`refine_cuts`), seconds.
    max_padding_s : float
        Refuse a conform that pads more silence than this, seconds.

    Raises
    ------
    ConformError
        The verdict has nothing to conform, or the conform would pad more than ``max_padding_s``.
    ParameterError
        A bad rate, length or cut list.
    """
    if (reason := refusal(verdict)) is not None:
        raise ConformError(f"{REFUSED} {reason}")
    if not isinstance(sample_rate, int) or sample_rate <= 0:
        raise ParameterError(f"sample_rate={sample_rate!r} must be a positive integer (Hz)")
    if dub_samples <= 0:
        raise ParameterError(f"dub_samples={dub_samples} must be positive")
    if not (math.isfinite(original_duration_s) and original_duration_s > 0):
        raise ParameterError(f"original_duration_s={original_duration_s} must be a positive number of seconds")
    rate = sample_rate
    n_out = int(round(original_duration_s * rate))
    stretch = 1.0
    if verdict.kind == "drift":
        stretch = 1.0 / verdict.correction_speed_ratio
        offsets, bounds = [verdict.offset_s], []
    elif verdict.kind == "intermittent":
        offsets = [s["offset_s"] for s in verdict.segments]
        bounds = list(cuts_s) if cuts_s is not None else [
            0.5 * (a["end_s"] + b["start_s"]) for a, b in zip(verdict.segments, verdict.segments[1:])
        ]
        if len(bounds) != len(offsets) - 1 or any(b2 <= b1 for b1, b2 in zip(bounds, bounds[1:])):
            raise ParameterError(f"cuts_s={bounds} must be {len(offsets) - 1} increasing dub times")
    else:
        offsets, bounds = [verdict.offset_s], []
    n_src = int(round(dub_samples * stretch))
    # output sample q of piece k plays source sample q − delay_k (source sample j ↔ dub time
    # dub_start + j / (rate · stretch); output time T plays dub time (T − o_k) / stretch)
    delays = [int(round(rate * (o + dub_start_s * stretch))) for o in offsets]
    starts, stops = [0], []
    for k, cut in enumerate(bounds, start=1):
        natural_end = int(round(rate * (cut + offsets[k - 1])))  # a jump that grows the offset leaves a gap
        begin = int(round(rate * (cut + offsets[k])))  # one that shrinks it repeats material: heard once
        stops.append(min(natural_end, begin))
        starts.append(begin)
    stops.append(n_out)
    pieces, covered = [], 0
    for k, (start, stop, delay) in enumerate(zip(starts, stops, delays)):
        start, stop = max(start, delay, 0), min(stop, delay + n_src, n_out)
        if stop > start:
            pieces.append(Piece(start, stop, delay, fade_in=k > 0, fade_out=k < len(delays) - 1))
            covered += stop - start
    padding_s = (n_out - covered) / rate
    if padding_s > max_padding_s:
        raise ConformError(
            f"{REFUSED} the correction would pad {padding_s:.1f} s of silence (more than "
            f"max_length_mismatch_s = {max_padding_s:g} s) to reach the original's {original_duration_s:.1f} s"
        )
    return ConformPlan(
        kind=verdict.kind,
        sample_rate=rate,
        n_out=n_out,
        stretch=stretch,
        pieces=tuple(pieces),
        padding_s=padding_s,
        trimmed_s=max(0, n_src - covered) / rate,
        shifts_s=tuple(offsets),
    )


@dataclass(frozen=True)
class _Native:
    rate: int
    channels: int
    layout: str
    codec: str
    sample_format: str
    """``s16`` or ``s32``: the packed integer samples the conformed dub holds (``s32`` holds 24-bit
    samples in its upper three bytes, as FLAC and 24-bit PCM store them)."""
    start_s: float
    duration_s: float | None

    @property
    def dtype(self) -> type:
        return np.int16 if self.sample_format == "s16" else np.int32


def _sample_format(codec: str, bits: int) -> str:
    """The output's integer samples: 16 bits for a dub of 16 bits or fewer (unless it is 24-bit
    PCM), else 24 bits (in ``s32``)."""
    out_codec, _, _ = output_format(codec)
    return "s16" if bits <= 16 and out_codec != "pcm_s24le" else "s32"


_S24_MASK = np.int32(-256)
"""Clears the low byte of an ``s32`` sample: the 24 bits a FLAC or 24-bit PCM file keeps."""


def _native_blocks(path: Path):
    """The first audio stream at its own rate and layout: ``(native, blocks, container)``; the blocks
    (a decoded frame each, or ``_FRAME`` samples where libswresample converts them) are packed
    integer samples in the output's format [shape=(n, channels), dtype=native.dtype] (an ``s32``
    block holds 24-bit samples: its low byte is 0). The caller closes the container."""
    import av

    from ml.decoding.audio import probe_audio

    info = probe_audio(path)
    container = av.open(str(path), metadata_errors="ignore")
    stream = container.streams.audio[0]
    ctx = stream.codec_context
    layout = ctx.layout.name
    bits = int(ctx.format.bits) if ctx.format is not None else 16
    sample_format = _sample_format(ctx.name, bits)
    resampler = av.AudioResampler(format=sample_format, layout=layout, rate=ctx.sample_rate, frame_size=_FRAME)
    origin = container.start_time / 1_000_000 if container.start_time is not None else 0.0

    def frames():
        try:
            for packet in container.demux(stream):
                yield from packet.decode()
        except av.FFmpegError as exc:
            raise MediaError(path, f"undecodable audio ({exc.strerror or exc}): corrupt or truncated") from None
        yield None

    decoded = frames()
    try:
        first = next(decoded)
    except MediaError:
        container.close()
        raise
    if first is None:
        container.close()
        raise MediaError(path, "audio stream holds no decodable samples")
    start = float(Fraction(first.pts) * first.time_base) - origin if first.pts is not None else info.start_time_s
    native = _Native(
        rate=int(ctx.sample_rate), channels=int(ctx.channels), layout=layout, codec=ctx.name,
        sample_format=sample_format, start_s=start, duration_s=info.duration_s,
    )  # fmt: skip

    # a decoder that already hands out the output's packed integers (FLAC, 16- and 24-bit PCM) is
    # read as it is: a pass through libswresample's filter graph, frame by frame, cost a sixth of
    # the decode's CPU and held the GIL; other formats (and a stream that changes format, from the
    # first frame that does) are converted by libswresample
    def as_is(frame) -> bool:
        return frame.format.name == sample_format and frame.layout.name == layout and frame.sample_rate == native.rate

    direct = [as_is(first)]

    def converted(frame) -> Iterator[np.ndarray]:
        if direct[0] and frame is not None and as_is(frame):  # a view of the frame (to_ndarray copies)
            yield np.frombuffer(frame.planes[0], native.dtype, frame.samples * native.channels).reshape(-1, native.channels)
            return
        if frame is not None:
            direct[0] = False
        for out in resampler.resample(frame):
            yield out.to_ndarray().reshape(-1, native.channels)

    def blocks() -> Iterator[np.ndarray]:
        # as decoded: the renderer joins them once, into its own blocks
        for frame in itertools.chain((first,), decoded):
            for part in converted(frame):
                yield part if sample_format == "s16" else part & _S24_MASK

    return native, blocks(), container


def _stretched(blocks: Iterator[np.ndarray], rate: int, channels: int, stretch: float) -> Iterator[np.ndarray]:
    """The blocks [shape=(n, channels)] resampled by soxr (streaming) to ``stretch`` times as many
    samples, float32 on the blocks' own scale."""
    import soxr

    resampler = soxr.ResampleStream(rate, rate * stretch, channels, dtype="float32", quality="HQ")
    for block in blocks:
        out = resampler.resample_chunk(block.astype(np.float32))
        if len(out):
            yield out
    out = resampler.resample_chunk(np.zeros((0, channels), dtype=np.float32), last=True)
    if len(out):
        yield out


class _Source:
    """Random access to a stream of blocks [shape=(n, channels)] within a sliding window; zeros past
    either end."""

    def __init__(self, blocks: Iterator[np.ndarray], channels: int):
        self._blocks, self._channels = blocks, channels
        self._buffer: np.ndarray | None = None
        self._base = 0
        self.ended = False
        self.n_read = 0

    @property
    def dtype(self) -> np.dtype:
        self._fill(1)
        return self._buffer.dtype if self._buffer is not None else np.dtype(np.float32)

    def _fill(self, stop: int) -> None:
        parts = [] if self._buffer is None else [self._buffer]
        end = self._base + (0 if self._buffer is None else len(self._buffer))
        while end < stop and not self.ended:
            try:
                block = next(self._blocks)
            except StopIteration:
                self.ended = True
                break
            parts.append(block)
            end += len(block)
            self.n_read += len(block)
        if len(parts) > 1:
            self._buffer = np.concatenate(parts, axis=0)
        elif parts:
            self._buffer = parts[0]

    def read(self, start: int, stop: int) -> np.ndarray:
        self._fill(stop)
        buffer = self._buffer if self._buffer is not None else np.zeros((0, self._channels), np.float32)
        lo, hi = max(start, self._base), min(stop, self._base + len(buffer))
        if start < self._base and lo < hi:
            raise AssertionError(f"source sample {start} was already discarded (window starts at {self._base})")
        if lo == start and hi == stop:
            return buffer[lo - self._base : hi - self._base]
        out = np.zeros((stop - start, self._channels), dtype=buffer.dtype)
        if hi > lo:
            out[lo - start : hi - start] = buffer[lo - self._base : hi - self._base]
        return out

    def discard_before(self, index: int) -> None:
        if self._buffer is None:
            return
        drop = min(max(0, index - self._base), len(self._buffer))
        if drop:
            self._buffer = self._buffer[drop:]
            self._base += drop


def _quantised(y: np.ndarray, sample_format: str) -> np.ndarray:
    """Float samples on the integer scale [shape=(n, channels)] rounded to ``sample_format``
    (``s32``: to 24 bits, in the upper three bytes), clipped."""
    if sample_format == "s16":
        return np.clip(np.rint(y), -(1 << 15), (1 << 15) - 1).astype(np.int16)
    return np.clip(np.rint(y * np.float32(1 / 256)), -(1 << 23), (1 << 23) - 1).astype(np.int32) << 8


def render_conform(
    plan: ConformPlan,
    blocks: Iterator[np.ndarray],
    *,
    channels: int,
    crossfade_s: float,
    sample_format: str,
    write: Callable[[np.ndarray], None],
) -> None:
    """Render ``plan`` from the source ``blocks`` [shape=(n, channels), the source's own grid:
    packed integer samples of ``sample_format``, or float32 on their scale] and hand the output to
    ``write`` block by block [shape=(m, channels), int16 for ``s16``, int32 for ``s32``].

    Where no crossfade applies, integer samples are copied unchanged (a constant shift moves the
    dub's samples bit for bit); float sources and crossfades are rounded back at the end."""
    half = int(round(crossfade_s * plan.sample_rate / 2))
    source = _Source(blocks, channels)
    dtype = np.int16 if sample_format == "s16" else np.int32
    exact = np.issubdtype(source.dtype, np.integer) and not (half and any(p.fade_in or p.fade_out for p in plan.pieces))
    for q0 in range(0, plan.n_out, _BLOCK):
        q1 = min(plan.n_out, q0 + _BLOCK)
        inside = [p for p in plan.pieces if p.start <= q0 and q1 <= p.stop] if exact else []
        if inside:  # most blocks of a conform: the piece's samples as they are, not added to zeros
            out = source.read(q0 - inside[0].delay, q1 - inside[0].delay)
        else:
            out = np.zeros((q1 - q0, channels), dtype=dtype if exact else np.float32)
        for piece in plan.pieces if not inside else ():
            lo = piece.start - half if piece.fade_in else piece.start
            hi = piece.stop + half if piece.fade_out else piece.stop
            lo, hi = max(lo, q0, piece.delay), min(hi, q1)
            if hi <= lo:
                continue
            samples = source.read(lo - piece.delay, hi - piece.delay)
            fading_in = half and piece.fade_in and lo < piece.start + half
            fading_out = half and piece.fade_out and hi > piece.stop - half
            if not (fading_in or fading_out):
                out[lo - q0 : hi - q0] += samples
                continue
            q = np.arange(lo, hi, dtype=np.float64) + 0.5
            gain = np.ones(hi - lo, dtype=np.float32)
            if fading_in:
                gain *= np.clip((q - (piece.start - half)) / (2 * half), 0.0, 1.0).astype(np.float32)
            if fading_out:
                gain *= np.clip(1.0 - (q - (piece.stop - half)) / (2 * half), 0.0, 1.0).astype(np.float32)
            out[lo - q0 : hi - q0] += samples * gain[:, None]
        # keep what a piece not yet finished may still read (its crossfade reaches back by ``half``)
        needed = [max(q1, p.start - half) - p.delay for p in plan.pieces if p.stop + half > q1]
        source.discard_before(min(needed) - half if needed else q1)
        write(out if exact else _quantised(out, sample_format))


def output_format(codec: str) -> tuple[str, str, str]:
    """``(codec, container format, extension)`` of a conformed dub: the dub's own codec when it is
    lossless, else FLAC."""
    name = codec if codec in _LOSSLESS else "flac"
    container, extension = _LOSSLESS[name]
    return name, container, extension


def _pcm_bytes(block: np.ndarray) -> bytes | memoryview:
    """The bytes a FLAC's MD5 and a PCM WAV's data hold for ``block`` [shape=(n, channels)]:
    interleaved little-endian samples, 2 bytes each for int16, 3 (the upper ones) for 24-bit in int32."""
    if block.dtype == np.int16:
        return memoryview(np.ascontiguousarray(block, dtype="<i2")).cast("B")  # no copy
    return np.ascontiguousarray(block, dtype="<i4").view(np.uint8).reshape(-1, 4)[:, 1:].tobytes()


_SOUNDFILE_LAYOUTS = ("mono", "stereo")
"""Layouts a FLAC holds without a channel-mask tag, which libsndfile does not write: a FLAC dub in
one of them is encoded by libFLAC through soundfile, others by FFmpeg through PyAV."""


class _Writer:
    """Encodes packed integer blocks [shape=(n, channels)] and keeps the MD5 of the samples it was
    given (what a FLAC's STREAMINFO records and a WAV's data chunk holds).

    FLAC in mono or stereo is encoded by libFLAC (soundfile), which took 1.0-1.3 s of CPU against
    FFmpeg's 1.7-1.8 s at level 0 for the 15 minutes of benchmarks/conform_speed.py's dub (see
    benchmarks/README.md); other layouts and PCM WAV by FFmpeg (PyAV), which writes their channel
    layout."""

    def __init__(self, path: Path, native: _Native):
        codec, container_format, _ = output_format(native.codec)
        self._native, self._pts = native, 0
        self._md5 = hashlib.md5()
        self.codec = codec
        self.closed = False
        self._sound = None
        if codec == "flac" and native.layout in _SOUNDFILE_LAYOUTS:
            import soundfile

            self._sound = soundfile.SoundFile(
                str(path), "w", samplerate=native.rate, channels=native.channels, format="FLAC",
                subtype="PCM_16" if native.sample_format == "s16" else "PCM_24", compression_level=FLAC_LEVEL / 8,
            )  # fmt: skip
            return
        import av

        self._container = av.open(str(path), "w", format=container_format)
        self._stream = self._container.add_stream(codec, rate=native.rate, layout=native.layout)
        self._stream.format = native.sample_format
        if codec == "flac":
            self._stream.codec_context.options = {"compression_level": str(FLAC_LEVEL)}

    def write(self, block: np.ndarray) -> None:
        block = np.ascontiguousarray(block)
        self._md5.update(_pcm_bytes(block))
        if self._sound is not None:
            self._sound.write(block)  # int32 is written as its upper 24 bits
            return
        import av

        native = self._native
        frame = av.AudioFrame.from_ndarray(block.reshape(1, -1), format=native.sample_format, layout=native.layout)
        frame.sample_rate, frame.pts, frame.time_base = native.rate, self._pts, Fraction(1, native.rate)
        self._pts += len(block)
        self._container.mux(self._stream.encode(frame))

    @property
    def md5(self) -> str:
        return self._md5.hexdigest()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._sound is not None:
            self._sound.close()
            return
        try:
            self._container.mux(self._stream.encode(None))
        finally:
            self._container.close()


def written_md5(path: str | Path, codec: str) -> str:
    """MD5 of the samples a conformed dub holds: a FLAC's STREAMINFO checksum (its encoder's, of the
    samples it was given), or the hash of a WAV's data chunk, hex.

    Raises
    ------
    MediaError
        The file has no such checksum or data.
    """
    path = Path(path)
    with open(path, "rb") as f:
        if codec == "flac":
            head = f.read(42)  # "fLaC", a metadata block header, 34 bytes of STREAMINFO: MD5 last
            if head[:4] != b"fLaC" or head[4] & 0x7F != 0 or head[26:42] == bytes(16):
                raise MediaError(path, "the FLAC's STREAMINFO holds no MD5 of its samples")
            return head[26:42].hex()
        if f.read(4) != b"RIFF" or (f.seek(8), f.read(4))[1] != b"WAVE":
            raise MediaError(path, "not a RIFF WAVE file")
        while len(header := f.read(8)) == 8:
            size = int.from_bytes(header[4:], "little")
            if header[:4] == b"data":
                digest = hashlib.md5()
                while size > 0 and (chunk := f.read(min(size, 1 << 24))):
                    digest.update(chunk)
                    size -= len(chunk)
                return digest.hexdigest()
            f.seek(size + (size & 1), os.SEEK_CUR)
    raise MediaError(path, "the WAV holds no data chunk")


class _RenderProcess:
    """Decodes the dub and renders ``plan`` in a process of its own (:func:`_render_main`), whose
    output blocks this one reads from a pipe [shape=(n, channels), ``native.dtype``], ``_BLOCK``
    output samples at a time as :func:`render_conform` hands them out.

    Decoding runs frame by frame through PyAV, taking and releasing the GIL tens of thousands of
    times an hour; in a thread beside the re-check's signature and the encoder, each hand-over of
    the GIL stalled the other threads (on two cores a conform used 1.5 of them). In a process the
    decoder holds a GIL of its own, and this process receives a megabyte of samples per read.
    ``stop`` ends a process that has not finished, ``close`` its pipes."""

    def __init__(self, dub_path: Path, native: _Native, plan: ConformPlan, *, crossfade_s: float):
        import json
        import subprocess
        import sys
        import tempfile

        import ml

        self._native, self._plan, self._path = native, plan, dub_path
        job = {
            "path": str(dub_path), "native": dataclasses.asdict(native), "plan": dataclasses.asdict(plan),
            "crossfade_s": crossfade_s,
        }  # fmt: skip
        env = dict(os.environ)
        root = str(Path(ml.__file__).resolve().parent.parent)  # the ml package this process runs
        env["PYTHONPATH"] = os.pathsep.join([root] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        self._errors = tempfile.TemporaryFile()
        self._process = subprocess.Popen(
            [sys.executable, "-c", "from ml.audio_sync.conform import _render_main; _render_main()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._errors, env=env, bufsize=0,
        )  # fmt: skip
        try:
            import fcntl

            fcntl.fcntl(self._process.stdout.fileno(), fcntl.F_SETPIPE_SZ, 1 << 20)  # a block in the pipe
        except (ImportError, AttributeError, OSError):
            pass
        try:
            self._process.stdin.write(json.dumps(job).encode())
            self._process.stdin.close()
        except BrokenPipeError:
            pass  # it failed at once: blocks() reports why

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()

    def close(self) -> None:
        self.stop()
        self._process.stdout.close()
        self._errors.close()

    def blocks(self) -> Iterator[np.ndarray]:
        """The rendered blocks, in order; raises the process's error when it stops short."""
        native, plan = self._native, self._plan
        pipe = self._process.stdout
        for q0 in range(0, plan.n_out, _BLOCK):
            block = np.empty((min(_BLOCK, plan.n_out - q0), native.channels), dtype=native.dtype)
            view, filled = memoryview(block).cast("B"), 0
            while filled < len(view):
                got = pipe.readinto(view[filled:])
                if not got:
                    self._raise_failure()
                filled += got
            yield block
        if pipe.read(1):
            raise ConformError("rendering the conformed dub gave more samples than planned")
        if self._process.wait() != 0:
            self._raise_failure()

    def _raise_failure(self):
        import json

        status = self._process.wait()
        self._errors.seek(0)
        lines = self._errors.read().decode(errors="replace").strip().splitlines()
        last = lines[-1] if lines else ""
        if last.startswith("{"):
            error = json.loads(last)
            raise MediaError(error["path"], error["reason"])
        detail = "\n".join(lines[-20:]) or "no message"
        raise ConformError(f"rendering the conformed dub of {self._path} failed (exit status {status}): {detail}")


def _render_main() -> None:
    """The rendering process of :class:`_RenderProcess`: its job as JSON on stdin (the dub, its
    format as the parent read it, the plan, the crossfade); the rendered samples, raw, on stdout; on
    a :class:`MediaError` one JSON line on stderr, and exit status 1 on any failure."""
    import json
    import sys

    data = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # whatever a library prints goes to stderr, never among the samples
    job = json.loads(sys.stdin.buffer.read())
    plan = job["plan"]
    plan = ConformPlan(**{**plan, "pieces": tuple(Piece(**p) for p in plan["pieces"]),
                          "shifts_s": tuple(plan["shifts_s"])})  # fmt: skip
    try:
        native, blocks, container = _native_blocks(Path(job["path"]))
        try:
            if dataclasses.asdict(native) != job["native"]:
                raise MediaError(job["path"], "the dub changed while it was being conformed")
            source = blocks
            if plan.stretch != 1.0:
                source = _stretched(blocks, native.rate, native.channels, plan.stretch)

            def send(block: np.ndarray) -> None:
                view = memoryview(np.ascontiguousarray(block)).cast("B")
                while view:
                    view = view[data.write(view) :]

            render_conform(plan, source, channels=native.channels, crossfade_s=job["crossfade_s"],
                           sample_format=native.sample_format, write=send)  # fmt: skip
        finally:
            blocks.close()
            container.close()
        data.close()
    except MediaError as exc:
        print(json.dumps({"path": exc.path, "reason": exc.reason}), file=sys.stderr, flush=True)
        raise SystemExit(1) from None
    except BrokenPipeError:  # the conform stopped reading: it failed or was cancelled
        raise SystemExit(1) from None


class _Background:
    """Runs ``consume`` on every item put, in a thread, in order; its error is raised by the next
    ``put`` or by ``finish``."""

    _DONE = object()

    def __init__(self, consume: Callable[[np.ndarray], None], *, depth: int = 2):
        import queue
        import threading

        self._items: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._consume = consume
        self._thread = threading.Thread(target=self._run, name="dubsync-conform-write", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._items.get()) is not self._DONE:
            if self._error is None:
                try:
                    self._consume(item)
                except BaseException as exc:  # raised in the caller's thread
                    self._error = exc

    def put(self, item: np.ndarray) -> None:
        if self._error is not None:
            raise self._error
        self._items.put(item)

    def finish(self) -> None:
        """Wait for every item to be consumed; raise the consumer's error."""
        if self._thread.is_alive():
            self._items.put(self._DONE)
            self._thread.join()
        if self._error is not None:
            raise self._error


class _RecheckSignature:
    """The re-check's signature of the samples written, computed as they are written: down-mixed to
    mono at the signature's rate by libswresample exactly as :func:`ml.decoding.audio.iter_audio_blocks`
    decodes the written file, and framed by the same :class:`SignatureBuilder`."""

    def __init__(self, native: _Native, params):
        from ml.decoding.audio import mono_resampler

        self._native, self._pts = native, 0
        self._resampler = mono_resampler(params.sample_rate)
        self._builder = SignatureBuilder(params, role="dub")

    def push(self, block: np.ndarray) -> None:
        import av

        native = self._native
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(block).reshape(1, -1), format=native.sample_format, layout=native.layout
        )
        frame.sample_rate, frame.pts, frame.time_base = native.rate, self._pts, Fraction(1, native.rate)
        self._pts += len(block)
        self._add(frame)

    def _add(self, frame) -> None:
        for out in self._resampler.resample(frame):  # a view of the mono frame (to_ndarray copies it)
            self._builder.push(np.frombuffer(out.planes[0], np.float32, out.samples))

    def finish(self) -> Signature:
        self._add(None)
        return self._builder.finish(start_time_s=0.0)


@dataclass(frozen=True)
class Residual:
    """A conformed dub's re-check.

    Attributes
    ----------
    verdict : dict
        The conformed dub's verdict (:meth:`ml.audio_sync.verdict.Verdict.to_dict`).
    start_s, end_s : float
        Median offset of the matched frames at the start and the end (``residual_edge_share`` of
        them each, at least 30), against the verdict's reference, seconds (positive = leads).
    in_sync : bool
        The verdict is ``in_sync`` and its offset, ``start_s`` and ``end_s`` are within the limit.
    reason : str
    """

    verdict: dict
    start_s: float
    end_s: float
    in_sync: bool
    reason: str


def recheck(
    path: str | Path,
    reference: Signature,
    picture,
    policy: Policy,
    *,
    signature: Signature | None = None,
) -> Residual:
    """Judge a conformed dub as the dub itself was judged: its signature, matched against the
    original's, and the verdict against the picture (``picture``: the title's
    :class:`ml.picture.title_sync.PictureSync`, or None for the original audio).

    ``signature``: the conformed dub's, when it was computed from its samples as they were written
    (:func:`conform_dub`); otherwise it is computed from ``path``, which a speed search re-reads."""
    from ml.picture.title_sync import decide_against_picture

    path = Path(path)
    if signature is None:
        signature = signature_from_file(path, policy.signature, role="dub")
    matches = match_with_speed_search(
        signature,
        reference,
        policy.match,
        resignature=lambda speed: signature_from_file(path, policy.signature, speed=speed),
        min_matched_frames=policy.verdict.min_matched_frames,
    )
    try:
        verdict = decide_against_picture(matches, picture, match=policy.match, params=policy.verdict)
    except DubsyncError as exc:
        return Residual({}, math.nan, math.nan, False, f"the conformed dub was not judged: {exc}")
    matches = dataclasses.replace(
        matches, theta_min_dist=policy.match.theta_min_dist, max_rival_ratio=policy.match.max_rival_ratio
    )
    order = np.argsort(matches.matched_times, kind="stable")
    offsets = matches.matched_offsets[order] + (verdict.original_to_picture_s or 0.0)
    n = max(min(30, len(offsets)), int(round(policy.conform.residual_edge_share * len(offsets))))
    start = float(np.median(offsets[:n])) if n else math.nan
    end = float(np.median(offsets[-n:])) if n else math.nan
    limit = policy.conform.residual_limit_s
    values = [start, end] + ([verdict.offset_s] if verdict.offset_s is not None else [])
    within = verdict.kind == "in_sync" and all(math.isfinite(v) and abs(v) <= limit for v in values)
    reason = (
        f"re-check: {verdict.kind}, {start * 1000:+.1f} ms at the start, {end * 1000:+.1f} ms at the end "
        f"({'within' if within else 'not within'} ±{limit * 1000:g} ms)"
    )
    if verdict.kind != "in_sync":
        reason += f"; {verdict.reason}"
    return Residual(verdict.to_dict(), start, end, within, reason)


@dataclass(frozen=True)
class ConformResult:
    """A conformed dub (``status == "conformed"``), or why a dub was not conformed.

    Attributes
    ----------
    status : str
        ``conformed`` or ``not_conformed`` (in sync or undetermined: nothing to correct).
    reason : str
    path : str
        The conformed file ("" when not conformed).
    kind : str
        The verdict kind corrected.
    correction : str
        What was done (:meth:`ConformPlan.describe`).
    codec, layout : str
    sample_rate, channels : int
    duration_s : float
        The conformed file's length (the original's programme), seconds.
    residual_start_s, residual_end_s : float or None
        The re-check's offsets at start and end, seconds.
    residual : dict
        The re-check's verdict.
    """

    status: str
    reason: str
    path: str = ""
    kind: str = ""
    correction: str = ""
    codec: str = ""
    layout: str = ""
    sample_rate: int = 0
    channels: int = 0
    duration_s: float = 0.0
    residual_start_s: float | None = None
    residual_end_s: float | None = None
    residual: dict = dataclasses.field(default_factory=dict)

    @property
    def conformed(self) -> bool:
        return self.status == "conformed"


def conform_dub(
    dub_path: str | Path,
    out_path: str | Path,
    verdict: Verdict,
    *,
    reference: Signature,
    picture,
    policy: Policy,
    original_duration_s: float,
    matches: FrameMatches | None = None,
    progress: Callable[[str], None] | None = None,
) -> ConformResult:
    """Conform a dub, re-check it, and keep it only when it re-checks in sync.

    Parameters
    ----------
    dub_path : str or Path
        The delivered dub.
    out_path : str or Path
        Where to write the conformed dub; its suffix is replaced by the output codec's
        (:func:`output_format`). Its folder must exist.
    verdict : Verdict
        The dub's verdict (against the picture or the original audio).
    reference : Signature
        The original's signature (the re-check matches against it).
    picture : PictureSync or None
        The title's lip-sync offset, as the verdict used it.
    policy : Policy
        ``conform`` parameters, the padding limit ``verdict.max_length_mismatch_s``, and the
        signature, matching and verdict parameters of the re-check.
    original_duration_s : float
        The original's programme length, seconds.
    matches : FrameMatches, optional
        The verdict's evidence; refines an intermittent dub's cuts.
    progress : callable, optional
        Receives a line per stage.

    Returns
    -------
    ConformResult
        ``not_conformed`` with the reason for an in-sync or undetermined verdict.

    Raises
    ------
    ConformError
        The conform would pad more than ``max_length_mismatch_s``, its re-check is not in sync
        within ``residual_limit_s``, or the written file's checksum is not that of the samples
        re-checked (nothing is left at ``out_path`` then).
    MediaError
        The dub cannot be decoded.
    """
    from threadpoolctl import threadpool_limits

    say = progress or (lambda _message: None)
    if (reason := refusal(verdict)) is not None:
        return ConformResult(status="not_conformed", reason=reason, kind=verdict.kind)
    dub_path = Path(dub_path)
    native, blocks, container = _native_blocks(dub_path)  # its format: the rendering process decodes it
    blocks.close()
    container.close()
    duration = native.duration_s
    if matches is not None and math.isfinite(matches.dub_duration_s):
        duration = matches.dub_duration_s
    if duration is None:
        raise MediaError(dub_path, "the dub's duration is unknown: re-encode it")
    cuts = None
    if verdict.kind == "intermittent":
        cuts = refine_cuts(verdict, matches, tolerance_s=policy.verdict.timeline_tolerance_s)
    plan = plan_conform(
        verdict,
        sample_rate=native.rate,
        dub_samples=int(round(duration * native.rate)),
        dub_start_s=native.start_s,
        original_duration_s=original_duration_s,
        cuts_s=cuts,
        max_padding_s=policy.verdict.max_length_mismatch_s,
    )
    _, _, extension = output_format(native.codec)
    final = Path(out_path).with_suffix(extension)
    temporary = final.with_name(f".{final.stem}.{os.getpid()}.conforming{extension}")
    say(f"conforming {dub_path.name}: {plan.describe()}")
    # decoding and rendering (and a drift's resampling) in a process of their own, the blocks read
    # from it in a thread; here the re-check's signature of each block while a thread encodes it
    rendered = _RenderProcess(dub_path, native, plan, crossfade_s=policy.conform.crossfade_s)
    source = prefetched(rendered.blocks())
    try:
        checked = _RecheckSignature(native, policy.signature)
        writer = _Writer(temporary, native)
        background = _Background(writer.write)
        try:
            with threadpool_limits(limits=1):
                for block in source:
                    background.put(block)
                    checked.push(block)
                signature = checked.finish()
        finally:
            try:
                background.finish()
            finally:
                writer.close()
        # the file holds the samples the signature was computed from (FLAC and PCM are lossless)
        if (held := written_md5(temporary, writer.codec)) != writer.md5:
            raise ConformError(
                f"conformed dub discarded: the written file's samples (MD5 {held}) are not those "
                f"re-checked (MD5 {writer.md5})"
            )
        say(f"re-checking {final.name}")
        residual = recheck(temporary, reference, picture, policy, signature=signature)
        if not residual.in_sync:
            raise ConformError(f"conformed dub discarded: {residual.reason}")
        os.replace(temporary, final)
    finally:
        rendered.stop()
        source.close()
        rendered.close()
        temporary.unlink(missing_ok=True)
    return ConformResult(
        status="conformed",
        reason=residual.reason,
        path=str(final),
        kind=verdict.kind,
        correction=plan.describe(),
        codec=writer.codec,
        layout=native.layout,
        sample_rate=native.rate,
        channels=native.channels,
        duration_s=plan.n_out / native.rate,
        residual_start_s=residual.start_s,
        residual_end_s=residual.end_s,
        residual=residual.verdict,
    )
