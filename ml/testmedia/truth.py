"""Test-media ground truth: the true offset of a dub at a reference time (:func:`offset_at`), its
constant-offset segments (:func:`dub_segments`), and where dialogue lines lie (:func:`dialogue_intervals`),
with the seeded random draws everything else derives from.
"""

from __future__ import annotations

import math
import zlib

import numpy as np

from ml.testmedia.specs import DubSpec

# --------------------------------------------------------------------------- ground-truth helpers


def offset_at(truth_dub: dict, t_ref: float) -> float:
    """True offset of a dub at a reference time.

    Parameters
    ----------
    truth_dub : dict
        A dub record of ``ground_truth.json`` (needs ``offset_s``; ``speed_ratio``
        and ``jumps`` default to 1 and none).
    t_ref : float
        Reference (original) time, seconds.

    Returns
    -------
    float
        Offset in seconds, positive = the dub leads: the material of reference time
        ``t_ref`` is heard in the dub at ``t_ref - offset``.  ``o(T)`` is the offset of the
        last jump with ``at_s <= T`` (else ``offset_s``) and the result is
        ``T - (T - o(T)) / speed_ratio``.
    """
    t = float(t_ref)
    ratio = float(truth_dub.get("speed_ratio", 1.0))
    off = float(truth_dub["offset_s"])
    for at, new_off in truth_dub.get("jumps", ()):
        if t >= at:
            off = float(new_off)
    return t - (t - off) / ratio


def dub_segments(dub: DubSpec, duration_s: float) -> list[tuple[float, float, float]]:
    """The constant-offset segments of a dub, in dub time.

    Parameters
    ----------
    dub : DubSpec
    duration_s : float
        Duration of the original (reference) in seconds.

    Returns
    -------
    list of (start_s, end_s, offset_s)
        Dub-time intervals ``[start_s, end_s)`` covering ``[0, duration_s / speed_ratio)``,
        in order, during which ``dub(t) = mix(speed_ratio * t + offset_s)``.
    """
    ratio = dub.speed_ratio
    end = duration_s / ratio
    offsets = [dub.offset_s] + [o for _, o in dub.jumps]
    starts = [-math.inf] + [(at - o) / ratio for at, o in dub.jumps]
    segments = []
    for k, off in enumerate(offsets):
        a = max(starts[k], 0.0)
        b = min(starts[k + 1] if k + 1 < len(starts) else math.inf, end)
        if b > a:
            segments.append((a, b, float(off)))
    return segments


def _zigzag(value: int) -> int:
    return 2 * value if value >= 0 else -2 * value - 1


def _rng(*keys: int | str) -> np.random.Generator:
    """A generator seeded by a tuple of ints/strings (stable across processes)."""
    words = [zlib.crc32(k.encode()) if isinstance(k, str) else _zigzag(int(k)) for k in keys]
    return np.random.default_rng(np.random.SeedSequence(words))


def dialogue_intervals(seed: int, t0: float, t1: float, *, continuous: bool = False) -> list[tuple[float, float]]:
    """Positions of the dialogue lines of a title (shared by every language).

    Lines last 1.5-5 s and are separated by 1-4 s of M&E only; with ``continuous`` (talking
    heads, a documentary's narration) they last 3-8 s and are separated by 0.1-0.4 s, so the
    M&E is almost never heard alone. They are drawn forward from reference time 0 and backward
    from 0, so the lines in ``[0, duration]`` do not depend on how far the timeline is extended.

    Parameters
    ----------
    seed : int
        The title's seed.
    t0, t1 : float
        Reference-time range of interest, seconds.
    continuous : bool
        Continuous dialogue (see above).

    Returns
    -------
    list of (start_s, end_s)
        Lines overlapping ``[t0, t1)``, sorted, in reference seconds.
    """
    return [(a, b) for _, a, b in _dialogue_lines(seed, t0, t1, continuous=continuous)]


def _dialogue_lines(seed: int, t0: float, t1: float, *, continuous: bool = False) -> list[tuple[int, float, float]]:
    lines: list[tuple[int, float, float]] = []
    lengths, gaps = ((3.0, 8.0), (0.1, 0.4)) if continuous else ((1.5, 5.0), (1.0, 4.0))
    rng = _rng(seed, "lines", "forward")
    t, idx = float(rng.uniform(1.0, 3.0)), 0
    while t < t1:
        length = float(rng.uniform(*lengths))
        if t + length > t0:
            lines.append((idx, t, t + length))
        t += length + float(rng.uniform(*gaps))
        idx += 1
    rng = _rng(seed, "lines", "backward")
    t, idx = -float(rng.uniform(0.5, 2.0)), -1
    while t > t0:
        length = float(rng.uniform(*lengths))
        if t - length < t1:
            lines.append((idx, t - length, t))
        t -= length + float(rng.uniform(*gaps))
        idx -= 1
    lines.sort(key=lambda x: x[1])
    return lines


