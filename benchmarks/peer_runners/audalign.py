"""Runner for audalign 1.3.1 (audio alignment and recognition; PyPI ``audalign``).

Usage (with the audalign venv's python): ``audalign.py ORIGINAL DUB``; prints one JSON line.

What it runs
------------
``audalign.align_files(ORIGINAL, DUB, recognizer=CorrelationRecognizer())`` -- the
documented way to align a set of files with audalign's cross-correlation recognizer
(no ``destination_path``, so nothing is written).  audalign decodes each file through
pydub (which calls ffmpeg for compressed formats and reads WAV itself), resamples to
8 kHz mono 16-bit, peak-normalises, high-passes, and takes the peaks of
``scipy.signal.correlate`` of the whole signals.  ``align_files`` recognises every file
against every other one (here both directions, in a multiprocessing pool, as by
default) and returns, per file basename, the seconds of silence to PREPEND to it so
that all files line up.  audalign keys its results by basename, so the runner hands it
two symlinks ``original<ext>`` and ``dub<ext>`` in a temporary folder (two inputs
that share a basename, e.g. ``a/x.wav`` and ``b/x.wav``, would otherwise collide).

Settings (all the CorrelationConfig defaults)
---------------------------------------------
``sample_rate=8000``, ``freq_threshold=200`` (Hz, high-pass), ``normalize=True``,
``multiprocessing=True``, ``locality=None`` (whole-file correlation),
``filter_matches=0``, ``max_lags=None``: no lag limit, so offsets of +-600 s are found
(``max_lags`` could only narrow the search).

Sign
----
A dub that leads by d (``dub(t) = original(t + d)``) must be delayed by d to line up:
``shift[dub] = d``, ``shift[original] = 0``.  So ``offset_s = shift[dub] -
shift[original]`` (checked: +1.0 s lead -> ``{"dub.wav": 1.0, "original.flac": 0}`` -> +1.0).
"""

import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import main  # noqa: E402


def _import():
    import audalign
    from audalign.recognizers.correcognize import CorrelationRecognizer

    return audalign, CorrelationRecognizer


def _estimate(original: Path, dub: Path, modules):
    audalign, CorrelationRecognizer = modules
    with tempfile.TemporaryDirectory() as td:
        a = Path(td) / f"original{original.suffix}"
        b = Path(td) / f"dub{dub.suffix}"
        os.symlink(original, a)
        os.symlink(dub, b)
        result = audalign.align_files(str(a), str(b), recognizer=CorrelationRecognizer())
    if not result:
        return None, json.dumps(result)
    shifts = {k: float(v) for k, v in result.items() if k in (a.name, b.name)}
    if set(shifts) != {a.name, b.name}:
        return None, json.dumps({"shifts": shifts})
    raw = {"shifts": shifts}
    with_info = result.get("match_info", {})
    try:  # the top correlation peaks, for the record
        raw["match_info"] = {
            target: {
                against: {
                    "offset_seconds": info["offset_seconds"][:3],
                    "confidence": [float(c) for c in info["confidence"][:3]],
                }
                for against, info in rec["match_info"].items()
            }
            for target, rec in with_info.items()
        }
    except (KeyError, TypeError, AttributeError):
        pass
    return shifts[b.name] - shifts[a.name], json.dumps(raw, default=str)


if __name__ == "__main__":
    sys.exit(main(_estimate, _import))
