"""Lip-sync feature study: does a face mesh's lip opening, as more feature families, help on held-out clips?

Run with ``.venv/bin/python -m benchmarks.lipsync_mesh --model face_landmark.tflite``. The model is
MediaPipe's plain 468-point face mesh (Apache-2.0), from the ``mediapipe`` 0.10.14 wheel:
``pip download mediapipe==0.10.14 --no-deps``, then ``unzip -j mediapipe-0.10.14-*.whl
mediapipe/modules/face_landmark/face_landmark.tflite``; it runs on ``ai-edge-litert`` (the ``bench``
extra). Not part of the estimator: this measures whether it should be.

Per talking head of ``media/talking_heads`` (unshifted): shots, face tracks and the longest track,
landmarks re-detected on every frame and the mouth crops, as :func:`ml.picture.lipsync.track_offsets`
does; and per frame the mesh of a 192 × 192 crop (1.5 × the face box, rotated so that the eyes are
level). Mesh features: the inner-lip (points 13-14) and outer-lip (0-17) openings over the mouth
width (61-291). Their families: ``mesh`` (mean squared correlation with the speech features) and
``mesh_sign`` (signed correlation with the loudness), computed by :func:`ml.picture.lipsync.score_curves`
like the estimator's own ``dark``, ``dark_sign`` and ``pca``, over ±(max_shift + search margin + 20)
frames.

A copy shifted by k frames is simulated by translating the clip's curves by k frames (the estimate
is the argmax over the search window moved by k), not by re-encoding copies as
:mod:`benchmarks.lipsync` does: faster, but the audio's ends do not move, so a real copy can differ
at large shifts. Shifts are those of :mod:`benchmarks.lipsync` (beyond-window copies counted
apart). Reported per combination of families and split (``tuning``: GRID; ``held-out``: the news-
style clips): within ±1 frame, within ±40 ms, the bias (median signed error at shift 0), and under
``avcorr/3``'s confidence rule (:func:`ml.picture.lipsync._peak`) the share confident and how many
confident estimates are more than 200 ms off. Also mismatched pairs (a clip's mouth against the
audio of three other clips of its source), where every estimate is wrong: how many are confident.

Results: ``benchmarks/results/lipsync_mesh.{json,md}``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks._common import machine, write_report
from benchmarks.lipsync import RIGHT_S, SHIFTS_FRAMES, TUNING_SOURCES, WRONG_S, clips
from ml.picture.lipsync import CROP_SIDE, _load_speech, _peak, mouth_features, refined_landmarks, score_curves
from ml.policy import LipSyncParams

COMBINATIONS = {
    "avcorr/3 (dark, dark_sign, pca)": ("dark", "dark_sign", "pca"),
    "+ mesh, mesh_sign": ("dark", "dark_sign", "pca", "mesh", "mesh_sign"),
    "+ mesh_sign": ("dark", "dark_sign", "pca", "mesh_sign"),
    "mesh, mesh_sign alone": ("mesh", "mesh_sign"),
}
EXTRA_FRAMES = 20
"""The curves reach this many frames beyond the search, so that every shifted copy's window fits."""


class FaceMesh:
    """MediaPipe's 468-point face mesh on a TFLite interpreter."""

    def __init__(self, model: Path):
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_path=str(model), num_threads=1)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.points = next(o["index"] for o in self.interpreter.get_output_details() if int(np.prod(o["shape"])) == 468 * 3)

    def __call__(self, crop: np.ndarray) -> np.ndarray:
        """Points [shape=(468, 3)] of a 192 × 192 RGB crop, in crop pixels."""
        self.interpreter.set_tensor(self.input["index"], (crop.astype(np.float32) / 255.0)[None])
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.points).reshape(468, 3)


def mesh_features(points: np.ndarray) -> np.ndarray:
    """[shape=(n, 2)]: inner- and outer-lip opening over the mouth width, per frame."""

    def distance(a, b):
        return np.linalg.norm(points[:, a, :2] - points[:, b, :2], axis=1)

    width = distance(61, 291)
    return np.stack([distance(13, 14) / width, distance(0, 17) / width], axis=1)


