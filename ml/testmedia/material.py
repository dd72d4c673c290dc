"""Test-media material: the sources a title is made of (:class:`MediaSources`: real music and speech
from ``media/``, CC0 effects, espeak-ng), their loading, and synthetic fallbacks for each.
"""

from __future__ import annotations

import functools
import math
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from scipy import signal

from ml.testmedia.specs import _SENTENCES, MIN_MUSIC_FILE_S, SONIC_PI_SAMPLES, _check_language, _check_rate
from ml.testmedia.truth import _rng

REAL_MEDIA = Path(__file__).resolve().parents[2] / "media"
"""The repository's folder of real clips (music, speech, talking heads, shot clips; sources and
licences in its ``SOURCES.md``): the default of ``$DUBSYNC_REAL_MEDIA`` and of every ``real_media``
argument."""


def real_media_folder() -> Path:
    """``$DUBSYNC_REAL_MEDIA`` if set (another copy of the same layout), else :data:`REAL_MEDIA`."""
    env = os.environ.get("DUBSYNC_REAL_MEDIA")
    return Path(env) if env else REAL_MEDIA

# --------------------------------------------------------------------------- material


@dataclass(frozen=True)
class MediaSources:
    """Where the generator takes real material from (any of them may be missing).

    Parameters
    ----------
    real_media : Path or None
        Folder with ``music/`` and ``speech/``; None or missing = synthetic music and no speech files.
    effects_dir : Path or None
        Folder of effect one-shots (``*.flac``); None or missing = synthetic effects.
    espeak : str or None
        The ``espeak-ng`` executable; None = synthetic speech for languages without files.
    """

    real_media: Path | None
    effects_dir: Path | None = SONIC_PI_SAMPLES
    espeak: str | None = None

    @classmethod
    def resolve(cls, real_media: Path | str | None = None) -> MediaSources:
        """Sources from the argument, ``$DUBSYNC_REAL_MEDIA`` or the repository's ``media/``."""
        if real_media is None:
            real_media = real_media_folder()
        return cls(Path(real_media), SONIC_PI_SAMPLES, shutil.which("espeak-ng"))

    def music_files(self) -> tuple[Path, ...]:
        """Long ``music/*.ogg`` files usable as beds, sorted."""
        return tuple(p for p in self._music_all() if sf.info(str(p)).duration >= MIN_MUSIC_FILE_S)

    def effect_files(self) -> tuple[Path, ...]:
        """Effect files: ``effects_dir/*.flac`` plus the short ``music/*.ogg`` files, sorted."""
        files: list[Path] = []
        if self.effects_dir is not None and self.effects_dir.is_dir():
            files += sorted(self.effects_dir.glob("*.flac"))
        files += [p for p in self._music_all() if sf.info(str(p)).duration < MIN_MUSIC_FILE_S]
        return tuple(files)

    def _music_all(self) -> list[Path]:
        if self.real_media is None or not (self.real_media / "music").is_dir():
            return []
        return sorted((self.real_media / "music").glob("*.ogg"))

    def speech_files(self, language: str) -> tuple[Path, ...]:
        """Speech recordings of ``language`` (``speech/<lang>.wav``; English adds ``*.hq.ogg``)."""
        if self.real_media is None or not (self.real_media / "speech").is_dir():
            return ()
        folder = self.real_media / "speech"
        files = [folder / f"{language}.wav"] if (folder / f"{language}.wav").is_file() else []
        if language == "en":
            files += sorted(folder.glob("*.hq.ogg"))
        return tuple(files)


@functools.lru_cache(maxsize=8)
def _DC_BLOCK(sr: int) -> np.ndarray:
    return signal.butter(2, 20.0, btype="highpass", fs=sr, output="sos")


@functools.lru_cache(maxsize=256)
def _load_file(path: str, sr: int, mono: bool) -> np.ndarray:
    """Decode an audio file to float32 at ``sr``: shape (n,) if mono else (2, n); read-only."""
    data, file_sr = sf.read(path, dtype="float32", always_2d=True)  # (n, ch)
    if mono:
        data = data.mean(axis=1, keepdims=True)
    elif data.shape[1] == 1:
        data = np.repeat(data, 2, axis=1)
    else:
        data = data[:, :2]
    if file_sr != sr:
        data = soxr.resample(np.ascontiguousarray(data), file_sr, sr, quality="HQ")
    # a 20-Hz high-pass removes DC: media/music/glacier-bay-humpback.hq.ogg carries a DC
    # offset of 0.36 full scale, which no delivered M&E would and which misleads waveform peers
    data = signal.sosfiltfilt(_DC_BLOCK(sr), data - data.mean(axis=0), axis=0)
    out = np.ascontiguousarray(data.T, dtype=np.float32)
    if mono:
        out = out[0]
    out.flags.writeable = False
    return out


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def _active_rms(x: np.ndarray, sr: int) -> float:
    """RMS over the 20-ms frames within 15 dB of the loudest frame; x shape (..., n)."""
    mono = x if x.ndim == 1 else x.mean(axis=0)
    hop = max(1, int(0.02 * sr))
    n = mono.size // hop
    if n == 0:
        return _rms(mono)
    energy = np.square(mono[: n * hop].reshape(n, hop), dtype=np.float64).mean(axis=1)
    active = energy[energy >= energy.max() * 10 ** (-15 / 10)]
    return float(np.sqrt(active.mean())) if active.size else 0.0


