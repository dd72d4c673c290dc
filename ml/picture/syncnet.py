"""SyncNet v2 (Chung & Zisserman, "Out of time: automated lip sync in the wild", 2016) in PyTorch.

The architecture is the published one, layer for layer, so that the public checkpoint
``syncnet_v2.model`` (a state dict with ``netcnnaud.*``, ``netfcaud.*``, ``netcnnlip.*`` and
``netfclip.*`` keys) loads unchanged from a local path; nothing here downloads weights.

Two towers map 0.2 s of each modality to a 1024-d embedding:

- audio: 13 MFCCs × 20 steps (100 Hz, 16 kHz audio) → ``netcnnaud`` → ``netfcaud``;
- lips: 5 RGB frames (25 fps) of a 224 × 224 face crop → ``netcnnlip`` → ``netfclip``.

In sync, the embeddings of a video window and of the audio window at the same time are close.
For each video window, the distances to the audio windows shifted by −15 … +15 frames give a
distance curve; the track's offset is the argmin of the curve averaged over its windows, and the
confidence is the curve's median minus its minimum (SyncNet's own measure), or 0 where the track's
two halves do not both bear the offset out (:func:`half_support`).

Sign convention (docs/design.md): positive offset = the audio leads the picture (is early).

Importing this module imports PyTorch (the network is an ``nn.Module``): code that Dagster loads
imports it inside the functions that run the model, so the code location stays fast to load.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ml.errors import CheckpointError, ParameterError

__all__ = [
    "READING",
    "AUDIO_RATE",
    "VIDEO_FPS",
    "MFCC_STEPS_PER_FRAME",
    "SyncNet",
    "SyncCurve",
    "load_syncnet",
    "checkpoint_identity",
    "mfcc_features",
    "audio_windows",
    "lip_windows",
    "lip_embeddings",
    "distance_curve",
    "shift_distances",
    "half_support",
    "contrastive_loss",
    "syncnet_track_offsets",
]

READING = "halves/2"
"""How a checkpoint is run on a track and its distance curve read into an offset and a confidence;
part of the lip-sync offsets' code version (bump when it changes: /2, the track's crops taken at 25
fps, :func:`at_25_fps`, where a faster or slower track's own frames were windowed; /1, no confidence
unless both halves of the track bear the offset out; before it, median − min alone)."""
AUDIO_RATE = 16_000
"""Audio sample rate of the MFCC front end (Hz), as SyncNet was trained."""
VIDEO_FPS = 25
"""Video frame rate SyncNet windows assume: 5 frames = 0.2 s."""
MFCC_STEPS_PER_FRAME = 4
"""MFCC steps (100 Hz) per video frame (25 fps)."""
WINDOW_FRAMES = 5
"""Video frames per lip window (0.2 s)."""
MFCC_STEPS = 20
"""MFCC steps per audio window (0.2 s)."""
N_MFCC = 13
CROP_SIZE = 224
"""Side of the square face crop the lip tower takes, pixels."""
EMBEDDING_SIZE = 1024


def _torch():
    import torch

    return torch


def _build_towers():
    """The four published sub-networks, with their ``nn.Sequential`` indices (the state-dict keys)."""
    from torch import nn

    netcnnaud = nn.Sequential(
        nn.Conv2d(1, 64, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)),
        nn.BatchNorm2d(64),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=(1, 1), stride=(1, 1)),
        nn.Conv2d(64, 192, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)),
        nn.BatchNorm2d(192),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=(3, 3), stride=(1, 2)),
        nn.Conv2d(192, 384, kernel_size=(3, 3), padding=(1, 1)),
        nn.BatchNorm2d(384),
        nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, kernel_size=(3, 3), padding=(1, 1)),
        nn.BatchNorm2d(256),
        nn.ReLU(inplace=True),
        nn.Conv2d(256, 256, kernel_size=(3, 3), padding=(1, 1)),
        nn.BatchNorm2d(256),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=(3, 3), stride=(2, 2)),
        nn.Conv2d(256, 512, kernel_size=(5, 4), padding=(0, 0)),
        nn.BatchNorm2d(512),
        nn.ReLU(),
    )
    netfcaud = nn.Sequential(
        nn.Linear(512, 512),
        nn.BatchNorm1d(512),
        nn.ReLU(),
        nn.Linear(512, EMBEDDING_SIZE),
    )
    netcnnlip = nn.Sequential(
        nn.Conv3d(3, 96, kernel_size=(5, 7, 7), stride=(1, 2, 2), padding=0),
        nn.BatchNorm3d(96),
        nn.ReLU(inplace=True),
        nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2)),
        nn.Conv3d(96, 256, kernel_size=(1, 5, 5), stride=(1, 2, 2), padding=(0, 1, 1)),
        nn.BatchNorm3d(256),
        nn.ReLU(inplace=True),
        nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
        nn.Conv3d(256, 256, kernel_size=(1, 3, 3), padding=(0, 1, 1)),
        nn.BatchNorm3d(256),
        nn.ReLU(inplace=True),
        nn.Conv3d(256, 256, kernel_size=(1, 3, 3), padding=(0, 1, 1)),
        nn.BatchNorm3d(256),
        nn.ReLU(inplace=True),
        nn.Conv3d(256, 256, kernel_size=(1, 3, 3), padding=(0, 1, 1)),
        nn.BatchNorm3d(256),
        nn.ReLU(inplace=True),
        nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2)),
        nn.Conv3d(256, 512, kernel_size=(1, 6, 6), padding=0),
        nn.BatchNorm3d(512),
        nn.ReLU(inplace=True),
    )
    netfclip = nn.Sequential(
        nn.Linear(512, 512),
        nn.BatchNorm1d(512),
        nn.ReLU(),
        nn.Linear(512, EMBEDDING_SIZE),
    )
    return netcnnaud, netfcaud, netcnnlip, netfclip


def _module_base():
    from torch import nn

    return nn.Module


class SyncNet(_module_base()):
    """The SyncNet v2 network: ``forward_audio`` and ``forward_lip`` give 1024-d embeddings."""

    def __init__(self):
        super().__init__()
        self.netcnnaud, self.netfcaud, self.netcnnlip, self.netfclip = _build_towers()

    def forward_audio(self, mfcc):
        """Embeddings of audio windows [shape=(N, 1, 13, 20)] → [shape=(N, 1024)]."""
        mid = self.netcnnaud(mfcc)
        return self.netfcaud(mid.reshape(mid.shape[0], -1))

    def forward_lip(self, frames):
        """Embeddings of lip windows [shape=(N, 3, 5, 224, 224)] → [shape=(N, 1024)]."""
        mid = self.netcnnlip(frames)
        return self.netfclip(mid.reshape(mid.shape[0], -1))

    def forward(self, mfcc, frames):
        return self.forward_audio(mfcc), self.forward_lip(frames)


# keys the public checkpoint may lack: PyTorch added BatchNorm's counter after it was saved
_OPTIONAL_SUFFIXES = (".num_batches_tracked",)


def load_syncnet(path: str | Path) -> SyncNet:
    """A :class:`SyncNet` in eval mode with the weights of the state dict at ``path``.

    Every key of the published architecture must be present with its exact shape and no other key
    may be there (BatchNorm's ``num_batches_tracked`` counters, which the public checkpoint predates,
    are optional). Anything else raises :class:`CheckpointError` naming the file and what differs.
    """
    torch = _torch()
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "no such checkpoint file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's checkpoint problem
        raise CheckpointError(path, f"not a PyTorch state dict ({type(exc).__name__}: {exc})") from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(path, "expected a state dict of tensors (netcnnaud.*, netfcaud.*, netcnnlip.*, netfclip.*)")
    model = SyncNet()
    expected = model.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith(_OPTIONAL_SUFFIXES)]
    unexpected = [k for k in state if k not in expected]
    wrong = [
        f"{k} {tuple(state[k].shape)} (expected {tuple(expected[k].shape)})"
        for k in expected
        if k in state and tuple(state[k].shape) != tuple(expected[k].shape)
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys ({', '.join(missing[:4])}{', …' if len(missing) > 4 else ''})")
    if unexpected:
        problems.append(
            f"{len(unexpected)} unexpected keys ({', '.join(unexpected[:4])}{', …' if len(unexpected) > 4 else ''})"
        )
    if wrong:
        problems.append(f"{len(wrong)} shapes differ ({'; '.join(wrong[:3])}{'; …' if len(wrong) > 3 else ''})")
    if problems:
        raise CheckpointError(path, "not a SyncNet v2 state dict: " + "; ".join(problems))
    model.load_state_dict(state, strict=False)  # strictness checked above, counters optional
    return model.eval()


def checkpoint_identity(path: str | Path) -> str:
    """SHA-256 of the checkpoint file: part of the lip-sync assets' code_version."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def mfcc_features(audio: np.ndarray, sample_rate: int = AUDIO_RATE) -> np.ndarray:
    """13 MFCCs at 100 Hz of mono audio, as SyncNet's front end computes them.

    25 ms rectangular frames every 10 ms (512-point FFT), 26 HTK mel bands up to 8 kHz, natural log
    of the band energies, orthonormal DCT-II, cepstral lifter 22, and the first coefficient replaced
    by the frame's log energy (the python_speech_features recipe the public checkpoint was trained
    on), computed with librosa's mel filter bank.

    Returns
    -------
    mfcc : np.ndarray [shape=(13, n_steps), dtype=float32]
        Step k covers samples [160 k, 160 k + 400) at 16 kHz.
    """
    import librosa
    import scipy.fft

    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ParameterError(f"audio must be mono with shape (n,), got {audio.shape}")
    if sample_rate != AUDIO_RATE:
        audio = librosa.resample(audio, orig_sr=sample_rate, target_sr=AUDIO_RATE)
    # python_speech_features works on 16-bit sample values with a 0.97 pre-emphasis
    signal = audio.astype(np.float64) * 32768.0
    signal = np.append(signal[:1], signal[1:] - 0.97 * signal[:-1])
    win, hop, n_fft = 400, 160, 512
    if signal.size < win:
        return np.zeros((N_MFCC, 0), dtype=np.float32)
    n_steps = 1 + (signal.size - win) // hop
    frames = np.lib.stride_tricks.sliding_window_view(signal, win)[::hop][:n_steps]
    power = np.abs(np.fft.rfft(frames, n=n_fft, axis=1)) ** 2 / n_fft
    mel = librosa.filters.mel(sr=AUDIO_RATE, n_fft=n_fft, n_mels=26, fmin=0.0, fmax=8000.0, htk=True, norm=None)
    energy = np.maximum(power.sum(axis=1), np.finfo(float).eps)
    bands = np.maximum(power @ mel.T, np.finfo(float).eps)
    cepstra = scipy.fft.dct(np.log(bands), type=2, axis=1, norm="ortho")[:, :N_MFCC]
    lift = 1 + (22 / 2.0) * np.sin(np.pi * np.arange(N_MFCC) / 22)
    cepstra *= lift
    cepstra[:, 0] = np.log(energy)
    return cepstra.T.astype(np.float32)


