"""Conforming the audio benchmark's constant, drift and jump rows: every fixable dub conformed by
``conform_dub`` and re-checked; its residual at the start and the end, and its time against
decode-only of the same dub.

``python -m benchmarks.conform_rows [--quick] [--rows protocol,drift,jump,...]``

The rows and their titles are :mod:`benchmarks.audio_sync`'s (its row builders and title cache).
Per dub, untimed: the original's signature, the dub's, its matches and verdict under the default
policy (the asset's inputs). Timed: decode-only of the dub (PyAV → mono 44.1 kHz), then
``conform_dub`` (decode at the dub's own rate and layout, correct, encode, re-check). A dub the
verdict calls in sync or undetermined is not conformed; one that needs more padding than
``max_length_mismatch_s`` is refused (the "big" row's minutes of offset): both are listed with the
reason. A conformed dub is in sync when its re-check is (the verdict in sync, and the median offset
of its first and last matched frames within ``residual_limit_s``, 5 ms).
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

from benchmarks._common import decode_audio_seconds, machine, write_report

DEFAULT_ROWS = ("protocol", "aac", "ac3", "48k", "5.1", "big", "drift", "jump")


def _fmt_ms(value) -> str:
    return "-" if value is None else f"{value * 1000:+.1f}"


def _status(entry: dict) -> str:
    """What the conform did, in a few words."""
    if entry["status"] == "not_conformed":
        return f"not conformed ({entry['kind'].replace('_', ' ')})"
    if entry["status"] == "conformed":
        return "conformed"
    reason = entry["reason"].split(": ", 1)[-1]
    return f"{entry['status']}: {reason[:100]}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the audio benchmark's quick rows (fewer, shorter titles)")
    parser.add_argument("--rows", default=",".join(DEFAULT_ROWS), help=f"rows to run (default {','.join(DEFAULT_ROWS)})")
    parser.add_argument("--long-minutes", type=float, default=60.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    from benchmarks.audio_sync import build_rows, ensure_title
    from ml.audio_sync.conform import conform_dub
    from ml.audio_sync.matching import match_with_speed_search
    from ml.audio_sync.signatures import signature_from_file
    from ml.audio_sync.verdict import decide
    from ml.errors import ConformError
    from ml.policy import Policy

    wanted = [r.strip() for r in args.rows.split(",") if r.strip()]
    rows = {row.name: row for row in build_rows(quick=args.quick, long_minutes=args.long_minutes)}
    unknown = [name for name in wanted if name not in rows]
    if unknown:
        parser.error(f"unknown rows {unknown}; known: {', '.join(rows)}")
    policy = Policy()
    limit = policy.conform.residual_limit_s
    print(f"load average at the start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="dubsync-conform-rows-") as scratch:
        for name in wanted:
            for spec in rows[name].titles:
                folder, truth = ensure_title(spec, name)
                original = next(folder.glob("original.*"))
                reference = signature_from_file(original, policy.signature, role="reference")
                for dub in sorted(p for p in (folder / "dubs").iterdir() if p.is_file()):
                    signature = signature_from_file(dub, policy.signature)
                    matches = match_with_speed_search(
                        signature, reference, policy.match, min_matched_frames=policy.verdict.min_matched_frames,
                        resignature=lambda speed, dub=dub: signature_from_file(dub, policy.signature, speed=speed),
                    )  # fmt: skip
                    verdict = decide(matches, match=policy.match, params=policy.verdict)
                    decode_s = decode_audio_seconds(dub, policy.signature.sample_rate)
                    out = Path(scratch) / spec.title_id / dub.stem
                    out.parent.mkdir(parents=True, exist_ok=True)
                    started = time.perf_counter()
                    try:
                        result = conform_dub(dub, out, verdict, reference=reference, picture=None, policy=policy,
                                             original_duration_s=reference.duration_s, matches=matches)  # fmt: skip
                        status, reason = result.status, result.reason
                    except ConformError as exc:
                        result, status, reason = None, "refused" if "not conformed" in str(exc) else "failed", str(exc)
                    seconds = time.perf_counter() - started
                    conformed = result is not None and result.conformed
                    entry = {
                        "row": name,
                        "title": spec.title_id,
                        "language": dub.stem,
                        "codec": dub.suffix.lstrip("."),
                        "truth": {k: truth["dubs"][dub.stem].get(k) for k in ("offset_s", "speed_ratio", "jumps")}
                        if "dubs" in truth else None,
                        "kind": verdict.kind,
                        "offset_s": verdict.offset_s,
                        "status": status,
                        "reason": reason,
                        "residual_start_s": result.residual_start_s if conformed else None,
                        "residual_end_s": result.residual_end_s if conformed else None,
                        # conform_dub keeps a file only when its re-check is in sync: said again from the figures
                        "in_sync": result.residual.get("kind") == "in_sync"
                        and max(abs(result.residual_start_s), abs(result.residual_end_s)) <= limit
                        if conformed else None,
                        "conform_s": seconds if conformed else None,
                        "decode_s": decode_s,
                        "time_ratio": seconds / decode_s if conformed else None,
                    }
                    results.append(entry)
                    if conformed:
                        Path(result.path).unlink()
                    print(
                        f"  {name} {spec.title_id}/{dub.stem}: {verdict.kind} {_fmt_ms(verdict.offset_s)} ms → {status}"
                        + (f", residual {_fmt_ms(entry['residual_start_s'])} / {_fmt_ms(entry['residual_end_s'])} ms, "
                           f"{entry['time_ratio']:.2f} × decode-only" if conformed else f" ({_status(entry)})"),
                        flush=True,
                    )  # fmt: skip
    conformed = [r for r in results if r["status"] == "conformed"]
    failed = [r for r in results if r["status"] == "failed"]
    report = {
        "machine": machine(),
        "load_average_end": os.getloadavg(),
        "quick": args.quick,
        "rows": wanted,
        "dubs": results,
        "conformed": len(conformed),
        "conformed_in_sync": sum(bool(r["in_sync"]) for r in conformed),
        "failed": len(failed),
    }
    lines = [
        "| row | dub | kind | verdict ms | conform | residual start ms | residual end ms | in sync | time × decode |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        in_sync = "-" if r["in_sync"] is None else ("yes" if r["in_sync"] else "no")
        ratio = "-" if r["time_ratio"] is None else f"{r['time_ratio']:.2f}"
        status = _status(r)
        lines.append(
            f"| {r['row']} | {r['title']}/{r['language']} ({r['codec']}) | {r['kind']} | {_fmt_ms(r['offset_s'])} | "
            f"{status} | {_fmt_ms(r['residual_start_s'])} | {_fmt_ms(r['residual_end_s'])} | {in_sync} | {ratio} |"
        )
    summary = (
        f"{len(conformed)} conformed, {report['conformed_in_sync']} of them in sync within "
        f"{policy.conform.residual_limit_s * 1000:g} ms at start and end; {len(failed)} failed re-checks; "
        f"{sum(r['status'] == 'refused' for r in results)} refused; "
        f"{sum(r['status'] == 'not_conformed' for r in results)} not conformed (in sync or undetermined)"
    )
    markdown = "\n".join(lines) + "\n\n" + summary + "\n"
    print(markdown)
    write_report("conform_rows", report, markdown)
    return 0 if not failed and report["conformed_in_sync"] == len(conformed) else 1


if __name__ == "__main__":
    raise SystemExit(main())