def clip_features(path: Path, mesh: FaceMesh, params: LipSyncParams) -> dict:
    """Times, the estimator's mouth features and the mesh features of the clip's longest track."""
    import cv2

    from ml.picture.faces import mouth_crops, track_faces, track_frames
    from ml.picture.shots import shots_from_file

    tracks = track_faces(path, shots_from_file(path))
    longest = tracks.longest()
    landmarks = tracks.landmarks.copy()
    landmarks[tracks.rows(longest)] = refined_landmarks(path, tracks, longest)
    source = dataclasses.replace(tracks, landmarks=landmarks)
    crops = list(mouth_crops(path, source, longest, size=CROP_SIDE, scale=1.0))
    points, mesh_s = [], 0.0
    for row, frame in track_frames(path, source, longest):
        p = landmarks[row]
        eyes = p[[0, 1]][np.argsort(p[[0, 1], 0])]
        angle = float(np.degrees(np.arctan2(eyes[1, 1] - eyes[0, 1], eyes[1, 0] - eyes[0, 0])))
        box = tracks.box[row]
        centre = p.mean(axis=0)
        scale = 192.0 / (1.5 * float(max(box[2] - box[0], box[3] - box[1])))
        m = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, scale)
        m[:, 2] += 96 - centre
        crop = cv2.warpAffine(frame.image, m, (192, 192), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
        started = time.perf_counter()
        points.append(mesh(crop))
        mesh_s += time.perf_counter() - started
    mouth = mouth_features(np.stack([c[2] for c in crops]), params)
    times = np.array([c[1] for c in crops])
    return {"times": times, "mouth": mouth, "mesh": mesh_features(np.stack(points)), "mesh_ms": 1000 * mesh_s / len(points)}


def family_curves(features: dict, speech, speech_start: float, shifts: np.ndarray, params: LipSyncParams) -> dict[str, np.ndarray]:
    curves = score_curves(features["mouth"], speech, speech_start, features["times"], shifts, params)
    mesh = score_curves({"dark": features["mesh"]}, speech, speech_start, features["times"], shifts, params)
    return {**curves, "mesh": mesh["dark"], "mesh_sign": mesh["dark_sign"]}


def estimate(shifts: np.ndarray, curves: dict, families: tuple, frame_s: float, k: int, params: LipSyncParams) -> dict:
    """The estimate for the copy shifted by ``k`` frames (curves of the unshifted clip, translated)."""
    reach = (params.max_shift_frames + params.search_margin_frames) * frame_s
    # copy k's curve at offset o is the clip's at o − k·frame: search o in ±reach
    window = np.abs(shifts + k * frame_s) <= reach + 1e-9
    chosen = {name: curves[name][window] for name in families}
    scores = np.mean(list(chosen.values()), axis=0)
    local = shifts[window] + k * frame_s
    offset, confidence, _, _, at_edge = _peak(local, scores, chosen, frame_s, params.max_shift_frames * frame_s)
    return {"error_s": offset - k * frame_s, "confidence": confidence, "at_edge": at_edge}


def summarise(rows: list[dict], crosses: list[dict], name: str, split: str, params: LipSyncParams) -> dict:
    inside = [r for r in rows if r["split"] == split and abs(r["k"]) <= params.max_shift_frames]
    beyond = [r for r in rows if r["split"] == split and abs(r["k"]) > params.max_shift_frames]
    errors = np.array([r["estimates"][name]["error_s"] for r in inside])
    frame = np.array([r["frame_s"] for r in inside])
    sure = np.array([r["estimates"][name]["confidence"] >= params.min_confidence for r in inside])
    zero = [r["estimates"][name]["error_s"] for r in inside if r["k"] == 0]
    cross = [c for c in crosses if c["split"] == split]
    return {
        "combination": name,
        "split": split,
        "n": len(inside),
        "within_1_frame": float(np.mean(np.abs(errors) <= frame + 1e-9)),
        "within_40ms": float(np.mean(np.abs(errors) <= RIGHT_S + 1e-9)),
        "bias_ms": float(np.median(zero) * 1000),
        "confident_share": float(np.mean(sure)),
        "confident_wrong": int(np.sum(sure & (np.abs(errors) > WRONG_S))),
        "right_confident": f"{int(np.sum(sure & (np.abs(errors) <= RIGHT_S + 1e-9)))} of {int(np.sum(np.abs(errors) <= RIGHT_S + 1e-9))}",
        "beyond_confident": f"{sum(r['estimates'][name]['confidence'] >= params.min_confidence for r in beyond)} of {len(beyond)}",
        "mismatched_confident": f"{sum(c['estimates'][name]['confidence'] >= params.min_confidence for c in cross)} of {len(cross)}",
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="face_landmark.tflite from the mediapipe 0.10.14 wheel")
    args = parser.parse_args(argv)
    params = LipSyncParams()
    mesh = FaceMesh(args.model)
    paths = clips()
    features, speech, rows, crosses = {}, {}, [], []
    for path in paths:
        features[path] = clip_features(path, mesh, params)
        speech[path] = _load_speech(path, params)
        f = features[path]
        print(f"{path.parent.name}/{path.name}: {len(f['times'])} frames, mesh {f['mesh_ms']:.1f} ms/frame", flush=True)
    for path in paths:
        f = features[path]
        frame_s = float(np.median(np.diff(f["times"])))
        reach = (params.max_shift_frames + params.search_margin_frames + EXTRA_FRAMES) * frame_s
        shifts = np.arange(-reach, reach + params.lag_step_s / 2, params.lag_step_s)
        curves = family_curves(f, *speech[path], shifts, params)
        split = "tuning" if path.parent.name in TUNING_SOURCES else "held-out"
        for k in SHIFTS_FRAMES:
            estimates = {name: estimate(shifts, curves, fams, frame_s, k, params) for name, fams in COMBINATIONS.items()}
            rows.append({"clip": f"{path.parent.name}/{path.name}", "split": split, "k": k, "frame_s": frame_s, "estimates": estimates})
        # mismatched pairs: this mouth against three other clips' audio of the same source
        same = [p for p in paths if p != path and p.parent == path.parent]
        start = paths.index(path)
        others = [same[(start + j) % len(same)] for j in range(3)]
        for other in others:
            wrong = family_curves(f, *speech[other], shifts, params)
            estimates = {name: estimate(shifts, wrong, fams, frame_s, 0, params) for name, fams in COMBINATIONS.items()}
            crosses.append({"clip": path.name, "audio": other.name, "split": split, "estimates": estimates})
        print(f"curves: {path.name}", flush=True)
    summary = [summarise(rows, crosses, name, split, params) for split in ("tuning", "held-out") for name in COMBINATIONS]
    report = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine(), "model": str(args.model), "summary": summary, "rows": rows}
    lines = [
        f"# Face-mesh lip opening as extra feature families ({report['date']}, {report['machine']})",
        "",
        "Curves translated by the shifts (not re-encoded copies). Wrong: > 200 ms off; right: within ±40 ms; "
        f"confident: avcorr/3's rule, ≥ {params.min_confidence}. Bias: median signed error at shift 0.",
        "",
        "| combination | split | n | within ±1 frame | within ±40 ms | bias ms | share confident | confident and wrong | "
        "right ones confident | beyond ±15: confident | mismatched pairs: confident |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summary:
        lines.append(
            f"| {s['combination']} | {s['split']} | {s['n']} | {s['within_1_frame']:.3f} | {s['within_40ms']:.3f} | {s['bias_ms']:+.0f} | "
            f"{s['confident_share']:.3f} | {s['confident_wrong']} | {s['right_confident']} | {s['beyond_confident']} | "
            f"{s['mismatched_confident']} |"
        )
    lines += ["", "## Shift 0: error in frames per clip (confidence)", ""]
    lines += ["| clip | " + " | ".join(COMBINATIONS) + " |", "|---|" + "---|" * len(COMBINATIONS)]
    for r in rows:
        if r["k"] == 0:
            cells = [f"{e['error_s'] / r['frame_s']:+.1f} ({e['confidence']:.2f})" for e in r["estimates"].values()]
            lines.append(f"| {r['clip']} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    write_report("lipsync_mesh", report, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
