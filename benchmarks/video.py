"""Picture-side benchmark: shot boundaries and face tracks, against published cuts and generated truth.

Run with ``make bench-video`` (or ``.venv/bin/python -m benchmarks.video [--minutes 10] [--quick]``).

On the same clips, in the same run:

- decode-only: every frame decoded, no conversion, the floor of any picture work. For shots it is
  the faster of two ways of decoding on 2 cores: one decoder with 2 FFmpeg threads, and the file cut
  at key frames into spans that 2 threads decode with a one-thread decoder each (as the shot
  detector does by default, with ``in_spans=True``; ``ml.picture.shots.shot_spans``), so that the
  detector's ratio is its own cost, not a better way of decoding. The detector also skips the
  codec's in-loop deblocking filter (``ShotParams.deblock``) and decodes MPEG-1/2, MPEG-4 part 2,
  Motion JPEG, DV and JPEG 2000 at a reduced size (``ShotParams.reduced_decode``); its ratio to a
  decode-only that decodes as it does is reported beside;
- dubsync's shot detector (``ml.picture.shots``) and PySceneDetect's ContentDetector (default settings,
  PyAV backend): hard cuts found within ±1 frame of the truth, precision / recall / F1, and
  speed as a share of decode-only speed (1.0 = as fast as decoding alone);
- dubsync's face tracking (``ml.picture.faces``, given the shots): tracks, frames per second, times real
  time, and speed as a share of decode-only speed.

**Real edits** (``--edits``, default 6): edits of the real clips cut as a new user's footage is
(``ml.testmedia.video.edit_video``): 12 clips each, drawn at random from ``media/talking_heads`` and
the single shots of ``media/shots``, 2.5-5 s each, scaled (some first down to 160 or 224 lines, as
small talking-head corpora are) and pillarboxed or letterboxed into a 16:9 or 4:3 frame, resampled to
24, 25 or 30 fps on their timestamps (edits from k = 40 on: 23.976, 29.97, 50 or 59.94 fps, the
broadcast and film rates, :data:`BROADCAST_FRAMES`), H.264 High (x264 ``veryfast``, CRF 23), a hard cut between
clips or, twice per edit, a dissolve of 0.4-0.8 s. Reported: hard cuts found within ±1 frame by
dubsync and by PySceneDetect's ContentDetector and AdaptiveDetector (defaults), dissolves found
(dubsync's dissolve boundary within the mixed frames), dissolves reported as cuts, and dubsync's
face tracks per talking-head clip and tracks that cross a cut. Then (unless ``--no-lipsync``) the title's
lip-sync offset of each edit given its clips' own sound moved by a known offset, read as the assets
read it, and its error (:mod:`benchmarks.edit_lipsync`). ``--look bw`` measures the edits in black and
white, ``--look film`` as an old film's scan (black and white, grain of 10 grey levels and ± 3 %
flicker frame to frame, :func:`ml.testmedia.video.old_film`; re-encoded as the edits are, cached
beside them; lip sync is not run on them): pictures whose histograms say little or jitter.

Clips: the published cut lists of ``media/shots`` (PySceneDetect's regression
expectations: testvideo.mp4 30/180/394, goldeneye-vfr-drop3.mp4 90/210, fades.mp4 no hard cut; and
issue-195-aspect-ratio.mp4, whose five cuts were seen frame by frame, with no dissolve: dubsync's
dissolves are listed beside its cuts),
the talking heads of ``media/talking_heads`` (one track each), and a generated title of
``--minutes`` minutes (1280 × 720 at 25 fps, H.264; shots of synthetic scenes and talking heads with
known cuts and fades; ``ml.testmedia.video``), cached under ``benchmarks/.cache/video``. Results:
``benchmarks/results/video.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from benchmarks._common import CACHE as CACHE_ROOT
from benchmarks._common import (
    DECODE_THREADS,
    MEDIA,
    decode_video_seconds,
    machine,
    write_report,
    x264_copy,
)
from ml.decoding.video import decoded_frames, probe_video, reduced_min_lines
from ml.picture.faces import track_faces
from ml.picture.shots import shot_spans, shots_from_file
from ml.policy import ShotParams
from ml.testmedia.video import synthetic_title_video

CACHE = CACHE_ROOT / "video"
PUBLISHED = {
    "testvideo.mp4": [30, 180, 394],
    "goldeneye-vfr-drop3.mp4": [90, 210],
    "fades.mp4": [],
    "issue-195-aspect-ratio.mp4": [70, 170, 301, 421, 484],  # no published list: the cuts seen frame by frame (media/SOURCES.md)
}



def decode_only(path: Path, deblock: bool = True, min_lines: int | None = None) -> tuple[float, int]:
    """Seconds to decode every frame of the first video stream and their number
    (:func:`benchmarks._common.decode_video_seconds`)."""
    return decode_video_seconds(path, deblock=deblock, min_lines=min_lines)


def as_the_detector(params: ShotParams | None = None) -> dict:
    """Decoding options of the shot detector with ``params`` (by default: no deblocking filter, a reduced
    size where the codec can), for the stricter baseline: decode-only that decodes no more than it does."""
    params = params or ShotParams()
    return {"deblock": params.deblock, "min_lines": reduced_min_lines(params.max_height) if params.reduced_decode else None}


def decode_only_in_spans(path: Path, deblock: bool = True, min_lines: int | None = None) -> tuple[float, int]:
    """Seconds to decode every frame as the shot detector does with ``in_spans=True``: the spans of
    :func:`ml.picture.shots.shot_spans`, ``DECODE_THREADS`` at a time, a one-thread decoder each (no
    conversion)."""
    from concurrent.futures import ThreadPoolExecutor

    started = time.perf_counter()
    spans = shot_spans(path, DECODE_THREADS)
    with ThreadPoolExecutor(max_workers=DECODE_THREADS) as pool:
        n = sum(pool.map(lambda span: sum(1 for _ in decoded_frames(path, 1, span, deblock=deblock, min_lines=min_lines)), spans))
    return time.perf_counter() - started, n


def scenedetect_cuts(path: Path, detector: str = "content") -> tuple[list[int], float]:
    """PySceneDetect's ContentDetector or AdaptiveDetector (defaults, PyAV backend): start frame of
    every scene but the first."""
    from scenedetect import AdaptiveDetector, ContentDetector, SceneManager, open_video

    started = time.perf_counter()
    video = open_video(str(path), backend="pyav")
    manager = SceneManager()
    manager.add_detector({"content": ContentDetector, "adaptive": AdaptiveDetector}[detector]())
    manager.detect_scenes(video)
    scenes = manager.get_scene_list()
    elapsed = time.perf_counter() - started
    return [int(start.frame_num) for start, _ in scenes[1:]], elapsed


def score(found: list[int], truth: list[int], tolerance: int = 1) -> dict:
    unmatched = list(truth)
    tp = 0
    for f in found:
        hit = next((t for t in unmatched if abs(t - f) <= tolerance), None)
        if hit is not None:
            unmatched.remove(hit)
            tp += 1
    fp, fn = len(found) - tp, len(unmatched)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": precision, "recall": recall, "f1": f1}


REPEATS = 3
"""Each timing is the best of this many runs, decode-only and detector alternating (2 cores: the
noise of a single run is larger than the differences measured)."""


def best_of(fn, repeats: int = REPEATS):
    """(best wall seconds, last result) of ``repeats`` calls."""
    best, result = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def shot_row(name: str, path: Path, truth: list[int], *, nominal: bool) -> dict:
    threaded_s = spans_s = ours_s = as_detector_s = float("inf")
    n_frames = 0
    for _ in range(REPEATS):  # alternate, so that a noisy moment hits all
        seconds, n_frames = decode_only(path)
        threaded_s = min(threaded_s, seconds)
        seconds, n_in_spans = decode_only_in_spans(path)
        spans_s = min(spans_s, seconds)
        if n_in_spans != n_frames:
            raise RuntimeError(f"{name}: {n_in_spans} frames decoded in spans, {n_frames} whole")
        as_detector_s = min(as_detector_s, decode_only(path, **as_the_detector())[0], decode_only_in_spans(path, **as_the_detector())[0])
        seconds, shots = best_of(lambda: shots_from_file(path), 1)
        ours_s = min(ours_s, seconds)
    decode_s = min(threaded_s, spans_s)
    cut_frames = shots.boundaries("cut")
    dissolves = shots.boundaries("dissolve")
    ours = (shots.nominal_frame_numbers(cut_frames) if nominal else cut_frames).tolist()
    runs = [scenedetect_cuts(path) for _ in range(REPEATS)]
    theirs, theirs_s = runs[-1][0], min(seconds for _, seconds in runs)
    return {
        "clip": name,
        "frames": n_frames,
        "truth": truth,
        "decode_s": decode_s,
        "decode_threaded_s": threaded_s,
        "decode_in_spans_s": spans_s,
        "decode_as_detector_s": as_detector_s,
        "spans": len(shot_spans(path, DECODE_THREADS)),
        "dubsync": {"cuts": ours, "seconds": ours_s, "speed_vs_decode": decode_s / ours_s,
                    "speed_vs_decode_as_detector": as_detector_s / ours_s, **score(ours, truth)},  # fmt: skip
        "pyscenedetect": {"cuts": theirs, "seconds": theirs_s, "speed_vs_decode": decode_s / theirs_s, **score(theirs, truth)},
        "pyscenedetect_adaptive": {"cuts": (adaptive := scenedetect_cuts(path, "adaptive"))[0], "seconds": adaptive[1],
                                   "speed_vs_decode": decode_s / adaptive[1], **score(adaptive[0], truth)},  # fmt: skip
        "fades": shots.nominal_frame_numbers(shots.boundaries("fade")).tolist() if nominal else shots.boundaries("fade").tolist(),
        "dissolves": (shots.nominal_frame_numbers(dissolves) if nominal else dissolves).tolist(),
        "wipes": (shots.nominal_frame_numbers(shots.boundaries("wipe")) if nominal else shots.boundaries("wipe")).tolist(),
    }


def track_spans(tracks) -> list[tuple[int, int]]:
    """(first, last) frame of every face track."""
    return [(int(tracks.frame[tracks.rows(t)[0]]), int(tracks.frame[tracks.rows(t)[-1]])) for t in range(tracks.n_tracks)]


def shots_with_a_track(spans: list[tuple[int, int]], shot_frames: list[tuple[int, int]]) -> list[bool]:
    """Whether each shot (first, last frame) holds a track over at least half of it."""
    return [any(first <= b and last >= a and (min(last, b) - max(first, a)) >= 0.5 * (b - a) for first, last in spans)
            for a, b in shot_frames]  # fmt: skip


def title_speaking_shots(truth: dict) -> list[tuple[int, int]]:
    """(first, last) frame of each talking-head shot of a generated title (``VideoTruth.face_shots``,
    numbered in the order of all its boundaries; a fade's six black frames belong to neither shot)."""
    starts = [0] + sorted([(c, c) for c in truth["cuts"]] + [(f - 3, f + 3) for f in truth["fades"]])
    bounds, previous = [], 0
    for start, end in starts[1:]:
        bounds.append((previous, start - 1))
        previous = end
    bounds.append((previous, truth["n_frames"] - 1))
    return [bounds[k] for k in truth["face_shots"]]


def face_row(name: str, path: Path, expected_tracks: int | None, truth: dict | None = None) -> dict:
    decode_s, n_frames = min(decode_only(path) for _ in range(REPEATS))
    info = probe_video(path)
    shots = shots_from_file(path)
    faces_s, tracks = best_of(lambda: track_faces(path, shots), 2)
    duration = float(shots.frame_times_s[-1] - shots.frame_times_s[0]) + 1.0 / float(shots.frame_rate)
    coverage = {}
    if truth is not None:  # a generated title: its speaking shots and cuts are known
        spans = track_spans(tracks)
        covered = shots_with_a_track(spans, title_speaking_shots(truth))
        coverage = {"speaking_shots": len(covered), "speaking_shots_with_a_track": sum(covered),
                    "crossing_a_cut": sum(any(first < c <= last for c in truth["cuts"]) for first, last in spans)}  # fmt: skip
    return {
        "clip": name,
        "size": f"{info.width}x{info.height}",
        "frames": n_frames,
        "duration_s": duration,
        "decode_s": decode_s,
        "faces_s": faces_s,
        "fps": n_frames / faces_s,
        "times_real_time": duration / faces_s,
        "speed_vs_decode": decode_s / faces_s,
        "tracks": tracks.n_tracks,
        "expected_tracks": expected_tracks,
        "face_on_screen": tracks.face_on_screen_fraction,
        **coverage,
    }


def generated_title(minutes: float, preset: str = "ultrafast", size: tuple[int, int] = (1280, 720)) -> tuple[Path, dict]:
    """The generated title (cached), ``size`` (width, height; 720p unless given) at 25 fps, encoded
    with x264 ``preset`` (see ``synthetic_title_video``)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    width, height = size
    lines = f"{height}p25" if size == (1280, 720) else f"{width}x{height}p25"  # 720p keeps its old name
    path = CACHE / (f"title_{minutes:g}min_{lines}.mp4" if preset == "ultrafast" else f"title_{minutes:g}min_{lines}_{preset}.mp4")
    truth_path = path.with_suffix(".json")
    if not (path.exists() and truth_path.exists()):
        heads = sorted((MEDIA / "talking_heads" / "retalking").glob("*.mp4")) + sorted((MEDIA / "talking_heads" / "grid").glob("*.mpg"))[:3]
        print(f"generating a {minutes:g}-minute {width} × {height} title (x264 {preset}) ...", flush=True)
        started = time.perf_counter()
        truth = synthetic_title_video(
            path, duration_s=minutes * 60, talking_heads=heads, width=width, height=height, seed=11, preset=preset
        )
        truth_path.write_text(json.dumps(truth.__dict__))
        print(f"  done in {time.perf_counter() - started:.0f} s", flush=True)
    return path, json.loads(truth_path.read_text())


EDIT_CLIPS = 12
"""Clips per real edit."""
SHOT_PARTS = {
    "testvideo.mp4": [(1.2, 5.8), (13.4, 16.4), (19.8, 22.0)],
    "goldeneye-vfr-drop3.mp4": [(0.1, 3.6), (3.9, 8.6)],
}
"""Single shots of the shot clips, seconds (between their published cuts and fades, testvideo.mp4's
unpublished dissolve at 16.7-19.5 s and its fade out from 22.1 s)."""
EDIT_FRAMES = [(1280, 720, 25), (960, 720, 30), (1280, 720, 24), (960, 540, 25), (1280, 720, 30), (854, 480, 25)]
"""Frame size and rate of each edit, in turn: 16:9 frames pillarbox the 4:3 talking heads, 4:3
frames letterbox the wide shots."""
BROADCAST_FROM = 40
"""Edits from this k on take their frame size and rate from :data:`BROADCAST_FRAMES` instead."""
BROADCAST_FRAMES = [
    (1280, 720, Fraction(24000, 1001)), (1280, 720, Fraction(30000, 1001)), (1280, 720, Fraction(50)), (1280, 720, Fraction(60000, 1001)),
]  # fmt: skip
"""Frame size and rate of edits k ≥ :data:`BROADCAST_FROM`, in turn: the rates of film and NTSC
television (23.976, 29.97), and 50 and 59.94 fps progressive. Counted in the picture's own frames,
the lip-sync window of 59.94 fps reached only ±250 ms (benchmarks/README.md, 2026-12-07, stop 40)."""


def edit_frames(k: int) -> tuple[int, int, Fraction]:
    """Frame width, height and rate of the k-th real edit."""
    if k >= BROADCAST_FROM:
        return BROADCAST_FRAMES[(k - BROADCAST_FROM) % len(BROADCAST_FRAMES)]
    width, height, fps = EDIT_FRAMES[k % len(EDIT_FRAMES)]
    return width, height, Fraction(fps)


def edit_plan(k: int) -> tuple[list, list[dict]]:
    """The k-th real edit's clips (``EditSegment`` each, drawn from seed ``100 + k``) and what its
    truth says of each: its name, whether it shows a talking head, the height it was scaled down to."""
    from ml.testmedia.video import EditSegment

    fps = float(edit_frames(k)[2])
    rng = np.random.default_rng(100 + k)
    heads = sorted((MEDIA / "talking_heads").rglob("*.mp*"))
    parts = [(h, 0.0, None, True) for h in heads]
    parts += [(MEDIA / "shots" / name, a, b - a, False) for name, spans in SHOT_PARTS.items() for a, b in spans]
    chosen = [parts[i] for i in rng.choice(len(parts), EDIT_CLIPS, replace=False)]
    dissolves = set(rng.choice(np.arange(1, EDIT_CLIPS), 2, replace=False).tolist())
    segments, clips = [], []
    for j, (clip, start, duration, head) in enumerate(chosen):
        length = float(rng.uniform(2.5, 5.0)) if duration is None else min(duration, float(rng.uniform(2.5, 5.0)))
        small = rng.choice([None, None, 224, 160]) if head else None
        segments.append(EditSegment(clip, start_s=start, duration_s=length, source_height=None if small is None else int(small),
                                    dissolve_frames=int(rng.uniform(0.4, 0.8) * fps) if j in dissolves else 0))  # fmt: skip
        clips.append({"clip": clip.name, "talking_head": head, "source_height": None if small is None else int(small)})
    return segments, clips


def real_edit(k: int) -> tuple[Path, dict]:
    """The k-th real edit (cached) and its truth (``EditTruth`` as a dict, with each clip's name and
    whether it shows a talking head)."""
    from ml.testmedia.video import edit_video

    CACHE.mkdir(parents=True, exist_ok=True)
    width, height, fps = edit_frames(k)
    rate = str(fps.numerator) if fps.denominator == 1 else f"{float(fps):.3f}".rstrip("0")
    path = CACHE / f"edit_{k}_{width}x{height}_{rate}.mp4"
    truth_path = path.with_suffix(".json")
    if path.exists() and truth_path.exists():
        return path, json.loads(truth_path.read_text())
    segments, clips = edit_plan(k)
    print(f"building {path.name} ...", flush=True)
    # a whole rate as an int, as the edits before the broadcast rates were built (the same frames)
    truth = edit_video(segments, path, width=width, height=height, fps=fps.numerator if fps.denominator == 1 else fps)
    data = {**truth.__dict__, "fps": float(fps), "clips": clips, "width": width, "height": height}
    truth_path.write_text(json.dumps(data))
    return path, json.loads(truth_path.read_text())


LOOKS = {"bw": {}, "film": {"grain": 10.0, "flicker": 0.03}}
"""``--look``: :func:`ml.testmedia.video.old_film`'s arguments."""


def looking(path: Path, look: str) -> Path:
    """The edit at ``path`` in ``look`` (:data:`LOOKS`), re-encoded as the edits are (x264 ``veryfast``,
    CRF 23, the same frame times), cached beside it."""
    import av

    from ml.decoding.video import iter_frames
    from ml.testmedia.video import old_film

    def recode(source, video_in):
        time_base = video_in.time_base
        pts = [frame.pts for frame in source.decode(video_in)]

        def frames():
            for image, p in zip(old_film((f.image for f in iter_frames(path)), **LOOKS[look]), pts):
                frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                frame.pts, frame.time_base = p, time_base
                yield frame

        return video_in.average_rate, time_base, frames()

    return x264_copy(path, path.with_name(f"{path.stem}_{look}.mp4"), {"preset": "veryfast", "crf": "23"}, recode)


def edit_row(path: Path, truth: dict) -> dict:
    """Cuts, dissolves and face tracks of one real edit, by dubsync and PySceneDetect."""
    started = time.perf_counter()
    shots = shots_from_file(path)
    ours_s = time.perf_counter() - started
    cuts = truth["cuts"]
    row = {"clip": path.name, "frames": truth["n_frames"], "truth": cuts, "dissolves_truth": truth["dissolves"]}
    found = shots.boundaries("cut").tolist()
    row["dubsync"] = {"cuts": found, "seconds": ours_s, **score(found, cuts)}
    for name in ("content", "adaptive"):
        theirs, seconds = scenedetect_cuts(path, name)
        row[f"pyscenedetect_{name}"] = {"cuts": theirs, "seconds": seconds, **score(theirs, cuts)}
    # dissolves: found when a dissolve boundary lies within the mixed frames (±1)
    kinds = dict(zip(shots.start_frame.tolist(), shots.boundary.tolist()))
    dissolve_kind = 3  # BOUNDARY_KINDS.index("dissolve") once the detector reports dissolves
    reported = [f for f, kind in kinds.items() if kind == dissolve_kind]
    row["dissolves"] = {
        "truth": len(truth["dissolves"]),
        "found": sum(any(a - 1 <= f <= b + 1 for f in reported) for a, b in truth["dissolves"]),
        "reported": len(reported),
        "as_cuts": {system: sum(any(a - 1 <= f <= b + 1 for f in row[system]["cuts"]) for a, b in truth["dissolves"])
                    for system in ("dubsync", "pyscenedetect_content", "pyscenedetect_adaptive")},
    }  # fmt: skip
    row["wipes"] = shots.boundaries("wipe").tolist()  # the edits have none: any is false
    tracks = track_faces(path, shots)
    middles = [(a + b) // 2 for a, b in truth["dissolves"]]
    per_head = []
    spans = track_spans(tracks)
    across_cut = sum(any(first < c <= last for c in cuts) for first, last in spans)
    across_dissolve = sum(any(first < c <= last for c in middles) for first, last in spans)
    for (a, b), clip in zip(truth["segments"], truth["clips"]):
        if clip["talking_head"]:
            per_head.append(sum(first <= b and last >= a and (min(last, b) - max(first, a)) >= 0.5 * (b - a) for first, last in spans))
    row["tracks"] = {
        "tracks": tracks.n_tracks,
        "crossing_a_cut": across_cut,
        "crossing_a_dissolve": across_dissolve,
        "talking_head_clips": len(per_head),
        "heads_with_a_track": sum(n >= 1 for n in per_head),
        "heads_with_one_track": sum(n == 1 for n in per_head),
    }
    return row


def markdown(report: dict) -> str:
    lines = [f"# Picture benchmark ({report['date']}, {report['machine']})", ""]
    if report.get("edits"):
        lines += ["## Real edits: hard cuts (±1 frame), dissolves, face tracks", "",
                  "| edit | frames | cuts | dubsync P / R / F1 | Content P / R / F1 | Adaptive P / R / F1 | dissolves found (dubsync) "
                  "| dissolves as cuts (dubsync / Content / Adaptive) | tracks | tracks across a cut / a dissolve "
                  "| talking heads with a track / with one |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
        totals = {system: {"tp": 0, "fp": 0, "fn": 0} for system in ("dubsync", "pyscenedetect_content", "pyscenedetect_adaptive")}
        for row in report["edits"]:
            cells = []
            for system in totals:
                s = row[system]
                cells.append(f"{s['precision']:.3f} / {s['recall']:.3f} / {s['f1']:.3f}")
                for key in ("tp", "fp", "fn"):
                    totals[system][key] += s[key]
            d, t = row["dissolves"], row["tracks"]
            wipes = f", {len(row['wipes'])} false wipes" if row.get("wipes") else ""
            as_cuts = " / ".join(str(d["as_cuts"][system]) for system in totals)
            lines.append(f"| {row['clip']} | {row['frames']} | {len(row['truth'])} | {' | '.join(cells)} "
                         f"| {d['found']} of {d['truth']} ({d['reported']} reported{wipes}) "
                         f"| {as_cuts} | {t['tracks']} | {t['crossing_a_cut']} / {t['crossing_a_dissolve']} "
                         f"| {t['heads_with_a_track']} / {t['heads_with_one_track']} of {t['talking_head_clips']} |")  # fmt: skip
        cells = []
        for c in totals.values():
            p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0
            r = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0
            cells.append(f"{p:.3f} / {r:.3f} / {2 * p * r / (p + r) if p + r else 0:.3f}")
        n_cuts = sum(len(row["truth"]) for row in report["edits"])
        heads = sum(row["tracks"]["talking_head_clips"] for row in report["edits"])
        with_track = sum(row["tracks"]["heads_with_a_track"] for row in report["edits"])
        with_one = sum(row["tracks"]["heads_with_one_track"] for row in report["edits"])
        crossing = sum(row["tracks"]["crossing_a_cut"] for row in report["edits"])
        lines += [f"| all | | {n_cuts} | {' | '.join(cells)} | | | | {crossing} across a cut "
                  f"| {with_track} / {with_one} of {heads} ({with_track / max(heads, 1):.0%} with a track) |", ""]  # fmt: skip
    if report.get("edit_lipsync"):
        from benchmarks.edit_lipsync import markdown as lipsync_markdown

        lines += lipsync_markdown(report["edit_lipsync"])
    if not report["shots"]:  # --edits-only
        return "\n".join(lines) + "\n"
    lines += ["## Hard cuts (±1 frame)", "",
             "| clip | frames | truth | system | cuts found | P | R | F1 | dissolves reported | seconds | speed × decode-only |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for row in report["shots"]:
        for system in ("dubsync", "pyscenedetect", "pyscenedetect_adaptive"):
            s = row[system]
            cuts = s["cuts"] if len(s["cuts"]) <= 8 else f"{len(s['cuts'])} cuts"
            truth = row["truth"] if len(row["truth"]) <= 8 else f"{len(row['truth'])} cuts"
            dissolves = row.get("dissolves", "?") if system == "dubsync" else "-"  # PySceneDetect reports none
            if system == "dubsync" and row.get("wipes"):
                dissolves = f"{dissolves}; wipes {row['wipes']}"
            lines.append(
                f"| {row['clip']} | {row['frames']} | {truth} | {system} | {cuts} | {s['precision']:.3f} | {s['recall']:.3f} | "
                f"{s['f1']:.3f} | {dissolves} | {s['seconds']:.3f} | {s['speed_vs_decode']:.2f} |"
            )
    lines += ["", "Speed × decode-only: decode-only time / detector time (1.0 = as fast as decoding alone; "
              "the detector includes its own decoding). "
              "Decode-only is the faster of one 2-thread decoder and the detector's key-frame spans on 2 threads:", "",
              "| clip | spans | decode-only, one decoder (s) | decode-only, in spans (s) | decode-only as the detector decodes (s) "
              "| dubsync × that |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    for row in report["shots"]:
        lines.append(f"| {row['clip']} | {row['spans']} | {row['decode_threaded_s']:.3f} | {row['decode_in_spans_s']:.3f} "
                     f"| {row['decode_as_detector_s']:.3f} | {row['dubsync']['speed_vs_decode_as_detector']:.2f} |")
    lines += ["", "The detector decodes without the in-loop deblocking filter (``ShotParams.deblock``, off by default: cheaper "
              "H.264 and HEVC decoding, same cuts) and decodes MPEG-1/2, MPEG-4 part 2, Motion JPEG, DV and JPEG 2000 at a reduced size "
              "(``ShotParams.reduced_decode``); the last two columns are its ratio to a decode-only that decodes as it does, "
              "that is its own cost beyond decoding."]
    lines += ["",
              "## Face tracks", "",
              "| clip | size | frames | tracks (expected) | speaking shots with a track | tracks across a cut | face on screen "
              "| frames/s | × real time | speed × decode-only |",
              "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for row in report["faces"]:
        speaking = "-"
        if "speaking_shots" in row:
            n, covered = row["speaking_shots"], row["speaking_shots_with_a_track"]
            speaking = f"{covered} of {n} ({covered / max(n, 1):.0%})"
        lines.append(
            f"| {row['clip']} | {row['size']} | {row['frames']} | "
            f"{row['tracks']} ({row['expected_tracks'] if row['expected_tracks'] is not None else '-'}) | "
            f"{speaking} | {row.get('crossing_a_cut', '-')} | "
            f"{row['face_on_screen']:.2f} | {row['fps']:.0f} | {row['times_real_time']:.1f} | {row['speed_vs_decode']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the generated title (default 10)")
    parser.add_argument("--quick", action="store_true", help="a 1-minute generated title, three talking heads")
    parser.add_argument(
        "--title-preset", default="ultrafast",
        help="x264 preset of the generated title (default ultrafast; 'medium' encodes as deliveries are, with deblocking and CABAC)",
    )  # fmt: skip
    parser.add_argument("--edits", type=int, default=6, help="real edits (default 6)")
    parser.add_argument("--first", type=int, default=0, help="number of the first real edit (default 0; 24 and on: never used for tuning)")
    parser.add_argument("--edits-only", action="store_true", help="only the real edits")
    parser.add_argument(
        "--no-lipsync", action="store_true",
        help="skip the title lip sync on the real edits given their clips' sound (benchmarks.edit_lipsync)",
    )  # fmt: skip
    parser.add_argument("--look", choices=sorted(LOOKS), help="measure the edits in black and white (bw) or as an old film's scan (film)")
    args = parser.parse_args(argv)
    if args.look:
        args.edits_only = args.no_lipsync = True
    minutes = 1.0 if args.quick else args.minutes
    report = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine(), "edits": [], "edit_lipsync": [], "shots": [], "faces": []}

    edits = range(args.first, args.first + args.edits)
    for k in edits:
        path, truth = real_edit(k)
        if args.look:
            path = looking(path, args.look)
        print(f"[edits] {path.name}", flush=True)
        report["edits"].append(edit_row(path, truth))
    if not args.no_lipsync:
        from benchmarks.edit_lipsync import edit_row as lipsync_row

        for k in edits:
            report["edit_lipsync"].append(lipsync_row(k))
            r = report["edit_lipsync"][-1]
            print(f"[lip sync] {r['edit']}: truth {r['truth_s'] * 1000:+.0f} ms, {r['status']}, error {r['error_ms']} ms", flush=True)
    if args.edits_only:
        text = markdown(report)
        write_report("video_edits" + (f"_{args.look}" if args.look else ""), report, text)
        print(text)
        return 0

    for name, cuts in PUBLISHED.items():
        print(f"[shots] {name}", flush=True)
        report["shots"].append(shot_row(name, MEDIA / "shots" / name, cuts, nominal=True))
    title, truth = generated_title(minutes, args.title_preset)
    print(f"[shots] {title.name}", flush=True)
    report["shots"].append(shot_row(title.name, title, truth["cuts"], nominal=False))

    from ml.picture.faces import detect_faces_batch

    detect_faces_batch(np.zeros((1, 288, 512, 3), np.uint8), 0.9)  # load the model outside the timings
    heads = sorted((MEDIA / "talking_heads").rglob("*.mp*"))
    for path in heads[:3] if args.quick else heads:
        print(f"[faces] {path.name}", flush=True)
        report["faces"].append(face_row(path.name, path, 1))
    print(f"[faces] {title.name}", flush=True)
    row = face_row(title.name, title, len(truth["face_shots"]), truth)
    report["faces"].append(row)

    text = markdown(report)
    write_report("video", report, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
