"""Test-media specs: what a generated title and its dubs are (:class:`TitleSpec`, :class:`DubSpec`),
the generator's constants (levels, codecs, block sizes) and the validation of every field.

The time conventions and the ground truth are described in :mod:`ml.testmedia`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from av.codec.codec import UnknownCodecError

# --------------------------------------------------------------------------- constants

#: codec name (as accepted in specs) -> file extension of the landing-zone file
CODEC_EXTENSIONS: dict[str, str] = {
    "pcm_s16le": ".wav",
    "flac": ".flac",
    "aac": ".m4a",
    "ac3": ".ac3",
    "libmp3lame": ".mp3",
    "mp3": ".mp3",
}
LOSSY_CODECS = frozenset({"aac", "ac3", "libmp3lame", "mp3"})
_ENCODER_NAMES = {"mp3": "libmp3lame"}
_EXTENSION_CODECS = {
    ".wav": "pcm_s16le",
    ".flac": "flac",
    ".m4a": "aac",
    ".mp4": "aac",
    ".ac3": "ac3",
    ".mp3": "libmp3lame",
}
_CODEC_EXTENSION_SETS = {
    "pcm_s16le": {".wav"},
    "flac": {".flac"},
    "aac": {".m4a", ".mp4"},
    "ac3": {".ac3"},
    "libmp3lame": {".mp3"},
}
_MAX_CHANNELS = {"libmp3lame": 2}
#: encoder options: faster settings (these files are test material, not masters)
_ENCODER_OPTIONS = {"aac": {"aac_coder": "fast"}, "libmp3lame": {"compression_level": "7"}}
#: encoder priming (samples) that the container cannot signal and the writer removes
_RAW_PRIMING_SAMPLES = {"ac3": 256}
LAYOUTS: dict[int, str] = {1: "mono", 2: "stereo", 6: "5.1"}

BED_RMS_DBFS = -24.0
DIALOGUE_REL_DB = -3.0
ROOM_TONE_REL_DB = -30.0
EFFECTS_PER_BLOCK = 1.2
BLOCK_S = 10.0
CROSSFADE_S = 1.0
MIN_MUSIC_FILE_S = 20.0
MARGIN_S = 1.0
SONIC_PI_SAMPLES = Path("/usr/share/sonic-pi/samples")

GENERATOR_VERSION = 2
"""Bumped when the same spec would generate different media (2: DC removed from sources)."""
_LANG_RE = re.compile(r"^[a-z]{2,3}$")
_TITLE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_CHUNK = 1 << 16
_FRAC_HALF_TAPS = 32

_SENTENCES: dict[str, tuple[str, ...]] = {
    "en": (
        "The train leaves the station at seven in the morning.",
        "We should take the long road along the river tonight.",
        "Nobody told me that the museum closes early on Sundays.",
        "Please put the letters on the table next to the window.",
        "It has been raining in the mountains for three days.",
        "I will call you as soon as the meeting is over.",
    ),
    "de": (
        "Der Zug fährt um sieben Uhr morgens vom Bahnhof ab.",
        "Wir sollten heute Abend den langen Weg am Fluss nehmen.",
        "Niemand hat mir gesagt, dass das Museum sonntags früher schließt.",
        "Bitte leg die Briefe auf den Tisch neben dem Fenster.",
        "In den Bergen regnet es seit drei Tagen.",
        "Ich rufe dich an, sobald die Besprechung vorbei ist.",
    ),
    "es": (
        "El tren sale de la estación a las siete de la mañana.",
        "Esta noche deberíamos tomar el camino largo junto al río.",
        "Nadie me dijo que el museo cierra temprano los domingos.",
        "Por favor, deja las cartas en la mesa junto a la ventana.",
        "Lleva tres días lloviendo en las montañas.",
        "Te llamaré en cuanto termine la reunión.",
    ),
    "ru": (
        "Поезд отправляется со станции в семь часов утра.",
        "Сегодня вечером нам лучше поехать длинной дорогой вдоль реки.",
        "Никто не сказал мне, что по воскресеньям музей закрывается рано.",
        "Пожалуйста, положи письма на стол у окна.",
        "В горах идёт дождь уже три дня.",
        "Я позвоню тебе, как только закончится совещание.",
    ),
    "fr": (
        "Le train quitte la gare à sept heures du matin.",
        "Ce soir, nous devrions prendre la longue route le long de la rivière.",
        "Personne ne m'a dit que le musée ferme tôt le dimanche.",
        "Pose les lettres sur la table à côté de la fenêtre, s'il te plaît.",
        "Il pleut dans les montagnes depuis trois jours.",
        "Je t'appellerai dès que la réunion sera terminée.",
    ),
    "it": (
        "Il treno parte dalla stazione alle sette del mattino.",
        "Stasera dovremmo prendere la strada lunga lungo il fiume.",
        "Nessuno mi ha detto che il museo chiude presto la domenica.",
        "Per favore, metti le lettere sul tavolo vicino alla finestra.",
        "Piove in montagna da tre giorni.",
        "Ti chiamerò appena finisce la riunione.",
    ),
    "pt": (
        "O comboio sai da estação às sete da manhã.",
        "Esta noite devíamos ir pelo caminho longo ao longo do rio.",
        "Ninguém me disse que o museu fecha cedo aos domingos.",
        "Por favor, põe as cartas na mesa ao lado da janela.",
        "Está a chover nas montanhas há três dias.",
        "Eu ligo-te assim que a reunião acabar.",
    ),
    "nl": (
        "De trein vertrekt om zeven uur 's ochtends van het station.",
        "Vanavond moeten we de lange weg langs de rivier nemen.",
        "Niemand vertelde me dat het museum op zondag vroeg sluit.",
        "Leg de brieven alsjeblieft op de tafel naast het raam.",
    ),
    "pl": (
        "Pociąg odjeżdża ze stacji o siódmej rano.",
        "Dziś wieczorem powinniśmy pojechać długą drogą wzdłuż rzeki.",
        "Nikt mi nie powiedział, że muzeum w niedziele zamyka się wcześnie.",
        "Połóż proszę listy na stole przy oknie.",
    ),
    "ja": (
        "電車は朝七時に駅を出発します。",
        "今夜は川沿いの長い道を通りましょう。",
        "日曜日は博物館が早く閉まると誰も教えてくれませんでした。",
        "手紙は窓のそばの机の上に置いてください。",
        "山ではもう三日も雨が降っています。",
        "会議が終わったらすぐに電話します。",
    ),
}


class CodecUnavailableError(RuntimeError):
    """The PyAV build at hand has no encoder for a requested codec."""


# --------------------------------------------------------------------------- validation helpers


def _finite(name: str, value: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return v


def _check_language(name: str, lang: object) -> None:
    if not isinstance(lang, str) or not _LANG_RE.match(lang):
        raise ValueError(f"{name} must be a lower-case ISO 639 code like 'fr', got {lang!r}")


def _check_codec(name: str, codec: object) -> None:
    if codec not in CODEC_EXTENSIONS:
        raise ValueError(f"{name} must be one of {sorted(CODEC_EXTENSIONS)}, got {codec!r}")


def _check_channels(name: str, channels: object, codec: str) -> None:
    if isinstance(channels, bool) or channels not in LAYOUTS:
        raise ValueError(f"{name} must be 1, 2 or 6, got {channels!r}")
    enc = _ENCODER_NAMES.get(codec, codec)
    if channels > _MAX_CHANNELS.get(enc, 6):
        raise ValueError(f"{name}={channels!r}: codec {codec!r} supports at most {_MAX_CHANNELS[enc]} channels")


def _check_rate(name: str, rate: object) -> None:
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or not 8000 <= rate <= 192000:
        raise ValueError(f"{name} must be an integer sample rate in [8000, 192000] Hz, got {rate!r}")


def _encoder(codec: str) -> av.Codec:
    """The PyAV encoder for ``codec``, or :class:`CodecUnavailableError`."""
    enc = _ENCODER_NAMES.get(codec, codec)
    try:
        return av.Codec(enc, "w")
    except UnknownCodecError:
        available = sorted(c for c in ("pcm_s16le", "flac", "aac", "ac3", "libmp3lame") if _has_encoder(c))
        raise CodecUnavailableError(
            f"codec {codec!r}: this PyAV build ({av.__version__}) has no {enc!r} encoder; "
            f"available here: {available}"
        ) from None


def _has_encoder(name: str) -> bool:
    try:
        av.Codec(name, "w")
    except UnknownCodecError:
        return False
    return True


def _check_codec_rate(codec: str, rate: int, *, name: str = "sample_rate") -> None:
    """ValueError when the codec cannot encode at ``rate`` (needs the encoder)."""
    rates = _encoder(codec).audio_rates
    if rates and rate not in rates:
        raise ValueError(f"{name}={rate!r} is not supported by codec {codec!r}; supported: {sorted(rates)}")


# --------------------------------------------------------------------------- specs


@dataclass(frozen=True)
class DubSpec:
    """How one dub of a title is derived from its language's mix.

    Parameters
    ----------
    language : str
        ISO 639-1 code of the dub, e.g. ``"fr"``; names the file ``dubs/<language>.<ext>``.
    offset_s : float
        Constant offset in seconds, positive = the dub leads (see the module docstring).
    speed_ratio : float
        The dub plays ``speed_ratio`` times faster (linear drift), e.g. ``25/24``.
    jumps : tuple of (float, float)
        ``(at_s, offset_s)`` pairs: from REFERENCE time ``at_s`` on the offset is ``offset_s``.
    gain_db : float
        Gain of the whole dub mix, dB.
    sample_rate : int
        Sample rate of the dub file, Hz.
    channels : int
        1, 2 or 6 (5.1 with the dialogue in the centre channel).
    codec : str
        ``"pcm_s16le"`` (.wav), ``"flac"``, ``"aac"`` (.m4a), ``"ac3"``, ``"mp3"``/``"libmp3lame"``.
    bitrate : int or None
        Bit rate in bit/s for lossy codecs; None = the encoder's default.
    localized_opening_s : float
        The dub's M&E in dub time ``[0, localized_opening_s)`` is different music.
    appended_credits_s : float
        Localised end credits: this many seconds of music the original lacks are appended after
        the programme (the dub is that much longer; its sync is unchanged).
    pitch_kept : bool
        With ``speed_ratio`` ≠ 1: time-stretch the mix keeping its pitch (a phase vocoder, as a PAL
        conversion with pitch correction does) instead of resampling it (which shifts the pitch by
        the same ratio). The timing, and so the ground truth, is the same either way.
    me_remix : tuple of str
        The dub's M&E remixed by these effects of :data:`ml.testmedia.remix.REMIX_EFFECTS` (EQ,
        compression, echo, an 8-kHz low-pass); the timing is unchanged.
    me_gain_db : float
        Gain of the dub's M&E alone, dB (a quieter remixed M&E under the same dialogue).
    """

    language: str
    offset_s: float = 0.0
    speed_ratio: float = 1.0
    jumps: tuple[tuple[float, float], ...] = ()
    gain_db: float = 0.0
    sample_rate: int = 44100
    channels: int = 2
    codec: str = "flac"
    bitrate: int | None = None
    localized_opening_s: float = 0.0
    appended_credits_s: float = 0.0
    pitch_kept: bool = False
    me_remix: tuple[str, ...] = ()
    me_gain_db: float = 0.0

    def __post_init__(self) -> None:
        _check_language("DubSpec.language", self.language)
        _finite("DubSpec.offset_s", self.offset_s)
        ratio = _finite("DubSpec.speed_ratio", self.speed_ratio)
        if not 0.5 <= ratio <= 2.0:
            raise ValueError(f"DubSpec.speed_ratio must be in [0.5, 2], got {self.speed_ratio!r}")
        _finite("DubSpec.gain_db", self.gain_db)
        _check_rate("DubSpec.sample_rate", self.sample_rate)
        _check_codec("DubSpec.codec", self.codec)
        _check_channels("DubSpec.channels", self.channels, self.codec)
        if self.bitrate is not None:
            if self.codec not in LOSSY_CODECS:
                raise ValueError(f"DubSpec.bitrate={self.bitrate!r} given for lossless codec {self.codec!r}")
            if isinstance(self.bitrate, bool) or not isinstance(self.bitrate, (int, np.integer)) or self.bitrate <= 0:
                raise ValueError(f"DubSpec.bitrate must be a positive integer (bit/s), got {self.bitrate!r}")
        opening = _finite("DubSpec.localized_opening_s", self.localized_opening_s)
        if opening < 0:
            raise ValueError(f"DubSpec.localized_opening_s must be >= 0, got {self.localized_opening_s!r}")
        if not isinstance(self.pitch_kept, bool):
            raise ValueError(f"DubSpec.pitch_kept must be True or False, got {self.pitch_kept!r}")
        from ml.testmedia.remix import REMIX_EFFECTS

        remix = tuple(self.me_remix) if not isinstance(self.me_remix, str) else (self.me_remix,)
        if any(effect not in REMIX_EFFECTS for effect in remix):
            raise ValueError(f"DubSpec.me_remix must hold effects of {REMIX_EFFECTS}, got {self.me_remix!r}")
        object.__setattr__(self, "me_remix", remix)
        _finite("DubSpec.me_gain_db", self.me_gain_db)
        credits = _finite("DubSpec.appended_credits_s", self.appended_credits_s)
        if credits < 0:
            raise ValueError(f"DubSpec.appended_credits_s must be >= 0, got {self.appended_credits_s!r}")
        jumps = []
        for jump in self.jumps:
            if len(jump) != 2:
                raise ValueError(f"DubSpec.jumps entries must be (at_s, offset_s) pairs, got {jump!r}")
            at = _finite("DubSpec.jumps at_s", jump[0])
            off = _finite("DubSpec.jumps offset_s", jump[1])
            if at < 0:
                raise ValueError(f"DubSpec.jumps at_s must be >= 0, got {jump!r}")
            jumps.append((at, off))
        object.__setattr__(self, "jumps", tuple(jumps))
        prev_at, prev_switch = -math.inf, -math.inf
        for at, off in jumps:
            if at <= prev_at:
                raise ValueError(f"DubSpec.jumps must have strictly increasing at_s, got {self.jumps!r}")
            switch = (at - off) / ratio
            if switch <= prev_switch:
                raise ValueError(
                    f"DubSpec.jumps {self.jumps!r}: jump at {at!r} s to offset {off!r} s would switch before "
                    "the previous jump in dub time (need at_k - offset_k strictly increasing)"
                )
            prev_at, prev_switch = at, switch

    @property
    def extension(self) -> str:
        """File extension of the dub file, e.g. ``".m4a"``."""
        return CODEC_EXTENSIONS[self.codec]

    def truth(self) -> dict:
        """The ground-truth record of this dub (JSON-ready dict)."""
        return {
            "offset_s": float(self.offset_s),
            "speed_ratio": float(self.speed_ratio),
            "jumps": [[float(a), float(o)] for a, o in self.jumps],
            "gain_db": float(self.gain_db),
            "sample_rate": int(self.sample_rate),
            "channels": int(self.channels),
            "codec": self.codec,
            "bitrate": None if self.bitrate is None else int(self.bitrate),
            "localized_opening_s": float(self.localized_opening_s),
            "appended_credits_s": float(self.appended_credits_s),
            "pitch_kept": bool(self.pitch_kept),
            "me_remix": list(self.me_remix),
            "me_gain_db": float(self.me_gain_db),
        }


@dataclass(frozen=True)
class TitleSpec:
    """One generated title: its original and its dubs.

    Parameters
    ----------
    title_id : str
        Directory name under the landing-zone root (letters, digits, ``._-``).
    duration_s : float
        Duration of the original, seconds (> 0).
    original_language : str
        ISO 639-1 code of the original language.
    dubs : tuple of DubSpec
        The dubs, one per language.
    sample_rate : int
        Rate at which the stems are generated and the original is written, Hz.
    original_codec, original_channels :
        Codec and channel count of the original file.
    me_level_db : float
        Level of the M&E bed relative to the default, dB (e.g. -25 for a dialogue-heavy title; the
        dialogue sits 3 dB under the default bed, so -9 puts the bed 6 dB under the dialogue).
    continuous_dialogue : bool
        Lines of 3-8 s separated by 0.1-0.4 s (talking heads, narration) instead of 1.5-5 s lines
        with 1-4 s of M&E alone between them (see :func:`ml.testmedia.dialogue_intervals`).
    seed : int
        Seed of every random choice of the title.
    """

    title_id: str
    duration_s: float = 120.0
    original_language: str = "en"
    dubs: tuple[DubSpec, ...] = ()
    sample_rate: int = 44100
    original_codec: str = "flac"
    original_channels: int = 2
    me_level_db: float = 0.0
    seed: int = 0
    continuous_dialogue: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.title_id, str) or not _TITLE_ID_RE.match(self.title_id):
            raise ValueError(f"TitleSpec.title_id must match {_TITLE_ID_RE.pattern}, got {self.title_id!r}")
        duration = _finite("TitleSpec.duration_s", self.duration_s)
        if duration <= 0:
            raise ValueError(f"TitleSpec.duration_s must be > 0, got {self.duration_s!r}")
        _check_language("TitleSpec.original_language", self.original_language)
        _check_rate("TitleSpec.sample_rate", self.sample_rate)
        _check_codec("TitleSpec.original_codec", self.original_codec)
        _check_channels("TitleSpec.original_channels", self.original_channels, self.original_codec)
        _finite("TitleSpec.me_level_db", self.me_level_db)
        if not isinstance(self.continuous_dialogue, bool):
            raise ValueError(f"TitleSpec.continuous_dialogue must be True or False, got {self.continuous_dialogue!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)):
            raise ValueError(f"TitleSpec.seed must be an integer, got {self.seed!r}")
        dubs = tuple(self.dubs)
        object.__setattr__(self, "dubs", dubs)
        seen: set[str] = set()
        for dub in dubs:
            if not isinstance(dub, DubSpec):
                raise ValueError(f"TitleSpec.dubs must hold DubSpec objects, got {dub!r}")
            if dub.language in seen:
                raise ValueError(f"TitleSpec.dubs has language {dub.language!r} twice")
            seen.add(dub.language)
            for at, _ in dub.jumps:
                if at >= duration:
                    raise ValueError(f"dub {dub.language!r}: jump at_s={at!r} is not before duration_s={duration!r}")
            if dub.localized_opening_s >= duration / dub.speed_ratio:
                raise ValueError(
                    f"dub {dub.language!r}: localized_opening_s={dub.localized_opening_s!r} "
                    f"is not shorter than the dub ({duration / dub.speed_ratio:.3f} s)"
                )

    @property
    def original_extension(self) -> str:
        """File extension of the original file."""
        return CODEC_EXTENSIONS[self.original_codec]


