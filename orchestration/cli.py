"""``dubsync``: the command line for operators, CI and the demo.

``dubsync check <media-root> [--json FILE]`` materialises the whole graph for every title and
language of a landing zone, in process, on the instance of ``DAGSTER_HOME`` (or a temporary one),
printing progress per title and stage, then one row per title × language. Exit status 0 when it
ran, whatever the verdicts.

``dubsync backfill --stale [--dry-run] [--in-process]`` finds the asset partitions that a policy,
model or file change made stale on the instance of ``DAGSTER_HOME`` and launches a backfill of
exactly those (``orchestration.backfill``).

``dubsync demo [--dir DIR]`` generates the demo landing zone (``ml.testmedia``), checks it on the
embedded SQLite instance under ``DIR/dagster_home`` and compares the verdicts with the ground truth.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import json
import logging
import math
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

__all__ = ["main", "run_check"]

_STAGES = (
    ("reference_signature", "original signature"),
    ("dub_signature", "dub signature"),
    ("frame_match_offsets", "frame matching"),
    ("title_verdicts", "verdict"),
)
_PICTURE_STAGES = (("shot_boundaries", "shots"), ("face_tracks", "face tracks"), ("lip_sync_offsets", "lip sync"))


def _progress_logger(emit: Callable[[str], None]):
    """A Dagster logger that shows the assets' own progress messages and errors, not engine events."""
    from dagster import logger

    class _Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            meta = getattr(record, "dagster_meta", None) or {}
            if meta.get("dagster_event") is None and record.levelno >= logging.INFO:
                emit(f"      {meta.get('orig_message', record.getMessage())}")

    @logger(description="dubsync progress")
    def progress_logger(_init_context):
        log = logging.getLogger("dubsync.cli.progress")
        log.setLevel(logging.INFO)
        log.propagate = False
        log.handlers = [_Handler()]
        return log

    return progress_logger


def _failure_message(result) -> str:
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            error = event.step_failure_data.error
            while error.cause is not None and "Failure" not in error.cls_name:
                error = error.cause
            message = error.message.strip()
            prefix = "dagster._core.definitions.events.Failure: "
            return message[len(prefix):] if message.startswith(prefix) else message
    return "run failed (see the run's logs)"


def _row(title: str, language: str, verdict: dict | None, error: str | None) -> dict:
    verdict = verdict or {}
    offset_s = verdict.get("offset_s")
    return {
        "title": title,
        "language": language,
        "offset_ms": verdict.get("offset_ms"),
        "offset_s": offset_s,
        "in_sync": bool(verdict.get("in_sync", False)),
        "kind": verdict.get("kind", "undetermined"),
        "drift_ppm": verdict.get("drift_ppm"),
        "band": verdict.get("band", "unknown"),
        "correction": verdict.get("correction"),
        "correction_shift_ms": (
            None if verdict.get("correction_shift_s") is None else round(verdict["correction_shift_s"] * 1000, 1)
        ),
        "reference": verdict.get("reference", "original_audio"),
        "matched_frames": verdict.get("matched_frames", 0),
        "coverage": verdict.get("coverage"),
        "spread_ms": None if verdict.get("spread_s") is None else round(verdict["spread_s"] * 1000, 1),
        "agreement": verdict.get("agreement"),
        "explained": verdict.get("explained"),
        "offset_end_ms": None if verdict.get("offset_end_s") is None else round(verdict["offset_end_s"] * 1000, 1),
        "correction_speed_ratio": verdict.get("correction_speed_ratio"),
        "segments": verdict.get("segments", []),
        "original_to_picture_ms": (
            None if verdict.get("original_to_picture_s") is None else round(verdict["original_to_picture_s"] * 1000, 1)
        ),
        "source": verdict.get("source") or None,
        "complete": verdict.get("complete"),
        "completeness": verdict.get("completeness") or None,
        "reason": error or verdict.get("reason", ""),
        "error": error,
    }


