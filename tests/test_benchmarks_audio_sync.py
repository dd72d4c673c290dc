"""Helpers of the audio benchmark (benchmarks/audio_sync.py) that its figures rest on."""

from __future__ import annotations

import numpy as np

from benchmarks.audio_sync import pcm_copy
from ml.decoding.audio import load_audio
from ml.testmedia import write_audio


def test_the_pcm_copy_of_a_dub_holds_the_same_samples(tmp_path, rng):
    """The PCM row times a dub re-encoded as 16-bit WAV: the same channels, rate and samples as the
    lossless original (so the fingerprint is of the same audio), made once."""
    y = (0.3 * rng.standard_normal((2, 48000 * 3))).astype(np.float32)
    flac = write_audio(tmp_path / "fr.flac", y, 48000)
    wav = pcm_copy(flac)
    assert wav == tmp_path / "pcm" / "fr.wav" and not list(wav.parent.glob("*partial*"))
    import av

    with av.open(str(wav)) as container:
        stream = container.streams.audio[0]
        assert (stream.codec_context.name, stream.rate, stream.channels) == ("pcm_s16le", 48000, 2)
    a, _ = load_audio(flac, sample_rate=48000)
    b, _ = load_audio(wav, sample_rate=48000)
    assert len(a) == len(b) == 3 * 48000
    assert np.array_equal(a, b)
    made = wav.stat().st_mtime_ns
    assert pcm_copy(flac) == wav and wav.stat().st_mtime_ns == made
