"""Conforming a long dub against decoding it: ``conform_dub`` (decode, shift, FLAC encode, and the
re-check's signature and matching) as a ratio to decode-only of the same file, in the same run.

``python -m benchmarks.conform_speed [--hours 2] [--base-minutes 15] [--before REF] [--level N] [--repeat N]``

The long pair is built from one generated title (``ml.testmedia``, ``--base-minutes`` long, cached
under ``benchmarks/.cache/conform``): its original and a dub leading by 0.5 s are each repeated end
to end to ``--hours`` (FLAC, stereo, 44.1 kHz). The repeat period is longer than the matcher's
±600 s window, and the dub leads by 0.5 s everywhere along it. Timed, alternating: decode-only of the
dub as the project decodes (PyAV → mono float32 at 44.1 kHz, ``iter_audio_blocks``), then the whole
``conform_dub`` (its re-check included), then ``recheck`` alone on the conformed file (a decode of it:
what the re-check cost before it judged the samples as they were written). ``--before REF`` also
times ``conform_dub`` as ``ml/audio_sync/conform.py`` was at git ref REF (loaded from ``git show``,
the rest of ``ml`` as checked out), each conform between two decode-only runs; ``--level N`` also
times the conform with FLAC compression level N instead of ``FLAC_LEVEL``; ``--repeat N`` times
the conforms N times over, in turn. Wall and CPU seconds (of the whole process, every thread, and
of the child processes that ended: the conform's rendering process) are both reported, each as a
ratio to the decode-only next to it. The
original's signature and the dub's verdict are computed first, untimed (the asset gets them as
inputs), and cached for the files and the policy; the verdict is decided once more before the timed
runs, so that the modules it imports on first use are loaded for every conform alike.
"""

import argparse
import importlib.util
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

CACHE = Path(__file__).resolve().parent / ".cache" / "conform"
ROOT = Path(__file__).resolve().parent.parent


