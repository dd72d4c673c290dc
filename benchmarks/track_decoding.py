"""Decoding one face track's frames: its own time span (``ml.picture.faces.track_frames``) against a full
decode of the title that keeps the track's frames (how lip sync decoded each track before).

``.venv/bin/python -m benchmarks.track_decoding [--minutes 10] [--tracks 4]``

On the generated title of ``benchmarks/video.py`` (cached under ``benchmarks/.cache/video``; made
on first use, about 7 minutes for 10 minutes of 720p), its face tracks are found once, then for
``--tracks`` tracks spread over the title, in the same run and alternating: the full decode with the
track's frames kept (RGB at stored size, as ``mouth_crops`` takes them), and ``track_frames``. Both
must give the same frames (checked); the script prints seconds for each and the ratio. Lip sync
decodes every track (twice with ``refine_landmarks``), so the title's cost scales with the ratio.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from benchmarks.video import generated_title


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the generated title (default 10)")
    parser.add_argument("--tracks", type=int, default=4, help="tracks timed, spread over the title (default 4)")
    args = parser.parse_args(argv)
    from ml.decoding.video import iter_frames
    from ml.picture.faces import track_faces, track_frames
    from ml.picture.shots import shots_from_file
    from ml.policy import Policy

    title, _ = generated_title(args.minutes)
    policy = Policy()
    started = time.perf_counter()
    tracks = track_faces(title, shots_from_file(title, policy.shots), policy.faces)
    print(
        f"{title.name}: {tracks.n_tracks} face tracks, {tracks.n_frames} frames (found in {time.perf_counter() - started:.0f} s)",
        flush=True,
    )
    chosen = np.unique(np.linspace(0, tracks.n_tracks - 1, min(args.tracks, tracks.n_tracks)).round().astype(int))
    total_full = total_span = 0.0
    for track in chosen:
        rows = tracks.rows(int(track))
        wanted = set(tracks.frame[rows].tolist())
        started = time.perf_counter()
        full = [frame for frame in iter_frames(title, keep=lambda i, wanted=wanted: i in wanted)]
        full_s = time.perf_counter() - started
        started = time.perf_counter()
        span = [frame for _, frame in track_frames(title, tracks, int(track))]
        span_s = time.perf_counter() - started
        same = len(full) == len(span) == len(rows) and all(
            a.time_s == b.time_s and np.array_equal(a.image, b.image) for a, b in zip(full, span)
        )
        if not same:
            print(f"track {track}: the two decodes differ", file=sys.stderr)
            return 1
        total_full, total_span = total_full + full_s, total_span + span_s
        print(f"track {track:3d}: {len(rows):5d} frames from {tracks.time_s[rows[0]]:7.1f} s   full decode {full_s:6.2f} s   "
              f"own span {span_s:6.2f} s   {full_s / span_s:5.1f} × faster", flush=True)
    print(f"{len(chosen)} tracks: full decode {total_full:.1f} s, own span {total_span:.1f} s: {total_full / total_span:.1f} × faster; "
          f"the title's {tracks.n_tracks} tracks would take about {total_full / len(chosen) * tracks.n_tracks:.0f} s against "
          f"{total_span / len(chosen) * tracks.n_tracks:.0f} s per decoding pass")
    return 0


if __name__ == "__main__":
    sys.exit(main())
