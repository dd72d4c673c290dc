"""Audio decoding with PyAV: any container, codec, rate and channel layout to mono float32.

Decoding streams: :func:`iter_audio_blocks` yields blocks of a fixed length, so a 2.5-hour film is
never held in memory (the signature consumes the blocks as they come). :func:`load_audio` is the
convenience for short clips and tests.

Time comes from the stream: the time of the first sample is the first decoded frame's presentation
timestamp minus the container's start time (the earliest timestamp of any stream). An audio stream
that starts later than the picture therefore keeps that delay, as players play it, while the start
time FFmpeg gives an MP3 for its encoder delay (which players also skip) moves nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ml.errors import MediaError, ParameterError

__all__ = ["AudioInfo", "probe_audio", "AudioStream", "iter_audio_blocks", "mono_resampler", "prefetched", "load_audio"]

MAX_DURATION_S = 24 * 3600.0
"""Longer declared durations are absurd for a title (a corrupt header) and refused."""
MIN_DURATION_S = 1.0
"""Shorter tracks hold too little to match and are refused."""
TRUNCATION_TOLERANCE_S = 2.0
"""A track that decodes this much shorter than its header declares (and >2 % short) is truncated."""


@dataclass(frozen=True)
class AudioInfo:
    """What the container says about the first audio stream.

    Attributes
    ----------
    path : str
    codec : str
    sample_rate : int
        Hz, as stored.
    channels : int
    layout : str
    duration_s : float or None
        Declared duration in seconds, ``None`` when the container does not say.
    start_time_s : float
        Declared start time of the stream (its own time base), seconds.
    """

    path: str
    codec: str
    sample_rate: int
    channels: int
    layout: str
    duration_s: float | None
    start_time_s: float


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
    if not container.streams.audio:
        container.close()
        raise MediaError(path, "has no audio stream")
    return container


def _stream_info(path: str | Path, container) -> AudioInfo:
    stream = container.streams.audio[0]
    ctx = stream.codec_context
    duration = None
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / 1_000_000
    start = 0.0
    if stream.start_time is not None and stream.time_base is not None:
        start = float(stream.start_time * stream.time_base)
    header = _wav_header_duration(path)
    if header is not None and (duration is None or header > duration):
        duration = header
    return AudioInfo(
        path=str(path),
        codec=ctx.name,
        sample_rate=int(ctx.sample_rate or 0),
        channels=int(ctx.channels or 0),
        layout=ctx.layout.name if ctx.layout is not None else "",
        duration_s=duration,
        start_time_s=start,
    )


def _wav_header_duration(path: str | Path) -> float | None:
    """Duration a PCM WAV header declares (FFmpeg estimates WAV durations from the file size, which
    hides truncation); None for other files or headers the ``wave`` module does not read."""
    import wave

    if Path(path).suffix.lower() not in (".wav", ".wave"):
        return None
    try:
        with wave.open(str(path), "rb") as wav:
            rate = wav.getframerate()
            return wav.getnframes() / rate if rate else None
    except (wave.Error, EOFError, OSError):
        return None


def _check_duration(path: str | Path, info: AudioInfo) -> None:
    if info.sample_rate <= 0:
        raise MediaError(path, "audio stream has no sample rate: re-encode the file")
    if info.duration_s is not None:
        if not math.isfinite(info.duration_s) or info.duration_s > MAX_DURATION_S:
            raise MediaError(
                path, f"declared duration {info.duration_s:.0f} s is absurd (more than 24 h)"
            )


def probe_audio(path: str | Path) -> AudioInfo:
    """Describe the first audio stream of a file without decoding it.

    Raises
    ------
    MediaError
        If the file is missing, empty, unreadable or has no audio stream.
    """
    container = _open(path)
    try:
        info = _stream_info(path, container)
    finally:
        container.close()
    _check_duration(path, info)
    return info


@dataclass
class AudioStream:
    """Result of a completed decode: what was read, for checks at the end of a stream."""

    info: AudioInfo
    start_time_s: float = 0.0
    """time of the first decoded sample relative to the container's start, seconds."""
    n_samples: int = 0
    """mono samples delivered at the target rate."""
    peak: float = 0.0
    """largest absolute sample value."""


_RESAMPLED_FRAME = 1 << 16
"""Samples per frame out of the resampler (about 1.5 s at 44.1 kHz)."""


def mono_resampler(sample_rate: int):
    """The libswresample down-mix to mono float at ``sample_rate`` that :func:`iter_audio_blocks`
    decodes through, handing out frames of ``_RESAMPLED_FRAME`` samples, not one per decoded frame
    (an AAC hour is 155,000 frames of 1024 samples, and converting each to numpy cost more than
    decoding it; same samples, bit for bit). Whoever must reproduce a decode's samples exactly (the
    conform's re-check) resamples through the same."""
    import av

    return av.AudioResampler(format="flt", layout="mono", rate=sample_rate, frame_size=_RESAMPLED_FRAME)