def audio_windows(mfcc: np.ndarray, n_video_frames: int) -> np.ndarray:
    """Audio windows aligned with video frames: window i is MFCC steps [4 i, 4 i + 20) (0.2 s from
    video frame i); steps past the end are zero.

    Returns
    -------
    windows : np.ndarray [shape=(n_video_frames - 4, 1, 13, 20), dtype=float32]
    """
    n = max(n_video_frames - WINDOW_FRAMES + 1, 0)
    need = MFCC_STEPS_PER_FRAME * (n - 1) + MFCC_STEPS if n else 0
    if mfcc.shape[1] < need:
        mfcc = np.pad(mfcc, ((0, 0), (0, need - mfcc.shape[1])))
    out = np.empty((n, 1, N_MFCC, MFCC_STEPS), dtype=np.float32)
    for i in range(n):
        start = MFCC_STEPS_PER_FRAME * i
        out[i, 0] = mfcc[:, start : start + MFCC_STEPS]
    return out


def lip_windows(crops: np.ndarray, starts: np.ndarray | None = None, *, dtype=np.float32) -> np.ndarray:
    """Lip windows of 5 consecutive face crops.

    Parameters
    ----------
    crops : np.ndarray [shape=(T, 224, 224, 3), dtype=uint8]
        RGB face crops at 25 fps.
    starts : np.ndarray [shape=(k,), dtype=int], optional
        First crop of each window wanted (default: every window, 0 … T − 5). Only these are copied:
        a window is 3 MB as float32.
    dtype : numpy dtype
        Of the windows (uint8 keeps training sets small).

    Returns
    -------
    windows : np.ndarray [shape=(k, 3, 5, 224, 224)]
        Pixel values 0…255, as the public checkpoint expects.
    """
    crops = np.asarray(crops)
    if crops.ndim != 4 or crops.shape[1:] != (CROP_SIZE, CROP_SIZE, 3):
        raise ParameterError(f"crops must have shape (T, {CROP_SIZE}, {CROP_SIZE}, 3), got {crops.shape}")
    n = max(len(crops) - WINDOW_FRAMES + 1, 0)
    starts = np.arange(n) if starts is None else np.asarray(starts, dtype=np.int64)
    if starts.size and (starts.min() < 0 or starts.max() >= n):
        raise ParameterError(f"window starts must be in 0..{n - 1} for {len(crops)} crops")
    if n == 0:
        return np.zeros((0, 3, WINDOW_FRAMES, CROP_SIZE, CROP_SIZE), dtype=dtype)
    windows = np.lib.stride_tricks.sliding_window_view(crops, WINDOW_FRAMES, axis=0)[starts]  # (k, H, W, 3, 5)
    return np.ascontiguousarray(windows.transpose(0, 3, 4, 1, 2), dtype=dtype)


