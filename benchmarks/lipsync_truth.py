"""Independent lip-sync truth from bilabial releases (issue 23): is a clip in sync as published?

Not the estimator: a person looks at the mouth frame by frame and notes, per bilabial (/p/, /b/,
/m/: lips pressed together, then opening), the last frame with the lips closed and the first with
them apart; this script finds the acoustic release that goes with it (the burst after the silent
closure, or the nasal's end: a rise of the energy above 1.5 kHz) and gives per clip the median of
(audio release − visual release). Decoding is PyAV's own (presentation times of the streams, audio
at its own rate), none of ``ml``'s decoders or features; RetinaFace only places the crops.

Steps::

    python -m benchmarks.lipsync_truth sheets CLIP ...     # every frame's mouth, numbered and timed
    (look at the sheets, write the events into benchmarks/lipsync_truth.csv: clip, last_closed, first_open)
    python -m benchmarks.lipsync_truth events              # audio releases, verification sheets, summary

Sheets: ``benchmarks/results/lipsync_truth/<clip>_frames_<k>.png`` (frame index and pts in ms under
each crop) and ``<clip>_events_<k>.png`` (per event the frames around the release and the spectrogram
of the same span, frame times as ticks, the release found as a red line, the visual release as a
green one).

The visual release is taken at two instants: the first open frame's presentation time (``d_open``)
and the middle between it and the last closed frame's (``d_mid``; the lips parted somewhere
between the two exposures). A frame's instant vs its exposure is a convention that shifts every
clip alike, so the GRID clips (25 fps, published by their authors for audio-visual speech research)
are the controls: the news clips are judged by their difference from GRID's reading.

Audio release: in ``[visual release − SEARCH_S, visual release + SEARCH_S]`` the instant where the
1.5-8 kHz energy (2-ms centred window, in dB) steps up most sharply from a quiet stretch (mean
over the 10 ms after minus the 30 ms before, the step's 50 % crossing). Where that window holds
more than one step (speech on both sides of a closure, a pause before it), the release is read off
the spectrogram (``audio_guess_s``: the burst after a closure's silent or murmur-only stretch, or
the vowel's onset after a nasal) and taken as read (the sharpest step near it is often the voicing
onset after an aspirated burst, not the burst).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

from benchmarks._common import talking_head

TRUTH_CSV = Path(__file__).with_name("lipsync_truth.csv")
OUT = Path(__file__).with_name("results") / "lipsync_truth"
SEARCH_S = 0.16
"""Half-width of the window searched for the acoustic release around the visual one, seconds
(wider than any bias measured, so the search does not presuppose sync)."""
BAND_HZ = (1500.0, 8000.0)
CROP = 112
FIELDS = [
    "clip", "event", "last_closed_frame", "first_open_frame", "use", "audio_guess_s",
    "last_closed_s", "first_open_s", "audio_release_s", "d_open_ms", "d_mid_ms", "note",
]  # fmt: skip
"""Columns of the CSV. Written by hand: clip … audio_guess_s and note (``use`` = 0: looked at and
left out, the note says why); by ``events``: the times and differences."""


def decode_video(path: Path) -> tuple[np.ndarray, list[np.ndarray]]:
    """(presentation times [n], RGB frames), in presentation order."""
    import av

    out = []
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        for f in c.decode(s):
            out.append((float(f.pts * f.time_base), f.to_ndarray(format="rgb24")))
    out.sort(key=lambda x: x[0])
    return np.array([t for t, _ in out]), [im for _, im in out]


def decode_audio(path: Path) -> tuple[np.ndarray, int, float]:
    """(mono samples at the stream's rate, rate, presentation time of the first decoded sample)."""
    import av

    blocks, start, rate = [], None, None
    with av.open(str(path)) as c:
        s = c.streams.audio[0]
        for f in c.decode(s):
            if start is None:
                start = float(f.pts * f.time_base)
                rate = f.sample_rate
            a = f.to_ndarray().astype(np.float32)
            if f.format.is_planar:
                a = a.mean(axis=0)
            else:
                a = a.reshape(-1, len(f.layout.channels)).mean(axis=1)
            if f.format.name.startswith("s16"):
                a = a / 32768.0
            blocks.append(a)
    return np.concatenate(blocks), int(rate), float(start)


def mouth_boxes(frames: list[np.ndarray]) -> np.ndarray:
    """Per frame (cx, cy, side) of a mouth crop: RetinaFace's mouth corners and face width, median
    over ±2 frames."""
    import cv2

    from ml.picture.faces import MOUTH_LEFT, MOUTH_RIGHT, detect_faces_batch

    h, w = frames[0].shape[:2]
    scale = min(1.0, 480 / max(h, w))
    small = [cv2.resize(f, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA) for f in frames]
    rows = []
    for i in range(0, len(small), 16):
        for faces in detect_faces_batch(np.stack(small[i : i + 16]), 0.5):
            if not faces:
                rows.append([np.nan] * 3)
                continue
            box, pts, _ = max(faces, key=lambda f: (f[0][2] - f[0][0]) * (f[0][3] - f[0][1]))
            cx, cy = pts[[MOUTH_LEFT, MOUTH_RIGHT]].mean(axis=0) / scale
            rows.append([cx, cy + 0.05 * (box[3] - box[1]) / scale, 0.75 * (box[2] - box[0]) / scale])
    a = np.array(rows, dtype=np.float64)
    for j in range(3):  # fill misses, then a running median
        ok = np.isfinite(a[:, j])
        a[:, j] = np.interp(np.arange(len(a)), np.flatnonzero(ok), a[ok, j])
    return np.array([np.median(a[max(0, i - 2) : i + 3], axis=0) for i in range(len(a))])


def crop(frame: np.ndarray, box: np.ndarray, size: int = CROP) -> np.ndarray:
    """The mouth square, contrast-equalised (CLAHE on the lightness: pale lips on pale skin)."""
    import cv2

    cx, cy, side = box
    m = np.array([[size / side, 0, -(cx - side / 2) * size / side], [0, size / side, -(cy - side / 2) * size / side]], np.float32)
    out = cv2.warpAffine(frame, m, (size, size), flags=cv2.INTER_CUBIC, borderValue=(0, 0, 0))
    lab = cv2.cvtColor(out, cv2.COLOR_RGB2LAB)
    lab[:, :, 0] = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(4, 4)).apply(lab[:, :, 0])
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)


