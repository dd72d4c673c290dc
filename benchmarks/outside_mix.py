"""Deliveries mixed by a recipe of their own, outside ``ml.testmedia`` (issue 22's item 6).

The rows of :mod:`benchmarks.audio_sync` built by ``ml.testmedia`` share its choices with the code
they test: one recording per language, its bed pieces and levels, its remix, its phase vocoder,
its encoder wrapper. The rows of this module are built by another recipe, with its own code path,
so that a choice both sides share cannot flatter dubsync:

- **speech** from more than one source per language: the recordings of ``media/speech`` (English:
  ``en.wav`` and three LibriSpeech utterances; German, Spanish, Russian: one each) interleaved line
  by line with ``espeak-ng`` voices of that language (a different voice variant, speed and pitch per
  line; sentences below), each line normalised to its own level (−20 dBFS ± 2 dB active RMS);
- **beds** from the CC0 loops, drones and one-shots of Debian's ``sonic-pi-samples`` and the music
  of ``media/music``, cut with 20-ms fades (hard edits, not long cross-fades), effects every
  0.6-2.5 s panned at random; the bed sits 6-12 dB under the dialogue (RMS);
- **dialogue** continuous (lines 0.05-0.35 s apart) or with pauses of 0.5-2 s;
- **edits** made here: offsets as whole samples at 48 kHz, speed changes with the pitch shifted by a
  polyphase resampler (``scipy.signal.resample_poly``) or with the pitch kept by FFmpeg's WSOLA
  ``atempo`` filter (PyAV's filter graph; WSOLA moves each grain by up to a few ms, so the truth of a
  pitch-kept dub's start holds to about ±12 ms: its onsets against the resampled bed's were 4, −11
  and −3 ms off at 25/24, 24/25 and 1.001; over a programme the wander has a trend too, so the
  rate the stretched M&E actually plays at is measured, below), out-and-back as hard cuts of the bed, appended credits
  (another loop under espeak-ng credits);
- **remixes** made here: a three-band EQ by Butterworth band splitting (+4 dB under 200 Hz, −5 dB
  200 Hz-4 kHz, +6 dB above), an RMS compressor (3:1 over −26 dBFS, 50-ms window, 6 dB make-up),
  a reverb (convolution with 0.5 s of exponentially decaying noise, −9 dB wet), band-limiting to
  8 kHz by a round trip through 16 kHz, a mono or 5.1 delivery (dialogue in the centre, the bed in
  the four others);
- **encoding** by a small PyAV writer of its own: originals 24-bit WAV at 48 kHz, dubs AAC
  96 kbit/s, AC-3 384 kbit/s 5.1, MP3 160 kbit/s, FLAC. The encoder's delay is not assumed: each
  dub is decoded back and its shift against the mix (whole samples, by cross-correlation) enters
  its ground truth.

Ground truth as ``ml.testmedia``'s (``offset_s``, ``speed_ratio``, ``jumps``; positive = the dub
leads: the bed of reference time T is heard in the dub at T − offset), so the benchmark scores both
kinds of rows alike. A pitch-kept dub's truth also holds ``drift_ppm_measured``: the drift rate
(offset change per second of dub, ppm; nominally (``speed_ratio`` − 1) × 10⁶) that its stretched
M&E actually plays at, the slope of a line through the source position of every 0.2-s window of it
(every 0.5 s, by waveform correlation within ±30 ms of the nominal position). WSOLA's wander of
±10 ms does not average out over two minutes: on 120-s beds the measured rate of a 1.001 stretch
was 2-9 % off the nominal (−89 … +44 ppm), more than the 5 % a rate is to be judged by, so the
benchmark scores a pitch-kept dub's rate against the measured one (and reports the nominal too).
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import subprocess
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
from scipy import signal

from benchmarks._common import ROOT

__all__ = ["RECIPE_VERSION", "OutsideDub", "OutsideTitle", "build_outside_title"]

RECIPE_VERSION = "outside-mix/2"
"""2: a pitch-kept dub's truth holds the rate its M&E plays at, measured (``drift_ppm_measured``)."""
SR = 48000
SONIC_PI = Path("/usr/share/sonic-pi/samples")
MEDIA = ROOT / "media"
DIALOGUE_DBFS = -20.0
TEXTS = {
    "en": ("Nobody saw the boat leave the harbour that night.", "I told you the keys were in the kitchen drawer.",
           "We have three hours before the storm reaches the coast.", "Listen, this is not the time to argue about money.",
           "The train to the capital was cancelled again this morning.", "She kept the letter for twenty years without opening it."),
    "de": ("Niemand hat gesehen, wie das Boot in der Nacht den Hafen verließ.", "Ich habe dir gesagt, die Schlüssel liegen in der Küche.",
           "Wir haben drei Stunden, bevor der Sturm die Küste erreicht.", "Hör zu, jetzt ist nicht die Zeit, über Geld zu streiten.",
           "Der Zug in die Hauptstadt fiel heute Morgen wieder aus.", "Sie hat den Brief zwanzig Jahre lang nicht geöffnet."),
    "es": ("Nadie vio salir el barco del puerto aquella noche.", "Te dije que las llaves estaban en el cajón de la cocina.",
           "Tenemos tres horas antes de que la tormenta llegue a la costa.", "Escucha, no es momento de discutir por dinero.",
           "El tren a la capital se canceló otra vez esta mañana.", "Guardó la carta veinte años sin abrirla."),
    "ru": ("Никто не видел, как лодка ушла из гавани той ночью.", "Я же сказал, что ключи лежат в ящике на кухне.",
           "У нас три часа, пока шторм не дойдёт до берега.", "Послушай, сейчас не время спорить о деньгах.",
           "Поезд в столицу сегодня утром снова отменили.", "Она хранила письмо двадцать лет и так его и не открыла."),
}  # fmt: skip
CREDITS = {"de": "Deutsche Fassung. Dialogbuch und Regie. Sprecher.", "es": "Versión en español. Dirección de doblaje. Reparto.",
           "ru": "Русский дубляж. Режиссёр дубляжа. Роли озвучивали.", "en": "English version. Dubbing director. Cast."}  # fmt: skip
