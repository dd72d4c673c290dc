"""Shot boundaries on real footage changed in ways ``ml.testmedia`` does not: dubsync against
PySceneDetect's ContentDetector and AdaptiveDetector on the same files.

``.venv/bin/python -m benchmarks.transitions``

Each case is frames of the clips of ``media/shots`` and ``media/talking_heads`` joined or changed by a
few lines of numpy here (a wipe, a push, a whip pan, a zoom, a brightening as an iris opens, a
caption box fading in and out, a picture windowboxed) and encoded by x264 (``veryfast``, CRF 20) at 25 fps, cached in
``benchmarks/.cache/transitions``. The truth is what a viewer sees: one shot, or a transition over
frames a … b (a cut when a = b). A system is right on a case when it reports no boundary where there
is one shot, or exactly one boundary within a - 1 … b + 1 and none elsewhere. dubsync's boundaries
are all it reports (cuts, fades, dissolves and wipes, pushes and slides among them); PySceneDetect
reports cuts. Results:
``benchmarks/results/transitions.{json,md}``.

``--moves SEED ...`` runs random pushes and whip pans instead (:func:`random_moves`: 24 pushes between
two clips, 20 whip pans of one width and 10 wider pans across one clip, per seed), where the only
difference between a push and a pan may be whether the two pictures join where they meet; results:
``benchmarks/results/transitions_moves.{json,md}``.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks._common import CACHE as CACHE_ROOT
from benchmarks._common import MEDIA, machine, write_report
from benchmarks.video import scenedetect_cuts
from ml.decoding.video import iter_frames
from ml.picture.shots import shots_from_file

CACHE = CACHE_ROOT / "transitions"
SIZE = (1280, 720)
"""Frame size of the cases made of clips of different sizes (the others keep their clip's size)."""


def _frames(path: Path, first: int, n: int, size: tuple[int, int] | None = SIZE) -> list[np.ndarray]:
    import cv2

    out = []
    for frame in iter_frames(path):
        if frame.index >= first:
            out.append(frame.image if size is None else cv2.resize(frame.image, size, interpolation=cv2.INTER_AREA))
        if len(out) == n:
            break
    return out


def _ramp(k: int, start: int, length: int) -> float:
    """0 before ``start``, 1 from ``start + length`` on, linear between."""
    return min(max(k - start, 0), length) / length


def wipe() -> list[np.ndarray]:
    """testvideo.mp4's lizard, then a 12-frame wipe from the left into face_4.mp4 (frames 60-71)."""
    lizard, head = _frames(MEDIA / "shots" / "testvideo.mp4", 40, 72), _frames(MEDIA / "talking_heads" / "retalking" / "face_4.mp4", 0, 90)
    out = lizard[:60]
    for i in range(12):
        image = lizard[60 + i].copy()
        edge = SIZE[0] * (i + 1) // 13
        image[:, :edge] = head[i][:, :edge]
        out.append(image)
    return out + head[12:]


def shaped_wipe(shape: str, frames: int = 16, feather: float = 0.0) -> Callable[[], list[np.ndarray]]:
    """testvideo.mp4's lizard (from its frame 40), then a ``frames``-frame wipe into face_2.mp4 beginning at
    frame 50: ``"down"`` (a line from the top), ``"diagonal"`` (from the top left corner) or ``"iris"``
    (a circle opening from the middle); ``feather`` softens the edge over that share of the frame's
    width, as editors' soft wipes do."""

    def make() -> list[np.ndarray]:
        before = _frames(MEDIA / "shots" / "testvideo.mp4", 40, 50 + frames)
        after = _frames(MEDIA / "talking_heads" / "retalking" / "face_2.mp4", 0, 50 + frames)
        width, height = SIZE
        yy, xx = np.mgrid[0:height, 0:width] / width  # in widths
        place = {"down": yy / yy.max(), "diagonal": (xx / xx.max() + yy / yy.max()) / 2,
                 "iris": np.hypot(xx - xx.max() / 2, yy - yy.max() / 2) / np.hypot(xx.max() / 2, yy.max() / 2)}[shape]  # fmt: skip
        out = before[:50]
        for i in range(frames + 30):
            edge = (i + 1) / (frames + 1) * (1 + feather) - feather / 2  # the front, 0 … 1 of the way
            mix = np.clip((edge - place) / max(feather, 1e-6) + 0.5, 0, 1) if feather else (place <= edge).astype(np.float64)
            a, b = before[min(50 + i, len(before) - 1)], after[i if i < len(after) else len(after) - 1]
            out.append(np.clip(a * (1 - mix[..., None]) + b * mix[..., None] + 0.5, 0, 255).astype(np.uint8))
        return out

    return make


def _pillarboxed(image: np.ndarray) -> np.ndarray:
    """``image`` scaled to :data:`SIZE`'s height and centred between black bars."""
    import cv2

    width, height = SIZE
    h, w = image.shape[:2]
    inner = cv2.resize(image, (round(w * height / h), height), interpolation=cv2.INTER_AREA)
    out = np.zeros((height, width, 3), np.uint8)
    x0 = (width - inner.shape[1]) // 2
    out[:, x0 : x0 + inner.shape[1]] = inner
    return out


def slide(
    before: tuple[str, int],
    after: tuple[str, int],
    frames: int = 16,
    side: str = "right",
    moves: str = "both",
    eased: bool = False,
    pillarbox: bool = False,
) -> Callable[[], list[np.ndarray]]:
    """Clip ``before`` (path under ``media``, first frame) for 50 frames, then clip ``after`` coming in
    from ``side`` ("right", "left", "bottom", "top") over ``frames`` frames: ``moves`` "both" (it
    pushes the first out: a push), "in" (it slides over the still first picture) or "out" (the first
    picture slides out and uncovers the still second one). ``eased``: slow, fast, slow (a smoothstep),
    as editors' presets move; ``pillarbox``: the clips scaled to the height and centred between bars
    that move with them."""

    def make() -> list[np.ndarray]:
        size = None if pillarbox else SIZE
        a_frames = _frames(MEDIA / before[0], before[1], 50 + frames, size)
        b_frames = _frames(MEDIA / after[0], after[1], 30 + frames, size)
        if pillarbox:
            a_frames, b_frames = [_pillarboxed(f) for f in a_frames], [_pillarboxed(f) for f in b_frames]
        # the incoming picture enters from the right of a frame turned so that ``side`` is on its right
        turn = {"right": lambda x: x, "left": lambda x: x[:, ::-1], "bottom": lambda x: x.transpose(1, 0, 2),
                "top": lambda x: x.transpose(1, 0, 2)[:, ::-1]}[side]  # fmt: skip
        back = {"right": lambda x: x, "left": lambda x: x[:, ::-1], "bottom": lambda x: x.transpose(1, 0, 2),
                "top": lambda x: x[:, ::-1].transpose(1, 0, 2)}[side]  # fmt: skip
        out = a_frames[:50]
        for i in range(frames + 30):
            p = min(1.0, (i + 1) / (frames + 1))
            p = p * p * (3 - 2 * p) if eased else p
            a, b = turn(a_frames[min(50 + i, len(a_frames) - 1)]), turn(b_frames[min(i, len(b_frames) - 1)])
            width = a.shape[1]
            x = int(round(width * p)) if i < frames else width  # how far the new shot is in
            kept = a[:, x:] if moves in ("both", "out") else a[:, : width - x]
            entering = b[:, :x] if moves in ("both", "in") else b[:, width - x :]
            out.append(np.ascontiguousarray(back(np.concatenate([kept, entering], axis=1))))
        return out

    return make


LIZARD, FACE = ("shots/testvideo.mp4", 40), "talking_heads/retalking/face_{}.mp4"


def pan(
    frames: int = 20, share: float = 1.0, blur: bool = False, clip: tuple[str, int] | None = None, scale: float = 2.0, tilt: bool = False
) -> Callable[[], list[np.ndarray]]:
    """A window of the frame's size sliding across testvideo.mp4's lizard (its frame 40, still) enlarged
    × ``scale``, ``share`` of the frame's width in ``frames`` frames from frame 30 (a whip pan when it
    is all of it, quickly); ``blur``: each frame the mean of the windows it passes over, as a camera's
    shutter records a fast pan; ``clip``: across that clip (path under ``media``, first frame), playing,
    instead; ``tilt``: down, ``share`` of the height."""

    if share > scale - 1:
        raise ValueError(f"a window moving {share} of the frame runs off a picture enlarged x {scale}")

    def make() -> list[np.ndarray]:
        import cv2

        width, height = SIZE
        source = clip or ("shots/testvideo.mp4", 40)
        pictures = _frames(MEDIA / source[0], source[1], 1 if clip is None else 60 + frames)
        extent = height if tilt else width
        xs = np.r_[np.zeros(30), np.linspace(0, share * extent, frames), np.full(30, share * extent)].astype(int)
        out = []
        for k, x in enumerate(xs):
            big = cv2.resize(pictures[min(k, len(pictures) - 1)], (int(scale * width), int(scale * height)), interpolation=cv2.INTER_CUBIC)
            if tilt:
                big = big.transpose(1, 0, 2)  # rows as columns: the window moves down as it would move right
            x0 = xs[k - 1] if blur and k else x
            across, along = (width, height) if tilt else (height, width)  # the window's size across the move and along it
            rows = slice((big.shape[0] - across) // 2, (big.shape[0] - across) // 2 + across)
            windows = [big[rows, u : u + along].astype(np.float32) for u in range(x0, x + 1, 8)] if blur else []
            image = np.mean(windows, axis=0) if len(windows) > 1 else big[rows, x : x + along]
            image = image.transpose(1, 0, 2) if tilt else image
            out.append(np.ascontiguousarray(np.clip(image + 0.5 * blur, 0, 255).astype(np.uint8)))
        return out

    return make


def zoom() -> list[np.ndarray]:
    """goldeneye-vfr-drop3.mp4 from its 6th decoded frame, zoomed in × 2 over frames 25-50, through its
    own cut (published at frame 90 of its nominal rate, decoded frame 60: here 55)."""
    import cv2

    width, height = SIZE
    out = []
    for k, image in enumerate(_frames(MEDIA / "shots" / "goldeneye-vfr-drop3.mp4", 5, 80)):
        z = 1 + _ramp(k, 25, 25)
        w, h = int(width / z), int(height / z)
        x0, y0 = (width - w) // 2, (height - h) // 2
        out.append(cv2.resize(image[y0 : y0 + h, x0 : x0 + w], SIZE, interpolation=cv2.INTER_CUBIC))
    return out


def brightened(clip: str, gain: float = 1.0, gamma: float = 1.0, size: tuple[int, int] | None = None) -> Callable[[], list[np.ndarray]]:
    """``clip`` brightened (or darkened) over frames 30-55 to ``gain`` × (value ** ``gamma``), clipping at white."""

    def make() -> list[np.ndarray]:
        frames = _frames(MEDIA / "talking_heads" / clip, 0, 100, size)
        out = []
        for k, image in enumerate(frames):
            t = _ramp(k, 30, 25)
            level = (1 + (gain - 1) * t) * (image / 255.0) ** (1 + (gamma - 1) * t)
            out.append(np.clip(255 * level, 0, 255).astype(np.uint8))
        return out

    return make


def captioned(frames: list[np.ndarray], height_share: float) -> list[np.ndarray]:
    """``frames`` with a dark caption box (75 % of the width, ``height_share`` of the height, near the
    bottom, white strokes of "text") fading in over frames 30-35 and out over 105-110."""
    h, w = frames[0].shape[:2]
    box, mask = np.zeros((h, w, 3), np.float32), np.zeros((h, w, 1), np.float32)
    y0, y1 = int(h * (0.95 - height_share)), int(h * 0.95)
    mask[y0:y1, int(w * 0.05) : int(w * 0.8)] = 1
    box[y0:y1] = (20, 30, 90)
    for k in range(5):
        box[y0 + int((y1 - y0) * 0.3) : y0 + int((y1 - y0) * 0.7), int(w * (0.1 + 0.12 * k)) : int(w * (0.18 + 0.12 * k))] = 240
    out = []
    for k, image in enumerate(frames):
        a = _ramp(k, 29, 6) - _ramp(k, 104, 6)
        out.append(np.clip(image * (1 - a * mask) + box * a * mask, 0, 255).astype(np.uint8))
    return out


def caption(height_share: float) -> Callable[[], list[np.ndarray]]:
    """face_4.mp4 :func:`captioned`."""

    def make() -> list[np.ndarray]:
        return captioned(_frames(MEDIA / "talking_heads" / "retalking" / "face_4.mp4", 0, 150, None), height_share)

    return make


def strap(
    clip: str, box: tuple[float, float, float, float], colour: tuple[int, int, int], opacity: float, at: tuple[int, int] = (40, 110)
) -> Callable[[], list[np.ndarray]]:
    """``clip`` with a plain graphic (``box``: x0, y0, x1, y1 as fractions of the frame; ``colour`` RGB
    at ``opacity``, with light text-like strokes along it) fading in over the 8 frames from ``at[0]``
    and out over the 8 from ``at[1]``: a lower third, a banner."""

    def make() -> list[np.ndarray]:
        frames = _frames(MEDIA / "talking_heads" / clip, 0, 150, None)
        h, w = frames[0].shape[:2]
        x0, y0, x1, y1 = int(w * box[0]), int(h * box[1]), int(w * box[2]), int(h * box[3])
        graphic = np.zeros((h, w, 3), np.float32)
        graphic[y0:y1, x0:x1] = colour
        for k in range(x0 + (x1 - x0) // 12, x1 - (x1 - x0) // 12, max(4, (x1 - x0) // 9)):  # strokes of "text"
            graphic[y0 + (y1 - y0) // 3 : y1 - (y1 - y0) // 3, k : k + max(2, (x1 - x0) // 20)] = 235
        mask = np.zeros((h, w, 1), np.float32)
        mask[y0:y1, x0:x1] = opacity
        out = []
        for k, image in enumerate(frames):
            a = _ramp(k, at[0] - 1, 8) - _ramp(k, at[1] - 1, 8)
            out.append(np.clip(image * (1 - a * mask) + graphic * a * mask, 0, 255).astype(np.uint8))
        return out

    return make


def _grid_mix(first: str, second: str) -> list[np.ndarray]:
    """Two GRID speakers (clips under ``media/talking_heads/grid``) as published (360 × 288), the first
    mixed into the second over frames 40-53."""
    a = _frames(MEDIA / "talking_heads" / "grid" / first, 0, 75, None)
    b = _frames(MEDIA / "talking_heads" / "grid" / second, 0, 75, None)
    out = []
    for k in range(90):
        mix = _ramp(k, 39, 15)
        x, y = a[min(k, 74)].astype(np.float32), b[max(0, k - 15)].astype(np.float32)
        out.append(np.clip((1 - mix) * x + mix * y + 0.5, 0, 255).astype(np.uint8))
    return out


def grid_dissolve() -> list[np.ndarray]:
    """Two GRID speakers in the same framing, as published (360 × 288), mixed over frames 40-53."""
    return _grid_mix("pwij3p.mpg", "sbwe5n.mpg")


def windowboxed(picture: np.ndarray) -> np.ndarray:
    """``picture`` scaled to 200 × 160 and boxed in the middle of 640 × 360: bars on all four sides, as
    standard definition in a high-definition frame."""
    import cv2

    frame = np.zeros((360, 640, 3), np.uint8)
    frame[100:260, 220:420] = cv2.resize(picture, (200, 160), interpolation=cv2.INTER_AREA)
    return frame


def windowboxed_dissolve() -> list[np.ndarray]:
    """Two GRID speakers mixed over frames 40-53 (swiz3n into sbwe5n), :func:`windowboxed`."""
    return [windowboxed(picture) for picture in _grid_mix("swiz3n.mpg", "sbwe5n.mpg")]


CASES: dict[str, tuple[Callable[[], list[np.ndarray]], tuple[int, int] | None]] = {
    "wipe into another clip": (wipe, (60, 71)),
    "16-frame wipe down from the top into another clip": (shaped_wipe("down"), (50, 65)),
    "16-frame diagonal wipe into another clip": (shaped_wipe("diagonal"), (50, 65)),
    "16-frame iris wipe (a circle opening) into another clip": (shaped_wipe("iris"), (50, 65)),
    "16-frame soft wipe down (edge feathered over a fifth of the width)": (shaped_wipe("down", feather=0.2), (50, 66)),
    "16-frame slide out: the lizard slides out to the left, uncovering face_2": (slide(LIZARD, (FACE.format(2), 0), moves="out"), (50, 65)),
    "16-frame push from the right: face_2 pushes the lizard out": (slide(LIZARD, (FACE.format(2), 0)), (50, 65)),
    "12-frame push up from the bottom, face_1 into face_4": (slide((FACE.format(1), 0), (FACE.format(4), 0), 12, "bottom"), (50, 61)),
    "20-frame eased push from the left between two GRID speakers, pillarboxed": (
        slide(("talking_heads/grid/swiz3n.mpg", 0), ("talking_heads/grid/bbaf2n.mpg", 0), 20, "left", eased=True, pillarbox=True),
        (50, 69),
    ),
    "16-frame slide in from the top: face_5 covers the lizard": (slide(LIZARD, (FACE.format(5), 0), side="top", moves="in"), (50, 65)),
    "40-frame push from the right: face_4 pushes the lizard out": (slide(LIZARD, (FACE.format(4), 0), 40), (50, 89)),
    "8-frame push from the left, face_3 into face_5": (slide((FACE.format(3), 0), (FACE.format(5), 0), 8, "left"), (50, 57)),
    "whip pan": (pan(), None),
    "whip pan, motion-blurred": (pan(blur=True), None),
    "pan across half the frame's width in 40 frames": (pan(40, 0.5), None),
    "whip pan across face_4 playing (enlarged × 2)": (pan(clip=(FACE.format(4), 0)), None),
    "whip pan across GRID lwbsza playing (enlarged × 2)": (pan(clip=("talking_heads/grid/lwbsza.mpg", 0)), None),
    "pan across face_4 playing (enlarged × 2), half the width in 25 frames": (pan(25, 0.5, clip=(FACE.format(4), 0)), None),
    "tilt down across face_1 playing (enlarged × 1.5), a third of the height in 50 frames": (
        pan(50, 1 / 3, clip=(FACE.format(1), 0), scale=1.5, tilt=True),
        None,
    ),
    "zoom in, then the clip's own cut": (zoom, (55, 55)),
    "face_4 brightened × 1.6 (highlights clip)": (brightened("retalking/face_4.mp4", gain=1.6, size=SIZE), None),
    "face_2 brightened by a tone curve (value ** 0.6)": (brightened("retalking/face_2.mp4", gamma=0.6), None),
    "GRID lwbsza brightened × 1.6 (flat background clips)": (brightened("grid/lwbsza.mpg", gain=1.6), None),
    "GRID lwbsza darkened × 0.6": (brightened("grid/lwbsza.mpg", gain=0.6), None),
    "caption box fading in and out, 12 % of the height": (caption(0.12), None),
    "caption box fading in and out, 25 % of the height": (caption(0.25), None),
    "lower third over a GRID speaker (half the width, 20 % of the height)": (
        strap("grid/lbbc2a.mpg", (0.0, 0.72, 0.5, 0.92), (180, 30, 40), 1.0, at=(15, 50)),
        None,
    ),
    "banner across the top of face_3, 90 % opaque, 22 % of the height": (
        strap("retalking/face_3.mp4", (0.0, 0.0, 1.0, 0.22), (250, 200, 40), 0.9),
        None,
    ),
    "dissolve between two GRID speakers in one framing": (grid_dissolve, (40, 53)),
    "dissolve between two GRID speakers windowboxed (200 × 160 in 640 × 360)": (windowboxed_dissolve, (40, 53)),
}
"""Name: (frames, truth: the transition's first and last frame, or ``None`` for one shot)."""


MOVE_CLIPS = [
    LIZARD, *((FACE.format(k), 0) for k in range(1, 6)),
    *((f"talking_heads/grid/{name}.mpg", 0) for name in ("lwbsza", "bbaf2n", "pwij3p")),
    ("shots/goldeneye-vfr-drop3.mp4", 5), ("shots/issue-195-aspect-ratio.mp4", 10),
]  # fmt: skip
"""What :func:`random_moves` draws from. The last two have cuts of their own: they only come in (their
first cut comes after the case's end), and no pan crosses them."""


def _cut_free(clip: tuple[str, int]) -> bool:
    """Whether ``clip`` (of :data:`MOVE_CLIPS`) has no cut of its own: the lizard's still or a talking head."""
    return clip == LIZARD or not clip[0].startswith("shots/")


def random_moves(seed: int) -> dict[str, tuple[Callable[[], list[np.ndarray]], tuple[int, int] | None]]:
    """24 pushes (:func:`slide`, both pictures moving: two clips, 6 to 24 frames, from any side, a third
    of them eased), 20 whip pans of one width (:func:`pan`: across one clip or the still lizard, 6 to
    20 frames, some motion-blurred, some tilts) and 10 pans across 1.2 to 1.8 widths, drawn from
    ``seed``, as :data:`CASES` are."""
    rng = random.Random(seed)
    moves = {}
    for k in range(24):
        a, b = rng.sample(MOVE_CLIPS, 2)
        while not _cut_free(a):
            a, b = rng.sample(MOVE_CLIPS, 2)
        frames, side, eased = rng.choice([6, 8, 10, 12, 16, 24]), rng.choice(["right", "left", "bottom", "top"]), rng.random() < 0.3
        name = f"{seed} push {k}: {Path(a[0]).stem} into {Path(b[0]).stem}, {frames} frames from the {side}{', eased' if eased else ''}"
        moves[name] = (slide(a, b, frames, side, "both", eased), (50, 50 + frames - 1))
    for k in range(20):
        clip = rng.choice(MOVE_CLIPS)
        while not _cut_free(clip):
            clip = rng.choice(MOVE_CLIPS)
        frames, blur, tilt = rng.choice([6, 8, 10, 12, 16, 20]), rng.random() < 0.3, rng.random() < 0.3
        name = f"{seed} whip pan {k}: across {Path(clip[0]).stem}, {frames} frames{', blurred' if blur else ''}{', a tilt' if tilt else ''}"
        moves[name] = (pan(frames, 1.0, blur=blur, clip=None if clip == LIZARD else clip, tilt=tilt), None)
    for k in range(10):
        clip = rng.choice([c for c in MOVE_CLIPS if _cut_free(c)])
        frames, share = rng.choice([8, 10, 12, 16, 20]), rng.choice([1.2, 1.4, 1.6, 1.8])
        blur, tilt = rng.random() < 0.6, rng.random() < 0.3
        name = f"{seed} wide pan {k}: across {share} widths of {Path(clip[0]).stem} (enlarged × 3), {frames} frames"
        name += f"{', blurred' if blur else ''}{', a tilt' if tilt else ''}"
        moves[name] = (pan(frames, share, blur=blur, clip=None if clip == LIZARD else clip, scale=3.0, tilt=tilt), None)
    return moves


def build(name: str, make: Callable[[], list[np.ndarray]], cache: Path = CACHE) -> Path:
    """The case's file (cached)."""
    from ml.testmedia.video import encode_frames

    path = cache / f"{''.join(c if c.isalnum() else '_' for c in name).strip('_')}.mp4"
    if path.exists():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    encode_frames(path.with_name(f"partial_{path.name}"), make(), crf=20, preset="veryfast").rename(path)
    return path


def right(found: list[int], truth: tuple[int, int] | None) -> bool:
    if truth is None:
        return not found
    first, last = truth
    return len(found) == 1 and first - 1 <= found[0] <= last + 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", nargs="+", type=int, metavar="SEED", help="random pushes and whip pans from these seeds instead")
    args = parser.parse_args(argv)
    cases, cache, stem = CASES, CACHE, "transitions"
    if args.moves:
        cases = {name: case for seed in args.moves for name, case in random_moves(seed).items()}
        cache, stem = CACHE / "moves", "transitions_moves"
    report = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine(), "cases": []}
    for name, (make, truth) in cases.items():
        path = build(name, make, cache)
        shots = shots_from_file(path)
        ours = [(int(row["first_frame"]), row["begins_with"]) for row in shots.table()[1:]]
        row = {"case": name, "file": path.name, "truth": truth, "dubsync": ours, "dubsync_right": right([f for f, _ in ours], truth)}
        for detector in ("content", "adaptive"):
            cuts = scenedetect_cuts(path, detector)[0]
            row[detector], row[f"{detector}_right"] = cuts, right(cuts, truth)
        print(f"[transitions] {name}: dubsync {ours}, Content {row['content']}, Adaptive {row['adaptive']}", flush=True)
        report["cases"].append(row)
    lines = [f"# Transitions on real footage ({report['date']}, {report['machine']})", "",
             "| case | truth | dubsync | Content | Adaptive |", "|---|---|---|---|---|"]  # fmt: skip
    for row in report["cases"]:
        truth = "one shot" if row["truth"] is None else f"frames {row['truth'][0]}-{row['truth'][1]}"
        ours = ", ".join(f"{kind} {f}" for f, kind in row["dubsync"]) or "nothing"
        mark = {True: "right", False: "**wrong**"}
        lines.append(
            f"| {row['case']} | {truth} | {ours} ({mark[row['dubsync_right']]}) | {row['content'] or 'nothing'} "
            f"({mark[row['content_right']]}) | {row['adaptive'] or 'nothing'} ({mark[row['adaptive_right']]}) |"
        )
    groups = {"": report["cases"]}
    if args.moves:
        groups |= {" (pushes)": [r for r in report["cases"] if r["truth"]], " (pans)": [r for r in report["cases"] if not r["truth"]]}
    for kind, rows in groups.items():
        totals = {system: sum(row[f"{system}_right"] for row in rows) for system in ("dubsync", "content", "adaptive")}
        scores = f"dubsync {totals['dubsync']}, Content {totals['content']}, Adaptive {totals['adaptive']}"
        lines += ["", f"Right{kind}: {scores} of {len(rows)}."]
    text = "\n".join(lines) + "\n"
    write_report(stem, report, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