def lip_embeddings(model, crops: Iterable[np.ndarray], *, batch: int = 16) -> np.ndarray:
    """Embeddings of the lip windows of a stream of face crops (window i: crops i … i + 4), computed
    ``batch`` windows at a time as the crops arrive, so that only a batch of windows and its crops
    are ever held: a whole track's windows, 3 MB each as float32, would be 9 GB for two minutes.

    Returns
    -------
    np.ndarray [shape=(max(T − 4, 0), 1024), dtype=float32]
    """
    torch = _torch()
    if batch < 1:
        raise ParameterError(f"batch={batch} must be >= 1")
    held: list[np.ndarray] = []
    out = []

    def embed(k: int) -> None:
        with torch.no_grad():
            out.append(model.forward_lip(torch.from_numpy(lip_windows(np.stack(held[: k + WINDOW_FRAMES - 1])))).numpy())
        del held[:k]

    for crop in crops:
        held.append(crop)
        if len(held) == batch + WINDOW_FRAMES - 1:
            embed(batch)
    if len(held) >= WINDOW_FRAMES:
        embed(len(held) - WINDOW_FRAMES + 1)
    return np.concatenate(out) if out else np.zeros((0, EMBEDDING_SIZE), np.float32)


@dataclass(frozen=True)
class SyncCurve:
    """The distance curve of one track and what it says.

    Attributes
    ----------
    shifts : np.ndarray [shape=(2 v + 1,), dtype=int64]
        Audio shift in video frames of each curve point; shift s compares video frame i with audio
        from frame i + s.
    distances : np.ndarray [shape=(2 v + 1,), dtype=float32]
        Distance averaged over the track's windows at each shift.
    offset_frames : int
        Positive = audio leads the picture: the sound of frame i comes ``offset_frames`` early.
    confidence : float
        median(distances) − min(distances).
    """

    shifts: np.ndarray
    distances: np.ndarray
    offset_frames: int
    confidence: float


