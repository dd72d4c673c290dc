"""Matching alone, per hour of dub, on one title's signatures (issue 22: ≤ 0.5 s/h).

    python -m benchmarks.match_speed [--title DIR] [--repeat 3] [--rounds 2] [--baseline TREE]
                                     [--profile] [--fresh-reference] [--signatures DIR]

``audio_sync --rows long`` times matching inside a run that also fingerprints every track and
times the paper's exhaustive search (minutes). This times only :func:`match_with_speed_search`
(as ``audio_sync`` calls it, with the ``paper`` policy) on the title's original and every dub,
from signatures made once and kept as ``.npz`` files as the artifact IO manager stores them (``--signatures``, default
``<title>/.signatures``). Each run starts from freshly loaded signatures (so it pays unpacking
the codes, as a match after loading them from storage does) and matches every dub against one
original, as ``audio_sync`` does (``--fresh-reference``: the original loaded anew for each dub,
as the ``frame_match_offsets`` asset loads it); it reports wall and CPU seconds (``time.process_time``, all
threads) per hour of dub, the CPU seconds of each stage (coarse alignment, fine L∞ search,
envelope matcher) and a digest of every output array.

``--baseline TREE`` (a checkout or ``git archive`` of another commit, holding ``ml/``) runs the
same measurement with that tree's code in alternating subprocesses, ``--rounds`` times each, and
says whether the outputs are identical: a speed change compared in one run, on one load.
``--profile`` prints the top of a cProfile of one run (this tree's code).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def _default_title() -> Path:
    return Path(__file__).resolve().parent / ".cache" / "audio_sync" / "long" / "long_0"


def _tracks(title: Path) -> tuple[Path, list[Path]]:
    original = next(title.glob("original.*"))
    return original, sorted((title / "dubs").glob("*.*"))


def _save(signature, path: Path) -> None:
    """``signature`` as the artifact IO manager stores it (:func:`resources.artifacts.encode_artifact`)."""
    from resources.artifacts import encode_artifact

    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(encode_artifact(signature))
    partial.rename(path)


def _load(path: Path):
    """A signature as the ``frame_match_offsets`` asset loads it (:func:`resources.artifacts.decode_artifact`)."""
    from resources.artifacts import decode_artifact

    return decode_artifact(path.read_bytes())


def make_signatures(title: Path, folder: Path) -> tuple[Path, list[Path]]:
    """The title's signatures as ``.npz`` files in ``folder`` (made once, with the paper policy)."""
    from ml.audio_sync.signatures import signature_from_file, signature_version
    from ml.policy import named_policy

    params = named_policy("paper").signature
    folder.mkdir(parents=True, exist_ok=True)
    tag = signature_version(params).replace("/", "-")
    original, dubs = _tracks(title)
    out = []
    for path, role in [(original, "reference")] + [(d, "dub") for d in dubs]:
        target = folder / f"{path.stem}-{role}-{tag}.artifact.npz"  # as the IO manager stores it
        if not target.exists():
            print(f"signature of {path.name} ({role}) ...", file=sys.stderr)
            _save(signature_from_file(path, params, role=role), target)
        out.append(target)
    return out[0], out[1:]


def _digest(matches) -> str:
    """Hash of every array and number of a :class:`FrameMatches` (NaNs included, bit for bit)."""
    import dataclasses

    h = hashlib.sha256()
    for f in dataclasses.fields(matches):
        value = getattr(matches, f.name)
        h.update(f.name.encode())
        h.update(np.ascontiguousarray(np.asarray(value)).tobytes())
    return h.hexdigest()[:16]


def _stage_timers():
    """Wrap the stages with CPU timers (all threads); returns the dict they add to."""
    from ml.audio_sync import envelope, matching

    spent = {"coarse": 0.0, "fine": 0.0, "envelope": 0.0}

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            started = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.process_time() - started

        return wrapper

    matching.coarse_alignment = timed("coarse", matching.coarse_alignment)
    matching.match_envelopes = timed("envelope", envelope.match_envelopes)
    matching._FineMatcher.run = timed("fine", matching._FineMatcher.run)
    return spent


