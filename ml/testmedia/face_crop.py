"""Test material for lip sync on the pictures lip-reading corpora hold: a talking head cropped to a
square around its face, scaled down and re-encoded at a broadcast-like quality, with the clip's own
sound (LRS2's crops are 160 × 160 from BBC television, VoxCeleb's 224 × 224 from web interviews).

Each frame keeps its own presentation time (a variable frame rate stays as it was) and the sound
keeps its time relative to the first frame (:func:`ml.testmedia.bad_picture.write_with_sound`), so
a copy is as much in sync as its source: only the picture's size and quality change.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

from ml.errors import ParameterError

__all__ = ["face_crop_copy"]

TIME_BASE = Fraction(1, 90000)
"""Time base of the copy's frames (MPEG's 90 kHz clock): every source time kept to 11 µs."""


def face_crop_copy(
    src: str | Path, dst: str | Path, box: Sequence[float], *, side: int = 160, crf: int = 30, zoom: float = 2.0
) -> Path:
    """Write ``dst`` (Matroska): the picture of ``src`` cropped to a square around ``box``, scaled to
    ``side`` × ``side`` and encoded by x264 (``medium``) at ``crf``, with the sound of ``src``.

    Parameters
    ----------
    box : (x0, y0, x1, y1)
        The face, in pixels of the displayed frame (a face track's median box, say).
    side : int
        Pixels of the copy's square picture (even).
    crf : int
        x264's constant rate factor: 18 is close to the source, 30 about what broadcast television
        leaves of a face after its own compression and a re-encode.
    zoom : float
        The square's side as a multiple of the box's larger side (2: head and shoulders, as LRS2).
        Parts of the square outside the picture are black.
    """
    import cv2

    from ml.decoding.video import iter_frames
    from ml.testmedia.bad_picture import write_with_sound

    x0, y0, x1, y1 = (float(v) for v in box)
    if not (x1 > x0 and y1 > y0):
        raise ParameterError(f"box={tuple(box)} must be x0, y0, x1, y1 with x1 > x0 and y1 > y0")
    if side < 16 or side % 2:
        raise ParameterError(f"side={side} must be an even number of pixels >= 16")
    if not 0 <= crf <= 51:
        raise ParameterError(f"crf={crf} must be in 0..51")
    if not zoom > 0:
        raise ParameterError(f"zoom={zoom} must be > 0")
    frames = list(iter_frames(src))
    times = np.array([f.time_s for f in frames])
    interval = float(np.median(np.diff(times))) if len(frames) > 1 else 0.04
    half = zoom * max(x1 - x0, y1 - y0) / 2
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    # the square onto side × side by one affine map (outside the picture: black)
    scale = side / (2 * half)
    warp = np.array([[scale, 0, -(cx - half) * scale], [0, scale, -(cy - half) * scale]], dtype=np.float32)
    images = (
        cv2.warpAffine(f.image, warp, (side, side), flags=cv2.INTER_AREA, borderValue=(0, 0, 0)) for f in frames
    )
    pts = [int(round((t - times[0]) / TIME_BASE)) for t in times]
    options = {"preset": "medium", "crf": str(crf)}
    rate = Fraction(1 / interval).limit_denominator(1001)
    return write_with_sound(dst, src, images, pts, TIME_BASE, float(times[0]), (side, side), rate=rate, options=options)