def distance_curve(lip_embeddings: np.ndarray, audio_embeddings: np.ndarray, max_shift: int = 15) -> SyncCurve:
    """SyncNet's offset search between the embeddings of one track's video and audio windows.

    ``audio_embeddings[j]`` is the audio window starting at video frame j on the audio's own
    timeline; both arrays have one row per video window. Audio outside the track counts as missing.
    """
    lip = np.asarray(lip_embeddings, dtype=np.float32)
    aud = np.asarray(audio_embeddings, dtype=np.float32)
    if lip.ndim != 2 or lip.shape != aud.shape:
        raise ParameterError(f"embeddings must be two arrays of one shape (n, d); got {lip.shape} and {aud.shape}")
    if len(lip) == 0:
        raise ParameterError("no windows: a track needs at least 5 video frames")
    shifts = np.arange(-max_shift, max_shift + 1)
    sums = np.zeros(len(shifts))
    counts = np.zeros(len(shifts))
    for k, s in enumerate(shifts):
        lo, hi = max(0, -s), min(len(lip), len(aud) - s)
        if hi > lo:
            d = np.linalg.norm(lip[lo:hi] - aud[lo + s : hi + s], axis=1)
            sums[k], counts[k] = d.sum(), hi - lo
    with np.errstate(invalid="ignore"):
        distances = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    best = int(np.nanargmin(distances))
    # the sound of video frame i is found at audio frame i + s: s > 0 means the audio comes late
    offset = -int(shifts[best])
    confidence = float(np.nanmedian(distances) - distances[best])
    return SyncCurve(shifts=shifts.astype(np.int64), distances=distances.astype(np.float32), offset_frames=offset, confidence=confidence)


