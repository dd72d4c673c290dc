"""Test-media writers: encoding a mix to any codec and container PyAV writes (:class:`AudioWriter`,
:func:`write_audio`, priming compensated so decoding is aligned) and reading it back (:func:`read_audio`).
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ml.testmedia.specs import (
    _CHUNK,
    _CODEC_EXTENSION_SETS,
    _ENCODER_NAMES,
    _ENCODER_OPTIONS,
    _EXTENSION_CODECS,
    _RAW_PRIMING_SAMPLES,
    CODEC_EXTENSIONS,
    LAYOUTS,
    LOSSY_CODECS,
    _check_channels,
    _check_codec,
    _check_codec_rate,
    _check_rate,
)

# --------------------------------------------------------------------------- audio I/O


def codec_extension(codec: str) -> str:
    """File extension for ``codec`` (e.g. ``"aac"`` -> ``".m4a"``); ValueError if unknown."""
    _check_codec("codec", codec)
    return CODEC_EXTENSIONS[codec]


class AudioWriter:
    """Streaming encoder of float audio with PyAV.

    Parameters
    ----------
    path : Path
        Output file; the container follows the extension (.wav, .flac, .m4a, .ac3, .mp3).
    sr : int
        Sample rate, Hz.
    channels : int
        1, 2 or 6 (layouts ``mono``, ``stereo``, ``5.1``).
    codec : str, optional
        Codec name; inferred from the extension when None.
    bitrate : int, optional
        Bit rate (bit/s) for lossy codecs.

    Notes
    -----
    Chunks are float32 arrays of shape (channels, m), clipped to [-1, 1].  Frames carry
    timestamps so that .m4a and .mp3 record the encoder delay; for raw AC-3 the encoder's
    256 priming samples are removed from the start (and zeros appended at the end), so the
    decoded file is aligned with the input either way.
    """

    def __init__(self, path: Path | str, sr: int, channels: int, *, codec: str | None = None, bitrate: int | None = None):
        path = Path(path)
        ext = path.suffix.lower()
        if codec is None:
            if ext not in _EXTENSION_CODECS:
                raise ValueError(f"cannot infer a codec from extension {ext!r} of {path}; known: {sorted(_EXTENSION_CODECS)}")
            codec = _EXTENSION_CODECS[ext]
        _check_codec("codec", codec)
        enc_name = _ENCODER_NAMES.get(codec, codec)
        if ext not in _CODEC_EXTENSION_SETS[enc_name]:
            raise ValueError(f"codec {codec!r} cannot be written to a {ext!r} file; use {sorted(_CODEC_EXTENSION_SETS[enc_name])}")
        _check_rate("sr", sr)
        _check_channels("channels", channels, codec)
        if bitrate is not None and (isinstance(bitrate, bool) or not isinstance(bitrate, (int, np.integer)) or bitrate <= 0):
            raise ValueError(f"bitrate must be a positive integer (bit/s), got {bitrate!r}")
        _check_codec_rate(codec, sr, name="sr")
        self.path, self.sr, self.channels, self.codec = path, int(sr), int(channels), codec
        self._layout = LAYOUTS[self.channels]
        self._container = av.open(str(path), "w")
        self._stream = self._container.add_stream(enc_name, rate=self.sr, options=_ENCODER_OPTIONS.get(enc_name, {}))
        self._stream.layout = self._layout
        if bitrate is not None and codec in LOSSY_CODECS:
            self._stream.bit_rate = int(bitrate)
        self._resampler = av.AudioResampler(format=self._stream.format.name, layout=self._layout, rate=self.sr)
        self._skip = _RAW_PRIMING_SAMPLES.get(enc_name, 0)
        self._pad = self._skip
        self._pts = 0
        self._time_base = Fraction(1, self.sr)

    def write(self, y: np.ndarray) -> None:
        """Encode a chunk, shape (channels, m) (or (m,) when mono), float32 in [-1, 1]."""
        y = np.asarray(y, dtype=np.float32)
        if y.ndim == 1:
            y = y[None, :]
        if y.ndim != 2 or y.shape[0] != self.channels:
            raise ValueError(f"chunk must have shape ({self.channels}, m), got {y.shape}")
        if self._skip:
            drop = min(self._skip, y.shape[1])
            y, self._skip = y[:, drop:], self._skip - drop
        if y.shape[1] == 0:
            return
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(np.clip(y, -1.0, 1.0)), format="fltp", layout=self._layout)
        frame.sample_rate = self.sr
        frame.pts = self._pts
        frame.time_base = self._time_base
        self._pts += y.shape[1]
        for out in self._resampler.resample(frame):
            self._container.mux(self._stream.encode(out))

    def close(self) -> None:
        """Flush the encoder and close the file."""
        if self._container is None:
            return
        if self._pad:
            self._skip = 0
            self.write(np.zeros((self.channels, self._pad), dtype=np.float32))
        for out in self._resampler.resample(None):
            self._container.mux(self._stream.encode(out))
        self._container.mux(self._stream.encode(None))
        self._container.close()
        self._container = None

    def __enter__(self) -> AudioWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_audio(
    path: Path | str,
    y: np.ndarray,
    sr: int,
    *,
    codec: str | None = None,
    bitrate: int | None = None,
    channels: int | None = None,
) -> Path:
    """Encode a float signal to an audio file with PyAV.

    Parameters
    ----------
    path : Path or str
        Output file; the extension picks the container (and the codec when ``codec`` is None):
        .wav = pcm_s16le, .flac, .m4a = aac, .ac3, .mp3 = libmp3lame.
    y : ndarray, shape (n,) or (c, n), float32
        Samples in [-1, 1] (clipped).
    sr : int
        Sample rate, Hz (AC-3 needs 32000, 44100 or 48000).
    codec : str, optional
        ``"pcm_s16le"``, ``"flac"``, ``"aac"``, ``"ac3"``, ``"mp3"`` or ``"libmp3lame"``.
    bitrate : int, optional
        Bit rate in bit/s for lossy codecs.
    channels : int, optional
        Channels of the file (1, 2 or 6); default: those of ``y``.  Mono input is
        copied to both channels (2) or put in the centre (6); stereo is averaged for 1.

    Returns
    -------
    Path
        ``path``.
    """
    y = np.asarray(y, dtype=np.float32)
    if y.ndim == 1:
        y = y[None, :]
    if y.ndim != 2:
        raise ValueError(f"y must have shape (n,) or (channels, n), got {y.shape}")
    have = y.shape[0]
    if have not in LAYOUTS:
        raise ValueError(f"y must have 1, 2 or 6 channels, got {have}")
    want = have if channels is None else channels
    if isinstance(want, bool) or want not in LAYOUTS:
        raise ValueError(f"channels must be 1, 2 or 6, got {channels!r}")
    if want != have and not ((have == 1 and want in (2, 6)) or (have == 2 and want == 1)):
        raise ValueError(f"cannot convert {have} channels to channels={want!r}")
    with AudioWriter(path, sr, want, codec=codec, bitrate=bitrate) as writer:
        for q in range(0, y.shape[1], _CHUNK):
            chunk = y[:, q : q + _CHUNK]
            if want != have:
                if want == 1:
                    chunk = chunk.mean(axis=0, keepdims=True)
                elif want == 2:
                    chunk = np.repeat(chunk, 2, axis=0)
                else:
                    six = np.zeros((6, chunk.shape[1]), dtype=np.float32)
                    six[2] = chunk[0]
                    chunk = six
            writer.write(chunk)
    return Path(path)


def read_audio(path: Path | str, *, mono: bool = False) -> tuple[np.ndarray, int]:
    """Decode the first audio stream of a file with PyAV.

    Parameters
    ----------
    path : Path or str
    mono : bool
        Average the channels.

    Returns
    -------
    y : ndarray, float32, shape (channels, n), or (n,) when ``mono``
    sr : int
        Sample rate, Hz.
    """
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        chunks = [frame.to_ndarray() for frame in _decode_fltp(container, stream)]
        sr = stream.codec_context.sample_rate
    y = np.concatenate(chunks, axis=1) if chunks else np.zeros((1, 0), dtype=np.float32)
    return (y.mean(axis=0) if mono else y), int(sr)


def _decode_fltp(container: av.container.InputContainer, stream: av.AudioStream) -> Iterator[av.AudioFrame]:
    resampler = None
    for frame in container.decode(stream):
        if resampler is None:
            resampler = av.AudioResampler(format="fltp", layout=frame.layout.name, rate=frame.sample_rate)
        yield from resampler.resample(frame)
    if resampler is not None:
        yield from resampler.resample(None)