VOICE_VARIANTS = ("m1", "m3", "m5", "f1", "f2", "f4", "klatt", "croak")
EFFECT_PREFIXES = ("drum_", "perc_", "elec_", "bd_", "sn_", "glitch_", "vinyl_", "tabla_", "misc_")
BED_PREFIXES = ("loop_", "ambi_")


@dataclass(frozen=True)
class OutsideDub:
    """One dub of an outside-recipe title.

    ``offset_s`` must be whole samples at 48 kHz (it is rounded to them); ``speed_ratio`` the
    programme's speed (dub time t holds reference time ratio × t + offset); ``tempo``: ``"pitch"``
    (resampled, pitch shifted) or ``"kept"`` (WSOLA, pitch kept); ``jumps`` as the truth's
    ((reference time, new offset), ...); ``remix`` a subset of ("eq", "compress", "reverb",
    "band8k"); ``layout`` "stereo", "mono" or "5.1"; ``codec`` "aac", "ac3", "mp3", "flac"."""

    language: str
    offset_s: float = 0.0
    speed_ratio: float = 1.0
    tempo: str = "pitch"
    jumps: tuple[tuple[float, float], ...] = ()
    remix: tuple[str, ...] = ()
    layout: str = "stereo"
    codec: str = "aac"
    bitrate: int | None = None
    credits_s: float = 0.0
    gain_db: float = 0.0