def contrastive_loss(lip, audio, same, margin: float = 20.0):
    """SyncNet's contrastive loss: pairs in sync (``same`` = 1) are pulled together, shifted pairs
    (``same`` = 0) pushed at least ``margin`` apart (Euclidean distance of the embeddings)."""
    torch = _torch()
    distance = torch.linalg.vector_norm(lip - audio, dim=1)
    same = same.to(distance.dtype)
    return torch.mean(same * distance**2 + (1 - same) * torch.clamp(margin - distance, min=0) ** 2)


FACE_CROP_SCALE = 1.8
"""Side of the crop fed to the lip tower, in face-box widths, centred on the mouth: the whole lower
face with the chin, as SyncNet's face-tracked 224 × 224 crops show it."""


def _timed_audio_windows(mfcc: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Audio windows of 20 MFCC steps starting at step ``starts[i]`` (zeros outside the audio)
    [shape=(len(starts), 1, 13, 20)]."""
    out = np.zeros((len(starts), 1, N_MFCC, MFCC_STEPS), dtype=np.float32)
    for i, start in enumerate(starts):
        lo, hi = max(0, start), min(mfcc.shape[1], start + MFCC_STEPS)
        if hi > lo:
            out[i, 0, :, lo - start : hi - start] = mfcc[:, lo:hi]
    return out


def shift_distances(lip_embeddings: np.ndarray, audio_embeddings: np.ndarray, pairs: np.ndarray, complete: np.ndarray) -> np.ndarray:
    """Distance of the video windows to the audio windows at each shift, averaged over the pairs
    whose audio window lies wholly in the decoded audio.

    A window padded with zeros past either end of the audio is not evidence: counting it would draw
    the curve towards the shift where the fewest windows fall outside the audio (the shift at which
    the audio stream's span matches the picture's), whatever the picture shows.

    Parameters
    ----------
    lip_embeddings : np.ndarray [shape=(n, d)]
    audio_embeddings : np.ndarray [shape=(m, d)]
        Embeddings of the distinct audio windows.
    pairs : np.ndarray [shape=(n_shifts, n), dtype=int]
        Row of ``audio_embeddings`` paired with each video window at each shift (one shift at a time
        is gathered: all of them at once would be n_shifts × n × d floats).
    complete : np.ndarray [shape=(n_shifts, n), dtype=bool]
        Whether that audio window lies wholly in the audio.

    Returns
    -------
    distances : np.ndarray [shape=(n_shifts,), dtype=float64]; NaN where no pair is complete
    """
    lips = np.asarray(lip_embeddings)
    audio = np.asarray(audio_embeddings)
    distances = np.full(len(pairs), np.nan)
    for k, (paired, ok) in enumerate(zip(pairs, complete)):
        if ok.any():
            distances[k] = float(np.linalg.norm(lips[ok] - audio[paired[ok]], axis=1).mean())
    return distances


def half_support(
    lip_embeddings: np.ndarray, audio_embeddings: np.ndarray, pairs: np.ndarray, complete: np.ndarray, best: int,
    near: int = 2,
) -> float:
    """How well both halves of a track bear out shift ``best`` (an index of ``pairs``' rows, whose
    shifts are one frame apart): each half's video windows alone give a distance curve
    (:func:`shift_distances`), negated and standardised over the shifts; its highest value within
    ``near`` shifts of ``best``; the lower of the two halves (in standard deviations). The weight-free
    estimator's consistency (:func:`ml.picture.lipsync.half_support`) on SyncNet's curve: a track's sync
    is one constant, and a minimum made by one chance alignment shows in one half. A half with fewer
    than 2 windows, or no complete pair near ``best``, bears nothing out (−inf)."""
    from ml.picture.lipsync import curve_support

    n = len(np.asarray(lip_embeddings))
    if n < 4:
        return float("-inf")
    close = np.abs(np.arange(len(pairs)) - best) <= near
    support = np.inf
    for rows in (slice(0, n // 2), slice(n // 2, n)):
        curve = -shift_distances(lip_embeddings[rows], audio_embeddings, pairs[:, rows], complete[:, rows])
        support = min(support, curve_support(curve, close))
    return support


_INSTANT_TOLERANCE_S = 0.001
"""A frame at most this much after an instant is the frame shown then (timestamps are rounded)."""


def _instants(first_s: float, last_s: float) -> int:
    """How many 25-fps instants lie from ``first_s`` to ``last_s`` (both included)."""
    return int(np.floor((last_s - first_s + _INSTANT_TOLERANCE_S) * VIDEO_FPS)) + 1


def at_25_fps(frames: Iterable[tuple[float, np.ndarray]]) -> Iterator[tuple[float, np.ndarray]]:
    """(instant, image) at every 25-fps instant from the first frame's time to the last's: the frame
    shown then (the latest at or before it, as a player shows it), from (time, image) in time order.
    A 25-fps stream comes out as it went in; a faster one drops frames, a slower one repeats some."""
    held = first = last = None
    j = 0
    for time_s, image in frames:
        if first is None:
            first = time_s
        while held is not None and first + j / VIDEO_FPS < time_s - _INSTANT_TOLERANCE_S:
            yield first + j / VIDEO_FPS, held
            j += 1
        held, last = image, time_s
    if held is not None:
        while j < _instants(first, last):
            yield first + j / VIDEO_FPS, held
            j += 1


def syncnet_track_offsets(model, path, tracks, params, *, progress=None, batch: int = 16) -> list:
    """SyncNet's offset of every face track of the title file at ``path``.

    The track's crops are taken at 25 fps, as SyncNet was trained (:func:`at_25_fps`: the frame
    shown at each instant 40 ms apart from the track's first, as a player shows it; a 59.94-fps
    track's 5 consecutive frames were 83 ms where the audio window is 200 ms). Each video window (5
    of those frames from frame i) is compared with the audio windows that start at frame i's instant
    shifted by −max_shift … +max_shift frames (``max_shift_frames`` frames of 25 fps); the audio's
    start time in the container counts (stream timestamps), and audio windows reaching past either
    end of the audio are left out (:func:`shift_distances`). A track with no complete window at
    some shift (its audio is shorter than the search) is skipped. Returns ``ml.picture.lipsync.TrackSync``
    objects: offset = argmin of the window-averaged distance (positive = audio leads),
    confidence = median − min, 0 unless both halves of the track bear the offset out
    (:func:`half_support` below ``ml.picture.lipsync.MIN_HALF_SUPPORT``, as the weight-free estimator's;
    that bar was calibrated on the weight-free estimator's curves, not on a checkpoint's: no
    checkpoint could be loaded on the machine it was chosen on), and the curve as scores (the
    negated distances). ``progress`` is called with (tracks done, tracks).
    """
    import torch

    from ml.decoding.audio import AudioStream, iter_audio_blocks
    from ml.picture.faces import mouth_crops
    from ml.picture.lipsync import HALF_FRAMES, MIN_HALF_SUPPORT, TrackSync

    stats = AudioStream(info=None)  # type: ignore[arg-type]
    audio = np.concatenate(list(iter_audio_blocks(path, sample_rate=AUDIO_RATE, stats=stats)) or [np.zeros(0, np.float32)])
    mfcc = mfcc_features(audio)
    steps_per_s = AUDIO_RATE / 160
    results = []

    max_shift = params.max_shift_frames

    def one(track: int):
        """The track's TrackSync, or None when it is too short for the search."""
        track_times = tracks.time_s[tracks.rows(track)]
        if len(track_times) == 0 or _instants(float(track_times[0]), float(track_times[-1])) < WINDOW_FRAMES + 2 * max_shift:
            return None
        times = []

        def crops_of():
            crops = mouth_crops(path, tracks, track, size=CROP_SIZE, scale=FACE_CROP_SCALE, fields=params.read_fields)
            crops = ((time_s, crop) for _, time_s, crop in crops)
            for instant, crop in at_25_fps(crops):
                times.append(instant)
                yield crop

        lip_emb = lip_embeddings(model, crops_of(), batch=batch)
        times = np.asarray(times)
        if len(times) < WINDOW_FRAMES + 2 * max_shift:
            return None
        frame_s = float(np.median(np.diff(times)))
        starts = np.rint((times[: len(lip_emb)] - stats.start_time_s) * steps_per_s).astype(np.int64)
        step = int(round(frame_s * steps_per_s))
        shifts = np.arange(-max_shift, max_shift + 1)
        # the windows of neighbouring shifts overlap: embed each distinct audio window once
        unique, where = np.unique(starts[None, :] + shifts[:, None] * step, return_inverse=True)
        windows = _timed_audio_windows(mfcc, unique)
        with torch.no_grad():
            audio_emb = np.concatenate(
                [model.forward_audio(torch.from_numpy(windows[i : i + batch])).numpy() for i in range(0, len(windows), batch)]
            )
        pairs = where.reshape(len(shifts), len(starts))
        complete = ((unique >= 0) & (unique + MFCC_STEPS <= mfcc.shape[1]))[pairs]  # [shift, window]
        distances = shift_distances(lip_emb, audio_emb, pairs, complete)
        if np.isnan(distances).any():
            return None
        best = int(np.argmin(distances))
        consistency = half_support(lip_emb, audio_emb, pairs, complete, best, int(HALF_FRAMES))
        confidence = float(np.median(distances) - distances[best]) if consistency >= MIN_HALF_SUPPORT else 0.0
        # the sound of frame i is found ``shift`` frames later: a positive shift means it comes late
        return TrackSync(
            track=track,
            offset_s=float(-shifts[best] * frame_s),
            confidence=confidence,
            start_s=float(times[0]),
            end_s=float(times[-1]),
            n_frames=len(times),
            frame_rate=1.0 / frame_s,
            shifts_s=(-shifts * frame_s)[::-1].copy(),  # candidate offsets, ascending
            scores=(-distances)[::-1].copy(),
            consistency=consistency,
        )

    for track in range(tracks.n_tracks):
        found = one(track)
        if found is not None:
            results.append(found)
        if progress is not None:  # skipped tracks count as done: the last call is (n, n)
            progress(track + 1, tracks.n_tracks)
    return results
