"""Shot detection against decode-only, per clip: a quicker loop than ``benchmarks/video.py`` for
work on ``ml.picture.shots``, with the same baselines (no conversion; one 2-thread decoder, and the
detector's key-frame spans on 2 threads with a one-thread decoder each; the faster is decode-only;
beside it, the faster of both decoding as the detector decodes: without the in-loop deblocking
filter, and MPEG-1/2, MPEG-4 part 2, Motion JPEG, DV and JPEG 2000 at a reduced size) and
the same method (best of ``--repeats`` runs, decode-only and detector alternating). The detector
is timed twice: in one pass (``in_spans=False``, one decoder with FFmpeg's threads) and as it runs
by default, ``in_spans`` (the key-frame spans, one Python thread each).

``.venv/bin/python -m benchmarks.shots_speed [--repeats 3] [--sd] [--deliveries [K ...]] [--codecs NAME ...] [--full-size] [clip ...]``

``--full-size`` times the detector decoding at full size (``ShotParams(reduced_decode=False)``), as it
did before MPEG-1/2, MPEG-4 part 2, Motion JPEG, DV and JPEG 2000 were decoded at a reduced size.

``--sd`` adds standard-definition encodes (generated and cached if missing): the 3-minute generated
title at 720 × 576 (PAL SD, x264 ``medium``) and at 854 × 480 (x264 ``veryfast``), where decoding
is cheap and the detector's per-frame measures are a larger share of its time.

``--deliveries`` adds the real edits K of ``benchmarks/video.py`` (default 0 and 5: 1280 × 720 and
854 × 480) re-encoded as deliveries other than H.264 4:2:0 (:data:`DELIVERIES`: HEVC Main 10,
ProRes 422 HQ and ProRes 4444 with alpha, 10 and 12 bits; MPEG-2; VP9; H.264 4:2:2; JPEG 2000 4:2:2
10-bit, as IMF Application 2 masters may be), cached in
``benchmarks/.cache/video/deliveries``; for these it also scores the hard cuts (within ±1 frame of
the edit's truth) of dubsync and of PySceneDetect's ContentDetector and AdaptiveDetector on the same
file, and the dissolves found; ``--codecs`` keeps only some of the deliveries. With ``--sd`` too,
the 720 × 576 title is also re-encoded as MPEG-2 and VP9 (:data:`SD_DELIVERIES`), 3 minutes where
the edits are 33-45 s.

It also prints the CPU time of both (all threads of the process): when other work keeps a core
busy, each run gets about one core and the wall-time ratio follows the CPU ratio.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from benchmarks._common import MEDIA
from benchmarks.video import CACHE, PUBLISHED, as_the_detector, decode_only, decode_only_in_spans, generated_title

SD_TITLES = (((720, 576), "medium"), ((854, 480), "veryfast"))
"""Frame size and x264 preset of the standard-definition titles of ``--sd`` (3 minutes each)."""

DELIVERIES = {
    "hevc-main10": ("mp4", "libx265", "yuv420p10le", {"preset": "fast", "crf": "24", "x265-params": "log-level=error"}),
    "prores-422hq": ("mov", "prores_ks", "yuv422p10le", {"profile": "3"}),
    "prores-4444": ("mov", "prores_ks", "yuva444p10le", {"profile": "4"}),
    "mpeg2": ("mpg", "mpeg2video", "yuv420p", {"b": "6000000", "g": "12", "bf": "2"}),
    "vp9": ("webm", "libvpx-vp9", "yuv420p", {"crf": "33", "b": "0", "deadline": "good", "cpu-used": "5"}),
    "h264-422": ("mkv", "libx264", "yuv422p", {"preset": "fast", "crf": "20"}),
    "jpeg2000": ("mov", "jpeg2000", "yuv422p10le", {"pred": "dwt53"}),  # FFmpeg's own 9/7 encode of edit_5 has a frame its decoder rejects
}  # fmt: skip
"""``--deliveries``: container, encoder, pixel format and encoder options of each re-encoding."""
CONTAINERS = {"mp4": "mp4", "mov": "mov", "mpg": "mpeg", "webm": "webm", "mkv": "matroska"}
"""FFmpeg's muxer of each suffix."""


def delivery(k: int, name: str) -> tuple[Path, dict]:
    """The k-th real edit re-encoded as the delivery ``name`` (cached), and the edit's truth."""
    from benchmarks.video import real_edit

    source, truth = real_edit(k)
    return recoded(source, name), truth


SD_DELIVERIES = ("mpeg2", "vp9")
"""``--sd`` with ``--deliveries``: the 3-minute 720 × 576 title re-encoded as these too (cheap to decode:
a 40-s edit's fixed costs, opening and probing the file and finding its spans, weigh on them)."""


def sd_delivery(name: str) -> tuple[Path, dict]:
    """The 3-minute 720 × 576 generated title re-encoded as the delivery ``name`` (cached), and its truth
    (cuts and fades; it has no dissolves)."""
    (size, preset), *_ = SD_TITLES
    source, truth = generated_title(3, preset, size)
    return recoded(source, name), {"dissolves": [], **truth}


