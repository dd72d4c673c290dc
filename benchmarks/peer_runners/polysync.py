"""Runner for polysync 0.3.0 (multicam audio sync; PyPI ``polysync``).

Usage (with the polysync venv's python): ``polysync.py ORIGINAL DUB``; prints one JSON line.

What it runs
------------
``polysync sync REFERENCE SOURCE`` (``polysync.sync.sync_files``) extracts each file's
loudest audio stream with ffmpeg as mono 16-bit PCM at 8 kHz, then calls
``compute_sync(a, b, a_dur, b_dur)``, and writes ``.sync.json`` sidecars NEXT TO THE
INPUTS.  This runner does exactly the same steps with polysync's own functions
(``audio.media_duration``, ``audio.extract_pcm``, ``audio.read_pcm``,
``sync.compute_sync``) but skips the sidecar writing, so that the benchmark's media
stay untouched.  REFERENCE = the original, SOURCE = the dub.

Settings
--------
* Full-overlap mode first (``partial=False``, the CLI's default).  It demands >= 3 good
  60-s probes spaced 180 s apart, i.e. inputs longer than about 8 min; otherwise it
  raises ``SyncError`` whose message says to use ``--partial`` for short clips.  The
  runner then calls ``compute_sync(..., partial=True)`` on the already decoded audio
  (the same thing ``--partial`` would compute, without decoding twice).  ``raw`` tells
  which mode and which fallback (``None``/``"median"``/``"coarse"``) produced the answer.
  On the short benchmark pairs the answer is the coarse envelope cross-correlation,
  whose resolution is the 10-ms envelope hop.
* No lag limit: the coarse search cross-correlates the whole envelopes, so offsets of
  +-600 s are found (as long as the files overlap).

Sign
----
``SyncResult.delta_seconds`` is "the source's t=0 expressed in the reference
timeline; positive => source starts after reference" (``delta = tA - tB``).  A dub
that leads by d (``dub(t) = original(t + d)``) has its t=0 at original time d, so
``delta = +d``: dubsync's ``offset_s = delta_seconds`` (checked: +1.0 s lead -> +1.0).
"""

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import main  # noqa: E402


def _import():
    import polysync.audio
    import polysync.sync

    return polysync


def _estimate(original: Path, dub: Path, polysync):
    audio, sync = polysync.audio, polysync.sync
    a_dur = audio.media_duration(original)
    b_dur = audio.media_duration(dub)
    with tempfile.TemporaryDirectory() as td:
        a_pcm, b_pcm = Path(td) / "a.pcm", Path(td) / "b.pcm"
        audio.extract_pcm(original, a_pcm, sync.SR)
        audio.extract_pcm(dub, b_pcm, sync.SR)
        a = audio.read_pcm(a_pcm)
        b = audio.read_pcm(b_pcm)
    mode = "full-overlap"
    note = None
    try:
        res = sync.compute_sync(a, b, a_dur, b_dur, sr=sync.SR, partial=False, verbose=True)
    except sync.SyncError as exc:
        mode, note = "partial (after full-overlap SyncError)", str(exc)
        res = sync.compute_sync(a, b, a_dur, b_dur, sr=sync.SR, partial=True, verbose=True)
    raw = {
        "delta_seconds": res.delta_seconds,
        "drift_slope": res.drift_slope,
        "coarse_corr": res.coarse_corr,
        "n_probes": res.n_probes,
        "n_good": res.n_good,
        "fallback": res.fallback,
        "mode": mode,
        "full_overlap_error": note,
    }
    return res.delta_seconds, json.dumps(raw)


if __name__ == "__main__":
    sys.exit(main(_estimate, _import))
