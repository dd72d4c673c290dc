"""A hold-out of drifting dubs for issue 22's "drift rate within 5 %": titles of the outside recipe
(:mod:`benchmarks.outside_mix`) that no rule was tuned on when this file was written.

Usage::

    .venv/bin/python -m benchmarks.drift_holdout [--half dev|final|fresh|holdout2|holdout3|all] [--build-only] [--out FILE]

Fifteen titles for the first three halves, seeds 5100-5114, 90-600 s, three dubs each (de, es, ru): speed ratios 1.001,
24/23.976, 1000/1001, 25/24 and 24/25, most with the pitch kept (FFmpeg ``atempo``), some resampled
(pitch shifted); beds 6-12 dB under the dialogue; some M&E remixed (EQ, compressor, reverb, 8 kHz),
some in 5.1 or mono, AAC, AC-3, MP3 or FLAC. Halves: ``dev`` (seeds 5100-5104), on which the
matcher may be studied, and ``final`` (seeds 5105-5109), to be run once, at the end, on the code
that is kept; the final half having been seen, ``fresh`` (seeds 5110-5114, 90-300 s, the same kinds
of plans) was added as a clean test in its turn, and when that had been studied, ``holdout2``
(seeds 5115-5119, 90-300 s, the same options; more short 1.001-class dubs, resampled and
band-limited ones among them) in its turn, and when that had been seen, ``holdout3`` (seeds
5120-5124, 100-240 s). Titles are cached in ``benchmarks/.cache/audio_sync/drift_holdout`` (the
``audio_sync`` benchmark's cache and title builder).

Per dub: dubsync's kind (under the named policy ``paper``, as ``audio_sync`` runs it), its drift
rate against the truth (for a pitch-kept dub, the rate its M&E was measured to play at,
``drift_ppm_measured``; the nominal (ratio − 1) × 10⁶ beside it), the error of its offset at the
dub's start, and which matcher decided. Per half: dubs within 5 %, undetermined, the median and
largest rate error.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.audio_sync import ensure_title, run_dubsync, truth_drift_ppm
from benchmarks.outside_mix import OutsideDub, OutsideTitle
from ml.policy import named_policy

ROW = "drift_holdout"
R_NTSC, R_FILM, R_PULLDOWN, R_PAL_UP, R_PAL_DOWN = 1.001, 24 / 23.976, 1000 / 1001, 25 / 24, 24 / 25

# (seed, duration s, bed dB, continuous dialogue, dubs de/es/ru as OutsideDub keywords)
PLANS = (
    # development half
    (5100, 90.0, -6.0, True, ({"offset_s": 0.2, "speed_ratio": R_NTSC, "tempo": "kept"},
                              {"offset_s": -0.3, "speed_ratio": R_PAL_DOWN, "tempo": "kept", "remix": ("eq", "compress")},
                              {"offset_s": 0.0, "speed_ratio": R_NTSC})),
    (5101, 120.0, -10.0, False, ({"offset_s": 0.5, "speed_ratio": R_PULLDOWN, "tempo": "kept", "layout": "5.1", "codec": "ac3"},
                                 {"offset_s": -0.5, "speed_ratio": R_FILM, "tempo": "kept", "remix": ("eq", "band8k"), "layout": "5.1"},
                                 {"offset_s": 0.1, "speed_ratio": R_PAL_UP, "tempo": "kept", "codec": "mp3"})),
    (5102, 180.0, -8.0, True, ({"offset_s": -0.1, "speed_ratio": R_FILM, "tempo": "kept"},
                               {"offset_s": 1.2, "speed_ratio": R_PULLDOWN, "tempo": "kept",
                                "remix": ("reverb",), "layout": "mono", "codec": "mp3"},
                               {"offset_s": 0.0, "speed_ratio": R_PAL_UP})),
    (5103, 300.0, -12.0, True, ({"offset_s": 0.0, "speed_ratio": R_NTSC, "tempo": "kept", "codec": "flac"},
                                {"offset_s": 0.3, "speed_ratio": R_PAL_UP, "tempo": "kept", "remix": ("compress",)},
                                {"offset_s": -0.2, "speed_ratio": R_FILM, "tempo": "kept", "remix": ("eq", "band8k"), "layout": "5.1"})),
    (5104, 450.0, -9.0, False, ({"offset_s": -0.7, "speed_ratio": R_PULLDOWN, "tempo": "kept"},
                                {"offset_s": 1.5, "speed_ratio": R_NTSC, "tempo": "kept",
                                 "remix": ("eq",), "layout": "5.1", "codec": "ac3"},
                                {"offset_s": 0.0, "speed_ratio": R_PAL_DOWN})),
    # final half
    (5105, 100.0, -7.0, True, ({"offset_s": -0.5, "speed_ratio": R_FILM, "tempo": "kept", "remix": ("eq", "band8k"), "layout": "5.1"},
                               {"offset_s": 0.1, "speed_ratio": R_NTSC, "tempo": "kept"},
                               {"offset_s": 0.4, "speed_ratio": R_PULLDOWN, "tempo": "kept",
                                "remix": ("compress",), "layout": "mono", "codec": "mp3"})),
    (5106, 150.0, -11.0, False, ({"offset_s": 0.0, "speed_ratio": R_PAL_UP, "tempo": "kept"},
                                 {"offset_s": -0.2, "speed_ratio": R_NTSC, "tempo": "kept", "remix": ("reverb",)},
                                 {"offset_s": 1.5, "speed_ratio": R_NTSC, "layout": "5.1", "codec": "ac3"})),
    (5107, 240.0, -9.0, True, ({"offset_s": 0.3, "speed_ratio": R_PULLDOWN, "tempo": "kept", "remix": ("eq",)},
                               {"offset_s": -0.1, "speed_ratio": R_FILM, "tempo": "kept", "codec": "flac"},
                               {"offset_s": 0.0, "speed_ratio": R_PAL_DOWN, "tempo": "kept"})),
    (5108, 360.0, -6.0, True, ({"offset_s": 0.6, "speed_ratio": R_NTSC, "tempo": "kept", "remix": ("compress",)},
                               {"offset_s": 0.0, "speed_ratio": R_PAL_DOWN},
                               {"offset_s": -0.4, "speed_ratio": R_PULLDOWN, "tempo": "kept",
                                "remix": ("band8k",), "layout": "5.1", "codec": "ac3"})),
    (5109, 600.0, -12.0, False, ({"offset_s": 0.0, "speed_ratio": R_FILM, "tempo": "kept"},
                                 {"offset_s": 0.8, "speed_ratio": R_NTSC, "tempo": "kept",
                                  "remix": ("eq", "compress"), "layout": "mono", "codec": "mp3"},
                                 {"offset_s": -0.3, "speed_ratio": R_PAL_UP})),
    # fresh half (added after the final half had been seen)
    (5110, 90.0, -8.0, False, ({"offset_s": 0.3, "speed_ratio": R_NTSC, "tempo": "kept", "remix": ("eq",)},
                               {"offset_s": -0.6, "speed_ratio": R_PULLDOWN, "tempo": "kept", "layout": "5.1", "codec": "ac3"},
                               {"offset_s": 0.0, "speed_ratio": R_PAL_DOWN, "tempo": "kept"})),
    (5111, 120.0, -11.0, True, ({"offset_s": -0.2, "speed_ratio": R_FILM, "tempo": "kept", "codec": "mp3"},
                                {"offset_s": 0.7, "speed_ratio": R_NTSC, "tempo": "kept",
                                 "remix": ("eq", "band8k"), "layout": "5.1"},
                                {"offset_s": 0.1, "speed_ratio": R_NTSC})),
    (5112, 150.0, -7.0, True, ({"offset_s": 0.0, "speed_ratio": R_PULLDOWN, "tempo": "kept", "remix": ("reverb",), "codec": "flac"},
                               {"offset_s": 0.4, "speed_ratio": R_PAL_UP, "tempo": "kept", "layout": "mono"},
                               {"offset_s": -1.0, "speed_ratio": R_FILM, "tempo": "kept", "remix": ("compress",)})),
    (5113, 210.0, -10.0, False, ({"offset_s": 1.1, "speed_ratio": R_NTSC, "tempo": "kept", "remix": ("compress",), "codec": "ac3"},
                                 {"offset_s": -0.4, "speed_ratio": R_PULLDOWN, "tempo": "kept", "remix": ("eq", "band8k")},
                                 {"offset_s": 0.0, "speed_ratio": R_PAL_UP})),
    (5114, 300.0, -9.0, True, ({"offset_s": -0.3, "speed_ratio": R_FILM, "tempo": "kept", "layout": "5.1", "codec": "ac3"},
                               {"offset_s": 0.2, "speed_ratio": R_PAL_DOWN, "remix": ("reverb",), "codec": "mp3"},
                               {"offset_s": 0.5, "speed_ratio": R_PULLDOWN, "tempo": "kept", "remix": ("eq",), "layout": "mono"})),
    # second hold-out (added when the fresh half had been studied; run once before and once after a change)
    (5115, 90.0, -9.0, True, ({"offset_s": -0.4, "speed_ratio": R_NTSC, "tempo": "kept", "remix": ("eq", "band8k"), "layout": "5.1"},
                              {"offset_s": 0.2, "speed_ratio": R_NTSC, "codec": "mp3"},
                              {"offset_s": 0.0, "speed_ratio": R_PAL_UP, "tempo": "kept", "remix": ("compress",)})),
    (5116, 120.0, -7.0, False, ({"offset_s": 0.6, "speed_ratio": R_PULLDOWN, "tempo": "kept", "codec": "ac3"},
                                {"offset_s": -0.1, "speed_ratio": R_FILM, "tempo": "kept", "remix": ("reverb",), "layout": "mono"},
                                {"offset_s": 0.3, "speed_ratio": R_NTSC, "layout": "5.1", "codec": "ac3"})),
    (5117, 150.0, -12.0, True, ({"offset_s": 0.0, "speed_ratio": R_PAL_DOWN, "tempo": "kept", "remix": ("eq",)},
                                {"offset_s": 0.9, "speed_ratio": R_PULLDOWN, "tempo": "kept",
                                 "remix": ("eq", "band8k"), "layout": "5.1", "codec": "ac3"},
                                {"offset_s": -0.5, "speed_ratio": R_FILM, "tempo": "kept", "codec": "flac"})),
    (5118, 210.0, -8.0, False, ({"offset_s": -0.2, "speed_ratio": R_NTSC, "tempo": "kept", "remix": ("compress",), "codec": "mp3"},
                                {"offset_s": 0.4, "speed_ratio": R_PULLDOWN},
                                {"offset_s": 0.1, "speed_ratio": R_PAL_DOWN, "tempo": "kept", "layout": "mono"})),
    (5119, 300.0, -10.0, True, ({"offset_s": 0.3, "speed_ratio": R_FILM, "tempo": "kept", "remix": ("band8k",), "codec": "aac"},
                                {"offset_s": -0.8, "speed_ratio": R_NTSC, "tempo": "kept", "remix": ("reverb",), "layout": "5.1"},
                                {"offset_s": 0.0, "speed_ratio": R_PAL_UP, "tempo": "kept", "remix": ("eq", "compress")})),
    # third hold-out (added when holdout2 had been run on a change and seen)
    (5120, 100.0, -8.0, True, ({"offset_s": 0.5, "speed_ratio": R_NTSC, "codec": "aac"},
                               {"offset_s": -0.3, "speed_ratio": R_PULLDOWN, "tempo": "kept", "remix": ("reverb",)},
                               {"offset_s": 0.0, "speed_ratio": R_FILM, "tempo": "kept", "remix": ("eq", "band8k"), "layout": "5.1"})),
    (5121, 120.0, -10.0, False, ({"offset_s": -0.6, "speed_ratio": R_NTSC, "tempo": "kept", "layout": "mono", "codec": "mp3"},
                                 {"offset_s": 0.2, "speed_ratio": R_PAL_DOWN, "remix": ("compress",)},
                                 {"offset_s": 0.8, "speed_ratio": R_PULLDOWN, "layout": "5.1", "codec": "ac3"})),
    (5122, 150.0, -9.0, True, ({"offset_s": 0.1, "speed_ratio": R_FILM, "tempo": "kept", "remix": ("compress",), "codec": "flac"},
                               {"offset_s": -1.2, "speed_ratio": R_NTSC, "tempo": "kept",
                                "remix": ("eq",), "layout": "5.1", "codec": "ac3"},
                               {"offset_s": 0.4, "speed_ratio": R_NTSC})),
    (5123, 180.0, -11.0, False, ({"offset_s": 0.0, "speed_ratio": R_PULLDOWN, "tempo": "kept", "remix": ("band8k",)},
                                 {"offset_s": 0.6, "speed_ratio": R_PAL_UP, "tempo": "kept", "remix": ("reverb",), "codec": "mp3"},
                                 {"offset_s": -0.2, "speed_ratio": R_FILM, "tempo": "kept"})),
    (5124, 240.0, -7.0, True, ({"offset_s": -0.4, "speed_ratio": R_NTSC, "tempo": "kept", "remix": ("eq", "compress"), "layout": "mono"},
                               {"offset_s": 0.3, "speed_ratio": R_PULLDOWN, "layout": "stereo", "codec": "aac"},
                               {"offset_s": 0.0, "speed_ratio": R_PAL_DOWN, "tempo": "kept", "remix": ("eq",), "codec": "ac3"})),
)  # fmt: skip
HALVES = {"dev": range(5100, 5105), "final": range(5105, 5110), "fresh": range(5110, 5115), "holdout2": range(5115, 5120),
          "holdout3": range(5120, 5125)}


def titles(half: str) -> list[OutsideTitle]:
    seeds = set(HALVES[half]) if half in HALVES else {p[0] for p in PLANS}
    return [
        OutsideTitle(f"drift_{seed}", duration_s=duration, seed=seed, bed_db=bed_db, continuous=continuous,
                     dubs=tuple(OutsideDub(lang, **kw) for lang, kw in zip(("de", "es", "ru"), dubs)))
        for seed, duration, bed_db, continuous, dubs in PLANS if seed in seeds
    ]  # fmt: skip


def measure(spec: OutsideTitle, policy) -> list[dict]:
    """dubsync on each dub of a title; one record per dub."""
    folder, truth = ensure_title(spec, ROW)
    original = next(folder.glob("original.*"))
    reference_cache: dict = {}
    out = []
    for language, truth_dub in truth["dubs"].items():
        started = time.process_time()
        result, _ = run_dubsync(original, folder / truth_dub["file"], policy, reference_cache)
        true_ppm = truth_drift_ppm(truth_dub)
        got = result["drift_ppm"]
        out.append({
            "title": spec.title_id, "language": language, "duration_s": spec.duration_s,
            "ratio": truth_dub["speed_ratio"], "tempo": truth_dub.get("tempo"), "remix": truth_dub["remix"],
            "layout": truth_dub["layout"], "codec": truth_dub["codec"],
            "true_ppm": true_ppm, "nominal_ppm": truth_drift_ppm(truth_dub, nominal=True),
            "kind": result["kind"], "source": result["source"], "drift_ppm": got,
            "rate_err": None if got is None else abs(got - true_ppm) / abs(true_ppm),
            "start_err_ms": None if result["offset_s"] is None else (result["offset_s"] - truth_dub["offset_s"]) * 1000,
            "cpu_s": time.process_time() - started,
        })  # fmt: skip
    return out


def summary(records: list[dict]) -> dict:
    errs = [r["rate_err"] for r in records if r["rate_err"] is not None]
    return {
        "dubs": len(records),
        "within_5pct": sum(e <= 0.05 for e in errs),
        "drift_kind": sum(r["kind"] == "drift" for r in records),
        "undetermined": sum(r["kind"] == "undetermined" for r in records),
        "median_err": float(np.median(errs)) if errs else None,
        "max_err": max(errs) if errs else None,
    }


def table(records: list[dict]) -> str:
    lines = ["| dub | s | ratio | tempo | remix, layout, codec | true ppm (nominal) | dubsync | err | kind | source | start err ms |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in records:
        got = "-" if r["drift_ppm"] is None else f"{r['drift_ppm']:.0f}"
        err = "-" if r["rate_err"] is None else f"{100 * r['rate_err']:.1f} %"
        start = "-" if r["start_err_ms"] is None else f"{r['start_err_ms']:+.1f}"
        lines.append(
            f"| {r['title']}/{r['language']} | {r['duration_s']:.0f} | {r['ratio']:.6f} | {r['tempo'] or 'pitch'} | "
            f"{'+'.join(r['remix']) or '-'}, {r['layout']}, {r['codec']} | {r['true_ppm']:.0f} ({r['nominal_ppm']:.0f}) | "
            f"{got} | {err} | {r['kind']} | {r['source'] or '-'} | {start} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--half", choices=(*HALVES, "all"), default="dev")
    parser.add_argument("--build-only", action="store_true", help="build (or find cached) the titles, measure nothing")
    parser.add_argument("--out", type=Path, default=None, help="write the records as JSON here")
    args = parser.parse_args(argv)
    policy = named_policy("paper")
    records = []
    for spec in titles(args.half):
        if args.build_only:
            ensure_title(spec, ROW)
            continue
        records += measure(spec, policy)
        for r in records[-len(spec.dubs):]:
            err = "-" if r["rate_err"] is None else f"{100 * r['rate_err']:.1f} %"
            print(f"  {r['title']}/{r['language']}: {r['kind']} {r['drift_ppm']} ppm (true {r['true_ppm']:.0f}) {err}", flush=True)
    if args.build_only:
        return 0
    print(table(records))
    print(json.dumps(summary(records)))
    if args.out:
        args.out.write_text(json.dumps({"half": args.half, "records": records, "summary": summary(records)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
