"""Test-media stems: the shared music-and-effects bed and each language's dialogue, rendered in
blocks on the reference timeline, and their mapping to a dub's own time (offset, drift, jumps).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
import soxr
from scipy import signal

from ml.testmedia.material import MediaSources, _active_rms, _load_file, _rms, _synthetic_effect, _synthetic_music, speech_pool
from ml.testmedia.specs import (
    _CHUNK,
    _FRAC_HALF_TAPS,
    BED_RMS_DBFS,
    BLOCK_S,
    CROSSFADE_S,
    DIALOGUE_REL_DB,
    EFFECTS_PER_BLOCK,
    ROOM_TONE_REL_DB,
)
from ml.testmedia.truth import _dialogue_lines, _rng

# --------------------------------------------------------------------------- stems


def _fade(length: int, fade: int, *, fade_in: bool = True, fade_out: bool = True) -> np.ndarray:
    """Equal-power fade envelope, shape (length,)."""
    env = np.ones(length, dtype=np.float32)
    k = min(fade, length // 2)
    if k > 0:
        ramp = np.sin(0.5 * np.pi * (np.arange(k, dtype=np.float32) + 0.5) / k)
        if fade_in:
            env[:k] = ramp
        if fade_out:
            env[length - k :] = ramp[::-1]
    return env


def _add(dst: np.ndarray, start: int, src: np.ndarray) -> None:
    """``dst[..., start:start+len] += src`` clipped to dst's extent."""
    n = dst.shape[-1]
    a, b = max(start, 0), min(start + src.shape[-1], n)
    if b > a:
        dst[..., a:b] += src[..., a - start : b - start]


def _bed_plan(keys: tuple, i0: int, i1: int, sr: int, lengths: Sequence[int]) -> list[tuple[int, int, int, int]]:
    """Pieces of a bed as (start_sample, length, file_index, source_start), anchored at sample 0.

    ``lengths`` are the source lengths in samples (empty = synthetic pieces, index -1).
    """
    fade = int(CROSSFADE_S * sr)
    plan = []

    def piece(rng: np.random.Generator, prev: int) -> tuple[int, int, int]:
        if not lengths:
            return int(rng.uniform(12.0, 40.0) * sr), -1, 0
        choices = [i for i in range(len(lengths)) if i != prev] or [0]
        idx = int(rng.choice(choices))
        length = min(int(rng.uniform(12.0, 40.0) * sr), lengths[idx])
        src = int(rng.integers(0, lengths[idx] - length + 1))
        return length, idx, src

    rng = _rng(*keys, "bed", "forward")
    pos, prev = 0, -2
    while pos < i1:
        length, idx, src = piece(rng, prev)
        plan.append((pos, length, idx, src))
        pos += max(length - fade, fade)
        prev = idx
    rng = _rng(*keys, "bed", "backward")
    end, prev = fade, plan[0][2]
    while end > i0:
        length, idx, src = piece(rng, prev)
        plan.append((end - length, length, idx, src))
        end -= max(length - fade, fade)
        prev = idx
    return plan


def _render_bed(
    keys: tuple,
    i0: int,
    n: int,
    sr: int,
    sources: MediaSources,
    *,
    level_db: float,
    effects: bool = True,
) -> np.ndarray:
    """The M&E bed on absolute samples ``[i0, i0 + n)`` (sample 0 = reference time 0).

    Parameters
    ----------
    keys : tuple
        Seed keys (e.g. ``(seed,)``).
    i0, n : int
        First absolute sample and number of samples.
    sr : int
        Sample rate, Hz.
    sources : MediaSources
    level_db : float
        Level relative to ``BED_RMS_DBFS``.
    effects : bool
        Sprinkle effects (and room tone) in the bed.

    Returns
    -------
    ndarray, shape (2, n), float32.
    """
    bed = np.zeros((2, n), dtype=np.float32)
    target = 10 ** ((BED_RMS_DBFS + level_db) / 20)
    files = sources.music_files()
    lengths = [np.asarray(_load_file(str(p), sr, False)).shape[1] for p in files]
    fade = int(CROSSFADE_S * sr)
    for start, length, idx, src in _bed_plan(keys, i0, i0 + n, sr, lengths):
        if start + length <= i0 or start >= i0 + n:
            continue
        prng = _rng(*keys, "piece", start)
        if idx < 0:
            x = _synthetic_music(length, sr, prng)
        else:
            x = _load_file(str(files[idx]), sr, False)[:, src : src + length]
        gain = target / max(_active_rms(x, sr), 1e-3)
        gain *= 10 ** (prng.uniform(-2.0, 2.0) / 20)
        balance = 10 ** (prng.uniform(-1.5, 1.5) / 20)
        env = _fade(length, fade) * gain
        piece = x * env
        piece[0] *= balance
        piece[1] /= balance
        _add(bed, start - i0, piece)
    if effects:
        _add_effects(bed, keys, i0, sr, sources, target)
        _add_room_tone(bed, keys, i0, sr, target * 10 ** (ROOM_TONE_REL_DB / 20))
    return bed