def worker(reference: Path, dubs: list[Path], repeat: int, profile: bool, fresh: bool = False) -> dict:
    """``repeat`` runs of matching every dub against the original, in this process (one original
    for all dubs, as ``audio_sync`` matches them; with ``fresh``, one loaded for each dub, as the
    ``frame_match_offsets`` asset loads it)."""
    import scipy.fft  # noqa: F401  (imported by the fingerprint before any match in a real run)

    from ml.audio_sync.matching import match_with_speed_search
    from ml.policy import named_policy

    policy = named_policy("paper")
    spent = _stage_timers()
    runs, digests = [], {}
    hours = 0.0
    for run in range(repeat):
        refs = [_load(reference)] * len(dubs) if not fresh else [_load(reference) for _ in dubs]
        signatures = [_load(d) for d in dubs]
        hours = sum(s.duration_s for s in signatures) / 3600
        for key in spent:
            spent[key] = 0.0
        wall, cpu = time.perf_counter(), time.process_time()
        if profile and run == repeat - 1:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        outputs = [
            match_with_speed_search(
                signature, ref, policy.match, resignature=_no_resignature,
                min_matched_frames=policy.verdict.min_matched_frames,
            )
            for signature, ref in zip(signatures, refs)
        ]  # fmt: skip
        if profile and run == repeat - 1:
            profiler.disable()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        digests.update({path.name: _digest(matches) for path, matches in zip(dubs, outputs)})
        runs.append({"wall_s_per_h": wall / hours, "cpu_s_per_h": cpu / hours,
                     **{f"{k}_cpu_ms_per_h": 1000 * v / hours for k, v in spent.items()}})  # fmt: skip
        if profile and run == repeat - 1:
            import pstats

            pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(35)
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)
    return {"runs": runs, "digests": digests, "hours": hours}


def _no_resignature(speed: float):
    raise RuntimeError("the speed search ran: this title's dubs should match at their own speed")


def _run_tree(tree: Path, reference: Path, dubs: list[Path], repeat: int, fresh: bool) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", "--repeat", str(repeat),
               "--reference", str(reference), *[f"--dub={d}" for d in dubs]]  # fmt: skip
    if fresh:
        command.append("--fresh-reference")
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(command, cwd=tree, env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def _summary(label: str, result: dict) -> str:
    runs = result["runs"]

    def med(key: str) -> float:
        return float(np.median([r[key] for r in runs]))

    def each(key: str) -> str:
        return ", ".join(f"{r[key]:.3f}" for r in runs)

    return (
        f"{label}: wall {med('wall_s_per_h'):.3f} s/h (runs {each('wall_s_per_h')}), "
        f"CPU {med('cpu_s_per_h'):.3f} s/h (runs {each('cpu_s_per_h')}); "
        f"stages CPU ms/h: coarse {med('coarse_cpu_ms_per_h'):.0f}, fine {med('fine_cpu_ms_per_h'):.0f}, "
        f"envelope {med('envelope_cpu_ms_per_h'):.0f}; load {os.getloadavg()[0]:.2f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--title", type=Path, default=_default_title(), help="a title folder (default: the long row's)")
    parser.add_argument("--signatures", type=Path, help="where the signatures are kept (default <title>/.signatures)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (default 3)")
    parser.add_argument("--rounds", type=int, default=2, help="alternations with --baseline (default 2)")
    parser.add_argument("--baseline", type=Path, help="another tree's ml/ to compare with, alternating")
    parser.add_argument("--profile", action="store_true", help="cProfile one run of this tree's code (after one to warm up)")
    parser.add_argument("--fresh-reference", action="store_true",
                        help="load the original anew for each dub (as the asset does), not once for all")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--reference", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--dub", type=Path, action="append", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.reference, args.dub, args.repeat, profile=False, fresh=args.fresh_reference)))
        return 0
    reference, dubs = make_signatures(args.title, args.signatures or args.title / ".signatures")
    if args.profile:
        print(_summary("this tree, profiled", worker(reference, dubs, 2, profile=True, fresh=args.fresh_reference)))
        return 0
    here = Path(__file__).resolve().parents[1]
    trees = [("this tree", here)] + ([("baseline", args.baseline.resolve())] if args.baseline else [])
    digests = {}
    for round_ in range(args.rounds if args.baseline else 1):
        for label, tree in trees if round_ % 2 == 0 else trees[::-1]:
            result = _run_tree(tree, reference, dubs, args.repeat, args.fresh_reference)
            digests.setdefault(label, result["digests"])
            if result["digests"] != digests[label]:
                print(f"{label}: outputs differ between runs", file=sys.stderr)
            print(f"[{time.strftime('%H:%M:%S')}] {_summary(label, result)}", flush=True)
    if args.baseline:
        same = digests["this tree"] == digests["baseline"]
        print(f"outputs {'identical' if same else 'DIFFER'}: {digests}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
