"""Generated video with known ground truth, for tests and the picture benchmark.

- :func:`concatenate_clips`: real clips (talking heads) cut together, re-encoded at one size and
  rate, with their audio; the cut frames are the clip boundaries.
- :func:`synthetic_title_video`: a long title of shots with known cut frames: each shot is either a
  moving synthetic scene (colour field, moving shapes, camera noise) or a real talking-head clip
  (looped), and some shots end with a fade through black.
- :func:`edit_video`: an edit of real clips as a new user's footage is cut: each clip (or a part of
  it) at its own resolution and frame rate, scaled and letterboxed or pillarboxed into one frame,
  resampled to one rate on its timestamps, hard cuts or dissolves between, H.264 as delivered.
- :func:`encode_frames`: RGB frames made by a test or a benchmark recipe, as H.264.
- :func:`old_film`: a picture as an old black-and-white film's scan shows it (grey; with grain and
  flicker if asked), frame by frame, for :func:`encode_frames`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ml.decoding.video import iter_frames
from ml.errors import MediaError

__all__ = [
    "EditSegment", "EditTruth", "VideoTruth", "concatenate_clips", "edit_video", "encode_frames", "old_film", "synthetic_title_video",
]  # fmt: skip


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


def encode_frames(out: str | Path, frames: Iterable[np.ndarray], *, fps: int = 25, crf: int = 20, preset: str = "veryfast") -> Path:
    """``frames`` [each shape=(h, w, 3), RGB, uint8, the size of the first] as H.264 (x264 ``preset``,
    ``crf``) at ``fps``, one after another as they come: ``out``."""
    frames = iter(frames)
    first = np.ascontiguousarray(next(frames))
    container, stream = _writer(Path(out), first.shape[1], first.shape[0], fps, crf=crf, preset=preset)
    _write(container, stream, first)
    for image in frames:
        _write(container, stream, np.ascontiguousarray(image))
    _close(container, stream)
    return Path(out)


def old_film(
    frames: Iterable[np.ndarray], *, grain: float = 0.0, flicker: float = 0.0, seed: int = 5
) -> Iterable[np.ndarray]:
    """``frames`` [RGB, uint8] in black and white (Rec. 601 luma in all three channels), as old film
    is delivered; with ``grain`` (the standard deviation, grey levels, of Gaussian noise blurred over
    about a pixel, new on every frame) and ``flicker`` (the standard deviation of the exposure frame
    to frame: gain 1 ± ``flicker`` and an offset of ± ``flicker`` × 100 grey levels). The grain and
    the flicker of a frame are drawn from ``seed`` in turn, so a copy is made again bit for bit."""
    import cv2

    rng = np.random.default_rng(seed)
    for image in frames:
        grey = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY).astype(np.float32)
        if flicker:
            grey = grey * (1.0 + rng.normal(0.0, flicker)) + rng.normal(0.0, 100.0 * flicker)
        if grain:
            grey += cv2.GaussianBlur(rng.normal(0.0, grain, grey.shape).astype(np.float32), (0, 0), 0.8)
        grey = np.clip(np.rint(grey), 0, 255).astype(np.uint8)
        yield np.repeat(grey[..., None], 3, axis=-1)


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


@dataclass(frozen=True)
class EditSegment:
    """One clip of an :func:`edit_video` edit.

    Attributes
    ----------
    clip : Path
    start_s, duration_s : float
        The part of the clip used, seconds from its first frame (``duration_s`` None: to its end).
    source_height : int, optional
        Scale the clip down to this many lines first (a 160-line or 224-line source, as small
        talking-head corpora are), then up to the frame.
    fill : bool
        Stretch the clip over the whole frame instead of fitting it inside bars.
    dissolve_frames : int
        Dissolve into this clip from the one before over this many frames (0: a hard cut).
    """

    clip: Path
    start_s: float = 0.0
    duration_s: float | None = None
    source_height: int | None = None
    fill: bool = False
    dissolve_frames: int = 0


@dataclass
class EditTruth:
    """What an :func:`edit_video` edit holds.

    Attributes
    ----------
    cuts : list of int
        First frame of every clip that begins with a hard cut.
    dissolves : list of (int, int)
        First and last mixed frame of every dissolve.
    segments : list of (int, int)
        First and last frame of each clip in the edit (a dissolve's frames belong to both).
    n_frames, fps : int
    """

    cuts: list[int] = field(default_factory=list)
    dissolves: list[tuple[int, int]] = field(default_factory=list)
    segments: list[tuple[int, int]] = field(default_factory=list)
    n_frames: int = 0
    fps: int = 25


def _boxed(image: np.ndarray, width: int, height: int, source_height: int | None, fill: bool) -> np.ndarray:
    """``image`` scaled into a ``width`` × ``height`` frame, inside black bars unless ``fill``."""
    import cv2

    h, w = image.shape[:2]
    if source_height and source_height < h:
        w, h = max(2, round(w * source_height / h)), source_height
        image = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    if fill:
        return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
    scale = min(width / w, height / h)
    nw, nh = max(2, round(w * scale)), max(2, round(h * scale))
    out = np.zeros((height, width, 3), np.uint8)
    x0, y0 = (width - nw) // 2, (height - nh) // 2
    out[y0 : y0 + nh, x0 : x0 + nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR if scale > 1 else cv2.INTER_AREA)
    return out


def _resampled(segment: EditSegment, fps: int) -> list[np.ndarray]:
    """The segment's frames at ``fps``: at each output time, the clip's frame shown then (on the
    clip's timestamps: variable and other frame rates repeat or drop frames as a player would)."""
    frames = [(f.time_s, f.image) for f in iter_frames(segment.clip)]
    if not frames:
        raise MediaError(segment.clip, "the video stream holds no decodable frame")
    times = np.array([t for t, _ in frames]) - frames[0][0]
    end = times[-1] + (float(np.median(np.diff(times))) if len(times) > 1 else 1.0 / fps)
    duration = end - segment.start_s if segment.duration_s is None else min(segment.duration_s, end - segment.start_s)
    picks = np.searchsorted(times, segment.start_s + np.arange(int(round(duration * fps))) / fps + 1e-6, side="right") - 1
    return [frames[max(0, int(i))][1] for i in picks]


def edit_video(
    segments: list[EditSegment],
    out: Path,
    *,
    width: int = 1280,
    height: int = 720,
    fps: int = 25,
    preset: str = "veryfast",
    crf: int = 23,
) -> EditTruth:
    """Cut real clips together as an editor would (H.264 High with x264 ``preset``, ``width`` ×
    ``height`` at ``fps``, picture only) and say where the cuts and dissolves are.

    A dissolve of d frames mixes the last d frames of a clip with the first d of the next, linearly
    (frame k of d: (k + 1) / (d + 1) of the next); it is at most a third of either clip.
    """
    container, stream = _writer(Path(out), width, height, fps, crf=crf, preset=preset)
    truth = EditTruth(fps=fps)
    index, held, held_first = 0, [], 0  # frames of the clip before, not written yet
    for k, segment in enumerate(segments):
        frames = [_boxed(image, width, height, segment.source_height, segment.fill) for image in _resampled(segment, fps)]
        d = min(segment.dissolve_frames, len(frames) // 3, len(held) // 3) if k else 0
        for image in held[: len(held) - d]:
            _write(container, stream, image)
        index += len(held) - d
        first = index
        if k and d:
            for j in range(d):
                a = (j + 1) / (d + 1)
                mix = held[len(held) - d + j].astype(np.float32) * (1 - a) + frames[j].astype(np.float32) * a
                _write(container, stream, np.clip(mix + 0.5, 0, 255).astype(np.uint8))
            truth.dissolves.append((index, index + d - 1))
            index += d
            frames = frames[d:]
        elif k:
            truth.cuts.append(index)
        if k:
            truth.segments.append((held_first, index - 1))
        held, held_first = frames, first
    for image in held:
        _write(container, stream, image)
    index += len(held)
    if segments:
        truth.segments.append((held_first, index - 1))
    _close(container, stream)
    truth.n_frames = index
    return truth