def run_check(
    media_root: str,
    *,
    artifact_root: str,
    policy_path: str = "",
    media_cache: str = "",
    instance=None,
    emit: Callable[[str], None] = print,
    conform: bool = False,
) -> list[dict]:
    """Materialise every asset for every title × language of ``media_root``; one row per dub.

    Parameters
    ----------
    media_root : str
        The landing zone (folder or fsspec URL).
    artifact_root : str
        Where asset values are written.
    policy_path : str
        Policy TOML file, empty for the defaults.
    media_cache : str
        Where a landing zone on object storage is copied before decoding (see
        :class:`orchestration.settings.Settings`), empty for the default.
    instance : DagsterInstance, optional
        Defaults to ``DAGSTER_HOME``'s instance if set, else an ephemeral one.
    emit : callable
        Receives progress lines.
    conform : bool
        Also conform every judged dub (``conformed_dubs``) and add ``conformed`` (yes, no, failed),
        ``conform_reason``, ``residual_start_ms``, ``residual_end_ms`` and ``conformed_file`` to
        its row.
    """
    from dagster import AssetKey, DagsterInstance

    from assets.media import listing_observations
    from orchestration.backfill import run_outcome
    from orchestration.definitions import build_definitions
    from orchestration.partitions import dub_partition_key, dubs_partitions, titles_partitions
    from orchestration.settings import Settings

    settings = Settings(media_root=media_root, artifact_root=artifact_root, policy_path=policy_path, media_cache=media_cache)
    defs = build_definitions(settings, loggers={"dubsync_progress": _progress_logger(emit)})
    store = defs.resources["media_store"]
    if instance is None:
        instance = DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else DagsterInstance.ephemeral()
    titles, problems = store.scan()
    for problem in problems:
        emit(f"landing zone: {problem}")
    if not titles:
        emit(f"no titles found under {media_root}")
        return []
    instance.add_dynamic_partitions(titles_partitions.name, sorted(titles))
    dubs = sorted(dub_partition_key(title, language) for title, listing in titles.items() for language in listing.dubs)
    if dubs:
        instance.add_dynamic_partitions(dubs_partitions.name, dubs)

    reference_job = defs.resolve_job_def("reference_job")
    dub_job = defs.resolve_job_def("dub_job")
    conform_job = defs.resolve_job_def("conform_job")
    run_config = {"loggers": {"dubsync_progress": {}}}
    rows: list[dict] = []

    def execute(job, partition_key, asset_key: str, label: str):
        started = time.monotonic()
        emit(f"    {label} ...")
        result = job.execute_in_process(
            partition_key=partition_key,
            instance=instance,
            raise_on_error=False,
            asset_selection=[AssetKey(asset_key)],
            run_config=run_config,
        )
        ok, status = run_outcome(result)
        emit(f"    {label}: {status} in {time.monotonic() - started:.1f} s")
        return ok, result

    for index, (title, listing) in enumerate(sorted(titles.items()), start=1):
        emit(f"[{index}/{len(titles)}] {title}: original + {len(listing.dubs)} dub(s)")
        for problem in listing.problems:
            emit(f"    landing zone: {problem}")
        for observation in listing_observations(store, listing):
            instance.report_runless_asset_event(observation)
        ok, result = execute(reference_job, title, "reference_signature", "original signature")
        reference_error = None if ok else _failure_message(result)
        if reference_error:
            emit(f"    error: {reference_error}")
        picture_error = None
        for asset_key, label in _PICTURE_STAGES:  # the verdicts need the title's lip-sync offset
            ok, result = execute(reference_job, title, asset_key, label)
            if not ok:
                picture_error = f"{label}: {_failure_message(result)}"
                emit(f"    error ({picture_error})")
                break
        if not listing.dubs:
            rows.append(_row(title, "", None, reference_error or "title has no dubs"))
        for language in sorted(listing.dubs):
            key = dub_partition_key(title, language)
            errors = []
            verdict = None
            for asset_key, label in _STAGES[1:]:
                if errors or (reference_error and asset_key != "dub_signature"):
                    break  # matching needs both signatures
                if picture_error and asset_key == "title_verdicts":
                    errors.append(f"no verdict without the picture side ({picture_error})")
                    break
                ok, result = execute(dub_job, key, asset_key, f"{language}: {label}")
                if not ok:
                    errors.append(_failure_message(result))
                    emit(f"    error: {errors[-1]}")
                elif asset_key == "title_verdicts":
                    verdict = _verdict_from(result)
            if reference_error:
                errors.insert(0, f"original track: {reference_error}")
            error = "; ".join(errors) or None
            row = _row(title, language, verdict, error)
            if conform and verdict is not None:
                ok, result = execute(conform_job, key, "conformed_dubs", f"{language}: conform")
                failed = {"conformed": "failed", "conform_reason": _failure_message(result)} if not ok else None
                row.update(failed or _conform_fields(result))
            elif conform:
                row.update(conformed="no", conform_reason="no verdict")
            rows.append(row)
    return rows


