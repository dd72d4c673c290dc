"""Conforming a long dub against decoding it: ``conform_dub`` (decode, shift, FLAC encode, and the
re-check's signature and matching) as a ratio to decode-only of the same file, in the same run.

``python -m benchmarks.conform_speed [--hours 2] [--base-minutes 15]``

The long pair is built from one generated title (``ml.testmedia``, ``--base-minutes`` long, cached
under ``benchmarks/.cache/conform``): its original and a dub leading by 0.5 s are each repeated end
to end to ``--hours`` (FLAC, stereo, 44.1 kHz). The repeat period is longer than the matcher's
±600 s window, and the dub leads by 0.5 s everywhere along it. Timed, alternating: decode-only of the
dub as the project decodes (PyAV → mono float32 at 44.1 kHz, ``iter_audio_blocks``), then the whole
``conform_dub`` (its re-check included), then ``recheck`` alone on the conformed file. The original's
signature and the dub's verdict are computed first, untimed (the asset gets them as inputs).
"""

import argparse
import time
from pathlib import Path

import numpy as np

CACHE = Path(__file__).resolve().parent / ".cache" / "conform"


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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=2.0, help="length of the long pair (default 2)")
    parser.add_argument("--base-minutes", type=float, default=15.0, help="generated title repeated (default 15)")
    args = parser.parse_args(argv)
    if args.base_minutes <= 10:
        parser.error("--base-minutes must exceed 10: a shorter repeat falls inside the ±600 s search window")
    from ml.audio_sync.conform import conform_dub, recheck
    from ml.audio_sync.matching import match_with_speed_search
    from ml.audio_sync.signatures import signature_from_file
    from ml.audio_sync.verdict import decide
    from ml.decoding.audio import iter_audio_blocks
    from ml.policy import Policy

    CACHE.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    original, dub = build_pair(args.hours, args.base_minutes)
    print(f"pair: {original.name}, {dub.name} ({time.perf_counter() - started:.0f} s to build or find)", flush=True)
    policy = Policy()
    reference = signature_from_file(original, policy.signature, role="reference")
    signature = signature_from_file(dub, policy.signature)
    matches = match_with_speed_search(
        signature, reference, policy.match, min_matched_frames=policy.verdict.min_matched_frames,
        resignature=lambda speed: signature_from_file(dub, policy.signature, speed=speed),
    )  # fmt: skip
    verdict = decide(matches, match=policy.match, params=policy.verdict)
    hours = signature.duration_s / 3600
    print(f"dub: {signature.duration_s:.0f} s; verdict {verdict.kind} {verdict.offset_ms:+.1f} ms", flush=True)

    started = time.perf_counter()
    n = sum(len(block) for block in iter_audio_blocks(dub, sample_rate=44100))
    decode_s = time.perf_counter() - started
    out = CACHE / "conformed"
    out.mkdir(exist_ok=True)
    started = time.perf_counter()
    result = conform_dub(dub, out / "xx", verdict, reference=reference, picture=None, policy=policy,
                         original_duration_s=reference.duration_s, matches=matches)  # fmt: skip
    conform_s = time.perf_counter() - started
    started = time.perf_counter()
    residual = recheck(result.path, reference, None, policy)
    recheck_s = time.perf_counter() - started
    print(f"decode-only (mono 44.1 kHz, {n / 44100:.0f} s): {decode_s:.1f} s ({decode_s / hours:.1f} s/h)")
    print(f"conform_dub, re-check included: {conform_s:.1f} s = {conform_s / decode_s:.2f} × decode-only")
    print(f"  of which the re-check (measured alone after): {recheck_s:.1f} s = "
          f"{recheck_s / decode_s:.2f} × decode-only")
    print(f"residual {result.residual_start_s * 1000:+.1f} ms at the start, {result.residual_end_s * 1000:+.1f} ms at "
          f"the end; re-check alone: {residual.reason}")
    Path(result.path).unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