def _espeak(espeak: str, language: str, text: str) -> tuple[np.ndarray, int] | None:
    """Speak ``text``; returns (float32 samples, rate) or None when the voice is missing."""
    proc = subprocess.run([espeak, "-v", language, "--stdout", text], capture_output=True, timeout=60, check=False)
    data = proc.stdout
    pos = data.find(b"data")
    if proc.returncode != 0 or len(data) < 44 or data[:4] != b"RIFF" or pos < 0:
        return None
    rate = int.from_bytes(data[24:28], "little")
    payload = data[pos + 8 :]
    pcm = np.frombuffer(payload[: len(payload) // 2 * 2], dtype="<i2").astype(np.float32) / 32768.0
    return pcm, rate


def _synthetic_speech(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Speech-like signal: harmonic voice, syllable-rate envelope, random pitch contour.

    Returns
    -------
    ndarray, shape (n,), float32, peak about 0.5.
    """
    work_sr = 16000
    m = int(math.ceil(n * work_sr / sr)) + 1
    t = np.arange(m) / work_sr
    base_f0 = rng.uniform(95.0, 210.0)
    knots = np.arange(0.0, t[-1] + 0.5, 0.25)
    f0 = base_f0 * 2 ** (np.interp(t, knots, rng.normal(0.0, 0.18, knots.size)))
    phase = 2 * np.pi * np.cumsum(f0) / work_sr
    env = np.zeros(m)
    formant1 = np.zeros(m)
    formant2 = np.zeros(m)
    noise_env = np.zeros(m)
    pos = 0
    vowels = ((730, 1090), (270, 2290), (300, 870), (530, 1840), (640, 1190), (490, 1350))
    while pos < m:
        if rng.random() < 0.12:  # pause between phrases
            pos += int(rng.uniform(0.15, 0.5) * work_sr)
            continue
        length = int(rng.uniform(0.12, 0.32) * work_sr)
        seg = slice(pos, min(m, pos + length))
        k = seg.stop - seg.start
        u = np.linspace(0.0, 1.0, k, endpoint=False)
        env[seg] = np.sin(np.pi * u) ** 0.7 * rng.uniform(0.5, 1.0)
        f1, f2 = vowels[int(rng.integers(len(vowels)))]
        formant1[seg], formant2[seg] = f1, f2
        burst = min(k, int(0.03 * work_sr))
        if rng.random() < 0.6:
            noise_env[pos : pos + burst] = np.linspace(1.0, 0.0, burst) * rng.uniform(0.2, 0.5)
        pos += length
    voice = np.zeros(m)
    for h in range(1, 25):
        freq = h * f0
        gain = np.exp(-(((freq - formant1) / 120.0) ** 2)) + 0.6 * np.exp(-(((freq - formant2) / 180.0) ** 2))
        gain += 0.05 / h
        voice += gain * np.sin(h * phase) * (freq < work_sr / 2 - 500)
    sos = signal.butter(2, 2500, btype="highpass", fs=work_sr, output="sos")
    hiss = signal.sosfilt(sos, rng.standard_normal(m))
    y = voice * env + hiss * noise_env
    y = soxr.resample(y.astype(np.float32), work_sr, sr, quality="HQ")[:n]
    if y.size < n:
        y = np.pad(y, (0, n - y.size))
    peak = float(np.max(np.abs(y))) or 1.0
    return (0.5 * y / peak).astype(np.float32)


def speech_pool(language: str, sr: int, *, sources: MediaSources) -> np.ndarray:
    """Speech material of one language from which dialogue lines are cut.

    Parameters
    ----------
    language : str
        ISO 639-1 code.
    sr : int
        Sample rate of the result, Hz.
    sources : MediaSources
        Recordings are used if present, else ``espeak-ng`` if available, else a
        synthetic speech-like signal (deterministic per language).

    Returns
    -------
    ndarray, shape (n,), float32, read-only; a few tens of seconds of speech.
    """
    _check_language("language", language)
    _check_rate("sr", sr)
    return _speech_pool(language, sr, sources)


@functools.lru_cache(maxsize=32)
def _speech_pool(language: str, sr: int, sources: MediaSources) -> np.ndarray:
    pause = np.zeros(int(0.3 * sr), dtype=np.float32)
    parts: list[np.ndarray] = []
    for path in sources.speech_files(language):
        x = np.asarray(_load_file(str(path), sr, True))
        parts += [x / (_active_rms(x, sr) or 1.0), pause]
    if not parts and sources.espeak is not None:
        texts = _SENTENCES.get(language, _SENTENCES["en"])
        for text in texts:
            spoken = _espeak(sources.espeak, language, text)
            if spoken is None:
                parts = []
                break
            pcm, rate = spoken
            x = soxr.resample(pcm, rate, sr, quality="HQ").astype(np.float32)
            parts += [x / (_active_rms(x, sr) or 1.0), pause]
    if not parts:
        x = _synthetic_speech(int(45 * sr), sr, _rng("synthetic-speech", language))
        parts = [x / (_active_rms(x, sr) or 1.0)]
    pool = np.concatenate(parts).astype(np.float32)
    pool.flags.writeable = False
    return pool


def _synthetic_music(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """A music-like stereo excerpt (pad chords, plucked melody, kick and hat).

    Returns
    -------
    ndarray, shape (2, n), float32.
    """
    out = np.zeros((2, n), dtype=np.float32)
    beat = 60.0 / rng.uniform(70.0, 130.0)
    root = rng.integers(45, 58)
    scale = np.array([0, 2, 4, 7, 9, 12, 14, 16, 19, 21]) if rng.random() < 0.5 else np.array([0, 3, 5, 7, 10, 12, 15, 17, 19, 22])
    beat_n = int(beat * sr)

    def tone(freq: float, length: int, decay: float, harmonics: int) -> np.ndarray:
        t = np.arange(length) / sr
        y = sum(np.sin(2 * np.pi * freq * h * t + rng.uniform(0, 2 * np.pi)) / h**1.3 for h in range(1, harmonics + 1))
        return (y * np.exp(-decay * t) * np.minimum(1.0, t / 0.01)).astype(np.float32)

    pos = 0
    while pos < n:
        bar = min(4 * beat_n, n - pos)
        chord = root + scale[rng.choice(5, 3, replace=False)] - 12
        for note in chord:
            y = 0.25 * tone(440 * 2 ** ((note - 69) / 12), bar, 0.4, 4)
            pan = rng.uniform(0.3, 0.7)
            out[0, pos : pos + bar] += (1 - pan) * y
            out[1, pos : pos + bar] += pan * y
        for b in range(4):
            start = pos + b * beat_n
            if start >= n:
                break
            length = min(beat_n, n - start)
            note = root + scale[rng.integers(len(scale))] + 12
            y = 0.3 * tone(440 * 2 ** ((note - 69) / 12), length, 5.0, 6)
            out[:, start : start + length] += y
            if b % 2 == 0:
                t = np.arange(min(length, int(0.3 * sr))) / sr
                kick = 0.6 * np.sin(2 * np.pi * (50 * t + 70 * (1 - np.exp(-t * 30)) / 30)) * np.exp(-t * 12)
                out[:, start : start + t.size] += kick.astype(np.float32)
            hat_len = min(length, int(0.04 * sr))
            hat = rng.standard_normal(hat_len).astype(np.float32) * np.linspace(0.15, 0, hat_len, dtype=np.float32)
            out[:, start : start + hat_len] += hat
        pos += bar
    return out


def _synthetic_effect(sr: int, rng: np.random.Generator) -> np.ndarray:
    """A short synthetic effect (noise burst, chirp or metallic hit); shape (2, n)."""
    kind = rng.integers(3)
    n = int(rng.uniform(0.2, 1.5) * sr)
    t = np.arange(n) / sr
    if kind == 0:
        y = rng.standard_normal(n) * np.exp(-t * rng.uniform(3, 15))
    elif kind == 1:
        f0, f1 = rng.uniform(200, 3000, 2)
        y = signal.chirp(t, f0, t[-1], f1) * np.hanning(n)
    else:
        y = sum(np.sin(2 * np.pi * f * t) for f in rng.uniform(300, 5000, 5)) * np.exp(-t * 6)
    y = y.astype(np.float32)
    return np.stack([y, y])


