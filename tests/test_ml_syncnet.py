import numpy as np
import pytest
import torch

from ml.errors import CheckpointError, ParameterError
from ml.picture.syncnet import (
    SyncNet,
    audio_windows,
    checkpoint_identity,
    contrastive_loss,
    distance_curve,
    lip_windows,
    load_syncnet,
    mfcc_features,
    shift_distances,
)

# Shapes of the public syncnet_v2.model state dict (joonson/syncnet_python), pinned by hand.
PUBLISHED_SHAPES = {
    "netcnnaud.0.weight": (64, 1, 3, 3),
    "netcnnaud.4.weight": (192, 64, 3, 3),
    "netcnnaud.8.weight": (384, 192, 3, 3),
    "netcnnaud.18.weight": (512, 256, 5, 4),
    "netcnnaud.19.running_var": (512,),
    "netfcaud.0.weight": (512, 512),
    "netfcaud.1.running_mean": (512,),
    "netfcaud.3.weight": (1024, 512),
    "netcnnlip.0.weight": (96, 3, 5, 7, 7),
    "netcnnlip.4.weight": (256, 96, 1, 5, 5),
    "netcnnlip.18.weight": (512, 256, 1, 6, 6),
    "netcnnlip.19.bias": (512,),
    "netfclip.3.bias": (1024,),
}
# conv/linear weight+bias, BatchNorm weight/bias/mean/var: 6 conv+6 BN per CNN tower, 2 linear+1 BN per FC tower
PUBLISHED_KEY_COUNT = 2 * (6 * 2 + 6 * 4) + 2 * (2 * 2 + 1 * 4)


def _published_state(seed=0):
    """A state dict like the public checkpoint: published keys and shapes, no BatchNorm counters."""
    torch.manual_seed(seed)
    state = {k: v.clone() for k, v in SyncNet().state_dict().items() if not k.endswith("num_batches_tracked")}
    for k, v in state.items():
        if v.is_floating_point():
            v.normal_() if not k.endswith("running_var") else v.uniform_(0.5, 1.5)
    return state


def test_architecture_has_the_published_keys_and_shapes():
    state = _published_state()
    assert len(state) == PUBLISHED_KEY_COUNT
    for key, shape in PUBLISHED_SHAPES.items():
        assert tuple(state[key].shape) == shape, key
    assert {k.split(".")[0] for k in state} == {"netcnnaud", "netfcaud", "netcnnlip", "netfclip"}


def test_published_state_dict_loads_and_embeds(tmp_path):
    state = _published_state()
    path = tmp_path / "syncnet_v2.model"
    torch.save(state, path)
    model = load_syncnet(path)
    assert not model.training
    assert torch.equal(model.netcnnlip[0].weight, state["netcnnlip.0.weight"])
    assert torch.equal(model.netfcaud[1].running_mean, state["netfcaud.1.running_mean"])
    with torch.no_grad():
        audio = model.forward_audio(torch.randn(2, 1, 13, 20))
        lips = model.forward_lip(torch.rand(2, 3, 5, 224, 224) * 255)
    assert audio.shape == lips.shape == (2, 1024)
    assert checkpoint_identity(path) != checkpoint_identity(_save(tmp_path / "other.model", _published_state(1)))


def _save(path, state):
    torch.save(state, path)
    return path


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda s: s.pop("netfclip.3.weight"), r"1 missing keys \(netfclip.3.weight\)"),
        (lambda s: s.__setitem__("netfclip.4.weight", torch.zeros(3)), r"1 unexpected keys \(netfclip.4.weight\)"),
        (
            lambda s: s.__setitem__("netcnnaud.18.weight", torch.zeros(512, 256, 4, 4)),
            r"netcnnaud.18.weight \(512, 256, 4, 4\) \(expected \(512, 256, 5, 4\)\)",
        ),
    ],
)
def test_a_wrong_state_dict_fails_clearly(tmp_path, change, message):
    state = _published_state()
    change(state)
    path = _save(tmp_path / "wrong.model", state)
    with pytest.raises(CheckpointError, match=r"wrong.model: not a SyncNet v2 state dict: .*" + message):
        load_syncnet(path)


def test_unreadable_or_missing_checkpoint_fails_clearly(tmp_path):
    with pytest.raises(CheckpointError, match="absent.model: no such checkpoint file"):
        load_syncnet(tmp_path / "absent.model")
    junk = tmp_path / "junk.model"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.model: not a PyTorch state dict"):
        load_syncnet(junk)
    tensor = _save(tmp_path / "tensor.model", torch.zeros(3))
    with pytest.raises(CheckpointError, match="tensor.model: expected a state dict of tensors"):
        load_syncnet(tensor)