def _add_effects(bed: np.ndarray, keys: tuple, i0: int, sr: int, sources: MediaSources, target: float) -> None:
    """Sprinkle effects into ``bed`` (shape (2, n), absolute start sample ``i0``) in place."""
    files = sources.effect_files()
    block = int(BLOCK_S * sr)
    n = bed.shape[1]
    max_len = int(3.0 * sr)
    for k in range((i0 - max_len) // block, (i0 + n) // block + 1):
        rng = _rng(*keys, "effects", k)
        for _ in range(int(rng.poisson(EFFECTS_PER_BLOCK))):
            at = k * block + int(rng.integers(block))
            if files:
                x = np.asarray(_load_file(str(files[int(rng.integers(len(files)))]), sr, False))[:, :max_len]
            else:
                x = _synthetic_effect(sr, rng)[:, :max_len]
            if x.shape[1] < 16:
                continue
            gain = target * 10 ** (rng.uniform(-8.0, 1.0) / 20) / (_active_rms(x, sr) or 1.0)
            pan = rng.uniform(0.25, 0.75)
            env = _fade(x.shape[1], int(0.005 * sr), fade_out=False)
            env *= _fade(x.shape[1], int(0.05 * sr), fade_in=False) * gain
            piece = x * env
            piece[0] *= 2 * (1 - pan)
            piece[1] *= 2 * pan
            _add(bed, at - i0, piece)


def _add_room_tone(bed: np.ndarray, keys: tuple, i0: int, sr: int, level: float) -> None:
    """Add low-passed noise, generated per 10-s block, to ``bed`` (shape (2, n)) in place."""
    block = int(BLOCK_S * sr)
    n = bed.shape[1]
    sos = signal.butter(2, 800, fs=sr, output="sos")
    zi0 = signal.sosfilt_zi(sos)
    for k in range(i0 // block, (i0 + n - 1) // block + 1):
        rng = _rng(*keys, "room", k)
        noise = rng.standard_normal((2, block)).astype(np.float32)
        zi = np.stack([zi0 * noise[0, 0], zi0 * noise[1, 0]], axis=1)
        tone, _ = signal.sosfilt(sos, noise, axis=1, zi=zi)
        tone *= level / max(_rms(tone), 1e-9)
        _add(bed, k * block - i0, tone.astype(np.float32))


def _render_dialogue(
    seed: int, language: str, i0: int, n: int, sr: int, sources: MediaSources, *, continuous: bool = False
) -> np.ndarray:
    """The dialogue stem of one language on absolute samples ``[i0, i0 + n)``.

    Returns
    -------
    ndarray, shape (n,), float32; lines at :func:`dialogue_intervals` positions.
    """
    out = np.zeros(n, dtype=np.float32)
    pool = speech_pool(language, sr, sources=sources)
    target = 10 ** ((BED_RMS_DBFS + DIALOGUE_REL_DB) / 20)
    fade = int(0.02 * sr)
    for idx, a, b in _dialogue_lines(seed, i0 / sr, (i0 + n) / sr, continuous=continuous):
        start, stop = round(a * sr), round(b * sr)
        length = stop - start
        rng = _rng(seed, "line", language, idx)
        reps = -(-length // pool.size) if length > pool.size else 1
        src = np.tile(pool, reps) if reps > 1 else pool
        best, best_rms = None, -1.0
        for _ in range(4):
            s = int(rng.integers(0, src.size - length + 1))
            rms = _rms(src[s : s + length])
            if rms > best_rms:
                best, best_rms = s, rms
        line = np.array(src[best : best + length], dtype=np.float32)
        line *= target * 10 ** (rng.uniform(-1.5, 1.5) / 20) / (_active_rms(line, sr) or 1.0)
        line *= _fade(length, fade)
        _add(out, start - i0, line)
    return out


# --------------------------------------------------------------------------- mapping to dub time


def _take(arrays: tuple[np.ndarray, np.ndarray], start: int, stop: int) -> np.ndarray:
    """Rows ``[bed_L, bed_R, dialogue]`` of samples ``[start, stop)``, zero outside; shape (3, m)."""
    bed, dia = arrays
    out = np.zeros((3, stop - start), dtype=np.float32)
    n = dia.size
    a, b = max(start, 0), min(stop, n)
    if b > a:
        out[:2, a - start : b - start] = bed[:, a:b]
        out[2, a - start : b - start] = dia[a:b]
    return out


def _frac_kernel(frac: float) -> np.ndarray:
    """Kaiser-windowed sinc evaluating x(n + frac): taps for k = -L+1 .. L, shape (2L,)."""
    half = _FRAC_HALF_TAPS
    u = np.arange(-half + 1, half + 1) - frac
    window = np.i0(8.0 * np.sqrt(np.clip(1 - (u / half) ** 2, 0, None))) / np.i0(8.0)
    return (np.sinc(u) * window).astype(np.float64)


def _read_shifted(arrays: tuple[np.ndarray, np.ndarray], start: int, m: int, kernel: np.ndarray | None) -> np.ndarray:
    """Stems at positions ``start + frac + [0, m)``; shape (3, m) float32."""
    if kernel is None:
        return _take(arrays, start, start + m)
    half = _FRAC_HALF_TAPS
    x = _take(arrays, start - half + 1, start + m + half)
    return signal.oaconvolve(x, kernel[::-1][None, :], mode="valid", axes=1).astype(np.float32)


def _iter_mapped(
    arrays: tuple[np.ndarray, np.ndarray],
    i0: int,
    sr: int,
    *,
    segments: Sequence[tuple[float, float, float]],
    ratio: float,
    sr_out: int,
    n_out: int,
) -> Iterator[np.ndarray]:
    """Stems in dub time: yields consecutive chunks, shape (3, m), covering ``n_out`` samples.

    Output sample ``j`` of segment ``(start_s, end_s, offset)`` is the stems at reference time
    ``ratio * j / sr_out + offset`` (absolute sample ``i0`` of the arrays = time ``i0 / sr``).
    """
    bounds = [0] + [min(n_out, max(0, math.ceil(a * sr_out - 1e-9))) for a, _, _ in segments[1:]] + [n_out]
    for (_, _, off), j0, j1 in zip(segments, bounds[:-1], bounds[1:]):
        count = j1 - j0
        if count <= 0:
            continue
        pos = (ratio * j0 / sr_out + off) * sr - i0
        ip = math.floor(pos)
        frac = pos - ip
        if frac > 1 - 1e-7:
            ip, frac = ip + 1, 0.0
        kernel = _frac_kernel(frac) if frac > 1e-7 else None
        if ratio == 1.0 and sr_out == sr:
            for q in range(0, count, _CHUNK):
                yield _read_shifted(arrays, ip + q, min(_CHUNK, count - q), kernel)
            continue
        stream = soxr.ResampleStream(sr, sr_out / ratio, 3, dtype="float32", quality="HQ")
        produced = 0
        while produced < count:
            x = _read_shifted(arrays, ip, _CHUNK, kernel)
            ip += _CHUNK
            y = stream.resample_chunk(np.ascontiguousarray(x.T))
            if y.shape[0]:
                take = min(y.shape[0], count - produced)
                produced += take
                yield np.ascontiguousarray(y[:take].T)


class _ChannelMapper:
    """Turns stem chunks (3, m) = [bed_L, bed_R, dialogue] into the file's channels (c, m)."""

    def __init__(self, channels: int, sr: int) -> None:
        self.channels = channels
        self._sos = signal.butter(4, 120, fs=sr, output="sos")
        self._zi = np.zeros((self._sos.shape[0], 2))

    def __call__(self, stems: np.ndarray) -> np.ndarray:
        left, right, dia = stems
        if self.channels == 1:
            return ((left + right) * 0.5 + dia)[None, :]
        if self.channels == 2:
            return np.stack([left + dia, right + dia])
        lfe, self._zi = signal.sosfilt(self._sos, (left + right) * 0.5, zi=self._zi)
        centre = dia * np.float32(math.sqrt(2.0))
        return np.stack([left, right, centre, 0.5 * lfe.astype(np.float32), 0.5 * left, 0.5 * right])