def conform_module_at(ref: str):
    """``ml.audio_sync.conform`` as it was at git ref ``ref`` (the rest of ``ml`` as checked out)."""
    source = subprocess.run(
        ["git", "show", f"{ref}:ml/audio_sync/conform.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    name = f"benchmarks._conform_at_{ref.replace('/', '_').replace('~', '_')}"
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(name, loader=None))
    sys.modules[name] = module  # dataclasses look their module up
    exec(compile(source, f"{ref}:ml/audio_sync/conform.py", "exec"), module.__dict__)
    return module


def cpu_seconds() -> float:
    """CPU seconds of this process (every thread) and of its children that ended (the conform's
    rendering process)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def timed(run) -> tuple[float, float, object]:
    """``(wall s, CPU s of the process and its children, result)`` of ``run()``."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    result = run()
    return time.perf_counter() - wall, cpu_seconds() - cpu, result


def _native(path: Path) -> tuple[np.ndarray, int]:
    """A whole file at its own rate and layout, float32 [shape=(channels, n)]."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate, layout = stream.codec_context.sample_rate, stream.codec_context.layout.name
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        parts = [out.to_ndarray() for frame in container.decode(stream) for out in resampler.resample(frame)]
        parts += [out.to_ndarray() for out in resampler.resample(None)]
    return np.concatenate(parts, axis=1).astype(np.float32), rate


def _repeated(source: Path, target: Path, repeats: int) -> None:
    from ml.testmedia import AudioWriter

    if target.exists():
        return
    samples, rate = _native(source)
    partial = target.with_name(f".{target.name}.partial.flac")
    with AudioWriter(partial, rate, samples.shape[0], codec="flac") as writer:
        for _ in range(repeats):
            for start in range(0, samples.shape[1], 1 << 20):
                writer.write(samples[:, start : start + (1 << 20)])
    partial.rename(target)


def build_pair(hours: float, base_minutes: float) -> tuple[Path, Path]:
    """The long original and dub (cached)."""
    from ml.testmedia import DubSpec, TitleSpec, build_title

    base = CACHE / f"base_{base_minutes:g}"
    if not (base / "conform_base" / "dubs" / "xx.flac").exists():
        spec = TitleSpec("conform_base", duration_s=base_minutes * 60, dubs=(DubSpec("xx", offset_s=0.5),), seed=2500)
        build_title(base, spec)
    repeats = max(1, round(hours * 60 / base_minutes))
    original = CACHE / f"original_{repeats}x{base_minutes:g}.flac"
    dub = CACHE / f"dub_{repeats}x{base_minutes:g}.flac"
    _repeated(base / "conform_base" / "original.flac", original, repeats)
    _repeated(base / "conform_base" / "dubs" / "xx.flac", dub, repeats)
    return original, dub


def inputs(original: Path, dub: Path, policy):
    """The original's signature, the dub's, its matches and verdict (untimed: the asset's inputs),
    cached beside the pair for these files and this policy."""
    import hashlib
    import pickle

    from ml.audio_sync.conform import conform_version
    from ml.audio_sync.matching import match_with_speed_search
    from ml.audio_sync.signatures import signature_from_file
    from ml.audio_sync.verdict import decide

    key = hashlib.sha256(
        repr([conform_version(policy), [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in (original, dub)]]).encode()
    ).hexdigest()[:16]
    cached = CACHE / f"inputs_{key}.pickle"
    if cached.exists():
        return pickle.loads(cached.read_bytes())
    reference = signature_from_file(original, policy.signature, role="reference")
    signature = signature_from_file(dub, policy.signature)
    matches = match_with_speed_search(
        signature, reference, policy.match, min_matched_frames=policy.verdict.min_matched_frames,
        resignature=lambda speed: signature_from_file(dub, policy.signature, speed=speed),
    )  # fmt: skip
    verdict = decide(matches, match=policy.match, params=policy.verdict)
    result = (reference, signature, matches, verdict)
    cached.write_bytes(pickle.dumps(result))
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=2.0, help="length of the long pair (default 2)")
    parser.add_argument("--base-minutes", type=float, default=15.0, help="generated title repeated (default 15)")
    parser.add_argument("--before", metavar="REF", help="also time conform_dub as it was at this git ref")
    parser.add_argument("--level", type=int, help="also time the conform at this FLAC compression level")
    parser.add_argument("--repeat", type=int, default=1, help="time the conforms this many times, alternating")
    args = parser.parse_args(argv)
    if args.base_minutes <= 10:
        parser.error("--base-minutes must exceed 10: a shorter repeat falls inside the ±600 s search window")
    from ml.audio_sync.conform import recheck
    from ml.decoding.audio import iter_audio_blocks
    from ml.policy import Policy

    CACHE.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    original, dub = build_pair(args.hours, args.base_minutes)
    print(f"pair: {original.name}, {dub.name} ({time.perf_counter() - started:.0f} s to build or find)", flush=True)
    policy = Policy()
    reference, signature, matches, verdict = inputs(original, dub, policy)
    # the verdict's first use imports scikit-learn and SciPy's stats (≈ 0.8 s of CPU); with the
    # inputs cached, whichever conform ran first paid that alone
    from ml.audio_sync.verdict import decide

    decide(matches, match=policy.match, params=policy.verdict)
    hours = signature.duration_s / 3600
    print(f"dub: {signature.duration_s:.0f} s; verdict {verdict.kind} {verdict.offset_ms:+.1f} ms", flush=True)

    from ml.audio_sync import conform as current

    out = CACHE / "conformed"
    out.mkdir(exist_ok=True)

    def decode():
        return sum(len(block) for block in iter_audio_blocks(dub, sample_rate=44100))

    def conform(module, **overrides):
        saved = {k: getattr(module, k) for k in overrides}
        for k, v in overrides.items():
            setattr(module, k, v)
        try:
            return module.conform_dub(dub, out / "xx", verdict, reference=reference, picture=None, policy=policy,
                                      original_duration_s=reference.duration_s, matches=matches)  # fmt: skip
        finally:
            for k, v in saved.items():
                setattr(module, k, v)

    runs = [("conform_dub", lambda: conform(current))]
    if args.before:
        before = conform_module_at(args.before)
        runs.insert(0, (f"conform_dub at {args.before}", lambda: conform(before)))
    if args.level is not None:
        runs.append((f"conform_dub, FLAC level {args.level}", lambda: conform(current, FLAC_LEVEL=args.level)))
    print(f"load average at the start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    wall, cpu, n = timed(decode)
    decodes = [(wall, cpu)]
    print(f"decode-only (mono 44.1 kHz, {n / 44100:.0f} s): {wall:.1f} s wall ({wall / hours:.1f} s/h), "
          f"{cpu:.1f} s CPU", flush=True)
    results = {}
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    for name, run in runs * args.repeat:
        wall, cpu, result = timed(run)
        d_wall, d_cpu, _ = timed(decode)
        decodes.append((d_wall, d_cpu))
        # the decode-only runs on either side of this conform
        base_wall = 0.5 * (decodes[-2][0] + d_wall)
        base_cpu = 0.5 * (decodes[-2][1] + d_cpu)
        size = os.path.getsize(result.path) / 1e6
        results[name] = result
        print(f"{name}: {wall:.1f} s wall = {wall / base_wall:.2f} × decode-only, {cpu:.1f} s CPU = "
              f"{cpu / base_cpu:.2f} × decode-only's CPU; {size:.0f} MB; residual "
              f"{result.residual_start_s * 1000:+.1f} / {result.residual_end_s * 1000:+.1f} ms "
              f"(load {os.getloadavg()[0]:.1f}); decode-only after it {d_wall:.1f} s wall, {d_cpu:.1f} s CPU",
              flush=True)
    result = results["conform_dub"]
    d_wall = decodes[-1][0]
    wall, cpu, residual = timed(lambda: recheck(result.path, reference, None, policy))
    print(f"recheck alone, decoding the written file: {wall:.1f} s wall = {wall / d_wall:.2f} × the last "
          f"decode-only, {cpu:.1f} s CPU; {residual.reason}")
    Path(result.path).unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
