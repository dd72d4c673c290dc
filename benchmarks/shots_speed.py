"""Shot detection against decode-only, per clip: a quicker loop than ``benchmarks/video.py`` for
work on ``ml.shots``, with the same baseline (2 decoder threads, no conversion) and the same method
(best of ``--repeats`` runs, decode-only and detector alternating).

``.venv/bin/python benchmarks/shots_speed.py [--repeats 3] [clip ...]``

It also prints the CPU time of both (all threads of the process): when other work keeps a core
busy, each run gets about one core and the wall-time ratio follows the CPU ratio.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.video import CACHE, PUBLISHED, SHARED, decode_only  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("clips", nargs="*", type=Path, help="default: the published clips and the cached generated titles")
    args = parser.parse_args(argv)
    clips = args.clips or [SHARED / "shots" / name for name in PUBLISHED] + sorted(CACHE.glob("title_*.mp4"))
    from ml.shots import shots_from_file

    for path in clips:
        decode_s = ours_s = decode_cpu = ours_cpu = float("inf")
        for _ in range(args.repeats):
            cpu, started = time.process_time(), time.perf_counter()
            decode_only(path)
            decode_s, decode_cpu = min(decode_s, time.perf_counter() - started), min(decode_cpu, time.process_time() - cpu)
            cpu, started = time.process_time(), time.perf_counter()
            shots = shots_from_file(path)
            ours_s, ours_cpu = min(ours_s, time.perf_counter() - started), min(ours_cpu, time.process_time() - cpu)
        cuts, fades = (shots.nominal_frame_numbers(shots.boundaries(kind)).tolist() for kind in ("cut", "fade"))
        print(f"{path.name:24s} decode {decode_s:6.3f} s  shots {ours_s:6.3f} s  speed × decode-only {decode_s / ours_s:4.2f}"
              f"  (CPU {decode_cpu:6.3f} s / {ours_cpu:6.3f} s = {decode_cpu / ours_cpu:4.2f})"
              f"  cuts {cuts if len(cuts) <= 6 else f'{len(cuts)} cuts'}  fades {fades if len(fades) <= 6 else f'{len(fades)} fades'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
