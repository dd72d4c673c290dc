"""Test-media remixes: a dub's music and effects remixed the way a dubbing studio's M&E differs from
the original's (per-band EQ, dynamic-range compression, an echo, band-limiting), applied to the bed
stems only, in streaming chunks with their state carried over, so the timing (and the ground
truth) is the undistorted bed's.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal

__all__ = ["REMIX_EFFECTS", "Remix"]

REMIX_EFFECTS = ("eq", "compress", "echo", "lowpass")
"""What :class:`Remix` can apply, in this order:

- ``eq``: peaking filters of +5 dB at 120 Hz, -6 dB at 1 kHz, +4 dB at 4 kHz, -5 dB at 10 kHz
  (Q 1);
- ``compress``: 4:1 above -30 dBFS on the bed's peak level smoothed over 20 ms;
- ``echo``: the bed again 60 ms later at -6 dB;
- ``lowpass``: 8th-order Butterworth low-pass at 8 kHz (band-limited delivery).
"""

_EQ = ((120.0, 5.0), (1000.0, -6.0), (4000.0, 4.0), (10000.0, -5.0))
_ECHO_S, _ECHO_DB = 0.060, -6.0
_THRESHOLD_DB, _RATIO, _SMOOTH_S = -30.0, 4.0, 0.020
_LOWPASS_HZ = 8000.0


def _peaking(freq: float, gain_db: float, q: float, sr: int) -> np.ndarray:
    """RBJ peaking-EQ biquad as one SOS row [shape=(1, 6)]."""
    a = 10 ** (gain_db / 40)
    w0 = 2 * math.pi * freq / sr
    alpha = math.sin(w0) / (2 * q)
    b = np.array([1 + alpha * a, -2 * math.cos(w0), 1 - alpha * a])
    den = np.array([1 + alpha / a, -2 * math.cos(w0), 1 - alpha / a])
    return np.concatenate([b / den[0], den / den[0]])[None, :]


class Remix:
    """Stateful remix of stereo bed chunks [shape=(2, m), float32] (see :data:`REMIX_EFFECTS`).

    Parameters
    ----------
    effects : tuple of str
        A subset of :data:`REMIX_EFFECTS`.
    sr : int
        Sample rate of the chunks, Hz.
    """

    def __init__(self, effects: tuple[str, ...], sr: int) -> None:
        unknown = sorted(set(effects) - set(REMIX_EFFECTS))
        if unknown:
            raise ValueError(f"remix effects {unknown} are not among {REMIX_EFFECTS}")
        self.effects = tuple(e for e in REMIX_EFFECTS if e in effects)
        self.sr = sr
        nyquist = sr / 2
        self._eq = np.concatenate([_peaking(f, g, 1.0, sr) for f, g in _EQ if f < 0.9 * nyquist])
        self._eq_zi = np.zeros((2, len(self._eq), 2))
        self._lp = signal.butter(8, min(_LOWPASS_HZ, 0.9 * nyquist), fs=sr, output="sos")
        self._lp_zi = np.zeros((2, len(self._lp), 2))
        self._delay = np.zeros((2, int(round(_ECHO_S * sr))), dtype=np.float32)
        self._smooth = math.exp(-1.0 / (_SMOOTH_S * sr))
        self._level_zi = np.zeros(1)

    def __call__(self, bed: np.ndarray) -> np.ndarray:
        out = np.asarray(bed, dtype=np.float64)
        if "eq" in self.effects:
            out, self._eq_zi = signal.sosfilt(self._eq, out, axis=1, zi=self._eq_zi.transpose(1, 0, 2))
            self._eq_zi = self._eq_zi.transpose(1, 0, 2)
        if "compress" in self.effects:
            out = self._compress(out)
        if "echo" in self.effects:
            joined = np.concatenate([self._delay, out.astype(np.float32)], axis=1)
            k = self._delay.shape[1]
            out = out + 10 ** (_ECHO_DB / 20) * joined[:, : out.shape[1]]
            self._delay = joined[:, -k:].copy()  # the dry bed of the last 60 ms, for the next chunk
        if "lowpass" in self.effects:
            out, self._lp_zi = signal.sosfilt(self._lp, out, axis=1, zi=self._lp_zi.transpose(1, 0, 2))
            self._lp_zi = self._lp_zi.transpose(1, 0, 2)
        return out.astype(np.float32)

    def _compress(self, x: np.ndarray) -> np.ndarray:
        """4:1 above the threshold on the peak of both channels smoothed over 20 ms (a one-pole
        filter whose state carries over, so the result does not depend on the chunks)."""
        peak = np.max(np.abs(x), axis=0)
        level, self._level_zi = signal.lfilter([1 - self._smooth], [1, -self._smooth], peak, zi=self._level_zi)
        over_db = 20 * np.log10(np.maximum(level, 1e-12) / 10 ** (_THRESHOLD_DB / 20))
        gains = 10 ** (-np.maximum(over_db, 0.0) * (1 - 1 / _RATIO) / 20)
        return x * gains