def test_mfcc_front_end_is_13_coefficients_at_100_hz():
    rng = np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal(16_000)).astype(np.float32)
    mfcc = mfcc_features(audio)
    assert mfcc.shape == (13, 1 + (16_000 - 400) // 160)
    # a 44.1 kHz input is resampled to the 16 kHz front end: the same number of steps per second
    assert abs(mfcc_features(np.tile(audio[:441], 100), sample_rate=44_100).shape[1] - 98) <= 1
    # the first coefficient is the frame's log energy: 6 dB louder adds log(4)
    louder = mfcc_features(2 * audio)
    assert np.allclose(louder[0] - mfcc[0], np.log(4.0), atol=1e-4)
    with pytest.raises(ParameterError, match="mono"):
        mfcc_features(np.zeros((2, 100), np.float32))


def test_windows_follow_video_frames():
    mfcc = np.arange(13 * 100, dtype=np.float32).reshape(13, 100)
    windows = audio_windows(mfcc, n_video_frames=25)
    assert windows.shape == (21, 1, 13, 20)
    assert np.array_equal(windows[3, 0], mfcc[:, 12:32])
    crops = np.zeros((7, 224, 224, 3), np.uint8)
    crops[:, 0, 0, 0] = np.arange(7)
    lips = lip_windows(crops)
    assert lips.shape == (3, 3, 5, 224, 224)
    assert np.array_equal(lips[2, 0, :, 0, 0], [2, 3, 4, 5, 6])
    with pytest.raises(ParameterError, match="crops must have shape"):
        lip_windows(np.zeros((7, 112, 112, 3), np.uint8))
    # chosen windows only, in the dtype asked for
    picked = lip_windows(crops, np.array([2, 0]), dtype=np.uint8)
    assert picked.dtype == np.uint8 and np.array_equal(picked, lips[[2, 0]].astype(np.uint8))
    with pytest.raises(ParameterError, match="window starts must be in 0..2"):
        lip_windows(crops, np.array([3]))


def test_lip_embeddings_stream_in_batches_and_equal_the_whole_track_at_once():
    import tracemalloc

    from ml.picture.syncnet import SyncNet, lip_embeddings

    torch.manual_seed(0)
    model = SyncNet().eval()
    rng = np.random.default_rng(3)
    crops = rng.integers(0, 256, size=(14, 224, 224, 3), dtype=np.uint8)
    with torch.no_grad():
        whole = model.forward_lip(torch.from_numpy(lip_windows(crops))).numpy()
    tracemalloc.start()
    streamed = lip_embeddings(model, iter(crops), batch=4)  # 10 windows: batches of 4, 4 and 2
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert streamed.shape == (10, 1024)
    assert np.allclose(streamed, whole, atol=1e-4)
    window_bytes = 3 * 5 * 224 * 224 * 4
    assert peak < 6 * window_bytes  # a batch of 4 windows and its crops, not the 10 windows at once
    assert lip_embeddings(model, iter(crops[:4])).shape == (0, 1024)


@pytest.mark.parametrize("lag", [-7, -1, 0, 3, 15])
def test_distance_curve_finds_the_shift_with_the_sign_convention(lag):
    rng = np.random.default_rng(lag + 100)
    content = rng.standard_normal((120, 16)).astype(np.float32)
    lips = content[20:80]
    # the sound of video frame i sits at audio frame i + lag: lag > 0 means the audio is late (lags)
    audio = content[20 - lag : 80 - lag] + 0.1 * rng.standard_normal((60, 16)).astype(np.float32)
    curve = distance_curve(lips, audio)
    assert curve.offset_frames == -lag
    assert curve.confidence > 1.0
    assert curve.shifts.tolist() == list(range(-15, 16))


def test_shift_distances_leave_out_audio_windows_past_the_ends_of_the_audio():
    """Zero-padded windows past the audio's ends are no evidence: here they sit closer to the lips
    than the true pairs, and counted they would pick shift 0, where the audio stream's span matches
    the picture's."""
    rng = np.random.default_rng(7)
    n, d, truth = 20, 8, 3
    lips = rng.standard_normal((n, d))
    by_shift = lips[None] + rng.choice([-2.0, 2.0], size=(5, n, d)) / np.sqrt(d)  # distance 2 off sync
    by_shift[truth] = lips + 1.2 / np.sqrt(d)  # distance 1.2 in sync
    complete = np.ones((5, n), bool)
    complete[0, :10] = False  # shift 0: half the windows past the end, zeros that happen to embed near the lips
    by_shift[0, :10] = lips[:10]
    audio, pairs = by_shift.reshape(5 * n, d), np.arange(5 * n).reshape(5, n)  # each pair its own audio window
    everything = shift_distances(lips, audio, pairs, np.ones((5, n), bool))
    assert int(np.argmin(everything)) == 0  # what averaging every window did
    masked = shift_distances(lips, audio, pairs, complete)
    assert int(np.argmin(masked)) == truth
    assert masked[truth] == pytest.approx(1.2) and masked[0] == pytest.approx(2.0)
    complete[1] = False
    assert np.isnan(shift_distances(lips, audio, pairs, complete)[1])
    # neighbouring shifts share audio windows: the pairs index them, nothing is copied per shift
    shared = np.stack([np.arange(n) + k for k in range(5)])
    moved = shift_distances(lips, np.vstack([lips, lips[:4]]), shared, np.ones((5, n), bool))
    assert moved[0] == 0.0 and np.all(moved[1:] > 0)


def test_contrastive_loss_pulls_pairs_in_sync_and_pushes_shifted_ones():
    a = torch.randn(4, 8)
    assert contrastive_loss(a, a, torch.ones(4)).item() == 0.0
    assert contrastive_loss(a, a, torch.zeros(4), margin=2.0).item() == pytest.approx(4.0)
    far = a + 100.0
    assert contrastive_loss(a, far, torch.zeros(4), margin=2.0).item() == 0.0


def test_half_support_needs_both_halves_of_the_track():
    """A track's sync is one constant: the minimum both halves share is borne out; one made by the
    first half alone (the second half's minimum lies elsewhere) is not, and its confidence is 0."""
    from ml.picture.lipsync import MIN_HALF_SUPPORT
    from ml.picture.syncnet import half_support

    rng = np.random.default_rng(3)
    n, d, shifts = 40, 8, 31
    lips = rng.standard_normal((n, d))

    def audio_for(truth_first, truth_second):
        by_shift = lips[None] + rng.standard_normal((shifts, n, d)) * (2.0 / np.sqrt(d))
        by_shift[truth_first, : n // 2] = lips[: n // 2] + 0.3 / np.sqrt(d)
        by_shift[truth_second, n // 2 :] = lips[n // 2 :] + 0.3 / np.sqrt(d)
        return by_shift.reshape(shifts * n, d), np.arange(shifts * n).reshape(shifts, n)

    complete = np.ones((shifts, n), bool)
    audio, pairs = audio_for(15, 15)
    best = int(np.argmin(shift_distances(lips, audio, pairs, complete)))
    assert best == 15
    assert half_support(lips, audio, pairs, complete, best) > 3.0
    audio, pairs = audio_for(15, 4)  # the second half's sync 11 frames away
    assert half_support(lips, audio, pairs, complete, 15) < MIN_HALF_SUPPORT
    assert half_support(lips[:3], audio, pairs[:, :3], complete[:, :3], 15) == float("-inf")  # too short to halve


@pytest.mark.parametrize("fps", [25, 30000 / 1001, 60000 / 1001, 24, 50])
def test_crops_go_to_syncnet_at_25_fps(fps):
    # SyncNet's lip window is 5 frames of 25 fps (0.2 s, as its audio window): a 59.94-fps track's 5
    # consecutive frames were 83 ms; each 25-fps instant gets the frame a player shows then
    from ml.picture.syncnet import at_25_fps

    start, n = 3.17, int(round(4 * fps))
    times = start + np.round(np.arange(n) / fps, 3)  # millisecond timestamps, as Matroska keeps them
    frames = [(float(t), np.full((2, 2), i)) for i, t in enumerate(times)]
    out = list(at_25_fps(iter(frames)))
    instants = np.array([t for t, _ in out])
    assert instants[0] == start and np.allclose(np.diff(instants), 0.04)
    assert len(out) == int(np.floor((times[-1] - start + 0.001) * 25)) + 1  # every instant to the last frame's
    shown = [int(image[0, 0]) for _, image in out]
    assert shown == [int(np.searchsorted(times, t + 0.001, side="right")) - 1 for t in instants]
    if fps == 25:  # a 25-fps track goes in unchanged
        assert shown == list(range(n))
