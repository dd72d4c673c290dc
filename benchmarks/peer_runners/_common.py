"""Shared plumbing of the peer runners (runs inside each PEER's venv: standard library only).

A runner is executed as ``<peer venv>/bin/python peer_runners/<name>.py ORIGINAL DUB``
and must print exactly one JSON line on stdout::

    {"offset_s": float | null, "seconds": float, "raw": str, "import_s": float, "error": str | null}

* ``offset_s`` -- dubsync's convention: POSITIVE = the dub LEADS the original (an event
  at original time T is heard in the dub at T - offset_s);
* ``seconds`` -- ``time.perf_counter()`` around the peer's estimate only (its decoding
  of both files included; interpreter start-up and the import of the peer excluded);
* ``import_s`` -- the time the peer's package import took (reported, not counted);
* ``raw`` -- the peer's own answer, unconverted, for the record.

Peers print progress freely (some through ``os.system``'d ``ffmpeg``), so while the
peer runs, file descriptor 1 is pointed at stderr: the JSON line is the only thing
the runner writes on the real stdout.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import traceback
from pathlib import Path


@contextlib.contextmanager
def stdout_to_stderr():
    """Send everything written to fd 1 (Python and child processes) to fd 2 meanwhile."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def main(estimate, importer=None) -> int:
    """Parse ``ORIGINAL DUB``, time ``importer()`` then ``estimate(original, dub)``, print the JSON line.

    Parameters
    ----------
    estimate : callable(Path, Path, module) -> (float | None, str)
        Returns ``(offset_s in dubsync's convention, raw answer of the peer)``.
    importer : callable() -> module, optional
        Imports the peer (timed separately as ``import_s``); its result is passed on.
    """
    if len(sys.argv) != 3:
        print(f"usage: {Path(sys.argv[0]).name} ORIGINAL DUB", file=sys.stderr)
        return 2
    original, dub = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
    # The runners are named after their peers (polysync.py, syncstart.py, ...): drop the
    # runners' folder from the import path, or ``import polysync`` would import the runner.
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    answer = {"offset_s": None, "seconds": 0.0, "raw": None, "import_s": 0.0, "error": None}
    with stdout_to_stderr():
        start = time.perf_counter()
        try:
            module = importer() if importer else None
        except BaseException as exc:  # noqa: BLE001
            answer["error"] = f"import failed: {type(exc).__name__}: {exc}"
            module = None
        answer["import_s"] = time.perf_counter() - start
        if answer["error"] is None:
            start = time.perf_counter()
            try:
                offset, raw = estimate(original, dub, module)
                answer["offset_s"] = None if offset is None else float(offset)
                answer["raw"] = raw
            except BaseException as exc:  # noqa: BLE001 - SystemExit from CLIs included
                traceback.print_exc()
                answer["error"] = f"{type(exc).__name__}: {exc}"
            answer["seconds"] = time.perf_counter() - start
    print(json.dumps(answer), flush=True)
    return 0