def _conform_fields(result) -> dict:
    for materialization in result.asset_materializations_for_node("conformed_dubs"):
        meta = {key: value.value for key, value in materialization.metadata.items()}
        return {
            "conformed": "yes" if meta["status"] == "conformed" else "no",
            "conform_reason": meta["reason"],
            "residual_start_ms": meta["residual_start_ms"],
            "residual_end_ms": meta["residual_end_ms"],
            "conformed_file": meta["file"],
        }
    return {"conformed": "failed", "conform_reason": "nothing materialised"}


def refresh_report(media_root: str, *, artifact_root: str, instance, emit: Callable[[str], None] = print) -> list[dict]:
    """Materialise ``catalogue_report`` on ``instance`` (its Parquet and CSV in the deliverables);
    returns its rows."""
    from orchestration.definitions import build_definitions
    from orchestration.settings import Settings

    settings = Settings(media_root=media_root, artifact_root=artifact_root)
    defs = build_definitions(settings, loggers={"dubsync_progress": _progress_logger(emit)})
    result = defs.resolve_job_def("report_job").execute_in_process(
        instance=instance, raise_on_error=False, run_config={"loggers": {"dubsync_progress": {}}}
    )
    if not result.success:
        emit(f"catalogue report: FAILED ({_failure_message(result)})")
        return []
    meta = result.asset_materializations_for_node("catalogue_report")[0].metadata
    emit(f"catalogue report: {meta['csv'].value} and {meta['parquet'].value}")
    from assets.report import catalogue_rows

    return catalogue_rows(instance, defs.resources["media_store"])


def _verdict_from(result) -> dict | None:
    for materialization in result.asset_materializations_for_node("title_verdicts"):
        return dict(materialization.metadata["verdict"].value)
    return None


def format_table(rows: list[dict], *, truth: dict | None = None) -> str:
    """The verdict table (with the ground truth and a match mark when ``truth`` is given)."""

    def fmt_ms(value) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "-"
        return f"{round(value):+d}"  # an int: a lag under half a millisecond prints +0, not -0

    header = ["title", "lang", "offset ms", "vs", "kind", "in sync", "ITU band", "matched", "correction / reason"]
    if truth is not None:
        header[5:5] = ["truth", "ok"]
    lines = []
    for row in rows:
        cells = [
            row["title"],
            row["language"],
            fmt_ms(row["offset_ms"]),
            "picture" if row["reference"] == "picture" else "audio",
            row["kind"],
            "yes" if row["in_sync"] else "no",
            row["band"],
            str(row["matched_frames"]),
            row["error"] or (row["reason"] if row["kind"] in ("undetermined", "intermittent", "drift") else row["correction"]),
        ]
        if truth is not None:
            expected, duration = truth.get((row["title"], row["language"]), (None, 0.0))
            cells[5:5] = [
                "-" if expected is None else f"{fmt_ms(expected['offset_s'] * 1000)} {expected_kind(expected, duration)}",
                "-" if expected is None else ("✓" if verdict_matches_truth(row, expected, duration) else "✗"),
            ]
        lines.append(cells)
    widths = [max(len(str(c)) for c in column) for column in zip(header, *lines)]
    out = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(str(c).ljust(w) for c, w in zip(cells, widths)) for cells in lines]
    return "\n".join(out)


