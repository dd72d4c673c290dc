"""Generated video with known ground truth, for tests and the picture benchmark.

- :func:`concatenate_clips`: real clips (talking heads) cut together, re-encoded at one size and
  rate, with their audio; the cut frames are the clip boundaries.
- :func:`synthetic_title_video`: a long title of shots with known cut frames: each shot is either a
  moving synthetic scene (colour field, moving shapes, camera noise) or a real talking-head clip
  (looped), and some shots end with a fade through black.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ml.decoding.video import iter_frames

__all__ = ["VideoTruth", "concatenate_clips", "synthetic_title_video"]


@dataclass
class VideoTruth:
    """What a generated video holds.

    Attributes
    ----------
    cuts : list of int
        First frame of every shot after a hard cut.
    fades : list of int
        Middle frame of every fade through black.
    face_shots : list of int
        Shots (in order of all boundaries) that show a talking head.
    n_frames : int
    fps : int
    """

    cuts: list[int] = field(default_factory=list)
    fades: list[int] = field(default_factory=list)
    face_shots: list[int] = field(default_factory=list)
    n_frames: int = 0
    fps: int = 25


def _writer(out: Path, width: int, height: int, fps: int, *, crf: int = 28, preset: str = "ultrafast"):
    import av

    container = av.open(str(out), "w")
    stream = container.add_stream("libx264", rate=fps)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.options = {"preset": preset, "crf": str(crf)}
    return container, stream


def _write(container, stream, image: np.ndarray) -> None:
    import av

    frame = av.VideoFrame.from_ndarray(image, format="rgb24")
    for packet in stream.encode(frame):
        container.mux(packet)


def _close(container, stream) -> None:
    for packet in stream.encode():
        container.mux(packet)
    container.close()


def _fit(image: np.ndarray, width: int, height: int) -> np.ndarray:
    import cv2

    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def concatenate_clips(clips: list[Path], out: Path, *, width: int = 640, height: int = 360, fps: int = 25) -> Path:
    """Cut ``clips`` together (picture only, each resized to ``width`` × ``height``, frame by frame
    at ``fps``): the first frame of clip k + 1 is a hard cut."""
    container, stream = _writer(Path(out), width, height, fps)
    for clip in clips:
        for frame in iter_frames(clip):
            _write(container, stream, _fit(frame.image, width, height))
    _close(container, stream)
    return Path(out)


def _scene(rng: np.random.Generator, width: int, height: int):
    """A synthetic scene: a colour gradient with three moving discs; returns a frame function."""
    import cv2

    base = rng.uniform(30, 220, size=3)
    other = rng.uniform(30, 220, size=3)
    ramp = np.linspace(0, 1, width, dtype=np.float32)[None, :, None]
    background = (base * (1 - ramp) + other * ramp).astype(np.float32)
    background = np.repeat(background, height, axis=0)
    discs = [(rng.uniform(0, width), rng.uniform(0, height), rng.uniform(-6, 6), rng.uniform(-4, 4),
              int(rng.uniform(height / 12, height / 5)), tuple(float(c) for c in rng.uniform(0, 255, 3)))
             for _ in range(3)]  # fmt: skip

    noise = [rng.normal(0, 3, size=(height, width, 3)).astype(np.float32) for _ in range(4)]  # sensor noise

    def frame(k: int) -> np.ndarray:
        image = background + noise[k % len(noise)]
        for x, y, vx, vy, r, colour in discs:
            cx = int((x + vx * k) % width)
            cy = int((y + vy * k) % height)
            cv2.circle(image, (cx, cy), r, colour, -1)
        return np.clip(image, 0, 255).astype(np.uint8)

    return frame


def synthetic_title_video(
    out: Path,
    *,
    duration_s: float,
    talking_heads: list[Path] = (),
    width: int = 1280,
    height: int = 720,
    fps: int = 25,
    shot_s: tuple[float, float] = (3.0, 8.0),
    fade_every: int = 5,
    seed: int = 0,
    preset: str = "ultrafast",
) -> VideoTruth:
    """A title of shots with known boundaries (H.264, ``width`` × ``height`` at ``fps``).

    Shots alternate between synthetic scenes and, when ``talking_heads`` are given, talking-head
    clips (looped to the shot's length). Every ``fade_every``-th shot ends with a 1-s fade out and
    the next begins with a 1-s fade in (through 6 black frames); all other boundaries are hard cuts.
    ``preset`` is x264's: ``"ultrafast"`` (quick to make, and to decode: no deblocking filter, CAVLC)
    or, say, ``"medium"``, which encodes as deliveries are (deblocking, CABAC, B-frames).
    """
    rng = np.random.default_rng(seed)
    heads = [[_fit(f.image, width, height) for f in iter_frames(p)] for p in talking_heads]
    container, stream = _writer(Path(out), width, height, fps, preset=preset)
    truth = VideoTruth(fps=fps)
    total = int(round(duration_s * fps))
    index, shot = 0, 0
    fade_frames, black = fps, 6
    pending_fade_in = False
    while index < total:
        length = min(int(rng.uniform(*shot_s) * fps), total - index)
        if total - index - length < fps:  # no shot shorter than a second at the end
            length = total - index
        use_head = bool(heads) and shot % 2 == 1
        if use_head:
            clip = heads[(shot // 2) % len(heads)]
            source = lambda k, clip=clip: clip[k % len(clip)]  # noqa: E731
            truth.face_shots.append(shot)
        else:
            source = _scene(rng, width, height)
        fade_out = fade_every and (shot + 1) % fade_every == 0 and index + length < total
        for k in range(length):
            image = source(k).astype(np.float32)
            gain = 1.0
            if pending_fade_in and k < fade_frames:
                gain = k / fade_frames
            if fade_out and k >= length - fade_frames:
                gain = min(gain, (length - 1 - k) / fade_frames)
            _write(container, stream, (image * gain).astype(np.uint8))
        index += length
        pending_fade_in = False
        if fade_out and index < total:
            for _ in range(black):
                _write(container, stream, np.zeros((height, width, 3), np.uint8))
            truth.fades.append(index + black // 2)
            index += black
            pending_fade_in = True
        elif index < total:
            truth.cuts.append(index)
        shot += 1
    _close(container, stream)
    truth.n_frames = index
    return truth
