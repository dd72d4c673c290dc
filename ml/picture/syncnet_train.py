"""Self-supervised training of SyncNet v2 on in-sync talking-head clips (no labels, no weights).

A clip whose sound is in sync with its picture teaches the model for free: a 5-frame video window
and the audio window at the same time are a positive pair; the same video window with audio
shifted by 2-15 frames is a negative pair. SyncNet's contrastive loss pulls positives together and
pushes negatives at least a margin apart. The result is a plain state dict with the published
keys, so :func:`ml.picture.syncnet.load_syncnet` (and the lip-sync model resource) loads it like the public
checkpoint.

Windows are built on stream timestamps: the audio window of video frame i starts at frame i's
presentation time, the container's audio start included.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ml.errors import ParameterError

__all__ = ["TrainingSet", "TrainingReport", "build_training_set", "train_syncnet"]

MIN_NEGATIVE_SHIFT = 2
"""Negatives are at least this many frames out of sync (one frame is within lip-sync tolerance)."""


@dataclass(frozen=True)
class TrainingSet:
    """Video windows of the clips' speaking faces with their audio, and the audio around them.

    Attributes
    ----------
    lips : np.ndarray [shape=(n, 3, 5, 224, 224), dtype=uint8]
        Lip windows (5 consecutive face crops).
    audio : np.ndarray [shape=(n, 2 v + 1, 1, 13, 20), dtype=float32]
        For each window, the audio windows shifted by −v … +v frames; index v is in sync.
    clips : list of str
        The clip each window came from (one entry per window).
    """

    lips: np.ndarray
    audio: np.ndarray
    clips: list

    @property
    def max_shift(self) -> int:
        return (self.audio.shape[1] - 1) // 2

    def __len__(self) -> int:
        return len(self.lips)


@dataclass(frozen=True)
class TrainingReport:
    """What a training run did: steps, the loss per step, and where the checkpoint went."""

    steps: int
    losses: list
    checkpoint: str
    windows: int


def build_training_set(
    clips: Sequence[str | Path],
    *,
    max_shift: int = 15,
    stride: int = 2,
    progress: Callable[[str], None] | None = None,
) -> TrainingSet:
    """Face windows and shifted audio windows of every in-sync clip (its longest face track).

    Parameters
    ----------
    clips : sequence of paths
        Talking-head clips whose own sound is in sync with the picture.
    max_shift : int
        Largest negative shift, frames.
    stride : int
        Take every ``stride``-th window of a track (neighbouring windows are nearly the same).
    """
    from ml.decoding.audio import AudioStream, iter_audio_blocks
    from ml.picture.faces import mouth_crops, track_faces
    from ml.picture.shots import shots_from_file
    from ml.picture.syncnet import (
        AUDIO_RATE,
        CROP_SIZE,
        FACE_CROP_SCALE,
        WINDOW_FRAMES,
        _timed_audio_windows,
        at_25_fps,
        lip_windows,
        mfcc_features,
    )
    from ml.policy import Policy

    if max_shift <= MIN_NEGATIVE_SHIFT:
        raise ParameterError(f"max_shift={max_shift} must exceed {MIN_NEGATIVE_SHIFT}")
    policy = Policy()
    lips_all, audio_all, names = [], [], []
    for clip in clips:
        clip = Path(clip)
        shots = shots_from_file(clip, policy.shots)
        tracks = track_faces(clip, shots, policy.faces)
        if tracks.n_tracks == 0:
            if progress is not None:
                progress(f"{clip.name}: no face track, skipped")
            continue
        longest = tracks.longest()
        crops, times = [], []
        # at 25 fps (interlaced pictures field by field), as the lip windows are read (ml.picture.syncnet.syncnet_track_offsets)
        found = mouth_crops(clip, tracks, longest, size=CROP_SIZE, scale=FACE_CROP_SCALE, fields=policy.lipsync.read_fields)
        found = ((time_s, crop) for _, time_s, crop in found)
        for time_s, crop in at_25_fps(found):
            crops.append(crop)
            times.append(time_s)
        stats = AudioStream(info=None)  # type: ignore[arg-type]
        sound = np.concatenate(list(iter_audio_blocks(clip, sample_rate=AUDIO_RATE, stats=stats)))
        mfcc = mfcc_features(sound)
        times = np.asarray(times)
        crops = np.stack(crops)
        windows = lip_windows(crops, np.arange(0, max(len(crops) - WINDOW_FRAMES + 1, 0), stride), dtype=np.uint8)
        steps_per_s = AUDIO_RATE / 160
        starts = np.rint((times[: len(windows) * stride : stride] - stats.start_time_s) * steps_per_s).astype(np.int64)
        step = int(round(float(np.median(np.diff(times))) * steps_per_s))
        shifted = np.stack(
            [_timed_audio_windows(mfcc, starts + s * step) for s in range(-max_shift, max_shift + 1)], axis=1
        )
        lips_all.append(windows)
        audio_all.append(shifted)
        names += [clip.name] * len(windows)
        if progress is not None:
            progress(f"{clip.name}: {len(windows)} windows of track {longest}")
    if not lips_all:
        raise ParameterError("no clip has a face track: nothing to train on")
    return TrainingSet(np.concatenate(lips_all), np.concatenate(audio_all), names)


def train_syncnet(
    data: TrainingSet,
    out: str | Path,
    *,
    steps: int = 200,
    batch: int = 8,
    learning_rate: float = 1e-4,
    margin: float = 20.0,
    init: str | Path | None = None,
    seed: int = 0,
    progress: Callable[[int, float], None] | None = None,
) -> TrainingReport:
    """Train SyncNet v2 with the contrastive loss and write its state dict to ``out``.

    Each step takes ``batch`` windows; each gives one positive pair and one negative pair (a
    random shift of ``MIN_NEGATIVE_SHIFT`` … ``max_shift`` frames, either way). ``init`` continues
    from a checkpoint. The state dict is written through a temporary file, so a killed run never
    leaves a half-written checkpoint.
    """
    import torch

    from ml.picture.syncnet import SyncNet, contrastive_loss, load_syncnet

    if steps < 1 or batch < 1:
        raise ParameterError(f"steps={steps} and batch={batch} must be >= 1")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = load_syncnet(init).train() if init else SyncNet().train()
    optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate)
    v = data.max_shift
    losses = []
    for step in range(1, steps + 1):
        idx = rng.choice(len(data), size=min(batch, len(data)), replace=len(data) < batch)
        magnitude = rng.integers(MIN_NEGATIVE_SHIFT, v + 1, size=len(idx))
        shift = np.where(rng.random(len(idx)) < 0.5, -magnitude, magnitude)
        lips = torch.from_numpy(data.lips[idx].astype(np.float32))
        lips = torch.cat([lips, lips])
        audio = torch.from_numpy(np.concatenate([data.audio[idx, v], data.audio[idx, v + shift]]))
        same = torch.cat([torch.ones(len(idx)), torch.zeros(len(idx))])
        audio_emb, lip_emb = model(audio, lips)
        loss = contrastive_loss(lip_emb, audio_emb, same, margin=margin)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        value = loss.item()
        losses.append(value)
        if progress is not None:
            progress(step, value)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    torch.save(model.state_dict(), partial)
    partial.replace(out)
    return TrainingReport(steps=steps, losses=losses, checkpoint=str(out), windows=len(data))
