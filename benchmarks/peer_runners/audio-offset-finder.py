"""Runner for audio-offset-finder 0.5.5 (BBC R&D; PyPI ``audio-offset-finder``).

Usage (with the audio-offset-finder venv's python): ``audio-offset-finder.py ORIGINAL DUB``;
prints one JSON line.

What it runs
------------
``audio_offset_finder.audio_offset_finder.find_offset_between_files(ORIGINAL, DUB)``
with the CLI's defaults -- exactly what ``audio-offset-finder --within ORIGINAL
--find-offset-of DUB`` computes (the CLI calls the same function with
``fs=--sr=8000``, ``hop_length=--resolution=128``, ``trim=None``), in-process so that
the interpreter start-up and the librosa import stay out of the timed part.  The
function converts each file with ffmpeg to a temporary mono 8-kHz WAV, computes 26
standardised MFCCs per 16-ms hop with librosa, and correlates.

Settings (all defaults)
-----------------------
* ``fs=8000``, ``hop_length=128`` (16-ms resolution), ``win_length=256``, ``nfft=512``.
* ``trim=None``: whole files are decoded.
* The correlation window is the first ``min(n1 // 3, n2, max_frames=2000)`` MFCC frames
  (<= 32 s) of each file, slid over the other; the lag range is therefore
  +-(length - window): +-40 s for a 60-s pair, and +-600 s is covered once the inputs
  exceed ~10.5 min.  ``max_frames`` cannot be changed through
  ``find_offset_between_files`` (it accepts the argument but does not forward it) nor
  through the CLI, so it stays at its default.

Sign
----
``time_offset`` is "the offset of file2 compared to file1 ... positive indicates that
file2 starts after file1" (CLI: "the offset in seconds from the start of the 'within'
file to the start of the 'offset-of' one").  file1 = ORIGINAL, file2 = DUB: a dub
that leads by d starts at original time d, so ``time_offset = +d`` and
``offset_s = time_offset`` (checked: +1.0 s lead -> +1.0).
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import main  # noqa: E402


def _import():
    from audio_offset_finder import audio_offset_finder

    return audio_offset_finder


def _estimate(original: Path, dub: Path, aof):
    result = aof.find_offset_between_files(str(original), str(dub), fs=8000, trim=None, hop_length=128)
    raw = {"time_offset": float(result["time_offset"]), "standard_score": float(result["standard_score"])}
    return float(result["time_offset"]), json.dumps(raw)


if __name__ == "__main__":
    sys.exit(main(_estimate, _import))