TRUTH_TOLERANCE_S = 0.05
"""A demo verdict matches the truth when its offsets are within 50 ms (about one signature frame)."""
DRIFT_TOLERANCE = 0.10
"""... and a drift's rate within 10 % of the true rate."""


def expected_kind(truth_dub: dict, duration_s: float, params=None) -> str:
    """The verdict kind a generated dub should get, from its ground truth, under the in-sync band of
    ``params`` (a :class:`ml.policy.VerdictParams`; default: the built-in policy's, as the demo runs)."""
    from ml.policy import VerdictParams

    if truth_dub.get("jumps"):
        return "intermittent"
    if abs(truth_dub.get("speed_ratio", 1.0) - 1.0) * duration_s >= 0.04:
        return "drift"
    lead, lag = (params or VerdictParams()).sync_band()
    return "in_sync" if -lag <= truth_dub["offset_s"] <= lead else "constant"


def verdict_matches_truth(row: dict, truth_dub: dict | None, duration_s: float) -> bool:
    """Whether a verdict row agrees with a generated dub's ground truth: kind, offsets, drift rate."""
    if truth_dub is None or row["offset_s"] is None:
        return False
    kind = expected_kind(truth_dub, duration_s)
    if row["kind"] != kind or abs(row["offset_s"] - truth_dub["offset_s"]) > TRUTH_TOLERANCE_S:
        return False
    if kind == "drift":
        true_ppm = (truth_dub["speed_ratio"] - 1.0) * 1e6
        return abs(row["drift_ppm"] - true_ppm) <= DRIFT_TOLERANCE * abs(true_ppm)
    if kind == "intermittent":
        expected = [truth_dub["offset_s"]] + [offset for _, offset in truth_dub["jumps"]]
        found = [segment["offset_s"] for segment in row["segments"]]
        return len(found) == len(expected) and all(
            abs(a - b) <= TRUTH_TOLERANCE_S for a, b in zip(found, expected)
        )
    return True


