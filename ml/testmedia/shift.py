"""Test material for lip sync: copies of a clip whose audio is shifted against the picture by a known
offset, made in the two ways real files carry an offset.

- ``"samples"``: the samples move (the first ones dropped or silence put before them) and the stream
  starts where the original's did: the offset is in the signal.
- ``"start"``: the samples are unchanged and the audio stream's timestamps move (a container start
  offset, as an edit or a mux with a delay leaves it): the offset is in the timestamps only.

The video packets are copied unchanged (no re-encoding); the audio, decoded as :mod:`ml.decoding.audio` decodes
it (mono, the source's rate, on its stream time), is written as 16-bit PCM, so the copy with offset 0
is in sync exactly as the source is. Matroska output (any codec, millisecond timestamps).
Positive offset = audio leads (heard early).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from ml.errors import ParameterError

__all__ = ["SHIFT_METHODS", "shifted_copy"]

SHIFT_METHODS = ("samples", "start")

BASE_S = 1.0
"""Both streams are written this much after their source times, so a start offset never makes a
timestamp negative."""


def shifted_copy(src: str | Path, dst: str | Path, offset_s: float, *, method: str = "samples") -> Path:
    """Write ``dst`` (Matroska): the picture of ``src`` with its audio shifted by ``offset_s``.

    Parameters
    ----------
    offset_s : float
        Seconds, positive = the audio leads the picture in the copy, by this much more than in the
        source; at most 1 s either way.
    method : {"samples", "start"}
    """
    import av

    from ml.decoding.audio import load_audio, probe_audio

    if method not in SHIFT_METHODS:
        raise ParameterError(f"method={method!r} must be one of {SHIFT_METHODS}")
    if not abs(offset_s) <= BASE_S:
        raise ParameterError(f"offset_s={offset_s} must be within ±{BASE_S} s")
    rate = probe_audio(src).sample_rate
    y, audio_start = load_audio(src, sample_rate=rate)
    shift = int(round(offset_s * rate))
    first_sample_s = BASE_S + audio_start
    if method == "samples":
        moved = np.zeros_like(y)
        if shift >= 0:
            moved[: y.size - shift] = y[shift:]
        else:
            moved[-shift:] = y[: y.size + shift]
        y = moved
    else:
        first_sample_s -= shift / rate
    pcm = np.clip(np.round(y * 32767), -32768, 32767).astype(np.int16)

    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    partial = dst.with_name(dst.name + ".partial")
    with av.open(str(src)) as source, av.open(str(partial), "w", format="matroska") as out:
        vin = source.streams.video[0]
        vout = out.add_stream_from_template(vin)
        aout = out.add_stream("pcm_s16le", rate=rate, layout="mono")
        aout.time_base = Fraction(1, rate)
        origin_s = source.start_time / 1_000_000 if source.start_time is not None else 0.0
        move = int(round((BASE_S - origin_s) / vin.time_base))
        for packet in source.demux(vin):
            if packet.dts is None and packet.pts is None:
                continue  # the demuxer's flush packet
            if packet.pts is not None:
                packet.pts += move
            if packet.dts is not None:
                packet.dts += move
            packet.stream = vout
            out.mux(packet)
        first_pts = int(round(first_sample_s * rate))
        for i in range(0, pcm.size, 1024):
            chunk = pcm[i : i + 1024]
            frame = av.AudioFrame.from_ndarray(chunk[None, :], format="s16", layout="mono")
            frame.sample_rate = rate
            frame.pts = first_pts + i
            frame.time_base = Fraction(1, rate)
            for packet in aout.encode(frame):
                out.mux(packet)
        for packet in aout.encode(None):
            out.mux(packet)
    partial.replace(dst)
    return dst
