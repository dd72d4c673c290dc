"""`dubsync check` writes the JSON that docs/design.md specifies; problems become rows, not crashes."""

import json
import subprocess
import sys

import numpy as np

from orchestration.cli import main
from tests.support.helpers import copy_landing_zone

REQUIRED = {
    "title", "language", "offset_ms", "offset_s", "reference", "original_to_picture_ms", "in_sync", "kind",
    "drift_ppm", "offset_end_ms", "segments", "band", "correction", "correction_shift_ms", "correction_speed_ratio",
    "matched_frames", "coverage", "spread_ms", "agreement", "explained", "reason", "error",
    "source", "complete", "completeness",
}  # the fields docs/design.md lists for --json


def test_check_writes_the_verdict_json(landing_zone, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("DUBSYNC_ARTIFACT_ROOT", raising=False)
    root, truth = landing_zone
    out = tmp_path / "verdicts.json"
    assert main(["check", str(root), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "[1/1] alpha" in printed and "dub signature" in printed and "verdict: done" in printed
    rows = json.loads(out.read_text())
    assert sorted((r["title"], r["language"]) for r in rows) == [("alpha", "de"), ("alpha", "fr")]
    for row in rows:
        assert REQUIRED <= set(row)
        expected = truth["titles"]["alpha"]["dubs"][row["language"]]["offset_s"]
        assert row["kind"] == ("constant" if expected else "in_sync")
        assert abs(row["offset_ms"] - expected * 1000) <= 5
        assert row["in_sync"] == (abs(expected) <= 0.2)
        assert row["error"] is None
        # positive = the dub leads, and the shift to apply is the offset itself (delay a leading dub)
        assert row["correction_shift_ms"] == row["offset_ms"]
        assert row["band"] == ("unacceptable" if expected else "undetectable")
        assert row["complete"] is True and row["completeness"].startswith("complete: ") and row["source"] == "signatures"


def test_check_reports_bad_files_as_rows(landing_zone, tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    root = copy_landing_zone(landing_zone[0], tmp_path / "lz")
    (root / "alpha/dubs/fr.flac").write_bytes(np.random.default_rng(3).bytes(100_000))
    (root / "alpha/dubs/xx.flac").write_bytes(b"not a language")
    # a partial delivery: the first 15 s of the 30-s German dub, in sync, but half the programme lacks it
    from ml.decoding.audio import load_audio
    from ml.testmedia import AudioWriter

    german, _ = load_audio(root / "alpha/dubs/de.m4a", sample_rate=44100)
    with AudioWriter(root / "alpha/dubs/it.flac", 44100, 1, codec="flac") as writer:
        writer.write(german[None, : 15 * 44100])
    out = tmp_path / "verdicts.json"
    completed = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "check", str(root), "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    assert "'xx' is not an ISO 639 language code" in completed.stdout
    rows = {r["language"]: r for r in json.loads(out.read_text())}
    assert set(rows) == {"de", "fr", "it"}
    assert rows["fr"]["kind"] == "undetermined" and rows["fr"]["in_sync"] is False
    assert "alpha/dubs/fr.flac" in rows["fr"]["error"]
    assert rows["de"]["error"] is None
    # issue 22: sync and completeness are two questions. What it holds is in sync; the delivery
    # is incomplete, with both lengths and where the audio is missing
    assert rows["it"]["error"] is None
    assert rows["it"]["kind"] == "in_sync" and abs(rows["it"]["offset_ms"]) <= 5
    assert rows["it"]["complete"] is False
    assert rows["it"]["completeness"].startswith("incomplete: the dub lasts 15.0 s, the original 30.0 s, 15.0 s shorter")
    assert "the original's last 15.0 s are missing (from its 15.0 s)" in rows["it"]["completeness"]


def test_check_runs_on_object_storage(landing_zone, tmp_path, monkeypatch, capsys):
    # production keeps the landing zone and the artifacts on object storage (fsspec URLs): fsspec's
    # in-memory filesystem takes both, through the same code as s3:// (ObjectStoreMediaStore, UPath)
    import uuid

    import fsspec

    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setenv("DUBSYNC_MEDIA_CACHE", str(tmp_path / "media-cache"))
    root, truth = landing_zone
    fs = fsspec.filesystem("memory")
    bucket = f"/dubsync-{uuid.uuid4().hex[:8]}"
    try:
        for path in root.rglob("*"):
            if path.is_file():
                fs.pipe(f"{bucket}/lz/{path.relative_to(root).as_posix()}", path.read_bytes())
        out = tmp_path / "verdicts.json"
        assert main(["check", f"memory://{bucket}/lz", "--artifacts", f"memory://{bucket}/art", "--json", str(out)]) == 0
        printed = capsys.readouterr().out
        assert f"fetching memory://{bucket}/lz/alpha/original.flac: 100% (" in printed  # the copy's progress
        rows = {row["language"]: row for row in json.loads(out.read_text())}
        assert set(rows) == {"de", "fr"}
        for language, row in rows.items():
            assert row["error"] is None
            assert abs(row["offset_ms"] - truth["titles"]["alpha"]["dubs"][language]["offset_s"] * 1000) <= 5
        stored = sorted(name.removeprefix(f"{bucket}/art/") for name in fs.find(f"{bucket}/art"))
        assets = ["dub_signature", "frame_match_offsets", "title_verdicts"]
        per_title = ["face_tracks", "lip_sync_offsets", "reference_signature", "shot_boundaries"]
        sheets = [f"deliverables/sheets/alpha/{lang}.html" for lang in ("de", "fr")]  # the vendor's sheets (issue 25)
        assert stored == sorted(
            [f"{a}/{lang}/alpha.npz" for a in assets for lang in ("de", "fr")] + [f"{a}/alpha.npz" for a in per_title] + sheets
        )
        # the tracks were decoded from copies in DUBSYNC_MEDIA_CACHE, one per track
        cached = sorted(path.name.rsplit("-", 1)[0] for path in (tmp_path / "media-cache").iterdir())
        assert cached == ["alpha-de", "alpha-fr", "alpha-original"]
    finally:
        fs.rm(bucket, recursive=True)


def test_check_refuses_a_json_path_it_could_not_write_and_a_bad_policy_before_any_work(landing_zone, tmp_path, capsys, monkeypatch):
    root = landing_zone[0]
    out = tmp_path / "no such folder" / "verdicts.json"
    assert main(["check", str(root), "--json", str(out)]) == 2
    captured = capsys.readouterr()
    assert f"cannot write --json {out}: {out.parent} is not a writable folder" in captured.err
    assert "[1/1] alpha" not in captured.out  # nothing was checked
    policy = tmp_path / "policy.toml"
    policy.write_text("[match\n")
    assert main(["check", str(root), "--policy", str(policy)]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f"dubsync check: policy file {policy} is not valid TOML")
    assert "Traceback" not in captured.err + captured.out
    monkeypatch.setenv("DUBSYNC_SETTLE_S", "soon")  # a setting from the environment, likewise
    assert main(["check", str(root)]) == 2
    assert capsys.readouterr().err == "dubsync check: DUBSYNC_SETTLE_S='soon' must be a whole number of seconds\n"
