"""Generated titles with a picture: real talking heads cut together over a music bed, and dubs.

The picture is a sequence of shots: each shared talking-head clip (``talking_heads/``, whose own
audio is its original dialogue and is in sync with it) preceded by a few seconds of a synthetic
scene without a face. The original's audio is the talking heads' own sound over the M&E bed of
:mod:`ml.testmedia`; a dub carries the same bed with speech in its own language at the same
times, transformed by its :class:`ml.testmedia.DubSpec` (offset, drift, jumps) against the
original audio exactly as audio-only titles are.

``picture_offset_s`` puts the original audio itself out of sync with the picture (positive = the
audio leads: a lip movement is heard that much before it is seen), so the true dub ↔ picture offset
at reference time ``T`` is ``offset_at(dub, T) + picture_offset_s``.

The original is written as Matroska (H.264 picture, FLAC sound) at 25 fps; dubs as audio files.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ml.decoding.audio import iter_audio_blocks
from ml.decoding.video import iter_frames
from ml.testmedia.builders import _clear_title_dir, _write_program
from ml.testmedia.material import MediaSources, _active_rms, speech_pool
from ml.testmedia.specs import BED_RMS_DBFS, MARGIN_S, DubSpec
from ml.testmedia.stems import _add, _ChannelMapper, _fade, _iter_mapped, _render_bed
from ml.testmedia.truth import _rng, dub_segments
from ml.testmedia.video import _close, _fit, _scene, _write, _writer

__all__ = ["PictureTitleSpec", "TALKING_HEADS", "build_picture_title", "demo_picture_specs", "picture_truth"]

TALKING_HEADS = (
    "grid/lwbsza.mpg",
    "retalking/face_2.mp4",
    "grid/lbax4n.mpg",
    "retalking/face_3.mp4",
    "grid/pwij3p.mpg",
    "retalking/face_4.mp4",
)
"""Default clips of a picture title (relative to ``talking_heads/``). Not ``grid/bbaf2n.mpg`` nor
``grid/brbk7n.mpg``: they were left out when the first estimator (``lipsync-avcorr/1``) put their
sound 3-4 frames behind the picture (bbaf2n opens the mouth half a second before speaking; its lips
part between the frames at 0.96 and 1.00 s, and the burst of "bin" starts at 1.000 s, so the clip
itself is in sync). ``lipsync-avcorr/2`` finds both
within half a frame; they stay out so that the generated titles, and the benchmarks built on them,
stay the same."""

FPS = 25
WIDTH, HEIGHT = 640, 360
GAP_S = 3.0
"""Seconds of a face-less synthetic scene before each talking head (M&E only: matching evidence)."""


@dataclass(frozen=True)
class PictureTitleSpec:
    """One generated title with a picture.

    Attributes
    ----------
    title_id : str
    clips : tuple of str
        Talking-head clips, relative to ``<shared media>/talking_heads/``, in picture order.
    picture_offset_s : float
        Original audio ↔ picture offset, seconds (positive = the audio leads the picture).
    dubs : tuple of DubSpec
        Dubs, their offsets relative to the original audio.
    original_language : str
    dialogue_db : float
        Dialogue level relative to the M&E bed's nominal RMS, dB (default +6: talk on screen is
        mixed over its music, as in news and interviews).
    seed : int
    """

    title_id: str
    clips: tuple[str, ...] = TALKING_HEADS
    picture_offset_s: float = 0.0
    dubs: tuple[DubSpec, ...] = ()
    original_language: str = "en"
    dialogue_db: float = 6.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.clips:
            raise ValueError("PictureTitleSpec.clips must name at least one talking-head clip")
        if not math.isfinite(self.picture_offset_s) or abs(self.picture_offset_s) > 1.0:
            raise ValueError(f"picture_offset_s={self.picture_offset_s} must be within ±1 s")


def _clip_media(path: Path, sr: int) -> tuple[list[np.ndarray], list[float], np.ndarray, float]:
    """The clip's picture re-timed to ``FPS`` (output frame k shows the source frame on screen at
    k / FPS after the first, so 22-30 fps and variable-rate clips keep their timing), the times of
    the output frames, its mono sound at ``sr`` and the sound's start time, all on the clip's own
    stream timeline (seconds from the container start)."""
    from ml.decoding.audio import AudioStream

    source, times = [], []
    for frame in iter_frames(path):
        source.append(_fit(frame.image, WIDTH, HEIGHT))
        times.append(float(frame.time_s))
    shown = np.asarray(times) - times[0]
    duration = shown[-1] + float(np.median(np.diff(shown))) if len(shown) > 1 else 1.0 / FPS
    n_out = max(1, round(duration * FPS))
    pick = np.clip(np.searchsorted(shown, np.arange(n_out) / FPS + 1e-6, side="right") - 1, 0, len(source) - 1)
    images = [source[i] for i in pick]
    stats = AudioStream(info=None)  # type: ignore[arg-type]
    sound = np.concatenate(list(iter_audio_blocks(path, sample_rate=sr, stats=stats)))
    return images, [times[0] + k / FPS for k in range(n_out)], sound.astype(np.float32), float(stats.start_time_s)


def build_picture_title(root: Path, spec: PictureTitleSpec, *, real_media: Path | None = None) -> dict:
    """Write one title with a picture under ``root/<title_id>/`` and return its ground truth.

    Returns
    -------
    dict
        As :func:`ml.testmedia.build_title`, plus ``picture_offset_s``, ``fps`` and ``shots``
        (``[start_s, end_s, clip or null]`` on the picture's timeline).
    """
    sources = MediaSources.resolve(real_media)
    if sources.real_media is None:
        raise FileNotFoundError("picture titles need the shared media folder (talking_heads/)")
    heads = Path(sources.real_media) / "talking_heads"
    sr = 44100
    clips = [_clip_media(heads / name, sr) for name in spec.clips]
    # the programme: GAP_S of scene, then the clip, for every clip; times on the picture's clock
    starts, t = [], 0.0
    for images, _, _, _ in clips:
        t += GAP_S
        starts.append(t)
        t += len(images) / FPS
    duration = t + GAP_S
    folder = Path(root) / spec.title_id
    (folder / "dubs").mkdir(parents=True, exist_ok=True)
    _clear_title_dir(folder)
    for stale in folder.glob("original.mkv"):
        stale.unlink()

    lo, hi = -MARGIN_S, duration + MARGIN_S
    for dub in spec.dubs:
        for a, b, off in dub_segments(dub, duration):
            lo, hi = min(lo, dub.speed_ratio * a + off - MARGIN_S), max(hi, dub.speed_ratio * b + off + MARGIN_S)
    i0 = math.floor(lo * sr)
    n = math.ceil(hi * sr) - i0
    bed = _render_bed((spec.seed, "picture"), i0, n, sr, sources, level_db=0.0)
    target = 10 ** ((BED_RMS_DBFS + spec.dialogue_db) / 20)

    # original dialogue: each clip's own sound where its lips move, moved earlier by the offset
    original_dia = np.zeros(n, dtype=np.float32)
    lines = []
    for (_images, times, sound, sound_start), start in zip(clips, starts):
        gain = target / (_active_rms(sound, sr) or 1.0)
        # the clip's first frame is shown at ``start``; its sound at start + (sound_start - times[0])
        at = start + (sound_start - times[0]) - spec.picture_offset_s
        _add(original_dia, round(at * sr) - i0, sound * np.float32(gain))
        lines.append((at, at + sound.size / sr))

    original = folder / "original.mkv"
    _write_original(original, clips, starts, duration, (bed, original_dia), i0, sr, spec.seed)

    truth_dubs: dict[str, dict] = {}
    for dub in spec.dubs:
        dia = _dub_dialogue(spec.seed, dub.language, lines, i0, n, sr, sources, target)
        path = folder / "dubs" / f"{dub.language}{dub.extension}"
        _write_program(
            path, (bed, dia), i0, sr,
            segments=dub_segments(dub, duration), ratio=dub.speed_ratio, sr_out=dub.sample_rate,
            n_out=round(duration / dub.speed_ratio * dub.sample_rate), gain_db=dub.gain_db,
            channels=dub.channels, codec=dub.codec, bitrate=dub.bitrate,
        )  # fmt: skip
        truth_dubs[dub.language] = dub.truth() | {"file": f"dubs/{path.name}"}
    (folder / "title.json").write_text(json.dumps({"original_language": spec.original_language}) + "\n")
    return {
        "original_language": spec.original_language,
        "duration_s": float(duration),
        "dubs": truth_dubs,
        "original_file": original.name,
        "sample_rate": sr,
        "seed": int(spec.seed),
        "me_level_db": 0.0,
        "dialogue_lines": [[round(a, 6), round(b, 6)] for a, b in lines],
        "picture_offset_s": float(spec.picture_offset_s),
        "fps": FPS,
        "shots": sorted(
            [[round(s - GAP_S, 6), round(s, 6), None] for s in starts]
            + [[round(s, 6), round(s + len(c[0]) / FPS, 6), name] for s, c, name in zip(starts, clips, spec.clips)]
        ),
    }


def _dub_dialogue(
    seed: int,
    language: str,
    lines: Sequence[tuple[float, float]],
    i0: int,
    n: int,
    sr: int,
    sources: MediaSources,
    target: float,
) -> np.ndarray:
    """Speech in ``language`` where the original's lines are (a dubbed line replaces each)."""
    out = np.zeros(n, dtype=np.float32)
    pool = speech_pool(language, sr, sources=sources)
    for k, (a, b) in enumerate(lines):
        length = round((b - a) * sr)
        rng = _rng(seed, "picture-line", language, k)
        start = int(rng.integers(0, max(1, pool.size - length)))
        line = np.array(np.resize(pool[start:], length), dtype=np.float32)
        line *= target / (_active_rms(line, sr) or 1.0)
        line *= _fade(length, int(0.02 * sr))
        _add(out, round(a * sr) - i0, line)
    return out


def _write_original(
    path: Path,
    clips: list,
    starts: list[float],
    duration: float,
    stems: tuple[np.ndarray, np.ndarray],
    i0: int,
    sr: int,
    seed: int,
) -> None:
    """Matroska with the picture (H.264, 25 fps) and the original's stereo mix (FLAC)."""
    import av

    container, video = _writer(path, WIDTH, HEIGHT, FPS, crf=23)
    audio = container.add_stream("flac", rate=sr, layout="stereo")
    n_frames = round(duration * FPS)
    rng = np.random.default_rng(seed)
    scenes = [_scene(rng, WIDTH, HEIGHT) for _ in clips]
    timeline = [(round(s * FPS), k) for k, s in enumerate(starts)]
    for i in range(n_frames):
        image = None
        for first, k in timeline:
            images = clips[k][0]
            if first <= i < first + len(images):
                image = images[i - first]
        if image is None:
            k = max([kk for first, kk in timeline if first <= i + round(GAP_S * FPS)] or [0])
            image = scenes[k](i)
        _write(container, video, image)
    mapper = _ChannelMapper(2, sr)
    n_out = round(duration * sr)
    written = 0
    for chunk in _iter_mapped(stems, i0, sr, segments=[(0.0, duration, 0.0)], ratio=1.0, sr_out=sr, n_out=n_out):
        pcm = np.clip(np.rint(mapper(chunk).T * 32767.0), -32768, 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="stereo")
        frame.sample_rate = sr
        frame.pts, frame.time_base = written, Fraction(1, sr)
        written += frame.samples
        for packet in audio.encode(frame):
            container.mux(packet)
    for packet in audio.encode(None):
        container.mux(packet)
    _close(container, video)


def demo_picture_specs() -> list[PictureTitleSpec]:
    """The demo's titles with a picture: one whose original is in sync with its picture, and one
    whose original audio leads its picture by 240 ms (a dub that copies it is out of sync with the
    picture although it matches its original; a dub made 240 ms later is in sync with the picture)."""
    return [
        PictureTitleSpec(
            "talk_show", seed=404,
            dubs=(DubSpec("fr", offset_s=0.0), DubSpec("de", offset_s=-0.3, codec="aac", bitrate=192000)),
        ),  # fmt: skip
        PictureTitleSpec(
            "late_news", seed=505, picture_offset_s=0.24,
            clips=("retalking/face_1.mp4", "grid/sbia1a.mpg", "retalking/face_5.mp4", "grid/swiz3n.mpg", "grid/lrwp9a.mpg"),
            dubs=(DubSpec("es", offset_s=0.0), DubSpec("it", offset_s=-0.24)),
        ),  # fmt: skip
    ]


def picture_truth(truth_dub: dict, picture_offset_s: float) -> dict:
    """A dub's ground truth against the picture: its offsets against the original audio plus the
    original audio ↔ picture offset."""
    out = dict(truth_dub)
    out["offset_s"] = truth_dub["offset_s"] + picture_offset_s
    out["jumps"] = [[at, offset + picture_offset_s] for at, offset in truth_dub.get("jumps", [])]
    return out
