"""The self-supervised training command writes a checkpoint that the model resource loads."""

import pytest

from ml.errors import CheckpointError
from ml.policy import LipSyncParams
from ml.syncnet import load_syncnet
from orchestration.cli import main
from resources.lipsync_model import LipSyncModelResource


def test_training_writes_a_checkpoint_the_model_resource_loads(tmp_path, shared_media, capsys):
    out = tmp_path / "model" / "syncnet.pt"
    clip = shared_media / "talking_heads" / "grid" / "bbaf2n.mpg"
    assert main(["train-lipsync", str(clip), "--out", str(out), "--steps", "2", "--batch", "2"]) == 0
    printed = capsys.readouterr().out
    assert "step 2/2: loss" in printed and f"DUBSYNC_LIPSYNC_CHECKPOINT={out}" in printed
    assert not list(out.parent.glob(".*.partial"))
    load_syncnet(out)  # strict: every published key with its shape
    params = LipSyncParams()
    trained = LipSyncModelResource(checkpoint=str(out)).identity(params)
    assert trained.startswith("syncnet-v2:") and trained != LipSyncModelResource().identity(params)

    # continuing from it gives another checkpoint, hence another identity (the offsets go stale)
    again = tmp_path / "model" / "syncnet-2.pt"
    assert main(["train-lipsync", str(clip), "--out", str(again), "--steps", "1", "--batch", "2", "--init", str(out)]) == 0
    assert LipSyncModelResource(checkpoint=str(again)).identity(params) != trained


def test_a_wrong_checkpoint_fails_clearly_in_the_resource(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a state dict")
    with pytest.raises(CheckpointError, match="not a PyTorch state dict"):
        LipSyncModelResource(checkpoint=str(bad)).track_offsets(bad, None, LipSyncParams())


def test_training_without_clips_says_so(tmp_path, capsys):
    assert main(["train-lipsync", str(tmp_path), "--out", str(tmp_path / "x.pt")]) == 2
    assert "no clips found" in capsys.readouterr().err
