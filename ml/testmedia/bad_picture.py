"""Test material for the picture's bad input: copies of a talking-head clip whose picture lip sync
cannot read, with the clip's own sound.

Kinds (:data:`BAD_PICTURES`):

- ``"black"``: every frame black.
- ``"still"``: one frame (the first at or after ``at_s``), held for the clip's length (a still image
  over speech).
- ``"faceless"``: a synthetic scene (a colour gradient and moving discs; no face) instead of the picture.
- ``"tiny"``: the picture scaled by ``scale`` into the middle of a black frame of its own size
  (faces too small to read).
- ``"rotated"``: the picture stored turned clockwise by ``degrees``, with a display matrix that
  turns it back (as phones write portrait video): upright when the display matrix is honoured,
  on its side when it is not.

The picture is re-encoded (H.264, x264 ``veryfast``, CRF 23), one frame per source frame at the source's
frame interval; the sound, decoded as :mod:`ml.decoding.audio` decodes it (mono, the source's
rate), is written as 16-bit PCM at the same time relative to the first frame as in the source, so a
copy is as much in sync as its source. Matroska output.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import numpy as np

from ml.errors import ParameterError

__all__ = ["BAD_PICTURES", "bad_picture_copy", "encode_into", "write_with_sound"]

BAD_PICTURES = ("black", "still", "faceless", "tiny", "rotated")


def bad_picture_copy(
    src: str | Path, dst: str | Path, kind: str, *, scale: float = 0.1, degrees: int = 90, seed: int = 0, at_s: float = 0.0
) -> Path:
    """Write ``dst`` (Matroska): the sound of ``src`` under a picture of kind ``kind``.

    Parameters
    ----------
    kind : {"black", "still", "faceless", "tiny", "rotated"}
    scale : float
        ``"tiny"``: the picture's scale, in (0, 1).
    degrees : {90, 180, 270}
        ``"rotated"``: the display matrix's counter-clockwise rotation (the pixels are stored
        turned the other way).
    seed : int
        ``"faceless"``: the scene's seed.
    at_s : float
        ``"still"``: seconds from the first frame to the frame held.
    """
    import cv2

    from ml.decoding.video import iter_frames
    from ml.testmedia.video import _scene

    if kind not in BAD_PICTURES:
        raise ParameterError(f"kind={kind!r} must be one of {BAD_PICTURES}")
    if not 0 < scale < 1:
        raise ParameterError(f"scale={scale} must be in (0, 1)")
    if degrees not in (90, 180, 270):
        raise ParameterError(f"degrees={degrees} must be 90, 180 or 270")
    frames = list(iter_frames(src))
    # one frame per source frame at the source's own frame interval (a container's nominal rate
    # can be a field rate: MPEG-1 GRID clips say 50 and hold 25 frames a second)
    interval = float(np.median(np.diff([f.time_s for f in frames]))) if len(frames) > 1 else 0.04
    rate = Fraction(1 / interval).limit_denominator(1001)
    height, width = frames[0].image.shape[:2]
    held = next((f.image for f in frames if f.time_s - frames[0].time_s >= at_s - 1e-6), frames[-1].image)
    scene = _scene(np.random.default_rng(seed), width, height)

    def picture(k: int, image: np.ndarray) -> np.ndarray:
        if kind == "black":
            return np.zeros_like(image)
        if kind == "still":
            return held
        if kind == "faceless":
            return scene(k)
        if kind == "tiny":
            w, h = max(2, int(round(width * scale))), max(2, int(round(height * scale)))
            out = np.zeros_like(image)
            x0, y0 = (width - w) // 2, (height - h) // 2
            out[y0 : y0 + h, x0 : x0 + w] = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
            return out
        return np.ascontiguousarray(np.rot90(image, -(degrees // 90)))  # stored turned clockwise

    stored = (height, width) if kind == "rotated" and degrees != 180 else (width, height)
    images = (picture(k, frame.image) for k, frame in enumerate(frames))
    return write_with_sound(
        dst, src, images, range(len(frames)), 1 / rate, frames[0].time_s, stored, rate=rate,
        options={"preset": "veryfast", "crf": "23"}, rotation=degrees if kind == "rotated" else None,
    )  # fmt: skip


def write_with_sound(
    dst: str | Path,
    src: str | Path,
    images: Iterable[np.ndarray],
    pts: Iterable[int],
    time_base: Fraction,
    first_s: float,
    size: tuple[int, int],
    *,
    rate: Fraction,
    options: dict[str, str],
    rotation: int | None = None,
) -> Path:
    """Write ``dst`` (Matroska): ``images`` (RGB, ``size`` = stored width and height) encoded as H.264
    (x264 ``options``), image i at ``pts[i]`` × ``time_base`` seconds after the first; and the sound of
    ``src``, decoded as :mod:`ml.decoding.audio` decodes it (mono, the source's rate), as 16-bit PCM
    at the same time relative to the first image as in ``src`` (``first_s``: the source's time of the
    picture of the first image), so the copy is as much in sync as its source. ``rotation``: a
    display matrix turning the stored picture by so many degrees counter-clockwise. Written under a
    temporary name and renamed when complete."""
    import av

    from ml.decoding.audio import load_audio, probe_audio

    sample_rate = probe_audio(src).sample_rate
    sound, sound_start = load_audio(src, sample_rate=sample_rate)
    pcm = np.clip(np.round(sound * 32767), -32768, 32767).astype(np.int16)
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    partial = dst.with_name(dst.name + ".partial")
    with av.open(str(partial), "w", format="matroska") as out:
        video = out.add_stream("libx264", rate=rate)
        video.width, video.height, video.pix_fmt = *size, "yuv420p"
        video.codec_context.time_base = time_base
        video.options = dict(options)
        if rotation is not None:
            video.set_display_rotation(rotation)
        audio = out.add_stream("pcm_s16le", rate=sample_rate, layout="mono")
        audio.time_base = Fraction(1, sample_rate)

        def pictures():
            for at, picture in zip(pts, images):
                image = av.VideoFrame.from_ndarray(picture, format="rgb24")
                image.pts = at
                image.time_base = time_base
                yield image

        encode_into(out, video, pictures())
        start = int(round((sound_start - first_s) * sample_rate))
        if start < 0:  # sound before the first frame: dropped, as the copy starts with the picture
            pcm, start = pcm[-start:], 0

        def chunks(block: int = 4096):
            for i in range(0, pcm.size, block):
                chunk = av.AudioFrame.from_ndarray(pcm[None, i : i + block], format="s16", layout="mono")
                chunk.sample_rate = sample_rate
                chunk.pts = start + i
                chunk.time_base = Fraction(1, sample_rate)
                yield chunk

        encode_into(out, audio, chunks())
    partial.replace(dst)
    return dst


def encode_into(container, stream, frames: Iterable) -> None:
    """Encode ``frames`` (PyAV frames) on ``stream`` of the output ``container``, muxing every
    packet, then flush the encoder."""
    for frame in frames:
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
