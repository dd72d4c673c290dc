"""Artifacts round-trip without pickle, are written atomically, and load errors are clear."""

import dataclasses
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from dagster import AssetKey, build_input_context, build_output_context

from ml.audio_sync.matching import FrameMatches
from ml.audio_sync.signatures import signature_from_audio
from ml.audio_sync.verdict import Verdict
from resources.artifacts import (
    ArtifactIOManagerFactory,
    decode_artifact,
    encode_artifact,
)


def _assert_same_fields(back, value):
    assert type(back) is type(value)
    for field in dataclasses.fields(value):
        a, b = getattr(back, field.name), getattr(value, field.name)
        if isinstance(b, np.ndarray):
            assert a.dtype == b.dtype and np.array_equal(a, b), field.name
        else:
            assert a == b, field.name


def test_signature_and_matches_round_trip(rng):
    t = np.arange(44100 * 3) / 44100
    tones = sum(0.05 * np.sin(2 * np.pi * f * t) for f in (220.0, 331.0, 1234.0)) + rng.normal(0, 1e-3, t.size)
    sig = signature_from_audio(tones.astype(np.float32), sample_rate=44100)
    assert len(sig.frames) > 0
    _assert_same_fields(decode_artifact(encode_artifact(sig)), sig)
    matches = FrameMatches(
        dub_times=np.arange(5.0), offsets=np.full(5, 0.5), distances=np.ones(5, np.float32),
        rival_distances=np.full(5, 9.0, np.float32), theta_min_dist=8.0, dub_duration_s=5.0,
        frame_seconds=0.046, max_rival_ratio=0.6, speed=25 / 24, reference_duration_s=5.5,
    )  # fmt: skip
    again = decode_artifact(encode_artifact(matches))
    _assert_same_fields(again, matches)
    assert again.offset_s == 0.5


def test_only_ml_dataclasses_are_artifacts():
    with pytest.raises(TypeError, match="dataclasses from the ml package"):
        encode_artifact({"a": 1})


def test_io_manager_writes_atomically_and_reads_back(tmp_path):
    manager = ArtifactIOManagerFactory(root=str(tmp_path)).create_io_manager(None)
    verdict = Verdict(
        kind="constant", offset_s=0.8, in_sync=False, band="unacceptable", correction_shift_s=0.8,
        correction="delay the dub audio by 800 ms", reason="r", reference="original_audio",
        matched_frames=10, coverage=1.0, spread_s=0.0, agreement=1.0,
    )  # fmt: skip
    output = build_output_context(asset_key=AssetKey("title_verdicts"))
    manager.handle_output(output, verdict)
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert files == ["title_verdicts.npz"]
    loaded = manager.load_input(build_input_context(asset_key=AssetKey("title_verdicts"), upstream_output=output))
    assert loaded == verdict


def test_missing_artifact_names_the_upstream(tmp_path):
    manager = ArtifactIOManagerFactory(root=str(tmp_path)).create_io_manager(None)
    upstream = build_output_context(asset_key=AssetKey("reference_signature"))
    with pytest.raises(FileNotFoundError, match="reference_signature"):
        manager.load_input(build_input_context(asset_key=AssetKey("reference_signature"), upstream_output=upstream))


def test_dagster_definitions_validate_passes():
    root = Path(__file__).resolve().parents[1]
    dagster = Path(sys.executable).with_name("dagster")
    completed = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=root, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "Validation successful" in completed.stderr + completed.stdout


OLD_ARTIFACTS = Path(__file__).parent / "data" / "artifacts_before_issue21"
"""Artifacts that ``make demo`` wrote before ``ml/`` was grouped into packages (their classes named
``ml.signatures:Signature``, ``ml.verdict:Verdict``, ...), copied unchanged from its artifact root."""


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("dub_signature_fr_talk_show", "ml.audio_sync.signatures:Signature"),
        ("frame_match_offsets_de_el_verano", "ml.audio_sync.matching:FrameMatches"),
        ("title_verdicts_en_el_verano", "ml.audio_sync.verdict:Verdict"),
        ("shot_boundaries_talk_show", "ml.picture.shots:Shots"),
        ("face_tracks_talk_show", "ml.picture.faces:FaceTracks"),
        ("lip_sync_offsets_talk_show", "ml.picture.title_sync:PictureSync"),
    ],
)
def test_artifacts_written_under_the_old_module_paths_still_load(name, cls):
    data = (OLD_ARTIFACTS / f"{name}.npz").read_bytes()
    old_class = json.loads(np.load(io.BytesIO(data))["__meta__"].tobytes())["class"]
    assert old_class.count(".") == 1 and old_class.startswith("ml.")  # really a flat-layout artifact
    value = decode_artifact(data)
    assert f"{type(value).__module__}:{type(value).__qualname__}" == cls
    _assert_same_fields(decode_artifact(encode_artifact(value)), value)  # and it is written under the new path


def test_old_artifacts_keep_their_values():
    verdict = decode_artifact((OLD_ARTIFACTS / "title_verdicts_en_el_verano.npz").read_bytes())
    assert verdict.kind == "intermittent"  # the demo's reel change: 0 ms, then +500 ms
    matches = decode_artifact((OLD_ARTIFACTS / "frame_match_offsets_de_el_verano.npz").read_bytes())
    assert len(matches.offsets) > 100 and abs(float(np.median(matches.offsets)) + 0.06) < 0.05  # drift -99 -> -26 ms
    signature = decode_artifact((OLD_ARTIFACTS / "dub_signature_fr_talk_show.npz").read_bytes())
    assert len(signature.frames) > 100