def _cmd_check(args) -> int:
    from orchestration.settings import Settings

    env = Settings.from_env()
    if not Path(args.media_root).exists() and "://" not in args.media_root:
        print(f"dubsync check: {args.media_root} does not exist", file=sys.stderr)
        return 2
    if args.json and (problem := _unwritable(Path(args.json), create=False)):  # said now, not after the whole check
        print(f"dubsync check: cannot write --json {args.json}: {problem}", file=sys.stderr)
        return 2
    artifact_root = args.artifacts or os.environ.get("DUBSYNC_ARTIFACT_ROOT")
    # a temporary folder, removed however the check ends, when no artifact root is given
    temporary = contextlib.nullcontext(artifact_root) if artifact_root else tempfile.TemporaryDirectory(prefix="dubsync-artifacts-")
    with temporary as artifact_root:
        rows = run_check(
            args.media_root, artifact_root=artifact_root, policy_path=args.policy or env.policy_path, media_cache=env.media_cache
        )
    print()
    print(format_table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


def _cmd_demo(args) -> int:
    from ml import testmedia
    from ml.audio_sync.conform import REFUSED
    from ml.catalogue import to_markdown
    from ml.testmedia import picture as testpicture

    root = Path(args.dir).resolve()
    landing = root / "landing"
    home = Path(os.environ.get("DAGSTER_HOME") or root / "dagster_home")
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    if not args.keep or not (landing / "ground_truth.json").exists():
        if landing.exists():
            shutil.rmtree(landing)
        print(f"generating the demo landing zone in {landing} ...")
        testmedia.build_landing_zone(landing, testmedia.demo_specs(), progress=lambda m: print(f"  {m}"))
        truth_data = json.loads((landing / "ground_truth.json").read_text())
        for spec in testpicture.demo_picture_specs():
            started = time.monotonic()
            truth_data["titles"][spec.title_id] = testpicture.build_picture_title(landing, spec)
            print(f"  {spec.title_id}: picture of {len(spec.clips)} talking heads, {len(spec.dubs)} dub(s), "
                  f"{time.monotonic() - started:.1f} s")
        (landing / "ground_truth.json").write_text(json.dumps(truth_data, indent=2) + "\n")
    truth_data = json.loads((landing / "ground_truth.json").read_text())
    # titles with a picture are judged against it: their truth adds the audio ↔ picture offset
    truth = {
        (title, language): (testpicture.picture_truth(dub, entry.get("picture_offset_s", 0.0)), entry["duration_s"])
        for title, entry in truth_data["titles"].items()
        for language, dub in entry["dubs"].items()
    }
    instance = _instance()
    rows = run_check(str(landing), artifact_root=str(root / "artifacts"), conform=True, instance=instance)
    print()
    print(format_table(rows, truth=truth))
    print()
    print(format_conforms(rows))
    report = refresh_report(str(landing), artifact_root=str(root / "artifacts"), instance=instance)
    print(to_markdown(report))
    (root / "verdicts.json").write_text(json.dumps(rows, indent=2) + "\n")
    mismatches = [
        r for r in rows if not verdict_matches_truth(r, *truth.get((r["title"], r["language"]), (None, 0.0)))
    ]
    # a refused conform (too much padding) is the policy at work; one that did not re-check in sync is not
    fixable = [r for r in rows if r["kind"] in FIXABLE_KINDS and r.get("conformed") != "yes"]
    refused = [r for r in fixable if str(r.get("conform_reason")).startswith(REFUSED)]
    unconformed = [r for r in fixable if r not in refused]
    if refused:
        print(f"{len(refused)} fixable dub(s) refused by the policy: "
              + ", ".join(f"{r['title']}/{r['language']}" for r in refused))
    if unconformed:
        print(f"{len(unconformed)} fixable dub(s) conformed but not in sync on re-check, or failed: "
              + ", ".join(f"{r['title']}/{r['language']}" for r in unconformed))
    # the report, read back from the instance, must say what the command line said
    report_differs = {(r["title"], r["language"], r["kind"]) for r in report} != {
        (r["title"], r["language"], r["kind"]) for r in rows
    }
    if report_differs:
        print("the catalogue report's kinds differ from the verdicts above")
    print(f"\n{len(rows) - len(mismatches)} of {len(rows)} verdicts match the ground truth; "
          f"JSON in {root / 'verdicts.json'}")
    print(
        "Open the same results in the UI:\n"
        f"  DAGSTER_HOME={home} DUBSYNC_MEDIA_ROOT={landing} DUBSYNC_ARTIFACT_ROOT={root / 'artifacts'} "
        ".venv/bin/dagster dev -w workspace.yaml      (or: make ui)"
    )
    return 0 if not mismatches and not unconformed and not report_differs else 1


FIXABLE_KINDS = ("constant", "drift", "intermittent")


def _instance():
    from dagster import DagsterInstance

    return DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else DagsterInstance.ephemeral()


def format_conforms(rows: list[dict]) -> str:
    """One line per fixable dub: its verdict, the conform and the residual of its re-check."""
    def ms(value) -> str:
        return "-" if value is None else f"{value:+.1f} ms"

    lines = ["conformed dubs (re-checked against the same reference):"]
    for row in rows:
        if row["kind"] not in FIXABLE_KINDS:
            continue
        head = f"  {row['title']}/{row['language']}: {row['kind']} {ms(row['offset_ms'])}"
        if row.get("conformed") == "yes":
            lines.append(f"{head} -> residual {ms(row['residual_start_ms'])} at the start, "
                         f"{ms(row['residual_end_ms'])} at the end: in sync ({row['conformed_file']})")
        else:
            lines.append(f"{head} -> {row.get('conformed', 'no')}: {row.get('conform_reason')}")
    return "\n".join(lines)


def _cmd_conform(args) -> int:
    from orchestration.settings import Settings

    env = Settings.from_env()
    if not Path(args.media_root).is_dir():
        print(f"dubsync conform: {args.media_root} is not a landing-zone folder", file=sys.stderr)
        return 2
    out = Path(args.out).resolve()
    if out == Path(args.media_root).resolve():
        print("dubsync conform: --out must not be the landing zone itself", file=sys.stderr)
        return 2
    if problem := _unwritable(out / "x", create=True):
        print(f"dubsync conform: cannot write --out {args.out}: {problem}", file=sys.stderr)
        return 2
    artifact_root = args.artifacts or os.environ.get("DUBSYNC_ARTIFACT_ROOT")
    temporary = (
        contextlib.nullcontext(artifact_root) if artifact_root else tempfile.TemporaryDirectory(prefix="dubsync-artifacts-")
    )
    instance = _instance()
    with temporary as artifact_root:
        rows = run_check(args.media_root, artifact_root=artifact_root, policy_path=args.policy or env.policy_path,
                         media_cache=env.media_cache, conform=True, instance=instance)  # fmt: skip
        print()
        print(format_table(rows))
        print()
        print(format_conforms(rows))
        written = write_conformed_landing_zone(Path(args.media_root), out, rows)
        refresh_report(args.media_root, artifact_root=artifact_root, instance=instance)
    print(f"\nwrote {out}: {written['conformed']} conformed dub(s), {written['linked']} other file(s) linked or "
          f"copied; re-verify with: dubsync check {out}")
    return 0


def write_conformed_landing_zone(media_root: Path, out: Path, rows: list[dict]) -> dict:
    """A landing zone at ``out``: each title's original and ``title.json`` linked (or copied), each
    conformed dub as ``<title>/dubs/<lang>.<ext>``, the other dubs (in sync, undetermined, or not
    conformed) linked as delivered. Returns counts."""
    from resources.media_store import LocalMediaStore

    store = LocalMediaStore(root=str(media_root))
    listings, _ = store.scan()
    by_dub = {(r["title"], r["language"]): r for r in rows}
    counts = {"conformed": 0, "linked": 0}

    def place(source: Path, target: Path, *, copy: bool = False) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        if not copy:
            try:
                os.link(source, target)
                return
            except OSError:
                pass
        shutil.copy2(source, target)

    for title, listing in listings.items():
        folder = out / title
        if listing.original is not None:
            place(media_root / listing.original.name, folder / Path(listing.original.name).name)
            counts["linked"] += 1
        meta = media_root / listing.folder / "title.json"
        if meta.is_file():
            place(meta, folder / "title.json", copy=True)
        for language, track in listing.dubs.items():
            for stale in (folder / "dubs").glob(f"{language}.*"):
                stale.unlink()
            row = by_dub.get((title, language), {})
            if row.get("conformed") == "yes" and row.get("conformed_file"):
                conformed = Path(row["conformed_file"])
                place(conformed, folder / "dubs" / f"{language}{conformed.suffix}", copy=True)
                counts["conformed"] += 1
            else:
                place(media_root / track.name, folder / "dubs" / Path(track.name).name)
                counts["linked"] += 1
    return counts


def _cmd_report(args) -> int:
    from dagster import DagsterInstance

    from assets.report import catalogue_rows
    from ml.catalogue import to_csv, to_json, to_markdown
    from orchestration.definitions import build_definitions
    from orchestration.settings import Settings

    if not os.environ.get("DAGSTER_HOME"):
        print("dubsync report: set DAGSTER_HOME to the instance that holds the results", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    if args.media_root:
        settings = dataclasses.replace(settings, media_root=args.media_root)
    defs = build_definitions(settings)
    rows = catalogue_rows(DagsterInstance.get(), defs.resources["media_store"])
    print({"csv": to_csv, "json": to_json, "md": to_markdown}[args.format](rows), end="")
    return 0


def _cmd_backfill(args) -> int:
    from dagster import DagsterInstance

    from orchestration.backfill import find_stale, ordered_now, run_in_process, submit_backfill
    from orchestration.definitions import build_definitions
    from orchestration.settings import Settings

    if not args.stale:
        print("dubsync backfill: say what to backfill (--stale)", file=sys.stderr)
        return 2
    if not os.environ.get("DAGSTER_HOME"):
        print("dubsync backfill: set DAGSTER_HOME to the instance that holds the results", file=sys.stderr)
        return 2
    env = Settings.from_env()
    settings = dataclasses.replace(env, policy_path=args.policy or env.policy_path)
    defs = build_definitions(settings)
    instance = DagsterInstance.get()
    print(f"looking for stale asset partitions (policy: {settings.policy_path or 'built-in'}, "
          f"landing zone: {settings.media_root}) ...")
    stale = find_stale(defs, instance, defs.resources["media_store"])
    if not stale:
        print("nothing is stale")
        return 0
    names = [item.asset if item.partition is None else f"{item.asset}[{item.partition}]" for item in stale]
    width = max(map(len, names))
    for name, item in zip(names, stale):
        print(f"  {name:<{width}}  {item.reason}")
    counts = collections.Counter(item.asset for item in stale)
    summary = ", ".join(f"{asset} × {n}" for asset, n in counts.items())
    print(f"{len(stale)} stale asset partition(s): {summary}")
    if args.dry_run:
        return 0
    if args.in_process:
        results = run_in_process(defs, instance, stale)
        failed = [partition for partition, ok in results if not ok]
        print(f"{len(results) - len(failed)} of {len(results)} run(s) succeeded"
              + (f"; failed: {', '.join(failed)}" if failed else ""))
        return 1 if failed else 0
    now, later = ordered_now(stale)
    if later:
        counts = collections.Counter(item.asset for item in now)
        summary = ", ".join(f"{asset} × {n}" for asset, n in counts.items())
    backfill_id = submit_backfill(defs, instance, now, title=f"stale: {summary}")
    print(f"submitted backfill {backfill_id} of {len(now)} partition(s); the daemon runs it (UI: Overview → "
          f"Backfills, /runs/b/{backfill_id})")
    if later:
        print(f"{len(later)} partition(s) of dubs whose title is in that backfill wait for it (Dagster cannot order "
              "a dub after its title): run `dubsync backfill --stale` again once it has completed")
    return 0


def _unwritable(path: Path, *, create: bool) -> str | None:
    """Why a file could not be written at ``path`` (its folder made first if ``create``), or None."""
    folder = path.resolve().parent
    if create:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return f"cannot make {folder} ({exc.strerror})"
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        return f"{folder} is not a writable folder"
    return None


def _cmd_train_lipsync(args) -> int:
    from ml.errors import DubsyncError
    from ml.picture.syncnet_train import build_training_set, train_syncnet

    # said before the training set is built and the model trained, not after
    if problem := _unwritable(Path(args.out), create=True):
        print(f"dubsync train-lipsync: cannot write --out {args.out}: {problem}", file=sys.stderr)
        return 2
    if args.init and not Path(args.init).is_file():
        print(f"dubsync train-lipsync: --init {args.init} is not a file", file=sys.stderr)
        return 2
    clips = []
    for item in args.clips:
        path = Path(item)
        clips += sorted(p for p in path.rglob("*") if p.suffix.lower() in _CLIP_SUFFIXES) if path.is_dir() else [path]
    if not clips:
        print("dubsync train-lipsync: no clips found", file=sys.stderr)
        return 2
    print(f"building training windows from {len(clips)} clip(s) ...")
    try:
        data = build_training_set(clips, max_shift=args.max_shift, progress=lambda m: print(f"  {m}"))
        started = time.monotonic()

        def report(step: int, loss: float) -> None:
            if step == 1 or step % max(1, args.steps // 20) == 0 or step == args.steps:
                print(f"  step {step}/{args.steps}: loss {loss:.3f} ({time.monotonic() - started:.0f} s)")

        result = train_syncnet(
            data, args.out, steps=args.steps, batch=args.batch, learning_rate=args.learning_rate,
            init=args.init, progress=report,
        )  # fmt: skip
    except DubsyncError as exc:
        print(f"dubsync train-lipsync: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {result.checkpoint} ({result.windows} windows, {result.steps} steps); use it with "
          f"DUBSYNC_LIPSYNC_CHECKPOINT={result.checkpoint}")
    return 0


_CLIP_SUFFIXES = {".mp4", ".mpg", ".mov", ".mkv", ".avi", ".webm", ".m4v"}


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore", module="dagster")
    parser = argparse.ArgumentParser(prog="dubsync", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="check every title and dub of a landing zone")
    check.add_argument("media_root", help="landing zone folder (or fsspec URL)")
    check.add_argument("--json", metavar="FILE", help="write the verdicts as a JSON list")
    check.add_argument("--artifacts", metavar="DIR", help="artifact root (default: $DUBSYNC_ARTIFACT_ROOT or a temporary folder)")
    check.add_argument("--policy", metavar="FILE", help="policy TOML (default: $DUBSYNC_POLICY or built-in)")
    check.set_defaults(func=_cmd_check)
    backfill = commands.add_parser(
        "backfill", help="recompute exactly what a policy, model or file change made stale"
    )
    backfill.add_argument("--stale", action="store_true", help="backfill the stale asset partitions")
    backfill.add_argument("--dry-run", action="store_true", help="list them, launch nothing")
    backfill.add_argument(
        "--in-process", action="store_true", help="run them now in this process instead of submitting to the daemon"
    )
    backfill.add_argument("--policy", metavar="FILE", help="policy TOML (default: $DUBSYNC_POLICY or built-in)")
    backfill.set_defaults(func=_cmd_backfill)
    conform = commands.add_parser(
        "conform", help="check a landing zone, conform every fixable dub, and write a conformed landing zone"
    )
    conform.add_argument("media_root", help="landing zone folder")
    conform.add_argument("--out", required=True, metavar="DIR", help="where to write DIR/<title>/dubs/<lang>.<ext>")
    conform.add_argument(
        "--artifacts", metavar="DIR", help="artifact root (default: $DUBSYNC_ARTIFACT_ROOT or a temporary folder)"
    )
    conform.add_argument("--policy", metavar="FILE", help="policy TOML (default: $DUBSYNC_POLICY or built-in)")
    conform.set_defaults(func=_cmd_conform)
    report = commands.add_parser("report", help="print the catalogue QC report from the instance of DAGSTER_HOME")
    report.add_argument("--format", choices=("csv", "json", "md"), default="md", help="output format (default md)")
    report.add_argument("--media-root", help="landing zone (default: $DUBSYNC_MEDIA_ROOT)")
    report.set_defaults(func=_cmd_report)
    demo = commands.add_parser("demo", help="generate the demo landing zone, check it, compare with the truth")
    demo.add_argument("--dir", default="demo", help="demo folder (default: demo)")
    demo.add_argument("--keep", action="store_true", help="reuse an existing demo landing zone instead of rebuilding it")
    demo.set_defaults(func=_cmd_demo)
    train = commands.add_parser(
        "train-lipsync",
        help="train the SyncNet v2 lip-sync model on in-sync talking-head clips (self-supervised)",
    )
    train.add_argument("clips", nargs="+", help="clip files or folders of clips whose sound is in sync")
    train.add_argument("--out", required=True, help="checkpoint to write (a SyncNet v2 state dict)")
    train.add_argument("--steps", type=int, default=200, help="optimiser steps (default 200)")
    train.add_argument("--batch", type=int, default=8, help="windows per step (default 8)")
    train.add_argument("--learning-rate", type=float, default=1e-4, help="Adam learning rate (default 1e-4)")
    train.add_argument("--max-shift", type=int, default=15, help="largest negative shift, frames (default 15)")
    train.add_argument("--init", help="continue from this checkpoint")
    train.set_defaults(func=_cmd_train_lipsync)
    args = parser.parse_args(argv)
    from ml.errors import DubsyncError

    try:
        return args.func(args)
    except DubsyncError as exc:  # a bad policy file or parameter: said in a line, not a traceback
        print(f"dubsync {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
