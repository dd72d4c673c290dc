"""Lip-sync benchmark: the weight-free estimator on the shared talking heads with known audio shifts.

Run with ``make bench-lipsync`` (or ``.venv/bin/python -m benchmarks.lipsync [--quick]``).

Clips: the 16 talking heads of ``media/talking_heads`` (11 GRID speakers, 3 s at 25 fps;
five news-style speakers, 4.9-6.6 s at 22-30 fps, face_1 variable frame rate), whose own audio is
taken as in sync. Each is copied with its audio shifted by 0, ±1, ±2, ±3, ±5, ±8 and ±15 frames (of
the clip's own median frame duration), in the two ways of :mod:`ml.testmedia.shift`: samples moved
("samples") and the audio stream's start time moved ("start"); the video packets are copied
unchanged. Copies are cached under ``benchmarks/.cache/lipsync``.

``--recipe`` changes the pictures the shifts are applied to (:data:`RECIPES`): besides the clips as
published, each clip cropped to a square around its face (twice the face's size), scaled to 160 ×
160 or 224 × 224 pixels and re-encoded by x264 at CRF 30, 26 or 18
(:func:`ml.testmedia.face_crop.face_crop_copy`, the face from the clip's own longest face track), as
the lip-reading corpora hold them (LRS2: 160 × 160 crops of BBC television; VoxCeleb: 224 × 224
crops of web interviews). These are levels of compression the clips as published do not have; the
CRF 18 recipe is the control (the same size, about the source's quality).

Two more shifts, ±20 frames, lie beyond the reported window (±``max_shift_frames`` = 15): no
estimate can be right there, and none may be confident; they are counted apart.

For every copy, in the same run: decode-only (every video frame and the whole audio track decoded,
2 threads) and each estimator (shots, face tracks, and the lip-sync offset of the longest track; the
shots and face tracks are computed once per copy and their time is added to every estimator).
Estimators: ``avcorr/6`` (the defaults: ``avcorr/4``, whose speech features are centred, with the halves'
consistency of ``avcorr/5`` and its window and tolerances counted in frames no shorter than at 25
fps), ``avcorr/4 (before)`` (the same run's ``avcorr/6`` estimate with the confidence as it was
before the halves' consistency, :func:`benchmarks.edit_lipsync.as_avcorr4`; not run again) and
``avcorr/2 (before)``, the estimator as it was before issue 23 (a search 2 frames beyond the
window and the confidence = the curve's peak over its median, in standard deviations, with
``min_confidence`` 2.0), reproduced from the same code with ``search_margin_frames=2`` and that
confidence recomputed from the curve (:func:`as_before`; its speech features are centred too).

Reported per estimator, shift method and split (``tuning``: the GRID clips, on which the confidence
and the search margin were calibrated; ``held-out``: the five news-style clips, never used to choose
anything in ``avcorr/3``): share of estimates within ±1 frame of the truth, share within the
ITU-R BT.1359 undetectable band (estimated − true in [−125 ms, +45 ms]), median absolute error, the
share of estimates whose confidence reaches ``min_confidence`` ("confident"), how many confident
ones are more than 200 ms off ("confident and wrong", the issue's bar is 0), the share of confident
ones within ±40 ms, how many of the estimates within ±40 ms stay confident, frames per second, and
speed as a share of decode-only speed (decode time / estimator time). Then the bias per source: the
median signed error of the unshifted copies (the clips were published in sync).

Caveat: ``avcorr/2``'s design and defaults were chosen on all 16 clips; only ``avcorr/3``'s new parts
(confidence, search margin) respect the split.

Beside those errors against "published in sync" (the truth, unchanged), the same measures against
each clip's sync as measured by hand from its bilabial releases (:mod:`benchmarks.lipsync_truth`,
``benchmarks/lipsync_truth.csv``): "vs bilabial sync" columns in the tables, GRID clips the controls
(0 by construction), a held-out clip with too few usable events left out of them. Each row is also
appended to ``benchmarks/results/<name>.rows.jsonl`` as it is measured, and ``--from-rows`` makes the
report from such files (a run split by ``--clips``, or cut short).

``--checkpoint FILE`` adds a SyncNet v2 checkpoint (:mod:`ml.picture.syncnet`, e.g. one written by
``dubsync train-lipsync``) as one more estimator on the same copies; ``--clips NAME ...`` keeps only
the named clips (file names), e.g. those a checkpoint was not trained on, so that both are compared
held-out.

Results: ``benchmarks/results/lipsync.{json,md}`` (``--name`` changes the stem).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks._common import CACHE as CACHE_ROOT
from benchmarks._common import MEDIA, RESULTS, decode_video_seconds, machine, write_report
from benchmarks.lipsync_truth import CONTROLS, TRUTH_CSV, measured_sync
from ml.picture.faces import track_faces
from ml.picture.lipsync import TrackSync, estimator_identity, refined_offset, track_offsets
from ml.picture.shots import shots_from_file
from ml.policy import LipSyncParams
from ml.testmedia.shift import SHIFT_METHODS, shifted_copy

CACHE = CACHE_ROOT / "lipsync"
SHIFTS_FRAMES = (0, 1, -1, 2, -2, 3, -3, 5, -5, 8, -8, 15, -15, 20, -20)
QUICK_SHIFTS = (0, 3, -3, 15, -15, 20, -20)
WRONG_S = 0.2
"""An estimate more than this far from the truth is wrong (the issue's bar: none of them confident)."""
RIGHT_S = 0.04
RECIPES = {"published": None, "crop160-crf30": (160, 30), "crop160-crf18": (160, 18), "crop224-crf26": (224, 26)}
"""``--recipe``: the picture each clip's shifted copies are made from: as published, or cropped to
its face at ``(side, crf)`` (:func:`ml.testmedia.face_crop.face_crop_copy`)."""
TUNING_SOURCES = ("grid",)
"""Sources (folders of ``media/talking_heads``) on which ``avcorr/3``'s confidence and search margin
were calibrated; the others are held out."""
BEFORE = "avcorr/2 (before)"
ITU_LAG_S, ITU_LEAD_S = -0.125, 0.045
DECODE_THREADS = 2

BILABIAL_NOTE = (
    '**vs bilabial sync** (extra; the truth above stays "published in sync"): the error against each clip\'s own '
    "audio ↔ picture offset measured by hand from its bilabial releases (`benchmarks/lipsync_truth.csv`, "
    "`benchmarks/lipsync_truth.py`: the median of acoustic release − visual release over ≥ 4 events, less the "
    "GRID controls' pooled median), plus the copy's shift; GRID clips are the controls (0 by construction); "
    "a clip with fewer usable events is left out of these columns (n)."
)

ESTIMATORS = {
    "avcorr/6": LipSyncParams(),
    BEFORE: LipSyncParams(search_margin_frames=2, min_confidence=2.0),
}

AVCORR4 = "avcorr/4 (before)"
DERIVED = {AVCORR4: "avcorr/6"}
"""Estimators read off another's result without running again: ``avcorr/4`` is ``avcorr/6``'s offset
and curve with the confidence without the halves' consistency (:func:`benchmarks.edit_lipsync.as_avcorr4`)."""

SKIPPED: set[str] = set()
"""Estimators left out of a run (``--skip``)."""


def as_before(result: TrackSync) -> TrackSync:
    """``avcorr/2``'s reading of an estimate made with ``search_margin_frames=2`` (the same curve):
    the argmax over the whole curve (±17 frames), refined by the same parabola, and its confidence,
    the curve's peak above its median in standard deviations of the curve."""
    shifts, scores = np.asarray(result.shifts_s), np.asarray(result.scores)
    i = int(np.argmax(scores))
    offset = refined_offset(shifts, scores, i)
    sd = scores.std()
    confidence = float((scores[i] - np.median(scores)) / sd) if sd > 0 else 0.0
    return dataclasses.replace(result, offset_s=offset, confidence=confidence, at_edge=False)


def clips() -> list[Path]:
    heads = MEDIA / "talking_heads"
    return sorted((heads / "grid").glob("*.mpg")) + sorted((heads / "retalking").glob("*.mp4"))


def recipe_source(clip: Path, recipe: str) -> Path:
    """The picture ``recipe`` makes of ``clip`` (cached): the clip itself, or its face crop."""
    if RECIPES[recipe] is None:
        return clip
    from ml.testmedia.face_crop import face_crop_copy

    side, crf = RECIPES[recipe]
    out = CACHE / recipe / f"{clip.stem}.mkv"
    if not out.exists():
        tracks = track_faces(clip, shots_from_file(clip))
        if tracks.n_tracks == 0:
            raise RuntimeError(f"{clip.name}: no face track to crop around")
        face_crop_copy(clip, out, np.median(tracks.box[tracks.rows(tracks.longest())], axis=0), side=side, crf=crf)
    return out


def frame_seconds(path: Path) -> float:
    """Median frame duration of the clip's own stream, seconds."""
    import av

    with av.open(str(path)) as container:
        times = sorted(float(f.pts * f.time_base) for f in container.decode(video=0) if f.pts is not None)
    return float(np.median(np.diff(times)))


def decode_only(path: Path) -> float:
    """Seconds to decode every video frame and the whole audio track (no conversion)."""
    return decode_video_seconds(path, with_audio=True)[0]


CHECKPOINTS: dict[str, object] = {}
"""SyncNet models given with ``--checkpoint``, by estimator name (``syncnet:<file stem>``)."""


def estimator_names() -> list[str]:
    return [name for name in (*ESTIMATORS, *DERIVED, *CHECKPOINTS) if name not in SKIPPED]


def estimator_params(name: str) -> LipSyncParams:
    """The parameters an estimator ran with (a checkpoint uses the defaults' search window)."""
    return ESTIMATORS.get(name, LipSyncParams())


def run_copy(path: Path) -> dict:
    """Decode-only time, then every estimator on one file."""
    decode_s = decode_only(path)
    started = time.perf_counter()
    shots = shots_from_file(path)
    tracks = track_faces(path, shots)
    picture_s = time.perf_counter() - started
    row = {"decode_s": decode_s, "picture_s": picture_s, "frames": int(shots.n_frames), "tracks": tracks.n_tracks}
    if tracks.n_tracks == 0:
        row["estimates"] = {name: None for name in estimator_names()}
        return row
    longest = tracks.longest()
    row["estimates"] = {}
    results = {}
    for name in estimator_names():
        if name in DERIVED:
            continue
        params = estimator_params(name)
        started = time.perf_counter()
        if name in CHECKPOINTS:
            from ml.picture.syncnet import syncnet_track_offsets

            found = [r for r in syncnet_track_offsets(CHECKPOINTS[name], path, tracks, params) if r.track == longest]
        else:
            found = [r for r in track_offsets(path, tracks, params) if r.track == longest]
        seconds = time.perf_counter() - started + picture_s
        if not found:  # SyncNet skips a track shorter than its window plus the search
            row["estimates"][name] = None
            continue
        result = as_before(found[0]) if name == BEFORE else found[0]
        results[name] = (result, seconds)
    for name in estimator_names():
        if name not in results and name in DERIVED and DERIVED[name] in results:
            from benchmarks.edit_lipsync import as_avcorr4

            results[name] = (as_avcorr4(results[DERIVED[name]][0]), results[DERIVED[name]][1])
        if name not in results:
            row["estimates"][name] = None
            continue
        result, seconds = results[name]
        row["estimates"][name] = {
            "offset_s": result.offset_s, "confidence": result.confidence, "seconds": seconds,
            "prominence": result.prominence, "agreement": result.agreement, "at_edge": result.at_edge,
            "consistency": None if not np.isfinite(result.consistency) else float(result.consistency),
        }  # fmt: skip
    return row


def _in_window(row: dict, name: str) -> bool:
    return abs(row["shift_frames"]) <= estimator_params(name).max_shift_frames


def recipe_of(row: dict) -> str:
    return row.get("recipe", "published")  # rows measured before --recipe existed


def summarise(rows: list[dict], name: str, method: str, split: str, recipe: str = "published") -> dict:
    """One line of the table: the copies of ``split`` made by ``recipe`` and shifted by ``method``
    within the window."""
    rows = [r for r in rows if recipe_of(r) == recipe]
    chosen = [r for r in rows if r["method"] == method and r["split"] == split and _in_window(r, name)]
    params = estimator_params(name)
    errors, within, itu, confident, wrong, right, right_kept = [], [], [], [], 0, 0, 0
    bilabial_errors, bilabial_within = [], []
    seconds = frames = decode = 0.0
    for r in chosen:
        e = r["estimates"][name]
        frames += r["frames"]
        decode += r["decode_s"]
        measured = r.get("bilabial_s") is not None
        if e is None:
            errors.append(np.inf)
            within.append(False)
            itu.append(False)
            if measured:
                bilabial_errors.append(np.inf)
                bilabial_within.append(False)
            continue
        if measured:
            err_b = e["offset_s"] - (r["true_s"] + r["bilabial_s"])
            bilabial_errors.append(abs(err_b))
            bilabial_within.append(abs(err_b) <= r["frame_s"] + 1e-9)
        seconds += e["seconds"]
        err = e["offset_s"] - r["true_s"]
        errors.append(abs(err))
        within.append(abs(err) <= r["frame_s"] * 1.0 + 1e-9)
        itu.append(ITU_LAG_S <= err <= ITU_LEAD_S)
        sure = e["confidence"] >= params.min_confidence
        right += abs(err) <= RIGHT_S + 1e-9
        if sure:
            confident.append(abs(err) <= RIGHT_S + 1e-9)
            wrong += abs(err) > WRONG_S
            right_kept += abs(err) <= RIGHT_S + 1e-9
    beyond = [r for r in rows if r["method"] == method and r["split"] == split and not _in_window(r, name)]
    beyond_confident = sum(
        1 for r in beyond if r["estimates"][name] is not None and r["estimates"][name]["confidence"] >= params.min_confidence
    )
    n = len(chosen)
    return {
        "estimator": name,
        "recipe": recipe,
        "method": method,
        "split": split,
        "n": n,
        "within_1_frame": float(np.mean(within)) if n else 0.0,
        "itu_undetectable": float(np.mean(itu)) if n else 0.0,
        "median_abs_error_ms": float(np.median(errors) * 1000) if n else 0.0,
        "confident_share": len(confident) / n if n else 0.0,
        "confident_wrong": int(wrong),
        "confident_within_40ms": float(np.mean(confident)) if confident else 0.0,
        "right": int(right),
        "right_confident": int(right_kept),
        "beyond_window": len(beyond),
        "beyond_window_confident": beyond_confident,
        "fps": frames / seconds if seconds else 0.0,
        "speed_vs_decode": decode / seconds if seconds else 0.0,
        "n_bilabial": len(bilabial_within),
        "within_1_frame_bilabial": float(np.mean(bilabial_within)) if bilabial_within else float("nan"),
        "median_abs_error_bilabial_ms": float(np.median(bilabial_errors) * 1000) if bilabial_errors else float("nan"),
    }


def bias(rows: list[dict], name: str) -> list[dict]:
    """Median signed error (ms) of the unshifted copies, per source and shift method."""
    out = []
    for recipe, source in sorted({(recipe_of(r), r["source"]) for r in rows}):
        for method in [m for m in SHIFT_METHODS if any(r["method"] == m for r in rows)]:
            unshifted = [
                r for r in rows
                if recipe_of(r) == recipe and r["source"] == source and r["method"] == method and r["shift_frames"] == 0
                and r["estimates"][name] is not None
            ]  # fmt: skip
            errors = [r["estimates"][name]["offset_s"] - r["true_s"] for r in unshifted]
            against = [
                r["estimates"][name]["offset_s"] - r["true_s"] - r["bilabial_s"] for r in unshifted if r.get("bilabial_s") is not None
            ]
            out.append({
                "estimator": name, "source": source if recipe == "published" else f"{source} ({recipe})", "method": method,
                "clips": len(errors),
                "bias_ms": float(np.median(errors) * 1000) if errors else float("nan"),
                "spread_ms": [round(float(min(errors)) * 1000), round(float(max(errors)) * 1000)] if errors else None,
                "clips_bilabial": len(against),
                "bias_bilabial_ms": float(np.median(against) * 1000) if against else float("nan"),
                "spread_bilabial_ms": [round(float(min(against)) * 1000), round(float(max(against)) * 1000)] if against else None,
            })  # fmt: skip
    return out


def per_shift(rows: list[dict], name: str) -> dict[str, dict[int, float]]:
    """Share within ±1 frame per shift method and shift (beyond the window too: there a reading
    near the truth is outside ±max_shift_frames, hence never confident)."""
    out: dict[str, dict[int, float]] = {}
    for recipe in [recipe for recipe in RECIPES if any(recipe_of(r) == recipe for r in rows)]:
        for method in [m for m in SHIFT_METHODS if any(r["method"] == m for r in rows)]:
            table = {}
            for k in sorted({r["shift_frames"] for r in rows}):
                hits = [
                    r["estimates"][name] is not None and abs(r["estimates"][name]["offset_s"] - r["true_s"]) <= r["frame_s"] + 1e-9
                    for r in rows
                    if recipe_of(r) == recipe and r["method"] == method and r["shift_frames"] == k
                ]
                table[k] = float(np.mean(hits)) if hits else 0.0
            out[method if recipe == "published" else f"{method} ({recipe})"] = table
    return out


def markdown(report: dict) -> str:
    lines = [
        f"# Lip-sync benchmark ({report['date']}, {report['machine']})",
        "",
        f"{report['n_clips']} clips × shifts {report['shifts_frames']} frames × shift methods {', '.join(report['methods'])}; "
        f"tuning sources {', '.join(TUNING_SOURCES)}, the others held out. "
        "Within ±1 frame: |estimated − true| ≤ one frame of the clip's own rate; ITU: estimated − true in "
        "[−125, +45] ms. Confident: confidence ≥ the estimator's min_confidence; wrong: > 200 ms off; right: "
        "within ±40 ms. Copies shifted beyond ±15 frames are only counted in the last columns. "
        "Speed × decode-only: decode time / estimator time (estimator = shots + face tracks + lip sync).",
        "",
        "| estimator | recipe | split | shift method | n | within ±1 frame | ITU undetectable | median abs. error (ms) | "
        "share confident | confident and wrong | within ±40 ms among confident | right ones confident | "
        "beyond ±15: confident | frames/s | speed × decode-only | **vs bilabial sync**: n | within ±1 frame | "
        "median abs. error (ms) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in report["summary"]:
        lines.append(
            f"| {s['estimator']} | {s.get('recipe', 'published')} | {s['split']} | {s['method']} | {s['n']} | {s['within_1_frame']:.3f} | "
            f"{s['itu_undetectable']:.3f} | {s['median_abs_error_ms']:.0f} | {s['confident_share']:.3f} | "
            f"{s['confident_wrong']} | {s['confident_within_40ms']:.3f} | {s['right_confident']} of {s['right']} | "
            f"{s['beyond_window_confident']} of {s['beyond_window']} | {s['fps']:.0f} | {s['speed_vs_decode']:.3f} | "
            + (f"{s['n_bilabial']} | {s['within_1_frame_bilabial']:.3f} | {s['median_abs_error_bilabial_ms']:.0f} |"
               if s.get("n_bilabial") else "0 | - | - |")
        )  # fmt: skip
    lines += ["", BILABIAL_NOTE]
    lines += ["", "## Bias: median signed error of the unshifted copies (ms; positive = read as leading)", ""]
    lines += [
        "| estimator | source | shift method | clips | bias ms | range ms | vs bilabial sync: clips | bias ms | range ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for b in report["bias"]:
        spread = "-" if b["spread_ms"] is None else f"{b['spread_ms'][0]:+d} … {b['spread_ms'][1]:+d}"
        against = (
            f"{b['clips_bilabial']} | {b['bias_bilabial_ms']:+.0f} | {b['spread_bilabial_ms'][0]:+d} … {b['spread_bilabial_ms'][1]:+d}"
            if b.get("clips_bilabial") else "0 | - | -"
        )  # fmt: skip
        lines.append(f"| {b['estimator']} | {b['source']} | {b['method']} | {b['clips']} | {b['bias_ms']:+.0f} | {spread} | {against} |")
    lines += ["", "## Within ±1 frame by shift (frames, positive = audio leads)", ""]
    shifts = report["shifts_frames_sorted"]
    lines += ["| estimator | method | " + " | ".join(f"{k:+d}" for k in shifts) + " |", "|---|---|" + "---|" * len(shifts)]
    for name, table in report["per_shift"].items():
        for method, values in table.items():
            lines.append(f"| {name} | {method} | " + " | ".join(f"{values[k]:.2f}" for k in shifts) + " |")
    lines += [
        "",
        "## Unshifted clips (samples copy, shift 0): error in frames (confidence), against published sync and "
        "against the clip's bilabial sync",
        "",
        "| clip | bilabial sync (ms) | " + " | ".join(f"{n} | {n} vs bilabial" for n in estimator_names()) + " |",
        "|---|---|" + "---|---|" * len(estimator_names()),
    ]
    for r in report["rows"]:
        if r["method"] == "samples" and r["shift_frames"] == 0:
            own = r.get("bilabial_s")
            cells = ["not measured" if own is None else "control (0)" if r["source"] in TUNING_SOURCES else f"{own * 1000:+.0f}"]
            for name in estimator_names():
                e = r["estimates"][name]
                cells.append(
                    "no track" if e is None else f"{(e['offset_s'] - r['true_s']) / r['frame_s']:+.1f} (conf {e['confidence']:.2f})"
                )
                cells.append("-" if e is None or own is None else f"{(e['offset_s'] - r['true_s'] - own) / r['frame_s']:+.1f}")
            made = "" if recipe_of(r) == "published" else f" ({recipe_of(r)})"
            lines.append(f"| {r['source']}/{r['clip']}{made} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"shifts {QUICK_SHIFTS} only")
    parser.add_argument("--shifts", type=int, nargs="+", metavar="FRAMES", help="only these shifts (frames), instead of --quick's or all")
    parser.add_argument("--methods", nargs="+", choices=SHIFT_METHODS, default=list(SHIFT_METHODS), help="shift methods (default both)")
    parser.add_argument("--checkpoint", type=Path, action="append", default=[], help="a SyncNet v2 checkpoint to compare (repeatable)")
    parser.add_argument("--clips", nargs="+", metavar="NAME", help="only these clips (file names, e.g. bbaf2n.mpg)")
    parser.add_argument("--recipe", choices=list(RECIPES), default="published", help="the pictures shifted (default: as published)")
    parser.add_argument("--name", help="results file stem under benchmarks/results (default: lipsync, or lipsync_<recipe>)")
    parser.add_argument("--skip", nargs="+", default=[], choices=[*ESTIMATORS, *DERIVED], help="leave these estimators out")
    parser.add_argument(
        "--from-rows", type=Path, nargs="+", metavar="JSONL",
        help="no run: the report from the rows earlier runs saved (<name>.rows.jsonl; a run split by --clips, or cut short)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    args.name = args.name or ("lipsync" if args.recipe == "published" else f"lipsync_{args.recipe}")
    SKIPPED.update(args.skip)
    if args.from_rows:
        rows = [json.loads(line) for path in args.from_rows for line in path.read_text().splitlines() if line.strip()]
        text = report_and_write(args.name, rows, {})
        print(text)
        return 0
    shifts = tuple(args.shifts) if args.shifts else QUICK_SHIFTS if args.quick else SHIFTS_FRAMES
    from ml.picture.faces import detect_faces_batch

    detect_faces_batch(np.zeros((1, 288, 352, 3), np.uint8), 0.9)  # load the model outside the timings
    checkpoint_paths = {f"syncnet:{path.stem}": path for path in args.checkpoint}
    if checkpoint_paths:
        from ml.picture.syncnet import load_syncnet

        CHECKPOINTS.update({name: load_syncnet(path) for name, path in checkpoint_paths.items()})
    rows = []
    saved = RESULTS / f"{args.name}.rows.jsonl"  # every row as it is measured: a run cut short still has them
    saved.parent.mkdir(parents=True, exist_ok=True)
    saved.write_text("")
    paths = clips()
    if args.clips:
        unknown = sorted(set(args.clips) - {p.name for p in paths})
        if unknown:
            parser.error(f"no such clip(s) among the shared talking heads: {', '.join(unknown)}")
        paths = [p for p in paths if p.name in args.clips]
    for i, clip in enumerate(paths):
        frame_s = frame_seconds(clip)
        source_picture = recipe_source(clip, args.recipe)
        for method in args.methods:
            for k in shifts:
                true_s = k * frame_s
                copy = CACHE / ("" if args.recipe == "published" else args.recipe) / f"{clip.stem}_{method}_{k:+d}.mkv"
                if not copy.exists():
                    shifted_copy(source_picture, copy, true_s, method=method)
                source = clip.parent.name
                row = {
                    "clip": clip.name, "source": source, "split": "tuning" if source in TUNING_SOURCES else "held-out",
                    "recipe": args.recipe, "method": method, "shift_frames": k, "true_s": true_s, "frame_s": frame_s,
                    **run_copy(copy),
                }  # fmt: skip
                rows.append(row)
                with saved.open("a") as f:
                    f.write(json.dumps(row) + "\n")
                print(f"[{i + 1}/{len(paths)}] {clip.name} {method} {k:+d}: " + "; ".join(
                    f"{name} " + ("no estimate" if e is None
                                  else f"error {(e['offset_s'] - true_s) * 1000:+.0f} ms, confidence {e['confidence']:.2f}")
                    for name, e in row["estimates"].items()), flush=True)  # fmt: skip

    text = report_and_write(args.name, rows, checkpoint_paths)
    print(text)
    return 0


def report_and_write(name: str, rows: list[dict], checkpoint_paths: dict) -> str:
    """The report of measured rows (with each clip's bilabial sync from the annotation CSV as it
    is now), written to ``benchmarks/results/<name>.{json,md}``; returns the markdown."""
    sync = measured_sync()
    for r in rows:
        r["bilabial_s"] = 0.0 if r["source"] in CONTROLS else sync.get(Path(r["clip"]).stem)
    shifts = sorted({r["shift_frames"] for r in rows}, key=lambda k: (abs(k), -k))
    methods = [m for m in SHIFT_METHODS if any(r["method"] == m for r in rows)]
    recipes = [recipe for recipe in RECIPES if any(recipe_of(r) == recipe for r in rows)]
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": machine(),
        "n_clips": len({r["clip"] for r in rows}),
        "shifts_frames": shifts,
        "methods": methods,
        "shifts_frames_sorted": sorted(shifts),
        "estimators": {n: {"identity": estimator_identity(p), **dataclasses.asdict(p)} for n, p in ESTIMATORS.items()},
        "checkpoints": {n: str(path) for n, path in checkpoint_paths.items()},
        "bilabial_truth": str(TRUTH_CSV.relative_to(TRUTH_CSV.parents[1])),
        "recipes": recipes,
        "summary": [
            summarise(rows, n, method, split, recipe)
            for n in estimator_names() for recipe in recipes for split in ("tuning", "held-out") for method in methods
        ],  # fmt: skip
        "bias": [b for n in estimator_names() for b in bias(rows, n)],
        "per_shift": {n: per_shift(rows, n) for n in estimator_names()},
        "rows": rows,
    }
    text = markdown(report)
    write_report(name, report, text)
    return text


if __name__ == "__main__":
    sys.exit(main())