def recoded(source: Path, name: str) -> Path:
    """``source``'s picture re-encoded as the delivery ``name`` (cached, frame for frame)."""
    import av

    suffix, codec, pixel_format, options = DELIVERIES[name]
    path = CACHE / "deliveries" / f"{source.stem}_{name}.{suffix}"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"partial_{path.name}")
        print(f"encoding {path.name} ...", flush=True)
        with av.open(str(source)) as inp, av.open(str(partial), "w", format=CONTAINERS[suffix]) as out:
            stream = out.add_stream(codec, rate=inp.streams.video[0].average_rate, options=options)
            stream.width, stream.height, stream.pix_fmt = inp.streams.video[0].width, inp.streams.video[0].height, pixel_format
            for frame in inp.decode(video=0):
                out.mux(stream.encode(frame.reformat(format=pixel_format)))
            out.mux(stream.encode())
        partial.rename(path)
    return path


def delivery_scores(path: Path, truth: dict, shots) -> str:
    """Hard cuts within ±1 frame by dubsync (``shots``) and PySceneDetect, and dissolves found."""
    from benchmarks.video import scenedetect_cuts, score

    found = shots.boundaries("cut").tolist()
    parts = [f"frames {shots.n_frames}/{truth['n_frames']}"]
    for name, cuts in (("dubsync", found), *((f"PySceneDetect {d}", scenedetect_cuts(path, d)[0]) for d in ("content", "adaptive"))):
        got = score(cuts, truth["cuts"])
        parts.append(f"{name} {got['tp']}/{len(truth['cuts'])} cuts, {got['fp']} false, F1 {got['f1']:.3f}")
    reported = shots.boundaries("dissolve").tolist()
    parts.append(f"dissolves {sum(any(a - 1 <= f <= b + 1 for f in reported) for a, b in truth['dissolves'])}/{len(truth['dissolves'])}")
    return "; ".join(parts)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sd", action="store_true", help="also the standard-definition titles (generated if missing)")
    parser.add_argument("--deliveries", nargs="*", type=int, metavar="K", help="real edits re-encoded as other deliveries (default 0 5)")
    parser.add_argument("--codecs", nargs="+", choices=list(DELIVERIES), help="with --deliveries: only these (default: all)")
    parser.add_argument("--full-size", action="store_true", help="the detector decodes at full size (ShotParams.reduced_decode=False)")
    parser.add_argument("clips", nargs="*", type=Path, help="default: the published clips and the cached generated titles")
    args = parser.parse_args(argv)
    sd = [generated_title(3, preset, size)[0] for size, preset in SD_TITLES] if args.sd else []
    truths = {}
    if args.deliveries is not None:
        for k in args.deliveries or [0, 5]:
            for name in args.codecs or DELIVERIES:
                path, truths[path] = delivery(k, name)
        for name in [name for name in SD_DELIVERIES if name in (args.codecs or DELIVERIES)] if args.sd else ():
            path, truths[path] = sd_delivery(name)
    clips = args.clips or ([] if truths else [MEDIA / "shots" / name for name in PUBLISHED] + sorted(CACHE.glob("title_*.mp4")))
    clips += [path for path in [*sd, *truths] if path not in clips]
    from ml.picture.shots import shots_from_file
    from ml.policy import ShotParams

    params = ShotParams(reduced_decode=not args.full_size)

    def timed(fn):
        cpu, started = time.process_time(), time.perf_counter()
        result = fn()
        return time.perf_counter() - started, time.process_time() - cpu, result

    for path in clips:
        runs = {
            "one decoder": lambda path=path: decode_only(path),
            "in spans": lambda path=path: decode_only_in_spans(path),
            "one decoder, as the detector": lambda path=path: decode_only(path, **as_the_detector(params)),
            "in spans, as the detector": lambda path=path: decode_only_in_spans(path, **as_the_detector(params)),
            "shots": lambda path=path: shots_from_file(path, params, in_spans=False),
            "shots in spans": lambda path=path: shots_from_file(path, params, in_spans=True),
        }
        best = {name: (float("inf"), float("inf")) for name in runs}
        for _ in range(args.repeats):
            for name, fn in runs.items():
                wall, cpu, result = timed(fn)
                best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
                if name == "shots":
                    shots = result
        decode_s, decode_cpu = min(best["one decoder"][0], best["in spans"][0]), min(best["one decoder"][1], best["in spans"][1])
        ours_s, ours_cpu = best["shots"]
        as_detector_s = min(best["one decoder, as the detector"][0], best["in spans, as the detector"][0])
        cuts, fades, dissolves, wipes = (
            shots.nominal_frame_numbers(shots.boundaries(kind)).tolist() for kind in ("cut", "fade", "dissolve", "wipe")
        )
        print(f"{path.name:24s} decode {best['one decoder'][0]:6.3f} s / in spans {best['in spans'][0]:6.3f} s  one pass {ours_s:6.3f} s"
              f"  speed × decode-only {decode_s / ours_s:4.2f}"
              f"  (CPU {decode_cpu:6.3f} s / {ours_cpu:6.3f} s = {decode_cpu / ours_cpu:4.2f})"
              f"  × decode-only as the detector decodes {as_detector_s / ours_s:4.2f}"
              f"  | shots in spans {best['shots in spans'][0]:6.3f} s × decode-only {decode_s / best['shots in spans'][0]:4.2f}"
              f" (CPU {best['shots in spans'][1]:6.3f} s = {decode_cpu / best['shots in spans'][1]:4.2f};"
              f" × decode-only as the detector decodes {as_detector_s / best['shots in spans'][0]:4.2f})"
              f"  cuts {cuts if len(cuts) <= 6 else f'{len(cuts)} cuts'}"
              f"  fades {fades if len(fades) <= 6 else f'{len(fades)} fades'}  dissolves {dissolves}  wipes {wipes}", flush=True)
        if path in truths:
            print(f"{'':24s} {delivery_scores(path, truths[path], shots)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
