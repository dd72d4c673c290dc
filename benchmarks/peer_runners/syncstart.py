"""Runner for syncstart 1.1.1 ("calculate the cut needed at start to sync two media files").

Usage (with the syncstart venv's python): ``syncstart.py ORIGINAL DUB``; prints one JSON line.

What it runs
------------
The CLI ``syncstart ORIGINAL DUB -t 86400 -s -q``, in-process: ``syncstart.file_offset``
(= ``syncstart.main``) always parses ``sys.argv``, so the runner sets ``sys.argv`` and
calls it (this keeps the interpreter start-up and the heavy imports -- matplotlib,
OpenCV -- out of the timed part).  syncstart probes both sample rates with ffprobe,
extracts each file's audio with ffmpeg (mono, 16-bit, resampled to the HIGHER of the
two rates), and takes the argmax of ``|ifft(fft(s1) * conj(fft(s2)))|`` over buffers
zero-padded to the next power of two >= len1 + len2 + 1.

Settings
--------
* ``-t 86400`` (take): the default ``-t 20`` looks only at the first 20 s of each
  file; 86400 s (24 h) is longer than any input, so whole files are compared (the
  ``atrim=0:86400`` filter then trims nothing).  With whole files the circular
  correlation covers every lag, +-600 s included.  Memory grows as the padded length
  at the full sample rate: 2**23 samples for a 60-s pair at 44.1 kHz, but 2**30
  (several 16-GiB complex arrays) for a 2-h film at 48 kHz, which does not fit on a
  24-GiB machine.
* ``-s``: suppress the interactive matplotlib windows (a benchmark has no display).
* ``-q``: print only ``file_to_cut,seconds``.
* ``-b 0`` and no ``-n`` (z-score normalise), ``-d`` (afftdn denoise) or
  ``-l`` (low-pass): the tool's defaults.

Sign
----
syncstart answers "FILE needs 'ffmpeg -ss SECONDS' cut to get in sync", i.e. FILE
has SECONDS of extra material at its start: its events come later.  With in1 =
ORIGINAL and in2 = DUB: "ORIGINAL,d" means the original lags, i.e. the dub leads
by d -> ``offset_s = +d``; "DUB,d" means the dub lags -> ``offset_s = -d``
(checked: +1.0 s lead -> "…/original.flac,1.0" -> +1.0).
"""

import contextlib
import io
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import main  # noqa: E402

TAKE_S = 86400  # seconds of each input to analyse: the whole file (default would be 20)


def _import():
    import syncstart

    return syncstart


def _estimate(original: Path, dub: Path, syncstart):
    in1, in2 = str(original), str(dub)
    argv = sys.argv
    sys.argv = ["syncstart", in1, in2, "-t", str(TAKE_S), "-s", "-q"]
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            file, seconds = syncstart.file_offset()
    finally:
        sys.argv = argv
    raw = printed.getvalue().strip() or f"{file},{seconds}"
    if file == in1:
        return float(seconds), raw
    if file == in2:
        return -float(seconds), raw
    raise RuntimeError(f"syncstart named neither input: {raw!r}")


if __name__ == "__main__":
    sys.exit(main(_estimate, _import))