def iter_audio_blocks(
    path: str | Path,
    *,
    sample_rate: int,
    block_samples: int = 1 << 20,
    progress: Callable[[float, float | None], None] | None = None,
    stats: AudioStream | None = None,
    decoder_threads: int | None = None,
) -> Iterator[np.ndarray]:
    """Decode the first audio stream to mono float32 at ``sample_rate``, block by block.

    Parameters
    ----------
    path : str or Path
        Any file PyAV opens (mp4, mov, mkv, wav, flac, m4a, ac3, ...).
    sample_rate : int
        Target rate in Hz; resampling and down-mixing are done by libswresample.
    block_samples : int
        Samples per yielded block (the last block may be shorter). Default ≈ 24 s at 44.1 kHz.
    progress : callable, optional
        Called as ``progress(seconds_decoded, declared_duration_s_or_None)`` about once per block.
    stats : AudioStream, optional
        Filled in while decoding (start time, sample count, peak); read it after the generator ends.
    decoder_threads : int, optional
        Threads of the FFmpeg decoder; ``None`` lets FFmpeg choose (fastest when decoding is all
        the work: FLAC decodes frames in parallel). A consumer that keeps the other core busy
        passes 1: the parallel decoder's extra CPU then only slows the consumer.

    Yields
    ------
    block : np.ndarray [shape=(n,), dtype=float32]
        Consecutive mono samples; concatenated they are the whole track.

    Raises
    ------
    MediaError
        Unreadable, truncated, or absurd files, with the file and the reason.
    """
    if not isinstance(sample_rate, int) or sample_rate < 1000:
        raise ParameterError(f"sample_rate={sample_rate!r} must be an integer >= 1000 Hz")
    if not isinstance(block_samples, int) or block_samples < 1024:
        raise ParameterError(f"block_samples={block_samples!r} must be an integer >= 1024")
    if decoder_threads is not None and (not isinstance(decoder_threads, int) or decoder_threads < 1):
        raise ParameterError(f"decoder_threads={decoder_threads!r} must be None or an integer >= 1")
    import av

    container = _open(path)
    try:
        info = _stream_info(path, container)
        _check_duration(path, info)
        if stats is None:
            stats = AudioStream(info=info)
        stats.info = info
        stream = container.streams.audio[0]
        if decoder_threads is None:
            stream.thread_type = "AUTO"
        else:
            stream.thread_count = decoder_threads
        resampler = mono_resampler(sample_rate)
        origin_s = container.start_time / 1_000_000 if container.start_time is not None else 0.0
        pending: list[np.ndarray] = []
        n_pending = 0
        first = True
        next_report = block_samples

        def frames():
            try:
                for packet in container.demux(stream):
                    yield from packet.decode()
            except av.FFmpegError as exc:
                raise MediaError(
                    path,
                    f"undecodable audio after {stats.n_samples / sample_rate:.1f} s "
                    f"({exc.strerror or exc}): the file is corrupt or truncated",
                ) from None
            yield None  # flush the resampler

        for frame in frames():
            if first and frame is not None:
                if frame.pts is not None and frame.time_base is not None:
                    first_time = float(Fraction(frame.pts) * frame.time_base)
                else:
                    first_time = info.start_time_s
                stats.start_time_s = first_time - origin_s
                first = False
            for out in resampler.resample(frame):
                samples = out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                pending.append(samples)
                n_pending += samples.size
            while n_pending >= block_samples:
                joined = np.concatenate(pending)
                block, rest = joined[:block_samples], joined[block_samples:]
                pending, n_pending = ([rest] if rest.size else []), rest.size
                yield _deliver(path, block, stats)
                if progress is not None and stats.n_samples >= next_report:
                    progress(stats.n_samples / sample_rate, info.duration_s)
                    next_report += block_samples
        if n_pending:
            yield _deliver(path, np.concatenate(pending), stats)
    finally:
        container.close()

    decoded_s = stats.n_samples / sample_rate
    if progress is not None:
        progress(decoded_s, info.duration_s)
    if stats.n_samples == 0:
        raise MediaError(path, "audio stream holds no decodable samples: the file is corrupt or empty")
    if decoded_s < MIN_DURATION_S:
        raise MediaError(path, f"only {decoded_s:.2f} s of audio: too short to check sync")
    declared = info.duration_s
    if declared is not None and declared - decoded_s > max(TRUNCATION_TOLERANCE_S, 0.02 * declared):
        raise MediaError(
            path,
            f"truncated: decoded {decoded_s:.1f} s of the {declared:.1f} s the header declares",
        )


def _deliver(path, block: np.ndarray, stats: AudioStream) -> np.ndarray:
    if not np.all(np.isfinite(block)):
        raise MediaError(path, "decoded samples contain NaN or infinity: the file is corrupt")
    stats.n_samples += block.size
    if block.size:
        stats.peak = max(stats.peak, float(np.max(np.abs(block))))
    return block


def prefetched(blocks: Iterator[np.ndarray], depth: int = 2) -> Iterator[np.ndarray]:
    """Run a block iterator in a background thread, ``depth`` blocks ahead of its consumer.

    Decoding (FFmpeg) and the consumer's numpy work both release the GIL, so on two cores the
    signature of a block is computed while the next one decodes. Errors of the iterator are raised
    in the consumer, in order.
    """
    import queue
    import threading

    items: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def produce() -> None:
        try:
            for block in blocks:
                if stop.is_set():
                    return
                items.put((block, None))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            items.put((None, exc))
            return
        items.put((done, None))

    worker = threading.Thread(target=produce, name="dubsync-decode", daemon=True)
    worker.start()
    try:
        while True:
            block, error = items.get()
            if error is not None:
                raise error
            if block is done:
                return
            yield block
    finally:
        stop.set()
        while worker.is_alive():
            try:
                items.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.05)


def load_audio(path: str | Path, *, sample_rate: int) -> tuple[np.ndarray, float]:
    """Decode a whole track to memory (short clips, tests).

    Returns
    -------
    y : np.ndarray [shape=(n,), dtype=float32]
        Mono samples at ``sample_rate``.
    start_time_s : float
        Presentation time of the first sample, seconds.
    """
    stats = AudioStream(info=None)  # type: ignore[arg-type]
    blocks = list(iter_audio_blocks(path, sample_rate=sample_rate, stats=stats))
    return np.concatenate(blocks), stats.start_time_s