def _labelled(image: np.ndarray, text: str) -> np.ndarray:
    import cv2

    out = np.zeros((image.shape[0] + 16, image.shape[1], 3), np.uint8)
    out[: image.shape[0]] = image
    cv2.putText(out, text, (2, image.shape[0] + 12), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def frame_sheets(name: str, per_sheet: int = 40, cols: int = 8, size: int = 144) -> list[Path]:
    """Every frame's mouth crop, labelled ``#index pts-ms``, ``per_sheet`` a page."""
    import cv2

    path = talking_head(name)
    times, frames = decode_video(path)
    boxes = mouth_boxes(frames)
    OUT.mkdir(parents=True, exist_ok=True)
    written = []
    for k, first in enumerate(range(0, len(frames), per_sheet)):
        tiles = [
            _labelled(crop(frames[i], boxes[i], size), f"#{i} {times[i] * 1000:.0f}")
            for i in range(first, min(len(frames), first + per_sheet))
        ]
        while len(tiles) % cols:
            tiles.append(np.zeros_like(tiles[0]))
        sheet = np.vstack([np.hstack(tiles[r : r + cols]) for r in range(0, len(tiles), cols)])
        target = OUT / f"{path.stem}_frames_{k}.png"
        cv2.imwrite(str(target), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
        written.append(target)
    return written


def band_energy_db(y: np.ndarray, rate: int) -> np.ndarray:
    """Energy of the 1.5-8 kHz band in a 2-ms centred window, dB, per sample (zero-phase filter)."""
    from scipy.ndimage import uniform_filter1d
    from scipy.signal import butter, sosfiltfilt

    sos = butter(4, [BAND_HZ[0], min(BAND_HZ[1], 0.45 * rate)], btype="band", fs=rate, output="sos")
    band = sosfiltfilt(sos, y.astype(np.float64))
    power = uniform_filter1d(band**2, max(1, int(0.002 * rate)), mode="nearest")
    return 10 * np.log10(power + 1e-12)


def audio_release(energy_db: np.ndarray, rate: int, start_s: float, around_s: float, half_s: float = SEARCH_S) -> float:
    """The sharpest step up of the band energy from a quiet stretch within ±``half_s`` of
    ``around_s``, at its 50 % crossing (seconds, the stream's presentation time)."""
    step = 1e-3
    grid = np.arange(around_s - half_s - 0.03, around_s + half_s + 0.01, step)
    idx = np.clip(np.round((grid - start_s) * rate).astype(np.int64), 0, len(energy_db) - 1)
    env = energy_db[idx]
    pre, post = 30, 10
    best, best_j = -np.inf, None
    for j in range(pre, len(grid) - post):
        rise = env[j : j + post].mean() - env[j - pre : j].mean()
        if rise > best:
            best, best_j = rise, j
    floor = np.median(env[best_j - pre : best_j])
    top = env[best_j : best_j + post].max()
    level = floor + 0.5 * (top - floor)
    # the 50 % crossing nearest the step, at sample resolution
    i0 = int(round((grid[max(0, best_j - 10)] - start_s) * rate))
    i1 = int(round((grid[min(len(grid) - 1, best_j + post)] - start_s) * rate))
    seg = energy_db[i0:i1]
    above = np.flatnonzero(seg >= level)
    return start_s + (i0 + (above[0] if above.size else (i1 - i0) // 2)) / rate


def read_truth() -> list[dict]:
    with open(TRUTH_CSV, newline="") as f:
        return [r for r in csv.DictReader(f) if r["clip"] and not r["clip"].startswith("#")]


def events(write_sheets: bool = True) -> list[dict]:
    """Times of the annotated events, their audio releases (written back to the CSV), and the
    verification sheets."""
    rows = read_truth()
    by_clip: dict[str, list[dict]] = {}
    for r in rows:
        by_clip.setdefault(r["clip"], []).append(r)
    for name, group in by_clip.items():
        path = talking_head(name)
        times, frames = decode_video(path)
        y, rate, start = decode_audio(path)
        energy = band_energy_db(y, rate)
        boxes = mouth_boxes(frames) if write_sheets else None
        strips = []
        for r in group:
            a, b = int(r["last_closed_frame"]), int(r["first_open_frame"])
            r["last_closed_s"] = f"{times[a]:.4f}"
            r["first_open_s"] = f"{times[b]:.4f}"
            mid = 0.5 * (times[a] + times[b])
            if r.get("audio_guess_s"):  # read off the spectrogram, taken as read
                found = float(r["audio_guess_s"])
            else:
                found = audio_release(energy, rate, start, mid)
            r["audio_release_s"] = f"{found:.4f}"
            release = found
            r["d_open_ms"] = f"{(release - times[b]) * 1000:.1f}"
            r["d_mid_ms"] = f"{(release - mid) * 1000:.1f}"
            if write_sheets:
                strips.append(_event_strip(r, times, frames, boxes, energy, y, rate, start, a, b, found, release))
        if write_sheets:
            import cv2

            OUT.mkdir(parents=True, exist_ok=True)
            width = max(s.shape[1] for s in strips)
            for k in range(0, len(strips), 4):  # four events a page
                page = np.vstack([np.pad(s, ((0, 4), (0, width - s.shape[1]), (0, 0))) for s in strips[k : k + 4]])
                cv2.imwrite(str(OUT / f"{path.stem}_events_{k // 4}.png"), cv2.cvtColor(page, cv2.COLOR_RGB2BGR))
    with open(TRUTH_CSV, "w", newline="") as f:
        w = csv.DictWriter(f, FIELDS)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in FIELDS})
    return rows


def _event_strip(r, times, frames, boxes, energy, y, rate, start, a, b, found, release) -> np.ndarray:
    """Frames a−2 … b+2 and, under them, the spectrogram of the same span with the frame times."""
    import cv2
    from scipy.signal import spectrogram

    lo, hi = max(0, a - 2), min(len(frames) - 1, b + 2)
    tiles = [_labelled(crop(frames[i], boxes[i], 144), f"#{i} {times[i] * 1000:.0f}") for i in range(lo, hi + 1)]
    top = np.hstack(tiles)
    t0, t1 = times[lo] - 0.02, times[hi] + 0.06
    i0, i1 = max(0, int((t0 - start) * rate)), min(len(y), int((t1 - start) * rate))
    f, t, s = spectrogram(y[i0:i1], fs=rate, nperseg=256, noverlap=256 - 32, nfft=512)
    img = 10 * np.log10(s[f <= 8000][::-1] + 1e-12)
    img = np.clip((img - (img.max() - 70)) / 70, 0, 1)
    height, width = 120, top.shape[1]
    spec = cv2.resize((img * 255).astype(np.uint8), (width, height), interpolation=cv2.INTER_LINEAR)
    spec = cv2.applyColorMap(spec, cv2.COLORMAP_VIRIDIS)[:, :, ::-1].copy()
    # band energy curve over it, white
    xs = np.linspace(t0, t1, width)
    e = energy[np.clip(((xs - start) * rate).astype(np.int64), 0, len(energy) - 1)]
    e = (e - e.max() + 60) / 60
    pts = np.stack([np.arange(width), (height - 1 - np.clip(e, 0, 1) * (height - 1))], axis=1).astype(np.int32)
    cv2.polylines(spec, [pts], False, (255, 255, 255), 1)

    def x_of(t):
        return int(round((t - t0) / (t1 - t0) * (width - 1)))

    for i in range(lo, hi + 1):
        cv2.line(spec, (x_of(times[i]), 0), (x_of(times[i]), 10), (255, 255, 0), 2)
    mid = 0.5 * (times[a] + times[b])
    cv2.line(spec, (x_of(mid), 0), (x_of(mid), height), (0, 255, 0), 1)
    for ms in range(int(np.ceil(t0 * 100)), int(t1 * 100) + 1):  # 10-ms ticks, 50-ms longer
        cv2.line(spec, (x_of(ms / 100), height - (12 if ms % 5 == 0 else 5)), (x_of(ms / 100), height), (255, 255, 255), 1)
    cv2.line(spec, (x_of(found), 0), (x_of(found), height), (255, 0, 0), 1)
    label = np.zeros((16, width, 3), np.uint8)
    cv2.putText(
        label, f"{r['clip']} e{r['event']} closed #{a} open #{b} release {release * 1000:.0f} ms  d_mid {r['d_mid_ms']} ms",
        (2, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA,
    )  # fmt: skip
    return np.vstack([label, top, spec])


def summary(rows: list[dict]) -> list[dict]:
    """Per clip: events used, median and quartiles of d_open and d_mid (ms)."""
    rows = [r for r in rows if r.get("use", "1") == "1"]
    out = []
    for name in dict.fromkeys(r["clip"] for r in rows):
        d_open = np.array([float(r["d_open_ms"]) for r in rows if r["clip"] == name])
        d_mid = np.array([float(r["d_mid_ms"]) for r in rows if r["clip"] == name])
        out.append({
            "clip": name, "events": len(d_mid),
            "d_open_ms": float(np.median(d_open)), "d_mid_ms": float(np.median(d_mid)),
            "d_mid_q1_ms": float(np.percentile(d_mid, 25)), "d_mid_q3_ms": float(np.percentile(d_mid, 75)),
            "d_mid_min_ms": float(d_mid.min()), "d_mid_max_ms": float(d_mid.max()),
        })  # fmt: skip
    return out


CONTROLS = ("grid",)
"""Sources whose clips are the controls: their pooled median (audio release − visual release) is
the method's own zero, and they are taken as in sync (one or two events a clip measure no clip)."""
MIN_EVENTS = 4
"""Events (used) a clip needs for its sync to count as measured."""


def measured_sync(rows: list[dict] | None = None) -> dict[str, float | None]:
    """Audio ↔ picture offset of every annotated clip measured from its bilabial releases
    (seconds, positive = audio leads), keyed by clip stem: 0.0 for a control clip; None for a clip
    with fewer than ``MIN_EVENTS`` usable events (not measured).

    Audio leading by ``o`` puts the acoustic release ``o`` before the visual one, so
    ``o = −(median d_mid of the clip − median d_mid of the controls' events pooled)``."""
    if rows is None:
        rows = read_truth() if TRUTH_CSV.exists() else []
    used = [r for r in rows if r.get("d_mid_ms") and r.get("use", "1") == "1"]
    source = {r["clip"]: talking_head(r["clip"]).parent.name for r in rows}
    zero = [float(r["d_mid_ms"]) for r in used if source[r["clip"]] in CONTROLS]
    out: dict[str, float | None] = {}
    for name in dict.fromkeys(r["clip"] for r in rows):
        own = [float(r["d_mid_ms"]) for r in used if r["clip"] == name]
        if source[name] in CONTROLS:
            out[name] = 0.0
        elif len(own) >= MIN_EVENTS and zero:
            out[name] = -(float(np.median(own)) - float(np.median(zero))) / 1000
        else:
            out[name] = None
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("sheets", help="mouth crops of every frame of the clips")
    p.add_argument("clips", nargs="+")
    p = sub.add_parser("events", help="audio releases of the annotated events, verification sheets, summary")
    p.add_argument("--no-sheets", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "sheets":
        for name in args.clips:
            for target in frame_sheets(name):
                print(target)
        return 0
    rows = events(write_sheets=not args.no_sheets)
    sync = measured_sync(rows)
    print(
        "| clip | events used (looked at) | median d_open ms | median d_mid ms | d_mid quartiles ms | d_mid range ms | measured sync ms |"
    )
    print("|---|---|---|---|---|---|---|")
    for s in summary(rows):
        looked = sum(1 for r in rows if r["clip"] == s["clip"])
        o = sync[s["clip"]]
        print(
            f"| {s['clip']} | {s['events']} ({looked}) | {s['d_open_ms']:+.1f} | {s['d_mid_ms']:+.1f} | "
            f"{s['d_mid_q1_ms']:+.1f} … {s['d_mid_q3_ms']:+.1f} | {s['d_mid_min_ms']:+.1f} … {s['d_mid_max_ms']:+.1f} | "
            + ("control (0)" if talking_head(s["clip"]).parent.name in CONTROLS else "not measured" if o is None else f"{o * 1000:+.0f}")
            + " |"
        )
    grid = [float(r["d_mid_ms"]) for r in rows if r.get("use", "1") == "1" and talking_head(r["clip"]).parent.name in CONTROLS]
    if grid:
        print(
            f"\ncontrols pooled: {len(grid)} events, median d_mid {np.median(grid):+.1f} ms, quartiles "
            f"{np.percentile(grid, 25):+.1f} … {np.percentile(grid, 75):+.1f} ms (measured sync = −(clip's median d_mid − this))"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
