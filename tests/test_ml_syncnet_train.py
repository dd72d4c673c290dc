"""The self-supervised training command writes a checkpoint that the model resource loads."""

import numpy as np
import pytest

from ml.errors import CheckpointError
from ml.picture.faces import track_faces
from ml.picture.lipsync import MIN_HALF_SUPPORT
from ml.picture.shots import shots_from_file
from ml.picture.syncnet import load_syncnet
from ml.policy import LipSyncParams, Policy
from orchestration.cli import main
from resources.lipsync_model import LipSyncModelResource


def test_training_writes_a_checkpoint_the_model_resource_loads(tmp_path, real_media, capsys):
    out = tmp_path / "model" / "syncnet.pt"
    clip = real_media / "talking_heads" / "grid" / "bbaf2n.mpg"
    assert main(["train-lipsync", str(clip), "--out", str(out), "--steps", "2", "--batch", "2"]) == 0
    printed = capsys.readouterr().out
    assert "step 2/2: loss" in printed and f"DUBSYNC_LIPSYNC_CHECKPOINT={out}" in printed
    assert not list(out.parent.glob(".*.partial"))
    load_syncnet(out)  # strict: every published key with its shape
    params = LipSyncParams()
    trained = LipSyncModelResource(checkpoint=str(out)).identity(params)
    assert trained.startswith("syncnet-v2:") and trained != LipSyncModelResource().identity(params)

    # the resource runs SyncNet on every face track of a file with it
    policy = Policy()
    tracks = track_faces(clip, shots_from_file(clip, policy.shots), policy.faces)
    (estimate,) = LipSyncModelResource(checkpoint=str(out)).track_offsets(clip, tracks, params)
    assert estimate.track == 0 and estimate.n_frames == 75 and estimate.frame_rate == pytest.approx(25)
    assert len(estimate.shifts_s) == 2 * params.max_shift_frames + 1 and np.all(np.diff(estimate.shifts_s) > 0)
    assert estimate.offset_s in estimate.shifts_s and np.all(np.isfinite(estimate.scores))
    assert estimate.confidence >= 0 and np.isfinite(estimate.consistency)
    assert estimate.confidence == 0 or estimate.consistency >= MIN_HALF_SUPPORT  # both halves bear it out

    # a track too short for the ±15-frame search (a copy of the first 30 frames) is skipped, and the
    # progress still reaches the last track
    import dataclasses

    head = 30
    fields = ("frame", "time_s", "box", "landmarks", "score", "detected")
    with_short = dataclasses.replace(
        tracks,
        track=np.concatenate([tracks.track, np.ones(head, np.int64)]),
        track_shot=np.concatenate([tracks.track_shot, tracks.track_shot[:1]]),
        **{name: np.concatenate([getattr(tracks, name), getattr(tracks, name)[:head]]) for name in fields},
    )
    heard = []
    found = LipSyncModelResource(checkpoint=str(out)).track_offsets(clip, with_short, params, progress=lambda *done: heard.append(done))
    assert [e.track for e in found] == [0] and found[0].offset_s == estimate.offset_s
    assert heard == [(1, 2), (2, 2)]

    # continuing from it gives another checkpoint, hence another identity (the offsets go stale)
    again = tmp_path / "model" / "syncnet-2.pt"
    assert main(["train-lipsync", str(clip), "--out", str(again), "--steps", "1", "--batch", "2", "--init", str(out)]) == 0
    assert LipSyncModelResource(checkpoint=str(again)).identity(params) != trained


def test_a_wrong_checkpoint_fails_clearly_in_the_resource(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a state dict")
    with pytest.raises(CheckpointError, match="not a PyTorch state dict"):
        LipSyncModelResource(checkpoint=str(bad)).track_offsets(bad, None, LipSyncParams())


def test_training_refuses_an_output_or_start_it_cannot_use_before_any_work(tmp_path, real_media, capsys):
    clip = real_media / "talking_heads" / "grid" / "bbaf2n.mpg"
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    assert main(["train-lipsync", str(clip), "--out", str(blocker / "syncnet.pt")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"dubsync train-lipsync: cannot write --out {blocker / 'syncnet.pt'}: cannot make {blocker}")
    assert main(["train-lipsync", str(clip), "--out", str(tmp_path / "m.pt"), "--init", str(tmp_path / "none.pt")]) == 2
    captured = capsys.readouterr()
    assert f"--init {tmp_path / 'none.pt'} is not a file" in captured.err
    assert "building training windows" not in captured.out  # refused before any work


def test_training_without_clips_says_so(tmp_path, capsys):
    assert main(["train-lipsync", str(tmp_path), "--out", str(tmp_path / "x.pt")]) == 2
    assert "no clips found" in capsys.readouterr().err