@dataclass(frozen=True)
class OutsideTitle:
    """An outside-recipe title: an English original and its dubs."""

    title_id: str
    duration_s: float
    dubs: tuple[OutsideDub, ...]
    seed: int
    bed_db: float = -9.0
    """Bed RMS relative to the dialogue's (−6 … −12 dB)."""
    continuous: bool = True
    original_language: str = "en"
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def key(self) -> str:
        return hashlib.sha256(f"{RECIPE_VERSION}:{self!r}".encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- material


def _read(path: Path) -> np.ndarray:
    """A file as float32 [shape=(channels, n)] at 48 kHz (PyAV decode, polyphase resampling)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.rate
        parts = [frame.to_ndarray() for frame in container.decode(stream)]
    # to_ndarray is planar (channels, n) for planar formats, interleaved (1, n*channels) otherwise
    channels = stream.channels
    x = np.concatenate([p if p.shape[0] == channels else p.reshape(-1, channels).T for p in parts], axis=1)
    if np.issubdtype(x.dtype, np.integer):
        x = x.astype(np.float32) / np.float32(np.iinfo(x.dtype).max + 1)
    if rate != SR:
        frac = Fraction(SR, rate)
        x = signal.resample_poly(x, frac.numerator, frac.denominator, axis=1).astype(np.float32)
    return x.astype(np.float32)


def _espeak(language: str, text: str, variant: str, speed: int, pitch: int, cache: Path) -> np.ndarray:
    """One espeak-ng line, mono [shape=(n,)] at 48 kHz (cached as the WAV espeak-ng wrote)."""
    name = hashlib.sha256(f"{language}+{variant}:{speed}:{pitch}:{text}".encode()).hexdigest()[:16]
    out = cache / "espeak" / f"{name}.wav"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["espeak-ng", "-v", f"{language}+{variant}", "-s", str(speed), "-p", str(pitch), "-w", str(out), text],
                              capture_output=True, timeout=60, check=False)  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"espeak-ng failed for {language}: {done.stderr.decode()[:200]}")
    return _read(out).mean(axis=0)


def _recordings(language: str) -> list[np.ndarray]:
    folder = MEDIA / "speech"
    files = [folder / f"{language}.wav"] + (sorted(folder.glob("*.hq.ogg")) if language == "en" else [])
    return [_read(f).mean(axis=0) for f in files if f.exists()]


def _active_rms(x: np.ndarray) -> float:
    """RMS over the 20-ms windows within 30 dB of the loudest (speech without its pauses)."""
    w = int(0.02 * SR)
    n = len(x) // w
    if n == 0:
        return float(np.sqrt(np.mean(x**2)) + 1e-9)
    power = (x[: n * w].reshape(n, w) ** 2).mean(axis=1)
    return float(np.sqrt(power[power > power.max() * 1e-3].mean()) + 1e-9)


def _fades(x: np.ndarray, fade_s: float) -> np.ndarray:
    k = min(int(fade_s * SR), x.shape[-1] // 2)
    if k:
        ramp = np.linspace(0.0, 1.0, k, dtype=np.float32)
        x = x.copy()
        x[..., :k] *= ramp
        x[..., -k:] *= ramp[::-1]
    return x


def dialogue(language: str, n: int, rng: np.random.Generator, *, continuous: bool, cache: Path) -> np.ndarray:
    """``n`` samples of dialogue in ``language``, mono: lines alternating between the recordings
    (excerpts of 2-6 s) and espeak-ng sentences, each at −20 ± 2 dBFS active RMS."""
    recordings = _recordings(language)
    out = np.zeros(n, dtype=np.float32)
    pos = int(rng.uniform(0.2, 1.0) * SR)
    line = 0
    while pos < n:
        if recordings and line % 2 == 0:
            rec = recordings[int(rng.integers(len(recordings)))]
            length = min(len(rec), int(rng.uniform(2.0, 6.0) * SR))
            start = int(rng.integers(0, len(rec) - length + 1))
            piece = rec[start : start + length]
        else:
            text = TEXTS[language][int(rng.integers(len(TEXTS[language])))]
            variant = VOICE_VARIANTS[int(rng.integers(len(VOICE_VARIANTS)))]
            piece = _espeak(language, text, variant, int(rng.integers(135, 185)), int(rng.integers(30, 70)), cache)
        piece = _fades(piece.astype(np.float32), 0.015)
        piece *= 10 ** ((DIALOGUE_DBFS + rng.uniform(-2.0, 2.0)) / 20) / _active_rms(piece)
        m = min(len(piece), n - pos)
        out[pos : pos + m] += piece[:m]
        pos += len(piece) + int((rng.uniform(0.05, 0.35) if continuous else rng.uniform(0.5, 2.0)) * SR)
        line += 1
    return out


def _samples(prefixes: tuple[str, ...]) -> list[Path]:
    return sorted(p for p in SONIC_PI.glob("*.flac") if p.name.startswith(prefixes))


def bed(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of a stereo bed [shape=(2, n)]: loops, drones and music cut with 20-ms fades,
    and one-shot effects every 0.6-2.5 s; unit RMS (scaled by the caller)."""
    pieces = _samples(BED_PREFIXES) + sorted((MEDIA / "music").glob("*.hq.ogg"))
    effects = _samples(EFFECT_PREFIXES)
    if not pieces or not effects:
        raise RuntimeError(f"no bed material: install the Debian package sonic-pi-samples ({SONIC_PI}) and keep media/music")
    out = np.zeros((2, n), dtype=np.float32)
    pos = 0
    while pos < n:
        src = _read(pieces[int(rng.integers(len(pieces)))])
        src = np.vstack([src, src]) if src.shape[0] == 1 else src[:2]
        length = int(rng.uniform(5.0, 15.0) * SR)
        if src.shape[1] < length:  # a loop: tiled
            src = np.tile(src, (1, -(-length // src.shape[1])))
        start = int(rng.integers(0, src.shape[1] - length + 1))
        piece = _fades(src[:, start : start + length], 0.02)
        piece /= np.sqrt(np.mean(piece**2)) + 1e-9
        m = min(length, n - pos)
        out[:, pos : pos + m] += piece[:, :m] * np.float32(10 ** (rng.uniform(-3.0, 0.0) / 20))
        pos += length - int(0.02 * SR)
    pos = int(rng.uniform(0.1, 1.0) * SR)
    while pos < n:
        fx = _read(effects[int(rng.integers(len(effects)))]).mean(axis=0)[: 3 * SR]
        fx = fx / (np.sqrt(np.mean(fx**2)) + 1e-9) * np.float32(10 ** (rng.uniform(-4.0, 2.0) / 20))
        pan = rng.uniform(0.0, 1.0)
        m = min(len(fx), n - pos)
        out[0, pos : pos + m] += fx[:m] * np.float32(math.cos(pan * math.pi / 2))
        out[1, pos : pos + m] += fx[:m] * np.float32(math.sin(pan * math.pi / 2))
        pos += int(rng.uniform(0.6, 2.5) * SR)
    return out / (np.sqrt(np.mean(out**2)) + 1e-9)


# --------------------------------------------------------------------------- edits and remixes


def _resampled(x: np.ndarray, ratio: float) -> np.ndarray:
    """Played ``ratio`` times faster, pitch shifted: output j is input ratio × j (zero-phase
    polyphase filter, so no delay)."""
    frac = Fraction(ratio).limit_denominator(2000)
    return signal.resample_poly(x, frac.denominator, frac.numerator, axis=-1).astype(np.float32)


def _atempo(x: np.ndarray, ratio: float) -> np.ndarray:
    """Played ``ratio`` times faster with the pitch kept (FFmpeg's ``atempo``, WSOLA), stereo."""
    import av

    graph = av.filter.Graph()
    src = graph.add_abuffer(format="fltp", sample_rate=SR, layout="stereo")
    tempo = graph.add("atempo", f"{ratio:.9f}")
    sink = graph.add("abuffersink")
    src.link_to(tempo)
    tempo.link_to(sink)
    graph.configure()
    out = []
    step = 1 << 15
    for k in range(0, x.shape[1], step):
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(x[:, k : k + step]), format="fltp", layout="stereo")
        frame.sample_rate, frame.pts = SR, k
        src.push(frame)
        out += _drain(sink)
    src.push(None)
    out += _drain(sink)
    return np.concatenate(out, axis=1).astype(np.float32)


def _drain(sink) -> list[np.ndarray]:
    import av

    got = []
    while True:
        try:
            frame = sink.pull()
            y = frame.to_ndarray()  # packed formats come interleaved, shape (1, n × channels)
            got.append(y.reshape(-1, 2).T if y.shape[0] == 1 else y)
        except (av.error.BlockingIOError, av.error.EOFError, EOFError, BlockingIOError):
            return got


def _bands(x: np.ndarray, low_hz: float, high_hz: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lo = signal.butter(4, low_hz, "lowpass", fs=SR, output="sos")
    hi = signal.butter(4, high_hz, "highpass", fs=SR, output="sos")
    low = signal.sosfiltfilt(lo, x, axis=-1)
    high = signal.sosfiltfilt(hi, x, axis=-1)
    return low, x - low - high, high


def remixed(me: np.ndarray, effects: tuple[str, ...], rng: np.random.Generator) -> np.ndarray:
    """The bed as a studio's M&E of the dub may differ (see the module docstring); zero-phase
    filters, so the bed's timing is kept."""
    out = me.astype(np.float64)
    if "eq" in effects:
        low, mid, high = _bands(out, 200.0, 4000.0)
        out = low * 10 ** (4 / 20) + mid * 10 ** (-5 / 20) + high * 10 ** (6 / 20)
    if "compress" in effects:
        w = int(0.05 * SR)
        level = np.sqrt(signal.fftconvolve((out**2).mean(axis=0), np.ones(w) / w, mode="same").clip(1e-12))
        over = np.maximum(20 * np.log10(level) + 26.0, 0.0)
        out = out * 10 ** ((-over * (1 - 1 / 3) + 6.0) / 20)
    if "reverb" in effects:
        t = np.arange(int(0.5 * SR)) / SR
        ir = rng.standard_normal(len(t)) * np.exp(-6.9 * t / 0.5)
        ir *= 10 ** (-9 / 20) / np.sqrt(np.sum(ir**2))
        out = out + np.stack([signal.fftconvolve(ch, ir)[: out.shape[1]] for ch in out])
    if "band8k" in effects:
        out = signal.resample_poly(signal.resample_poly(out, 1, 3, axis=-1), 3, 1, axis=-1)[:, : me.shape[1]]
    return out.astype(np.float32)


# --------------------------------------------------------------------------- encoding

_CODECS = {"aac": ("aac", ".m4a", 96000), "ac3": ("ac3", ".ac3", 384000), "mp3": ("libmp3lame", ".mp3", 160000),
           "flac": ("flac", ".flac", None), "pcm24": ("pcm_s24le", ".wav", None)}  # fmt: skip
_LAYOUTS = {1: "mono", 2: "stereo", 6: "5.1"}


def encode(path: Path, x: np.ndarray, codec: str, bitrate: int | None = None) -> Path:
    """Encode ``x`` [shape=(channels, n)] at 48 kHz with PyAV; returns the file written."""
    import av

    name, ext, default_rate = _CODECS[codec]
    path = path.with_suffix(ext)
    layout = _LAYOUTS[x.shape[0]]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(name, rate=SR)
        stream.layout = layout
        if bitrate or default_rate:
            stream.bit_rate = bitrate or default_rate
        resampler = av.AudioResampler(format=stream.format.name, layout=layout, rate=SR)
        step = 4096
        for k in range(0, x.shape[1], step):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(np.clip(x[:, k : k + step], -1, 1)), format="fltp", layout=layout)
            frame.sample_rate, frame.pts, frame.time_base = SR, k, Fraction(1, SR)
            for out in resampler.resample(frame):
                container.mux(stream.encode(out))
        for out in resampler.resample(None):
            container.mux(stream.encode(out))
        container.mux(stream.encode(None))
    return path


def decoded_shift(path: Path, mix: np.ndarray) -> int:
    """How many samples later the decoded file plays the mix (its encoder's delay as a decoder
    leaves it), by cross-correlating the first 20 s of both, mono."""
    y = _read(path).mean(axis=0)[: 20 * SR]
    x = mix.mean(axis=0)[: 20 * SR]
    m = min(len(x), len(y))
    corr = signal.fftconvolve(y[:m], x[:m][::-1], mode="full")
    lags = np.arange(-m + 1, m)
    near = np.abs(lags) <= 4800
    return int(lags[near][np.argmax(corr[near])])


# --------------------------------------------------------------------------- titles


def _measured_drift_ppm(source: np.ndarray, stretched: np.ndarray, first: int, ratio: float) -> float | None:
    """The drift rate (ppm) that ``stretched`` (``source`` from sample ``first`` played ``ratio``
    times faster, so that its sample j is nominally the source's ``first`` + ``ratio`` × j) plays
    at: a line through each 0.2-s window's position in the source (every 0.5 s, found within
    ±30 ms of the nominal by normalised waveform correlation; windows correlating under 0.8, or
    silent, left out), whose slope is added to ``ratio`` − 1. None with under 20 windows."""
    x, y = source.mean(axis=0), stretched.mean(axis=0)
    width, reach = int(0.2 * SR), int(0.03 * SR)
    times, lags = [], []
    for j in range(SR, y.shape[0] - width, SR // 2):
        window = y[j : j + width]
        c0 = first + int(round(ratio * j))
        if c0 - reach < 0 or c0 + width + reach > len(x) or np.sqrt(np.mean(window**2)) < 1e-4:
            continue
        near = x[c0 - reach : c0 + width + reach]
        raw = signal.correlate(near, window, mode="valid")
        norm = np.sqrt(np.convolve(near**2, np.ones(width), mode="valid")) * np.linalg.norm(window) + 1e-12
        k = int(np.argmax(raw / norm))
        if raw[k] / norm[k] >= 0.8:
            times.append(j / SR)
            lags.append((k - reach + (c0 - first - ratio * j)) / SR)
    if len(times) < 20:
        return None
    slope = float(np.polyfit(times, lags, 1)[0])
    return (ratio - 1.0 + slope) * 1e6


def _segments(dub: OutsideDub, n_dub: int) -> list[tuple[int, int, float]]:
    """Constant-offset pieces of the dub: (first sample, end sample, offset s), as the truth's."""
    points = [(0, dub.offset_s)] + [(int(round((at - o) / dub.speed_ratio * SR)), o) for at, o in dub.jumps]
    return [(a, points[k + 1][0] if k + 1 < len(points) else n_dub, o) for k, (a, o) in enumerate(points)]


def build_outside_title(root: Path, spec: OutsideTitle, cache: Path) -> dict:
    """Write ``root/<title_id>/original.wav`` and ``dubs/<lang>.*``; returns the ground truth."""
    folder = root / spec.title_id
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "dubs").mkdir(parents=True)
    rng = np.random.default_rng(spec.seed)
    n = int(round(spec.duration_s * SR))
    reach = max([abs(d.offset_s) for d in spec.dubs] + [abs(o) for d in spec.dubs for _, o in d.jumps])
    reach += max(abs(d.speed_ratio - 1) for d in spec.dubs) * spec.duration_s + 2.0
    margin = int(math.ceil(reach * SR))
    me = bed(n + 2 * margin, rng) * np.float32(10 ** ((DIALOGUE_DBFS + spec.bed_db) / 20))
    speech = dialogue(spec.original_language, n, rng, continuous=spec.continuous, cache=cache)
    original = me[:, margin : margin + n] + speech
    encode(folder / "original", original, "pcm24")
    truth = {"title_id": spec.title_id, "duration_s": spec.duration_s, "recipe": RECIPE_VERSION,
             "bed_db": spec.bed_db, "continuous": spec.continuous, "dubs": {}}  # fmt: skip
    for dub in spec.dubs:
        measured = None
        n_dub = int(round(n / dub.speed_ratio))
        dub_me = np.zeros((2, n_dub), dtype=np.float32)
        for a, b, off in _segments(dub, n_dub):
            first = margin + int(round((dub.speed_ratio * a / SR + off) * SR))
            take = int(math.ceil((b - a) * dub.speed_ratio)) + SR
            piece = me[:, first : first + take]
            if dub.speed_ratio != 1.0:
                if dub.tempo == "kept":  # a second of lead-in (WSOLA's start), cut after
                    lead = int(round(SR / dub.speed_ratio))
                    piece = _atempo(me[:, first - SR : first + take], dub.speed_ratio)[:, lead:]
                else:
                    piece = _resampled(piece, dub.speed_ratio)
            piece = piece[:, : b - a]
            if dub.tempo == "kept" and dub.speed_ratio != 1.0 and not dub.jumps:
                measured = _measured_drift_ppm(me, piece, first, dub.speed_ratio)
            dub_me[:, a : a + piece.shape[1]] = _fades(piece, 0.004) if len(dub.jumps) else piece
        if dub.remix:
            dub_me = remixed(dub_me, dub.remix, rng)
        voice = dialogue(dub.language, n_dub, rng, continuous=spec.continuous, cache=cache)
        if dub.credits_s:
            extra = int(dub.credits_s * SR)
            tail = bed(extra, np.random.default_rng(spec.seed + 7)) * np.float32(10 ** ((DIALOGUE_DBFS + spec.bed_db) / 20))
            words = _espeak(dub.language, CREDITS[dub.language], "m3", 140, 45, cache)[:extra]
            words = words * np.float32(10 ** (DIALOGUE_DBFS / 20) / _active_rms(words))
            tail[:, : len(words)] += words
            dub_me = np.concatenate([dub_me, tail], axis=1)
            voice = np.concatenate([voice, np.zeros(extra, dtype=np.float32)])
        if dub.layout == "5.1":
            mix = np.zeros((6, dub_me.shape[1]), dtype=np.float32)
            mix[0], mix[1], mix[2] = dub_me[0], dub_me[1], voice  # FL FR FC LFE BL BR
            mix[4], mix[5] = dub_me[0] * 0.5, dub_me[1] * 0.5
        elif dub.layout == "mono":
            mix = (dub_me.mean(axis=0) + voice)[None, :]
        else:
            mix = dub_me + voice
        mix *= np.float32(10 ** (dub.gain_db / 20))
        path = encode(folder / "dubs" / dub.language, mix, dub.codec, dub.bitrate)
        shift = decoded_shift(path, mix) / SR
        record = {"file": str(path.relative_to(folder)), "offset_s": dub.offset_s - shift, "speed_ratio": dub.speed_ratio,
                  "tempo": dub.tempo if dub.speed_ratio != 1.0 else None, "remix": list(dub.remix), "layout": dub.layout,
                  "codec": dub.codec, "encoder_shift_s": shift}  # fmt: skip
        if measured is not None:
            record["drift_ppm_measured"] = measured
        if dub.jumps:
            record["jumps"] = [[at, o - shift] for at, o in dub.jumps]
        if dub.credits_s:
            record["appended_credits_s"] = dub.credits_s
        truth["dubs"][dub.language] = record
    (folder / "title.json").write_text(json.dumps({"original_language": spec.original_language}))
    return truth
